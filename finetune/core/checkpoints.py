"""Run folders under ``checkpoints/``: written atomically, listed, and found again.

Layout: ``<root>/<task>/<method>/<run_id>/`` holding ``run.json``, ``events.jsonl`` and ``model/``.
A run is built in ``<root>/.staging/`` and renamed into place only once complete (run.json is
written last), so a crash or ``kill -9`` mid-save never leaves a half-written run where
readers look, and never touches earlier runs.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

RUN_FILE = "run.json"
EVENTS_FILE = "events.jsonl"
MODEL_DIR = "model"
STAGING = ".staging"

_REPO_ROOT = Path(__file__).resolve().parent.parent


def default_checkpoints_dir() -> Path:
    return Path(os.environ.get("FINETUNE_CHECKPOINTS") or _REPO_ROOT / "checkpoints")


class CheckpointError(ValueError):
    """A run folder is missing or unreadable."""


@dataclass(frozen=True)
class RunRecord:
    path: Path
    info: dict  # the contents of run.json

    @property
    def run_id(self) -> str:
        return self.info["run_id"]

    @property
    def task(self) -> str:
        return self.info["task"]

    @property
    def method(self) -> str:
        return self.info["method"]

    @property
    def model_dir(self) -> Path:
        return self.path / MODEL_DIR


_last_id_ns = 0


def new_run_id() -> str:
    """Sorts in creation order: microsecond timestamps, strictly increasing within a process."""
    global _last_id_ns
    _last_id_ns = max(time.time_ns(), _last_id_ns + 1000)
    seconds, micros = divmod(_last_id_ns // 1000, 10**6)  # integers: no float rounding
    return f"{datetime.fromtimestamp(seconds):%Y%m%d-%H%M%S}-{micros:06d}-{uuid.uuid4().hex[:4]}"


def staging_dir(root: Path, run_id: str) -> Path:
    """A private folder to build a run in; its name carries our pid so stale ones can be swept."""
    folder = root / STAGING / f"{run_id}.pid{os.getpid()}"
    folder.mkdir(parents=True)
    return folder


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _fsync_tree(folder: Path) -> None:
    for path in [*folder.rglob("*"), folder]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def run_info(
    *,
    run_id: str,
    task: str,
    method: str,
    model: str,
    model_kind: str,
    config: dict,
    metrics: dict,
    majority_baseline: dict,
    params: dict,
    size_bytes: int,
    train_seconds: float,
    train_samples: int,
    eval_samples: int,
    **extra: Any,
) -> dict:
    """The content of a run.json: the one place its layout is written (trained runs and zero-shot scores)."""
    from importlib.metadata import version

    return {
        "run_id": run_id,
        "task": task,
        "method": method,
        "model": model,
        "model_kind": model_kind,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": config,
        "metrics": metrics,
        "majority_baseline": majority_baseline,
        "params": params,
        "size_bytes": size_bytes,
        "train_seconds": train_seconds,
        "train_samples": train_samples,
        "eval_samples": eval_samples,
        **extra,
        "versions": {package: version(package) for package in ("torch", "transformers", "peft")},
    }


def commit_run(staging: Path, root: Path, info: dict) -> RunRecord:
    """Write run.json into the staged run, make it durable, then rename it into place."""
    (staging / RUN_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
    _fsync_tree(staging)
    final = root / info["task"] / info["method"] / info["run_id"]
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, final)  # atomic on one filesystem
    _fsync_tree(final.parent)
    return RunRecord(path=final, info=info)


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_staging(root: Path) -> list[Path]:
    """Remove staging folders left by processes that died mid-run or mid-save."""
    removed = []
    for folder in (root / STAGING).glob("*.pid*"):
        pid = folder.name.rsplit(".pid", 1)[-1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            discard(folder)
            removed.append(folder)
    return removed


def read_run(path: Path) -> RunRecord:
    run_file = Path(path) / RUN_FILE
    if not run_file.is_file():
        raise CheckpointError(f"{path} is not a complete run folder (no {RUN_FILE})")
    try:
        return RunRecord(path=Path(path), info=json.loads(run_file.read_text(encoding="utf-8")))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{run_file} is unreadable: {e}") from None


def list_runs(root: Path | None = None, task: str | None = None, method: str | None = None) -> list[RunRecord]:
    """Every complete run, oldest first (run ids sort by creation time)."""
    root = root or default_checkpoints_dir()
    runs = []
    for run_file in root.glob(f"{task or '*'}/{method or '*'}/*/{RUN_FILE}"):
        if STAGING in run_file.parts:
            continue
        try:
            runs.append(read_run(run_file.parent))
        except CheckpointError:
            continue  # an unreadable run is skipped, not fatal to listing the others
    return sorted(runs, key=lambda r: r.run_id)


def latest_run(task: str, method: str, root: Path | None = None) -> RunRecord | None:
    runs = list_runs(root, task, method)
    return runs[-1] if runs else None


# -- the runs table ------------------------------------------------------------------------------------
RUN_COLUMNS = ("task", "method", "model", "accuracy", "f1", "mcc", "headline", "trainable_params", "trainable_percent",
               "size_mb", "train_seconds", "train_samples", "created", "run_id")  # fmt: skip


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
                "model": info["model"].rsplit("/", 1)[-1] if info.get("model_kind") == "local" else info["model"],
                "accuracy": round(info["metrics"]["accuracy"], 4),
                "f1": round(info["metrics"]["f1"], 4),
                "mcc": round(info["metrics"]["mcc"], 4),
                "headline": round(info["metrics"]["headline"], 4),
                "trainable_params": info["params"]["trainable"],
                "trainable_percent": round(info["params"]["trainable_percent"], 3),
                "size_mb": round(info["size_bytes"] / 1e6, 3),
                "train_seconds": info["train_seconds"],
                "train_samples": info["train_samples"],
                "created": info["created"],
                "run_id": info["run_id"],
            }
        )
    return rows
