"""Run folders under ``checkpoints/``: written atomically, listed, and found again.

Layout: ``<root>/<task>/<method>/<run_id>/`` holding ``run.json``, ``events.jsonl`` and ``model/``.
A run is built in ``<root>/.staging/`` and renamed into place only once complete (run.json is
written last), so a crash or ``kill -9`` mid-save never leaves a half-written run where
readers look, and never touches earlier runs.
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from .storage import default_checkpoints_dir

RUN_FILE = "run.json"
EVENTS_FILE = "events.jsonl"
MODEL_DIR = "model"
STAGING = ".staging"


class CheckpointError(ValueError):
    """A run folder is missing or unreadable."""


_FULL = (errno.ENOSPC, errno.EDQUOT)
DISK_FULL = (
    "the disk that holds the runs is full: nothing was saved; free some space (or delete old runs) and try again"
)
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


def storage_problem(error: BaseException) -> str | None:
    """What a failed write means, in words, when the store's disk is full or cannot be written (the errno of an
    OSError, or the os error a Rust library like safetensors reports in its text); None for anything else."""
    code = getattr(error, "errno", None)
    text = str(error)
    if code in _FULL or "No space left" in text or "os error 28" in text or "Disk quota exceeded" in text:
        return DISK_FULL
    if code in _READ_ONLY or "Read-only file system" in text or "os error 30" in text or "Permission denied" in text:
        return "the folder that holds the runs cannot be written (read-only, or no permission): nothing was saved"
    return None


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

    @property
    def where(self) -> str:
        """task/method/run_id: the run's place in any store (never a server path)."""
        return f"{self.task}/{self.method}/{self.run_id}"


def place_in_store(folder: Path) -> str:
    """task/method/run_id of a run folder, from its path."""
    return f"{folder.parent.parent.name}/{folder.parent.name}/{folder.name}"


def display_model(info: dict) -> str:
    """The encoder as people see it: a local encoder by its folder's name (server paths stay on the server)."""
    return info["model"].rsplit("/", 1)[-1] if info.get("model_kind") == "local" else info["model"]


_last_id_ns = 0


def new_run_id() -> str:
    """Sorts in creation order: microsecond timestamps, strictly increasing within a process."""
    global _last_id_ns
    _last_id_ns = max(time.time_ns(), _last_id_ns + 1000)
    seconds, micros = divmod(_last_id_ns // 1000, 10**6)  # integers: no float rounding
    return f"{datetime.fromtimestamp(seconds):%Y%m%d-%H%M%S}-{micros:06d}-{uuid.uuid4().hex[:4]}"


def process_stamp(pid: int) -> str | None:
    """pid + the process's start time: a restarted container reuses pids (PID 1 is alive again), but
    not this pair."""
    try:
        return f"{pid}-{int(psutil.Process(pid).create_time())}"
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def staging_dir(root: Path, run_id: str) -> Path:
    """A private folder to build a run in; its name carries its owner (pid and start time) so that
    folders of processes that died can be swept."""
    folder = root / STAGING / f"{run_id}.owner{process_stamp(os.getpid())}"
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


@dataclass(frozen=True)
class BrokenRun:
    """A run folder that cannot serve, and why, in words (`where` is task/method/run id, never a server path)."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class RunScan:
    runs: list[RunRecord]  # complete, readable runs, oldest first
    broken: list[BrokenRun]

    def summary(self) -> str | None:
        """ "2 broken runs skipped: sst2/lora/…: run.json is not valid JSON; …" — or None."""
        if not self.broken:
            return None
        count = f"{len(self.broken)} broken run{'s' if len(self.broken) > 1 else ''} skipped"
        return f"{count}: " + "; ".join(map(str, self.broken))


_NUMBER = (int, float)
# run.json keys every reader relies on, with their types (metrics and params are checked inside below).
_SHAPE: dict[str, type | tuple[type, ...]] = {
    "run_id": str, "task": str, "method": str, "model": str, "created": str, "config": dict, "metrics": dict,
    "params": dict, "size_bytes": _NUMBER, "train_seconds": _NUMBER, "train_samples": int,
}  # fmt: skip


def shape_problem(info: Any, folder: Path) -> str | None:
    """Why a run.json's content cannot be used, or None."""
    if not isinstance(info, dict):
        return f"{RUN_FILE} holds {type(info).__name__}, not a run record"
    for key, kind in _SHAPE.items():
        if key not in info:
            return f"{RUN_FILE} has no {key!r}"
        if not isinstance(info[key], kind) or isinstance(info[key], bool):
            return f"{RUN_FILE}'s {key!r} is not a {getattr(kind, '__name__', 'number')}"
    for key in ("accuracy", "f1", "mcc", "headline"):
        if not _finite(info["metrics"].get(key)):
            return f"{RUN_FILE} has no number for metric {key!r}"
    for key in ("trainable", "total", "trainable_percent"):
        if not _finite(info["params"].get(key)):
            return f"{RUN_FILE} has no parameter count {key!r}"
    values = list(_leaves(info))
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):  # NaN, Infinity: json reads, nobody shows
        return f"{RUN_FILE} holds a number that is not finite"
    if (longest := max((len(v) for v in values if isinstance(v, str)), default=0)) > MAX_TEXT_CHARS:
        return f"{RUN_FILE} holds a text of {longest:,} characters; a run's record holds at most {MAX_TEXT_CHARS:,}"
    where = place_in_store(folder)
    if (info["task"], info["method"], info["run_id"]) != tuple(where.split("/")):
        return f"{RUN_FILE} describes {info['task']}/{info['method']}/{info['run_id']}, not this folder"
    return None


MAX_TEXT_CHARS = 4096  # the longest text a run.json holds: a path (PATH_MAX), an encoder's name, a device's


def _finite(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool) and math.isfinite(value)


def _leaves(value: Any) -> Iterator[Any]:
    """Every value inside a JSON document that is neither an object nor a list, keys of objects included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def link_in(folder: Path) -> str | None:
    """The first symbolic link in `folder` (itself included), as a path inside it, or None: a run is made of plain
    files, and a link could make a reader (listing, export, loading) read what lies outside the store."""
    if folder.is_symlink():
        return "."
    for where, folders, files in os.walk(folder):  # never into a linked folder (followlinks=False)
        for name in (*folders, *files):
            if (Path(where) / name).is_symlink():
                return (Path(where) / name).relative_to(folder).as_posix()
    return None


def read_run(path: Path) -> RunRecord:
    """The run in `path`, or CheckpointError saying in words what is wrong with it."""
    if (link := link_in(Path(path))) is not None:
        raise CheckpointError(f"it holds a link ({link}); a run is made of plain files")
    run_file = Path(path) / RUN_FILE
    if not run_file.is_file():
        raise CheckpointError(f"not a complete run folder (no {RUN_FILE})")
    if run_file.stat().st_size > MAX_RUN_FILE_BYTES:  # a record is a few KB: a huge one would slow every listing
        raise CheckpointError(f"{RUN_FILE} is {run_file.stat().st_size / 1e6:.1f} MB; a run's record is a few KB")
    try:
        info = json.loads(run_file.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise CheckpointError(f"{RUN_FILE} is not UTF-8 text") from None
    except json.JSONDecodeError:
        raise CheckpointError(f"{RUN_FILE} is not valid JSON") from None
    except OSError as e:
        raise CheckpointError(f"{RUN_FILE} cannot be read ({e.strerror})") from None
    if problem := shape_problem(info, Path(path)) or files_problem(info, Path(path)):
        raise CheckpointError(problem)
    return RunRecord(path=Path(path), info=info)


MAX_RUN_FILE_BYTES = 1 << 20


def files_problem(info: dict, folder: Path) -> str | None:
    """Why a run's saved model is incomplete (a file its method needs is missing), or None."""
    from .baselines import run_kind

    kind = run_kind(info["method"])
    if kind is None:
        return f"method {info['method']!r} is not part of this lab"
    model_dir = folder / MODEL_DIR
    # A baseline's run holds its scores and no model: nothing to look for.
    model_files = (*kind.saved_files, "tokenizer/tokenizer_config.json") if kind.saved_files else ()
    for name in model_files:
        if not (model_dir / name).is_file():
            return f"its saved model lacks {name}"
    from .run_files import folder_problem

    return folder_problem(info, folder)


def scan_runs(root: Path | None = None, task: str | None = None, method: str | None = None) -> RunScan:
    """Every run folder under `root`: the readable runs (oldest first; run ids sort by creation time)
    and the broken ones with the reason. One bad folder never hides the others."""
    root = root or default_checkpoints_dir()
    runs, broken = [], []
    for folder in sorted(root.glob(f"{task or '*'}/{method or '*'}/*")):
        # .staging (runs being built) and .resumable (stopped runs, listed under Stopped runs) are not runs
        if any(part.startswith(".") for part in folder.relative_to(root).parts) or not folder.is_dir():
            continue
        try:
            runs.append(read_run(folder))
        except CheckpointError as e:
            broken.append(BrokenRun(place_in_store(folder), str(e)))
    return RunScan(sorted(runs, key=lambda r: r.run_id), broken)


def list_runs(root: Path | None = None, task: str | None = None, method: str | None = None) -> list[RunRecord]:
    """Every readable run, oldest first (broken ones skipped; `scan_runs` says which and why)."""
    return scan_runs(root, task, method).runs


def latest_run(task: str, method: str, root: Path | None = None) -> RunRecord | None:
    runs = list_runs(root, task, method)
    return runs[-1] if runs else None
