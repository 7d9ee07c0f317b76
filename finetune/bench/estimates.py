"""How well the Train tab's estimates match real runs: every (task, method) of a `reproduce` run's runs.csv against
what engine/estimate.py says beforehand for the same settings, and the factor REST would be fitted to here.

    python -m finetune.bench.estimates [--runs benchmarks/reproduce/runs.csv] [--data-dir DIR]

Run it on a quiet machine: the estimate times this machine's layers.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
from collections import defaultdict
from pathlib import Path

from ..core.environment import settle
from ..core.methods import METHODS
from ..core.tasks import TASKS
from ..engine import estimate as estimating
from ..engine.reproduce import plan_budget

REPO = Path(__file__).resolve().parents[2]


def compare(runs_csv: Path, data_dir: str | None = None, model: str | None = None) -> list[dict]:
    """Per (task, method) in `runs_csv`: mean measured training seconds, the layers-only estimate and the estimate."""
    measured: dict[tuple[str, str], list[float]] = defaultdict(list)
    with runs_csv.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["method"] in METHODS:
                measured[(row["task"], row["method"])].append(float(row["train_seconds"]))
    tasks = [t for t in TASKS if any(task == t for task, _ in measured)]
    overrides = {"model": model} if model else {}
    rows = []
    for config in plan_budget(tasks, list(METHODS), 1, "classroom", data_dir=data_dir, **overrides):
        if (config.task, config.method) not in measured:
            continue
        estimated = (
            estimating.estimate(config, corrected=False).seconds - estimating.RUN_OVERHEAD_S
        )  # without RUN_OVERHEAD_S, as train_seconds
        rows.append({
            "task": config.task, "method": config.method,
            "measured_s": statistics.mean(measured[(config.task, config.method)]),
            "layers_s": estimated / estimating.REST, "estimated_s": estimated,
        })  # fmt: skip
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| task | method | measured s | layers alone s | estimated s | estimated / measured |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r['task']} | {r['method']} | {r['measured_s']:.1f} | {r['layers_s']:.1f} | {r['estimated_s']:.1f} | "
              f"{r['estimated_s'] / r['measured_s']:.2f} |" for r in rows]  # fmt: skip
    fitted = statistics.median(r["measured_s"] / r["layers_s"] for r in rows)
    lines += ["", f"REST fitted here (median of measured / layers alone): {fitted:.2f}; in use: {estimating.REST}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    settle()  # an entry point: before the libraries that read the environment start
    parser = argparse.ArgumentParser(prog="python -m finetune.bench.estimates", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=REPO / "benchmarks" / "reproduce" / "runs.csv")
    parser.add_argument("--data-dir", default=os.environ.get("GLUE_DIR"))
    parser.add_argument("--model", help="the encoder the runs trained (default: the lab's)")
    args = parser.parse_args(argv)
    print(table(compare(args.runs, args.data_dir, args.model)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
