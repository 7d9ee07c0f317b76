"""The runs as flat rows, one per run: shared by the CLI, the app's Results tab, the API and CSV export."""

from __future__ import annotations

import math

from .checkpoints import RunRecord, display_model

RUN_COLUMNS = ("task", "method", "model", "accuracy", "f1", "mcc", "headline", "trainable_params", "trainable_percent",
               "size_mb", "train_seconds", "train_samples", "created", "run_id")  # fmt: skip


def _finite(value: float, digits: int) -> float | None:
    """A number for a table and for JSON (NaN and infinities become None: strict JSON has no NaN)."""
    return round(value, digits) if math.isfinite(value) else None


def runs_table(records: list[RunRecord]) -> list[dict]:
    """Flat rows (one per run) shared by the CLI, the app's Results tab, the API and CSV export.
    A local encoder shows as its folder's name: server paths stay on the server."""
    rows = []
    for run in records:
        info = run.info
        rows.append(
            {
                "task": info["task"],
                "method": info["method"],
                "model": display_model(info),
                "accuracy": _finite(info["metrics"]["accuracy"], 4),
                "f1": _finite(info["metrics"]["f1"], 4),
                "mcc": _finite(info["metrics"]["mcc"], 4),
                "headline": _finite(info["metrics"]["headline"], 4),
                "trainable_params": info["params"]["trainable"],
                "trainable_percent": _finite(info["params"]["trainable_percent"], 3),
                "size_mb": _finite(info["size_bytes"] / 1e6, 3),
                "train_seconds": _finite(info["train_seconds"], 2),
                "train_samples": info["train_samples"],
                "created": info["created"],
                "run_id": info["run_id"],
            }
        )
    return rows
