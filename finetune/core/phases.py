"""A long, quiet part of a run says what it does: caching a selective run's frozen layers takes minutes on a CPU
before the first step, and a page that shows "step 0" all that while looks stuck (and a worker that sends nothing
looks stalled: engine/watchdog.py). The run (engine/train.py) listens while it trains; the part reports its progress,
told on as {"type": "phase", "phase": ..., "done": ..., "total": ...} at most once a second, and when it ends."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

CACHING = "caching"  # the frozen layers' outputs, once per run (core/methods/selective.py)
EVERY_S = 1.0

_listener: contextvars.ContextVar[Callable[[dict], None] | None] = contextvars.ContextVar(
    "phase_listener", default=None
)
_last: contextvars.ContextVar[float] = contextvars.ContextVar("phase_last", default=0.0)


@contextmanager
def reporting(listener: Callable[[dict], None]) -> Iterator[None]:
    """Inside the block, `report` tells `listener`."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def report(phase: str, done: int, total: int) -> None:
    """`done` of `total` of `phase` are done (told at most once a second, and at the end)."""
    listener = _listener.get()
    if listener is None:
        return
    now = time.monotonic()
    if done < total and now - _last.get() < EVERY_S:
        return
    _last.set(now)
    listener({"type": "phase", "phase": phase, "done": done, "total": total})
