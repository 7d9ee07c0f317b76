"""Ends a worker process that does not end by itself: after its owner's Stop, or when it has stalled.

A run stops politely at its next step (engine/worker.py writes "stop" on its stdin). A worker that cannot take that
step — stopped by SIGSTOP, swapped out, blocked on a hung read or a stuck GPU call — would hold the waiting line for
as long as it stays so, while every other visitor waits. So:

- **after Stop**, a worker that has used next to no CPU for `stop_grace_s` is killed (stopped, hung, swapped out);
  one still busy (saving its state on a machine other work slows) is given up to `stop_busy_s` before it is killed
  all the same. What it had saved (its last dev evaluation's state) stays resumable: the staging folder of a dead
  process becomes a resumable state (resumable.sweep_stale_staging), as after any crash.
- **without Stop**, a worker is stalled when it has sent no event for a long time *by its own pace* — ten times the
  longest silence it has shown so far, at least `min_silence_s` (and `start_silence_s` before its first event:
  importing the libraries and loading an encoder take a while) — **and** used next to no CPU meanwhile. Long quiet
  phases of a healthy run (caching the selective method's frozen layers, a dev evaluation, tokenizing) keep a core
  busy, so they are not mistaken for a stall; a silence four times the bound ends the worker whatever its CPU does.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

STOP_GRACE_S = 10.0  # a healthy worker stops within a step; one idle this long after Stop does not answer
STOP_BUSY_S = 30.0  # the most a worker still computing after Stop is given
MIN_SILENCE_S = 60.0
START_SILENCE_S = 300.0
PACE_FACTOR = 10.0
BUSY_CORES = 0.05  # a worker using less than this share of a core over IDLE_WINDOW_S is doing nothing
IDLE_WINDOW_S = 20.0
ANY_CPU_FACTOR = 4.0  # silent this many times the bound: ended even while it spins


@dataclass
class Limits:
    stop_grace_s: float = STOP_GRACE_S
    stop_busy_s: float = STOP_BUSY_S
    min_silence_s: float = MIN_SILENCE_S
    start_silence_s: float = START_SILENCE_S
    pace_factor: float = PACE_FACTOR
    idle_window_s: float = IDLE_WINDOW_S


LIMITS = Limits()  # the lab's; a test may shorten them


@dataclass
class Watchdog:
    """Watches one worker (`pid`) from a thread of its own until `done`; `end()` kills it. `why` says what it did:
    None, "stop" (it outlived its Stop's grace) or "stall"."""

    pid: int
    cancel: threading.Event
    done: threading.Event
    end: Callable[[], None]
    limits: Limits = field(default_factory=lambda: LIMITS)
    why: str | None = None
    _last: float = field(default_factory=time.monotonic)
    _longest: float | None = None  # the longest silence between two events so far (None: no event yet)
    _cpu: deque = field(default_factory=deque)  # (time, CPU seconds) of the worker over the idle window

    def heard(self, event: dict) -> None:
        """The worker sent an event: its silence ends."""
        now = time.monotonic()
        if self._longest is not None:
            self._longest = max(self._longest, now - self._last)
        else:
            self._longest = 0.0
        self._last = now

    def start(self) -> Watchdog:
        threading.Thread(target=self._watch, name=f"watchdog-{self.pid}", daemon=True).start()
        return self

    def silence_limit_s(self) -> float:
        if self._longest is None:
            return self.limits.start_silence_s
        return max(self.limits.min_silence_s, self.limits.pace_factor * self._longest)

    def _watch(self) -> None:
        asked_at: float | None = None
        while not self.done.wait(0.5):
            now = time.monotonic()
            self._sample(now)
            if self.cancel.is_set() and asked_at is None:
                asked_at = now
            if asked_at is not None:
                waited = now - asked_at
                if waited > self.limits.stop_busy_s or (waited > self.limits.stop_grace_s and
                                                        self._idle(now, self.limits.stop_grace_s)):  # fmt: skip
                    return self._end("stop")
            silence, limit = now - self._last, self.silence_limit_s()
            if (silence > limit and self._idle(now, self.limits.idle_window_s)) or silence > ANY_CPU_FACTOR * limit:
                return self._end("stall")

    def _sample(self, now: float) -> None:
        """Note the worker's CPU seconds so far (kept for the longer of the two windows)."""
        try:
            times = psutil.Process(self.pid).cpu_times()
        except (psutil.Error, OSError):
            return  # gone: its end is being reaped
        self._cpu.append((now, times.user + times.system))
        keep = max(self.limits.idle_window_s, self.limits.stop_grace_s)
        while len(self._cpu) > 1 and now - self._cpu[1][0] >= keep:
            self._cpu.popleft()

    def _idle(self, now: float, window: float) -> bool:
        """Whether the worker used next to no CPU over the last `window` seconds (False until that much is seen)."""
        if not self._cpu:
            return False
        since = [sample for sample in self._cpu if now - sample[0] >= window]
        if not since:
            return False
        first_time, first_cpu = since[-1]
        spanned = now - first_time
        return (self._cpu[-1][1] - first_cpu) < BUSY_CORES * spanned

    def _end(self, why: str) -> None:
        if self.done.is_set():
            return
        self.why = why
        self.end()
