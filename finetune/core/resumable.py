"""Resumable states: what a stopped or crashed run leaves so that it can go on where it was.

While a run trains, the Trainer saves a checkpoint (weights, optimizer, scheduler, RNG, step) into its
staging folder at each dev evaluation, and ``mark`` then writes ``resume.json`` naming it. The marker
is written last and atomically, so a checkpoint without a marker (killed mid-save) is never used.

A run that stops early — Stop, Ctrl-C, a crash, or a ``kill -9`` found later by the staging sweep —
keeps its staging folder as ``<root>/.resumable/<run_id>/`` when it has a marked checkpoint
(``keep_for_resume``). ``claim`` moves it back into a staging folder of the process that resumes it
(one rename, so two visitors cannot resume the same state twice). A completed run drops its
checkpoints before it is saved; each visitor's newest ``MAX_KEPT`` states are kept, bounded in bytes in all.

The checkpoint's optimizer/RNG files are torch pickles read with ``weights_only=True`` by the Trainer;
they are only ever written by this machine and never travel (bundles and Hub pushes carry run folders
only).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from transformers.trainer_pt_utils import safe_globals

from . import atomic_file, checkpoints

RESUMABLE = ".resumable"
MARKER = "resume.json"
TRAINER_DIR = "trainer"  # the Trainer's output_dir inside a staging folder
# What the store keeps of stopped runs (a Space's disk is small, and one visitor's runs must not push out another's):
# each visitor's (the marker's "owner": a login or an address; the CLI's runs are one visitor) newest MAX_KEPT, and in
# all at most MAX_KEPT_BYTES, made room for by the oldest state of a visitor who keeps several, never by a visitor's
# only one (unless it is older than ORPHAN_AFTER_S: nobody came back for it).
MAX_KEPT = 4
MAX_KEPT_BYTES = 8 << 30
ORPHAN_AFTER_S = 7 * 24 * 3600


class ResumeError(ValueError):
    """A resumable state that is missing, damaged or does not match; the message says which, in words.
    A damaged state is thrown away; one that does not match is kept for the settings it was made with."""

    def __init__(self, message: str, damaged: bool = False):
        super().__init__(message)
        self.damaged = damaged


SUMMARY = "{task} / {method}: step {step} of {total}, stopped {time} (run {run_id})"  # a stopped run, for people


@dataclass(frozen=True)
class ResumableState:
    folder: Path
    marker: dict

    @property
    def run_id(self) -> str:
        return self.marker["run_id"]

    @property
    def config(self) -> dict:
        return self.marker["config"]

    @property
    def step(self) -> int:
        return self.marker["step"]

    @property
    def max_steps(self) -> int:
        return self.marker["max_steps"]

    @property
    def checkpoint(self) -> Path:
        return self.folder / TRAINER_DIR / self.marker["checkpoint"]

    @property
    def stopped(self) -> float:
        return self.marker.get("stopped", self.marker["saved"])

    def summary(self, template: str = SUMMARY, **named: str) -> str:
        """One line for people: 'sst2 / full: step 40 of 100, stopped 14:02 (run 20261126-…)'; `template`
        (SUMMARY's fields) words it otherwise, e.g. in the visitor's language, and `named` fills some fields
        otherwise (the task and method by their titles)."""
        return template.format(**{
            "task": self.config["task"], "method": self.config["method"], "step": self.step,
            "total": f"{self.max_steps:,}", "time": time.strftime("%H:%M", time.localtime(self.stopped)),
            "run_id": self.run_id, **named,
        })  # fmt: skip


def mark(staging: Path, run_id: str, config: dict, checkpoint: str, step: int, max_steps: int, **facts: Any) -> None:
    """Name `checkpoint` (a folder under staging/trainer) as the state to resume from; atomic. The visitor a resumed
    run belongs to (note_owner) stays named."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        facts = {"owner": json.loads((staging / MARKER).read_text(encoding="utf-8"))["owner"], **facts}
    marker = {
        "run_id": run_id,
        "config": config,
        "checkpoint": checkpoint,
        "step": step,
        "max_steps": max_steps,
        "saved": time.time(),
        **facts,
    }
    _write_marker(staging, marker)


def _write_marker(staging: Path, marker: dict) -> None:
    atomic_file.write_text(staging / MARKER, json.dumps(marker, indent=2))


def read_state(folder: Path) -> ResumableState:
    """The state in `folder`, checked for shape; raises ResumeError in words."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResumeError("it stopped before its first dev evaluation, so there is no saved state") from None
    except (OSError, ValueError):
        raise ResumeError("its resume.json is damaged") from None
    fields = {"run_id": str, "config": dict, "checkpoint": str, "step": int, "max_steps": int, "saved": int | float}
    if not isinstance(marker, dict) or any(not isinstance(marker.get(k), kind) for k, kind in fields.items()):
        raise ResumeError("its resume.json is not in the expected shape")
    state = ResumableState(folder, marker)
    if any("/" in name or name.startswith(".") for name in (state.run_id, state.marker["checkpoint"])):
        raise ResumeError("its resume.json names folders outside its own")
    if not (state.checkpoint / "trainer_state.json").is_file():
        raise ResumeError(f"its checkpoint at step {state.step} is missing")
    return state


def keep_for_resume(staging: Path, root: Path, **facts: Any) -> ResumableState | None:
    """Keep a stopped run's staging folder as a resumable state if it has a marked checkpoint (else
    discard it). `facts` (e.g. the reason it stopped) are added to its marker."""
    try:
        state = read_state(staging)
    except ResumeError:
        checkpoints.discard(staging)
        return None
    with contextlib.suppress(OSError):  # a full disk keeps the marker it had: the state is no less resumable
        _write_marker(staging, {**state.marker, "stopped": time.time(), **facts})
    drop_other_checkpoints(staging, state.marker["checkpoint"])
    target = root / RESUMABLE / state.run_id
    target.parent.mkdir(parents=True, exist_ok=True)
    checkpoints.discard(target)  # a state claimed, resumed and stopped again replaces its older self
    os.replace(staging, target)
    _prune(root)
    return read_state(target)


def drop_other_checkpoints(staging: Path, keep: str) -> None:
    """Older checkpoints are superseded; one newer than the marker's was cut off mid-save."""
    for folder in (staging / TRAINER_DIR).glob("checkpoint-*"):
        if folder.name != keep:
            shutil.rmtree(folder, ignore_errors=True)


def owner_of(state: ResumableState) -> str:
    """The visitor whose run this is ("" when nobody was named: the CLI's, or one stopped before owners were kept)."""
    return str(state.marker.get("owner") or "")


def note_owner(root: Path, run_id: str, owner: str | None) -> None:
    """Name the visitor a stopped run belongs to in its marker (kept across restarts), when it names none yet."""
    if not owner:
        return
    with contextlib.suppress(ResumeError, OSError):
        state = find_state(root, run_id)
        if not state.marker.get("owner"):
            _write_marker(state.folder, {**state.marker, "owner": owner})
            _prune(root)  # now counted among its visitor's


def _prune(root: Path) -> None:
    """Keep what MAX_KEPT, MAX_KEPT_BYTES and ORPHAN_AFTER_S allow (see MAX_KEPT), the oldest going first."""
    states = list_states(root)
    by_owner: dict[str, list[ResumableState]] = {}
    for state in states:
        by_owner.setdefault(owner_of(state), []).append(state)
    for owned in by_owner.values():
        for state in owned[:-MAX_KEPT]:
            checkpoints.discard(state.folder)
        del owned[:-MAX_KEPT]
    sizes = {state.folder: _bytes(state.folder) for owned in by_owner.values() for state in owned}
    while sum(sizes.values()) > MAX_KEPT_BYTES:
        spare = [owned[0] for owned in by_owner.values() if len(owned) > 1]
        spare += [owned[0] for owned in by_owner.values() if time.time() - owned[0].stopped > ORPHAN_AFTER_S]
        if not spare:
            break  # everyone keeps one: the store holds more than the bound rather than take a visitor's only run
        oldest = min(spare, key=lambda s: s.stopped)
        checkpoints.discard(oldest.folder)
        by_owner[owner_of(oldest)].remove(oldest)
        del sizes[oldest.folder]


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def list_states(root: Path) -> list[ResumableState]:
    """Every usable resumable state, oldest stop first; damaged ones are left out (and cleaned away)."""
    states = []
    for folder in (root / RESUMABLE).glob("*") if (root / RESUMABLE).is_dir() else []:
        try:
            states.append(read_state(folder))
        except ResumeError:
            checkpoints.discard(folder)
    return sorted(states, key=lambda s: s.stopped)


def find_state(root: Path, which: str) -> ResumableState:
    """`which` = a run id, or 'last' (the most recently stopped run). Raises ResumeError in words."""
    which = which.strip()
    if which == "last":
        states = list_states(root)
        if not states:
            raise ResumeError("there is no stopped run to resume (runs can be resumed once past a dev evaluation)")
        return states[-1]
    folder = root / RESUMABLE / which
    if not which or "/" in which or which.startswith(".") or not folder.is_dir():
        raise ResumeError(f"there is no stopped run {which!r} to resume (python -m finetune runs lists them)")
    try:
        return read_state(folder)
    except ResumeError as e:
        raise ResumeError(f"run {which} cannot be resumed: {e}") from None


def verify_checkpoint(state: ResumableState, model: torch.nn.Module) -> None:
    """Read every file of the checkpoint once before the Trainer does, so that a damaged one (a disk
    filled up, a file edited by hand) is refused in words rather than failing halfway through loading,
    and check that saved weights are the ones of `model` (same names and shapes)."""
    step = state.step
    try:
        trainer_state = json.loads((state.checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
        if trainer_state.get("global_step") != step or trainer_state.get("max_steps") != state.max_steps:
            raise ValueError("its trainer state does not match resume.json")
        for path in sorted(state.checkpoint.iterdir()):
            if path.suffix == ".safetensors":
                tensors = safetensors.torch.load_file(path)
                if path.name == "model.safetensors":
                    _same_weights(tensors, model.state_dict())
            elif path.suffix in (".pt", ".pth"):
                with safe_globals():  # the numpy RNG state, allow-listed as the Trainer does
                    torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any unreadable byte means the state cannot be trusted
        raise ResumeError(
            f"the saved state of run {state.run_id} at step {step} is damaged ({type(e).__name__}); "
            "start the run again",
            damaged=True,
        ) from None


def _same_weights(saved: dict, expected: dict) -> None:
    # save_pretrained may leave out tensors a model can rebuild, so the saved names are a subset
    wanted = {name: tuple(t.shape) for name, t in expected.items()}
    if not saved or any(wanted.get(name) != tuple(t.shape) for name, t in saved.items()):
        raise ValueError("its weights are not this model's")


UNKNOWN_STAGING_TTL_S = 24 * 3600  # staging folders of no known owner (older layouts) expire after a day


def sweep_stale_staging(root: Path) -> list[Path]:
    """Clear staging folders left by processes that died mid-run or mid-save (owner pid gone, or the
    pid now belongs to another process), and folders of no known owner older than a day. A folder with a
    resumable checkpoint is kept as a resumable state (core/resumable.py); the rest are removed."""
    removed = []
    for folder in (root / checkpoints.STAGING).glob("*") if (root / checkpoints.STAGING).is_dir() else []:
        owner = folder.name.rpartition(".owner")[2] if ".owner" in folder.name else None
        if owner is not None:
            pid = owner.split("-", 1)[0]
            stale = not pid.isdigit() or checkpoints.process_stamp(int(pid)) != owner
        else:
            stale = time.time() - folder.stat().st_mtime > UNKNOWN_STAGING_TTL_S
        if stale:
            keep_for_resume(folder, root, reason="the process training it ended")
            removed.append(folder)
    return removed


def claim(state: ResumableState, staging: Path) -> ResumableState:
    """Move `state` into `staging` (an empty folder this process owns); one rename, so a state is resumed
    at most once at a time. Raises ResumeError when someone else got there first."""
    staging.rmdir()
    try:
        os.replace(state.folder, staging)
    except OSError:
        staging.mkdir()
        raise ResumeError(f"run {state.run_id} is already being resumed") from None
    return read_state(staging)
