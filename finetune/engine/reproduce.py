"""Regenerate the study's table: every (task, method) over several seeds, mean ± std, claims checked.

    python -m finetune reproduce [--tasks sst2 mrpc cola] [--methods ...] [--seeds 3]
                                 [--budget classroom|quick|full] [--model M] [--results results/]

Runs are ordinary runs under checkpoints/ (so the lab's Results tab lists them too). It resumes:
a (task, method, seed) whose run with the same settings already exists is not trained again.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core.baselines import ZERO_SHOT_LM
from ..core.checkpoints import list_runs
from ..core.methods import METHODS
from ..core.models import STUDY_MODEL
from ..core.runs_table import runs_table
from ..core.tasks import TASKS
from . import zeroshot
from .config import ALL, RunConfig, resolve_config, settings_json
from .train import train

# The settings that make two runs "the same experiment" for resuming.
_IDENTITY = ("task", "method", "model", "seed", "max_train_samples", "epochs", "learning_rate", "batch_size",
             "max_seq_length", "method_options", "max_eval_samples")  # fmt: skip


@dataclass(frozen=True)
class Budget:
    """How much each run of the table trains (a --max-train-samples / --epochs / --model overrides it)."""

    description: str
    model: str | None  # None: the lab's default encoder
    max_train_samples: int | None  # None: each (task, method)'s classroom default (core/recipes.py)
    epochs: float | None  # None: likewise


BUDGETS = {
    # What the Train tab trains with nothing changed: each (task, method)'s classroom recipe, so the table
    # checks the study's claims on the runs a class actually sees.
    "classroom": Budget(
        "each task and method's classroom defaults, as the Train tab trains them (the default encoder)",
        model=None,
        max_train_samples=None,
        epochs=None,
    ),
    # 36 runs of one pass over 3,000 examples each: about half an hour on 2 CPU cores, but MRPC and CoLA stay
    # at the majority baseline on it.
    "quick": Budget(
        "one pass over 3,000 examples per run, the default encoder (a quick look; MRPC and CoLA need more)",
        model=None,
        max_train_samples=3000,
        epochs=1,
    ),
    "full": Budget(
        "whole training sets, 3 epochs, bert-base-uncased (for GPUs)",
        model=STUDY_MODEL,
        max_train_samples=ALL,
        epochs=3,
    ),
}


def _identity(config: dict) -> tuple:
    return tuple(settings_json(config.get(key)) for key in _IDENTITY)


def plan(tasks, methods, seeds: int, **common) -> list[RunConfig]:
    return [
        resolve_config(RunConfig(task=t, method=m, seed=42 + i, **common))[0]
        for t in tasks
        for m in methods
        for i in range(seeds)
    ]


def plan_budget(tasks, methods, seeds: int, budget: str, data_dir: str | None = None, **overrides) -> list[RunConfig]:
    """The table's runs on a named budget; overrides (model, max_train_samples, epochs) win when given."""
    chosen = BUDGETS[budget]
    budget_values = {"model": chosen.model, "max_train_samples": chosen.max_train_samples, "epochs": chosen.epochs}
    common = {k: v for k, v in {**budget_values, **overrides}.items() if v is not None}
    return plan(tasks, methods, seeds, data_dir=data_dir, evaluations=1, **common)  # only the final score counts


def run_all(configs: list[RunConfig], checkpoints_dir: Path | None = None, log: Callable[[str], None] = print) -> list:
    done = {_identity(run.info["config"]): run for run in list_runs(checkpoints_dir)}
    runs = []
    for n, config in enumerate(configs, 1):
        key = _identity(dataclasses.asdict(config))
        if key in done:
            log(f"[{n}/{len(configs)}] {config.task} / {config.method} seed {config.seed}: already done")
            runs.append(done[key])
            continue
        log(f"[{n}/{len(configs)}] {config.task} / {config.method} seed {config.seed}: training")
        result = train(config, checkpoints_dir=checkpoints_dir)
        assert result.run is not None, "a run that is not cancelled is saved"
        runs.append(result.run)
    return runs


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(runs: list) -> dict:
    """Per task and method: mean and std of each metric over seeds, parameters, time."""
    summary: dict = {}
    for run in runs:
        info = run.info
        cell = summary.setdefault(info["task"], {}).setdefault(info["method"], {"runs": []})
        cell["runs"].append(info)
    for task_cells in summary.values():
        for cell in task_cells.values():
            infos = cell.pop("runs")
            for metric in ("accuracy", "f1", "mcc", "headline"):
                cell[metric] = _mean_std([i["metrics"][metric] for i in infos])
            cell["seeds"] = len(infos)
            cell["trainable"] = infos[0]["params"]["trainable"]
            cell["trainable_percent"] = infos[0]["params"]["trainable_percent"]
            cell["train_seconds"] = statistics.fmean(i["train_seconds"] for i in infos)
            cell["majority"] = infos[0]["majority_baseline"]["headline"]
    return summary


def claims(summary: dict) -> list[str]:
    """The study's claims, checked against this table in plain words."""
    lines = []
    for task_name, cells in summary.items():
        task = TASKS[task_name]
        metric = task.headline_title
        best = max(cells, key=lambda m: cells[m]["headline"][0])
        mean = {m: c["headline"][0] for m, c in cells.items()}
        majority = next(iter(cells.values()))["majority"]
        weak = [METHODS[m].title for m, c in cells.items() if c["headline"][0] <= majority + 0.01]
        if len(weak) == len(cells):
            lines.append(
                f"- **{task.title}: undecided on this budget** — no method beats the majority-class baseline "
                f"({metric} {majority:.3f}); train on more examples or epochs (e.g. `--budget full`) to compare them."
            )
            continue
        if "full" in cells:
            verdict = "yes" if best == "full" else f"no: {METHODS[best].title} is best"
            lines.append(
                f"- **{task.title}: is full fine-tuning best?** {verdict} "
                f"(full {metric} {mean['full']:.3f}, best {mean[best]:.3f})."
            )
        if "full" in cells and "selective" in cells:
            gap = 100 * (mean["full"] - mean["selective"])
            saving = 100 * (1 - cells["selective"]["trainable"] / cells["full"]["trainable"])
            side = "below" if gap > 0 else "above"
            lines.append(
                f"- **{task.title}: selective vs full:** {abs(gap):.1f} points {side} full fine-tuning "
                f"with {saving:.0f}% fewer trainable parameters."
            )
        stds = {m: c["headline"][1] for m, c in cells.items() if c["seeds"] > 1}
        if stds:
            steady, shaky = min(stds, key=lambda m: stds[m]), max(stds, key=lambda m: stds[m])
            lines.append(
                f"- **{task.title}: stability across seeds:** most stable {METHODS[steady].title} "
                f"(± {stds[steady]:.3f}), least {METHODS[shaky].title} (± {stds[shaky]:.3f})."
            )
        if weak:
            lines.append(
                f"- **{task.title}:** no better than the majority-class baseline ({majority:.3f}): {', '.join(weak)}."
            )
    return lines


def ensure_zeroshot(tasks, data_dir: str | None, checkpoints_dir: Path, log: Callable[[str], None]) -> None:
    """Score the zero-shot column for tasks that have no zero-shot record yet (resumable like the rest)."""
    missing = [t for t in tasks if not list_runs(checkpoints_dir, t, ZERO_SHOT_LM.name)]
    if not missing:
        return
    try:
        classifier = zeroshot.ZeroShotClassifier.load()
    except zeroshot.ZeroShotUnavailable as e:
        log(f"zero-shot column skipped: {e}")
        return
    for task in missing:
        log(f"zero-shot: scoring {task} dev with {classifier.name}")
        report = zeroshot.evaluate(classifier, TASKS[task], data_dir)
        zeroshot.save_report(report, classifier, checkpoints_dir)


def zeroshot_rows(checkpoints_dir: Path | None, tasks) -> dict:
    """Table rows for the latest zero-shot record of each task (raw and calibrated scoring)."""
    rows: dict = {}
    for task in tasks:
        runs = list_runs(checkpoints_dir, task, ZERO_SHOT_LM.name)
        if not runs:
            continue
        info = runs[-1].info
        for scoring, m in info["metrics_by_scoring"].items():
            scores = " | ".join(f"{m[k]:.3f}" for k in ("headline", "accuracy", "f1", "mcc"))
            precision = info.get("precision", "fp32")  # records before the zero-shot LM had a precision: fp32
            label = f"Zero-shot, {scoring} ({info['model']}, {precision}, {info['eval_samples']} dev examples)"
            rows.setdefault(task, {})[label] = f"{scores} | 0 | 0 | 0 | —"
    return rows


def markdown(summary: dict, extra_rows: dict | None = None) -> str:
    out = ["# The study's table, reproduced", ""]
    for task_name, cells in summary.items():
        task = TASKS[task_name]
        out += [
            f"## {task.title} — headline: {task.headline_title}",
            "",
            "| method | headline | accuracy | F1 | MCC | trainable params | trainable % | train s | seeds |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for method in METHODS:
            if method not in cells:
                continue
            c = cells[method]
            fmt = " | ".join(f"{c[k][0]:.3f} ± {c[k][1]:.3f}" for k in ("headline", "accuracy", "f1", "mcc"))
            out.append(f"| {METHODS[method].title} | {fmt} | {c['trainable']:,} | {c['trainable_percent']:.2f} | "
                       f"{c['train_seconds']:.0f} | {c['seeds']} |")  # fmt: skip
        for label, row in (extra_rows or {}).get(task_name, {}).items():
            out.append(f"| {label} | {row} |")
        out.append(f"| majority class | {next(iter(cells.values()))['majority']:.3f} | | | | 0 | 0 | 0 | |")
        out.append("")
    out += ["## The study's claims, checked", "", *claims(summary), ""]
    return "\n".join(out)


def write_results(runs: list, folder: Path, extra_rows: dict | None = None) -> Path:
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(runs_table(runs)).to_csv(folder / "runs.csv", index=False)
    summary = summarize(runs)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2))
    table = folder / "table.md"
    table.write_text(markdown(summary, extra_rows))
    return table
