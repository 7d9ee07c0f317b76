""" "Train all" at the classroom defaults: wall time per method and in total, with the dev metrics."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..core.precision import resolve_precision
from ..engine.config import classroom_configs
from ..engine.estimate import estimate
from ..engine.train import train


def train_all(
    checkpoints_dir: Path,
    model: str,
    data_dir: str,
    task: str = "sst2",
    precision: str = "auto",
    samples: int | None = None,  # at most this many training and dev examples; None: the recipes', all the dev set
) -> dict:
    configs = classroom_configs(
        task, model=model, data_dir=data_dir, precision=precision, max_train_samples=samples, max_eval_samples=samples
    )
    # What the Train tab says before each run starts, measured before any of them so that it is what a class sees.
    estimates = {config.method: round(estimate(config, corrected=False).seconds, 1) for config in configs}
    started = time.perf_counter()
    per_method = {}
    for config in configs:
        t0 = time.perf_counter()
        result = train(config, checkpoints_dir=checkpoints_dir)
        assert result.run is not None and result.metrics is not None
        per_method[config.method] = {
            "wall_seconds": round(time.perf_counter() - t0, 1),
            "estimated_seconds": estimates[config.method],
            "train_seconds": result.run.info["train_seconds"],
            "train_samples": result.run.info["train_samples"],
            "accuracy": round(result.metrics["accuracy"], 4),
            "f1": round(result.metrics["f1"], 4),
            "mcc": round(result.metrics["mcc"], 4),
            "trainable_percent": round(result.run.info["params"]["trainable_percent"], 3),
        }
        print(f"[classroom {task} {precision}] {config.method}: {per_method[config.method]}", file=sys.stderr,
              flush=True)  # fmt: skip
    return {
        "task": task,
        "precision": precision,
        "resolved_precision": resolve_precision(precision),
        "total_wall_seconds": round(time.perf_counter() - started, 1),
        "samples_cap": samples,
        "methods": per_method,
    }
