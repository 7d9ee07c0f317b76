""" "Train all" one after another against side by side, per task, in the same run on the same machine.

    python -m finetune.bench.race [--tasks sst2 mrpc cola] [--seed 0] [--app-task sst2]

For each task the four methods at their classroom defaults (the same seed throughout): one after another through
the lab's runner, each run a worker process with every thread (how "Train all" ran before it raced); then side by
side as a person starts it, ``python -m finetune train --task T --all`` in a fresh process (engine/race.py's lanes);
and for --app-task also through a freshly started app's ``/train_all``, the way the Train tab's button runs it.
Wall seconds are from the submit (or the command) to the last run saved. A race trains each run on a lane's share
of the threads, and the order of the arithmetic changes with the thread count, so its dev metrics are shown beside
the one-after-another ones rather than expected equal. Writes benchmarks/race.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from ..core.checkpoints import list_runs
from ..core.environment import settle
from ..core.methods import METHODS
from ..core.precision import machine_capabilities
from ..core.tasks import TASKS
from ..engine.config import classroom_configs
from ..engine.race import lanes_for
from ..engine.runner import TrainingRunner
from .workers import REPO, App, cli_train, flags

# #31's targets on a 2-core CPU with native bf16, classroom defaults, side by side.
TARGET_S = {"sst2": 150, "mrpc": 420, "cola": 420}


def runs_of(store: Path) -> dict[str, dict]:
    """The store's runs by method: what each trained on and how it scored."""
    return {
        run.method: {
            "train_seconds": run.info["train_seconds"],
            "threads": run.info.get("hardware", {}).get("threads"),
            **{k: round(run.info["metrics"][k], 4) for k in ("accuracy", "f1", "mcc")},
        }
        for run in list_runs(store)
    }


def one_after_another(task: str, data_dir: str, seed: int, scratch: Path, **smaller: str | int) -> dict:
    store = Path(tempfile.mkdtemp(dir=scratch))
    runner = TrainingRunner(store)
    started = time.perf_counter()
    job = runner.submit(classroom_configs(task, data_dir=data_dir, seed=seed, **smaller))
    runner.wait()
    wall = time.perf_counter() - started
    outcome = runner.outcome(job)
    assert outcome is not None and outcome.state == "complete", outcome
    return {"how": "one after another (runner)", "wall_seconds": round(wall, 1), "methods": runs_of(store)}


def cli_race(task: str, data_dir: str, seed: int, scratch: Path, **smaller: str | int) -> dict:
    wall, store = cli_train(["--task", task, "--all", "--seed", str(seed), *flags(smaller)], data_dir, scratch)
    return {"how": "side by side (CLI --all)", "wall_seconds": wall, "methods": runs_of(store)}


def app_race(task: str, data_dir: str, seed: int, scratch: Path, model: str | None = None) -> dict:
    store = scratch / f"app-{task}"
    app = App(data_dir, store)
    try:
        started = time.perf_counter()
        app.client.predict(task, model, data_dir, seed, api_name="/train_all")
        wall = time.perf_counter() - started
    finally:
        app.close()
    return {"how": "side by side (app /train_all)", "wall_seconds": round(wall, 1), "methods": runs_of(store)}


def main(argv: list[str] | None = None) -> int:
    settle()  # an entry point: before the libraries that read the environment start
    parser = argparse.ArgumentParser(prog="python -m finetune.bench.race", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("GLUE_DIR"), help="local GLUE directory ($GLUE_DIR)")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--app-task", nargs="*", default=["sst2"], choices=list(TASKS),
                        help="tasks also raced through a freshly started app's /train_all")  # fmt: skip
    parser.add_argument("--model", help="another encoder than the classroom default (a quick try of this script)")
    parser.add_argument("--max-train-samples", type=int, help="fewer examples than the classroom defaults (likewise)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "race.json")
    args = parser.parse_args(argv)
    smaller = {k: v for k, v in (("model", args.model), ("max_train_samples", args.max_train_samples)) if v}
    if not args.data_dir:
        parser.error("set GLUE_DIR or --data-dir to a local GLUE directory")
    lanes = lanes_for(len(METHODS))
    result: dict = {"command": "python -m finetune.bench.race " + " ".join(argv or sys.argv[1:]),
                    "machine": machine_capabilities(), "lanes": lanes.lanes, "threads_per_lane": lanes.threads,
                    "seed": args.seed, "tasks": []}  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        for task in args.tasks:
            ways = [one_after_another(task, args.data_dir, args.seed, Path(scratch), **smaller),
                    cli_race(task, args.data_dir, args.seed, Path(scratch), **smaller)]  # fmt: skip
            if task in args.app_task:
                ways.append(app_race(task, args.data_dir, args.seed, Path(scratch), args.model))
            result["tasks"].append({"task": task, "target_seconds": TARGET_S[task], "ways": ways})
            print(f"[race] {task}: " + ", ".join(f"{w['how']} {w['wall_seconds']} s" for w in ways), file=sys.stderr,
                  flush=True)  # fmt: skip
            args.out.write_text(json.dumps(result, indent=2) + "\n")  # what is measured so far survives a stop
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


def markdown(result: dict) -> str:
    machine = result["machine"]
    lines = [
        '# "Train all": one after another against side by side',
        "",
        f"`{result['command']}` on {machine['cpu']}, {machine['cpu_cores']} cores (native bf16: "
        f"{machine['cpu_native_bf16']}); side by side in {result['lanes']} lanes of {result['threads_per_lane']} "
        f"thread(s); seed {result['seed']}. Generated from `benchmarks/race.json` (`python -m finetune.bench.race`).",
        "",
        "| task | how | wall s | target s | " + " | ".join(f"{m} acc / F1 / MCC (threads)" for m in METHODS) + " |",
        "|---|---|---|---|" + "---|" * len(METHODS),
    ]
    for entry in result["tasks"]:
        for way in entry["ways"]:
            cells = []
            for method in METHODS:
                run = way["methods"].get(method)
                cells.append(f"{run['accuracy']:.3f} / {run['f1']:.3f} / {run['mcc']:.3f} ({run['threads']})"
                             if run else "—")  # fmt: skip
            target = entry["target_seconds"] if way["how"].startswith("side") else ""
            lines.append(f"| {entry['task']} | {way['how']} | {way['wall_seconds']} | {target} | " + " | ".join(cells)
                         + " |")  # fmt: skip
    lines += [
        "",
        "Wall: from the submit (runner), the command (CLI) or the `/train_all` call (app) to the last run saved, "
        "each run in a worker process of its own.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
