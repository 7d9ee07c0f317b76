"""``python -m finetune.bench.sweep``: try candidate classroom recipes for a (task, method) over several
seeds, and say which hold the floors on every seed and how long they take.

Every run is appended to ``benchmarks/sweeps/<task>-<method>.jsonl`` (candidate, seed, precision, wall
seconds, dev metrics, machine) so a sweep can be stopped and continued, and read again later; the
summary table (worst seed per candidate against core/recipes.FLOORS) is printed and appended to
``benchmarks/sweeps/README.md``. Candidates are named overrides of the classroom defaults: the current
recipe is always ``current``.

    python -m finetune.bench.sweep --task sst2 --method prompt --seeds 0 1 2 3 4
    python -m finetune.bench.sweep --task mrpc --method lora --candidate lr2e-3=learning_rate:2e-3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..core.environment import settle
from ..core.fields import settings_of
from ..core.methods import METHODS
from ..core.precision import machine_capabilities
from ..core.recipes import FLOORS, below_floor
from ..core.tasks import TASKS
from ..engine.config import RunConfig, config_from_values, resolve_config, settings_json
from ..engine.train import TRAINING_REVISION, train

REPO = Path(__file__).resolve().parents[2]

# Candidates worth trying per (task, method), beside the current recipe; `--candidate` adds others. A candidate
# overrides the current recipe, so each names every setting it was swept with that a later recipe changed (a
# rerun then trains what its rows in benchmarks/sweeps/ trained).
EVERY_LINEAR = {"lora_target_modules": "query,key,value,dense"}
LINEAR_3EP = {**EVERY_LINEAR, "epochs": 3}  # every linear layer, three passes (CoLA's LoRA recipe has four)
AS_PRETRAINED = {"full_reinit_top_layers": 0}  # full fine-tuning from every pretrained layer
CANDIDATES: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    # Fewer examples would shorten SST-2's "Train all" (benchmarks/sweeps/HISTORY.md says how each fared).
    ("sst2", "full"): {
        "reinit1-8000": {"full_reinit_top_layers": 1, "max_train_samples": 8000},
        "10000-examples": {"max_train_samples": 10000},
    },
    ("sst2", "prompt"): {
        "lr3e-2-4000-examples": {"learning_rate": 3e-2, "max_train_samples": 4000},
        "12000-examples": {"max_train_samples": 12000},
        "50-tokens": {"prompt_num_virtual_tokens": 50},
        "task-words": {"prompt_init_text": "Is this movie review positive or negative?"},
        # Half the prompt: SST-2's sentences are short, so 20 virtual tokens more than double what each step encodes.
        "10-tokens": {"prompt_num_virtual_tokens": 10},
    },
    # LoRA on every linear layer at a lower rate: adapting query/value only collapses some seeds to the majority class.
    ("mrpc", "lora"): {
        "all-lr5e-4": {**EVERY_LINEAR, "learning_rate": 5e-4, "lora_dropout": 0.1},
        # Dropout on 37 LoRA paths copies every layer's input each step: without it a run takes ~30% less time.
        "all-lr5e-4-drop0": {**EVERY_LINEAR, "learning_rate": 5e-4, "lora_dropout": 0},
        "all-lr3e-4-drop0": {**EVERY_LINEAR, "learning_rate": 3e-4, "lora_dropout": 0},
    },
    ("cola", "lora"): {  # three passes unless named: with LoRA's dropout 0.1 each lost a seed
        "all-lr5e-4": {**LINEAR_3EP, "learning_rate": 5e-4, "lora_dropout": 0.1},
        "all-lr5e-4-4ep": {**EVERY_LINEAR, "learning_rate": 5e-4, "lora_dropout": 0.1, "epochs": 4},
        "all-lr7e-4": {**LINEAR_3EP, "learning_rate": 7e-4, "lora_dropout": 0.1},
        "all-r16-lr5e-4": {**LINEAR_3EP, "learning_rate": 5e-4, "lora_dropout": 0.1, "lora_r": 16, "lora_alpha": 32},
        "all-r16-lr7e-4": {**LINEAR_3EP, "learning_rate": 7e-4, "lora_dropout": 0.1, "lora_r": 16, "lora_alpha": 32},
        "all-r16-lr5e-4-all": {
            **LINEAR_3EP,
            "learning_rate": 5e-4,
            "lora_dropout": 0.1,
            "lora_r": 16,
            "lora_alpha": 32,
            "max_train_samples": "all",
        },
        "all-lr5e-4-drop0": {**LINEAR_3EP, "learning_rate": 5e-4, "lora_dropout": 0},
        "all-lr5e-4-drop0-4ep": {**EVERY_LINEAR, "learning_rate": 5e-4, "lora_dropout": 0, "epochs": 4},
    },
    ("cola", "selective"): {
        "top3-lr1e-4": {"selective_top_k": 3, "epochs": 3},
        "top3-lr7e-5": {"selective_top_k": 3, "learning_rate": 7e-5, "epochs": 3},
        "top3-lr1e-4-4ep": {"selective_top_k": 3, "epochs": 4},
        "top3-lr1.5e-4": {"selective_top_k": 3, "learning_rate": 1.5e-4, "epochs": 3},
        "top3-lr1.5e-4-4ep": {"selective_top_k": 3, "learning_rate": 1.5e-4, "epochs": 4},
        "top3-lr2e-4": {"selective_top_k": 3, "learning_rate": 2e-4, "epochs": 3},
        "top4-lr1e-4": {"selective_top_k": 4, "learning_rate": 1e-4, "epochs": 3},
        "top4-lr1.5e-4": {"selective_top_k": 4, "learning_rate": 1.5e-4, "epochs": 3},
        "top4-4ep": {"selective_top_k": 4, "learning_rate": 1e-4, "epochs": 4},
    },
    ("mrpc", "selective"): {"top3-lr1e-4": {"selective_top_k": 3}},
    ("cola", "full"): {  # candidates from every pretrained layer name it: the recipe re-initialises the top one
        "4ep": {**AS_PRETRAINED, "epochs": 4},
        "lr1e-4": {**AS_PRETRAINED, "learning_rate": 1e-4},
        # Layer-wise learning-rate decay: selective, which freezes the embeddings and the two lowest layers, holds
        # CoLA with a margin (worst 0.266) where full fine-tuning's worst seeds sit at the floor.
        "llrd0.9": {**AS_PRETRAINED, "full_layer_decay": 0.9},
        "llrd0.8": {**AS_PRETRAINED, "full_layer_decay": 0.8},
        "llrd0.8-lr1e-4": {**AS_PRETRAINED, "full_layer_decay": 0.8, "learning_rate": 1e-4},
        # The worst seeds end a few hundredths under the floor whatever the rate: average over the tail instead.
        "tail0.25": {**AS_PRETRAINED, "average_tail": 0.25},
        # The packaged encoder's top layer was shaped for sentence similarity: start it (and the pooler) afresh.
        "reinit1": {"full_reinit_top_layers": 1},
        "reinit0": AS_PRETRAINED,
    },
    ("mrpc", "full"): {"3ep": {"epochs": 3}},
    ("mrpc", "prompt"): {
        "words": {"prompt_init_text": "Do these two sentences mean the same thing?", "learning_rate": 0.03},
        "4ep": {"prompt_init_text": "random", "learning_rate": 0.03, "epochs": 4},
        "tokens50": {"prompt_num_virtual_tokens": 50},
        "batch32-lr2e-1": {"batch_size": 32, "learning_rate": 0.2},
        "tail0.25": {"average_tail": 0.25},  # lr 0.1 moves the prompt far each step: average the last quarter
    },
    ("cola", "prompt"): {
        "words-lr1e-1": {"prompt_init_text": "Is this sentence grammatical?", "learning_rate": 0.1},
        "words-lr3e-1-all": {
            "prompt_init_text": "Is this sentence grammatical?",
            "learning_rate": 0.3,
            "max_train_samples": "all",
        },
    },
}


def parse_candidate(text: str) -> tuple[str, dict[str, Any]]:
    """'name=key:value,key:value' (form names: learning_rate, epochs, lora_r ...)."""
    name, _, body = text.partition("=")
    if not name or not body:
        raise argparse.ArgumentTypeError(f"expected name=key:value[,key:value], got {text!r}")
    # A comma starts the next pair only before `key:`, so values may hold commas (lora_target_modules:query,value).
    pairs = [item.split(":", 1) for item in re.split(r",(?=\w+:)", body)]
    if any(len(pair) != 2 for pair in pairs):
        raise argparse.ArgumentTypeError(f"expected key:value pairs, got {body!r}")
    return name, dict(pairs)


def config_for(task: str, method: str, overrides: dict[str, Any], seed: int, precision: str, **common) -> RunConfig:
    return config_from_values({"task": task, "method": method, "seed": seed, "precision": precision, **common,
                               **overrides})  # fmt: skip


def machine_name() -> str:
    facts = machine_capabilities()
    return facts.get("gpu") or facts["cpu"]


# What a run's resolved config holds that is not part of its recipe: the seed, and paths local to a machine.
NOT_RECIPE = ("seed", "data_dir", "model")


# Run settings added since the first rows were logged, at the resolved value that trains as before they existed.
ADDED_SETTINGS = {"average_tail": 0.0}


def with_option_defaults(config: dict) -> dict:
    """A logged run's resolved settings with the settings and method options added since it ran, at the values
    that train as it did before they existed (weight averaging 0; full's layer_decay 1.0, reinit_top_layers 0)."""
    defaults = {item.name: item.default for item in settings_of(METHODS[config["method"]].Options)}
    return {**ADDED_SETTINGS, **config, "method_options": {**defaults, **config.get("method_options", {})}}


def settings_key(config: dict) -> str:
    """A run's resolved settings without its seed and local paths: which recipe it trained."""
    return settings_json({k: v for k, v in with_option_defaults(config).items() if k not in NOT_RECIPE})


def revision(record: dict) -> int:
    """The training loop that trained a logged run (rows from before run.json recorded it: revision 1)."""
    return record.get("training_revision", 1)


def done_runs(log: Path) -> set[tuple[str, int, str, str, int]]:
    """(candidate's settings, seed, precision, machine, training revision) of the runs already in the log: a
    rerun skips them, and a changed recipe, another machine or a changed training loop runs again."""
    if not log.is_file():
        return set()
    records = map(json.loads, log.read_text().splitlines())
    return {(settings_key(r["config"]), r["seed"], r["precision"], r["machine"], revision(r)) for r in records}


def recipe_difference(config: dict, present: dict) -> str:
    """What `config` set otherwise than the present recipe, in its own values ('epochs 3.0, top_k 3'); empty when
    it trained the present recipe. The seed and local paths do not count."""

    def flat(c: dict) -> dict:
        top = {k: v for k, v in c.items() if k not in (*NOT_RECIPE, "method_options")}
        return {**top, **c.get("method_options", {})}

    then, now = flat(with_option_defaults(config)), flat(present)
    differing = [key for key in sorted(then.keys() | now.keys()) if then.get(key) != now.get(key)]
    return ", ".join(f"{key} {then.get(key) if then.get(key) != '' else '(none)'}" for key in differing)


def summary(log: Path, task: str, method: str) -> str:
    """One row per candidate, machine and precision: worst and mean dev metric over its seeds, against the
    floors. Every run that trained the present recipe counts as 'current', whatever candidate it ran as (a
    candidate that became the recipe); 'current' rows trained with an earlier recipe are marked so, one row
    per earlier recipe, named by what it set otherwise. Runs of an earlier training loop (TRAINING_REVISION)
    are rows of their own, marked with their revision: their seeds drew other random numbers."""
    present = as_record(resolve_config(config_for(task, method, {}, 0, "auto"))[0])
    rows: dict[tuple[str, str, str], list[dict]] = {}
    for record in map(json.loads, log.read_text().splitlines()):
        difference = recipe_difference({**record["config"], "precision": "auto"}, present)
        if not difference:
            name = "current"
        elif record["candidate"] == "current":
            name = f"current (an earlier recipe: {difference})"
        else:
            name = record["candidate"]
        if revision(record) != TRAINING_REVISION:
            name += f" [training revision {revision(record)}]"
        rows.setdefault((name, record["machine"], record["precision"]), []).append(record)
    floors = FLOORS.get((task, method), {})
    metric = next(iter(floors), TASKS[task].headline_metric)
    # Dated by its newest run, not by when the summary was written: regenerating changes only what has new runs.
    dates = [r["date"] for group in rows.values() for r in group if "date" in r]
    lines = [
        f"### {task} / {method}" + (f" (newest run {max(dates)})" if dates else ""),
        "",
        f"| candidate | machine | precision | seeds | worst {metric} | mean {metric} | max wall s "
        "| floors on every seed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (candidate, machine, precision), records in sorted(rows.items()):
        records.sort(key=lambda r: r["seed"])
        values = [r["metrics"][metric] for r in records]
        misses = [
            f"seed {r['seed']}: {', '.join(m)}" for r in records if (m := below_floor(task, method, r["metrics"]))
        ]
        lines.append(
            f"| {candidate} | {machine} | {precision} | {','.join(str(r['seed']) for r in records)} | "
            f"{min(values):.3f} | {statistics.mean(values):.3f} | {max(r['wall_seconds'] for r in records):.0f} | "
            f"{'yes' if not misses else '; '.join(misses)} |"
        )
    return "\n".join(lines) + "\n"


def as_record(config: RunConfig) -> dict:
    return dataclasses.asdict(config)


README_HEAD = """# Recipe sweeps

Every (task, method): each candidate recipe's worst and mean seed against the floors in
`finetune/core/recipes.py`, per machine and precision (every run is in the `.jsonl` beside this file:
candidate, overrides, seed, precision, wall seconds, dev metrics, the resolved settings, the machine).
"current" is the recipe in `recipes.py` now; a "current (an earlier recipe: …)" row trained with what it was
before, and names the settings that differed (one row per earlier recipe). A machine named with "1 thread" ran
its runs with `--threads 1`, as a lane of "Train all" trains on two cores. The NVIDIA H200 rows (bf16, 15 runs
sharing the GPU at once) chose among candidates fast: their wall seconds are not classroom times, and neither
are a CPU row's where its run shared the cores. A "[training revision 1]" row trained before 2026-11-26's fix to
the training loop: until then each dev evaluation drew from the random stream that dropout and the batch order
use, so the same seed trained other weights with three evaluations (the Train tab, and these sweeps) than with
one (`reproduce`). Its seeds are other draws from the same recipe, not other recipes.
Which round ran what, on which machine, and how each recipe was chosen: [HISTORY.md](HISTORY.md).
Regenerate with `python -m finetune.bench.sweep --readme`.
"""


def write_readme(folder: Path) -> Path:
    """The summary of every sweep log in `folder`, in task and method order."""
    tables = [summary(folder / f"{task}-{method}.jsonl", task, method) for task in TASKS for method in METHODS
              if (folder / f"{task}-{method}.jsonl").is_file()]  # fmt: skip
    path = folder / "README.md"
    path.write_text(README_HEAD + "\n" + "\n".join(tables), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    settle()  # an entry point: before the libraries that read the environment start
    parser = argparse.ArgumentParser(prog="python -m finetune.bench.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("--readme", action="store_true", help="only rewrite README.md from the sweep logs")
    parser.add_argument("--task", choices=list(TASKS))
    parser.add_argument("--method", choices=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--candidate", action="append", type=parse_candidate, default=[],
                        help="name=key:value,... (form field names); repeatable")  # fmt: skip
    parser.add_argument("--only", nargs="+", help="run only these candidates")
    parser.add_argument("--data-dir", default=os.environ.get("GLUE_DIR"))
    parser.add_argument("--model")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "sweeps")
    parser.add_argument("--threads", type=int, help="torch threads of each run (default: torch's, all cores): a "
                        "race's lane trains with 1 of 2 cores, and a run's outcome can depend on it")  # fmt: skip
    args = parser.parse_args(argv)
    if args.readme:
        print(write_readme(args.out))
        return 0
    if not (args.task and args.method):
        parser.error("--task and --method are required (or --readme)")

    candidates = {"current": {}, **CANDIDATES.get((args.task, args.method), {}), **dict(args.candidate)}
    if args.only:
        candidates = {name: c for name, c in candidates.items() if name in args.only}
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / f"{args.task}-{args.method}.jsonl"
    done, machine = done_runs(log), machine_name()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)  # before the first run: the count is part of what a run's outcome is
        machine += f", {args.threads} thread" + ("s" if args.threads > 1 else "")
    common = {k: v for k, v in (("data_dir", args.data_dir), ("model", args.model)) if v}
    for name, overrides in candidates.items():
        for seed in args.seeds:
            config = config_for(args.task, args.method, overrides, seed, args.precision, **common)
            key = (settings_key(as_record(resolve_config(config)[0])), seed, args.precision, machine, TRAINING_REVISION)
            if key in done:
                continue
            started = time.perf_counter()
            with tempfile.TemporaryDirectory() as store:
                result = train(config, checkpoints_dir=Path(store))
            assert result.run is not None
            record = {
                "candidate": name, "overrides": overrides, "seed": seed, "precision": args.precision,
                "resolved_precision": result.run.info["precision"],
                "wall_seconds": round(time.perf_counter() - started, 1),
                "train_seconds": result.run.info["train_seconds"], "metrics": result.run.info["metrics"],
                "config": result.run.info["config"], "machine": machine, "training_revision": TRAINING_REVISION,
                "date": time.strftime("%Y-%m-%d"),
            }  # fmt: skip
            with log.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            print(f"[sweep] {name} seed {seed}: {record['metrics']} in {record['wall_seconds']} s", file=sys.stderr,
                  flush=True)  # fmt: skip
    print(summary(log, args.task, args.method))
    write_readme(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
