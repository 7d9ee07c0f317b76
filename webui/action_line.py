"""The line under the Train tab's buttons answers a click: "Started", "2nd in line, starts in about 40 s",
"Stopping". It speaks of the visitor's job as it was then. Once that job has started, ended or left the line, the
line goes, or it would go on saying "starts in about 0 s" beside a run long finished; but never sooner than
READ_S after it appeared, so nobody loses a line they are still reading. A line written while the visitor had
no job (a refusal, "nothing is training") speaks of no job and stays until their next click."""

from __future__ import annotations

import time
from typing import Any

from finetune.engine.runner import Snapshot

READ_S = 6.0  # seconds a line stays at least


def visitor_job(snap: Snapshot, owner: str) -> tuple[str, int | None] | None:
    """What of the visitor's is in the lab now: ("running", job id), ("waiting", job id) behind another's job, or
    None. A job in line while nothing trains is about to start: "running" already, so that its "Started" line
    does not go a moment later."""
    if snap.state == "running" and snap.owner == owner:
        return ("running", snap.job_id)
    waiting = snap.first_waiting(owner)
    if waiting is None:
        return None
    return ("waiting" if snap.state == "running" else "running", waiting.id)


def spoken(text: str | None, snap: Snapshot, owner: str, now: float | None = None) -> dict[str, Any] | None:
    """What a line just written speaks of, for `outdated` to compare with later (None: an empty line)."""
    if not text:
        return None
    return {"job": visitor_job(snap, owner), "at": time.monotonic() if now is None else now}


def outdated(said: dict[str, Any] | None, snap: Snapshot, owner: str, now: float | None = None) -> bool:
    """True once the job the line spoke of is no longer where it was, and the line has been read."""
    if not said or said["job"] is None:
        return False
    now = time.monotonic() if now is None else now
    return now - said["at"] >= READ_S and visitor_job(snap, owner) != said["job"]
