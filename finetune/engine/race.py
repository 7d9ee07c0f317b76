""" "Train all" as a race: the methods train side by side in lanes of worker processes, the longest first, each lane
with its share of the cores; one method can be stopped alone, and a stopped race keeps every method it had.

Why lanes: a classroom batch (16 sentences of ~25 tokens) gives matrices too small to split well over two threads,
so on 2 cores a run on one thread is ~1.45x slower, not 2x. #31 measured four SST-2 runs on a 2-core Xeon: one after
another with 2 threads each 80.0 s, two lanes of 1 thread 52.4 s, all four at once with 1 thread each 60.4 s.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from .config import RunConfig

# A run's estimate is for the machine's every core; on a lane's share it is this much slower (the 2-core
# measurement above: 1 thread against 2). Used for the race's ETA only.
LANE_SLOWDOWN = 1.45
MAX_CPU_LANES = 4


@dataclass(frozen=True)
class Lanes:
    lanes: int  # runs side by side
    threads: int  # torch threads of each lane's worker


def lanes_for(runs: int, hardware: str = "cpu", cores: int | None = None) -> Lanes:
    """How `runs` share this machine: on 2 cores two lanes of one thread; on more, lanes of at least two threads (at
    most four lanes); on a GPU every run at once (the lab's runs are small beside a GPU's memory), and on ZeroGPU one
    GPU call per run, issued together. LAB_LANES overrides the number of lanes."""
    cores = cores or os.cpu_count() or 1
    if hardware in ("gpu", "zerogpu"):
        lanes = runs
    elif cores <= 3:
        lanes = min(runs, 2, cores)
    else:
        lanes = min(runs, MAX_CPU_LANES, cores // 2)
    with contextlib.suppress(ValueError):
        lanes = int(os.environ.get("LAB_LANES", lanes))
    lanes = max(1, min(runs, lanes))
    return Lanes(lanes, max(1, cores // lanes) if hardware == "cpu" else max(1, cores // max(1, runs)))


@dataclass
class Entry:
    """One method of a race, as its view shows it and its resume needs it."""

    method: str
    config: RunConfig
    estimate_s: float  # before the machine's correction, on every core
    resume: str | None = None  # a stopped run of this method the race goes on with
    state: str = "waiting"  # "waiting" | "running" | "complete" | "cancelled" | "failed" | "withdrawn"
    lane: int | None = None
    run_id: str | None = None
    reason: str | None = None
    resumable_from: int | None = None  # a stopped (or crashed) run: the step it resumes from
    run: dict | None = None  # run.json once saved
    events: list[dict] = field(default_factory=list)  # its evaluations, the newest progress, start and end

    def record(self, event: dict) -> None:
        """Keep what the race view draws: every evaluation, the start and end, and only the newest progress tick."""
        if event["type"] == "start":
            self.run_id = event.get("run_id", self.run_id)
        if event["type"] in ("progress", "phase") and self.events and self.events[-1]["type"] == event["type"]:
            self.events[-1] = event  # the newest tick only
        elif event["type"] in ("start", "progress", "phase", "log", "eval", "end", "resume"):
            self.events.append(event)

    @property
    def progress(self) -> dict:
        return next((e for e in reversed(self.events) if "step" in e and "max_steps" in e), {})

    def left_s(self, lanes: Lanes, correction: float = 1.0) -> float | None:
        """Seconds until this method is saved: its own pace while it trains (0 at its last step), its estimate on a
        lane's share of the cores while it waits, None once it ended."""
        if self.state == "running" and self.progress.get("eta_s") is not None:
            return self.progress["eta_s"]
        if self.state in ("running", "waiting"):
            return self.estimate_s * lane_slowdown(lanes) * correction
        return None

    def pace(self, lanes: Lanes) -> float | None:
        """Real / estimated seconds as this method's training shows so far (None before its pace is known)."""
        progress = self.progress
        elapsed, eta = progress.get("elapsed_s"), progress.get("eta_s")
        if self.state != "running" or elapsed is None or eta is None or self.estimate_s <= 0:
            return None
        if progress.get("step", 0) < 10 or elapsed < 5:  # its warm-up's pace says little
            return None
        return (elapsed + eta) / (self.estimate_s * lane_slowdown(lanes))

    @property
    def unfinished(self) -> bool:
        return self.state != "complete"

    def to_resume(self) -> tuple[RunConfig, str | None] | None:
        """What a resumed race does with this method: go on with its stopped run, start it afresh (it never started,
        or stopped before anything could be kept), or nothing (saved)."""
        if not self.unfinished:
            return None
        if self.resumable_from is not None:
            return self.config, self.run_id
        return self.config, self.resume if self.state in ("waiting", "withdrawn") else None


def lane_slowdown(lanes: Lanes) -> float:
    return LANE_SLOWDOWN if lanes.lanes > 1 else 1.0


def spread_s(seconds: list[float], lanes: Lanes) -> float:
    """Runs of `seconds` each (on a lane's share) spread over the lanes: never less than the longest one."""
    return max([*seconds, sum(seconds) / lanes.lanes, 0.0])


def remaining_s(entries: list[Entry], lanes: Lanes, correction: float = 1.0) -> float:
    """Seconds until the race ends: the methods training by their own pace, those waiting by their estimate scaled
    as the race's own lanes run (`correction`, the lab's, only until a lane's pace is known), so that the header
    agrees with its cards."""
    correction = race_pace(entries, lanes, correction)
    return spread_s([s for e in entries if (s := e.left_s(lanes, correction)) is not None], lanes)


def race_pace(entries: list[Entry], lanes: Lanes, correction: float = 1.0) -> float:
    """Real / estimated seconds as the race's training methods show (their median), else `correction`."""
    paces = sorted(p for e in entries if (p := e.pace(lanes)) is not None)
    return paces[len(paces) // 2] if paces else correction


def race_estimate_s(estimates_s: list[float], lanes: Lanes) -> float:
    """A race's seconds before it starts."""
    return spread_s([s * lane_slowdown(lanes) for s in estimates_s], lanes)


def longest_first(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: -e.estimate_s)


def run_lanes(entries: list[Entry], lanes: Lanes, train_one: Callable[[Entry, int], None], stop: threading.Event,
              lock: threading.Lock) -> None:  # fmt: skip
    """Train `entries` in `lanes.lanes` threads, each taking the longest waiting entry when it is free, until none is
    left or `stop` is set (entries still waiting stay waiting). `train_one(entry, lane)` trains one and records its
    end in the entry; `lock` guards the entries' states."""
    waiting = longest_first([e for e in entries if e.state == "waiting"])

    def lane(number: int) -> None:
        while True:
            with lock:
                if stop.is_set() or not waiting:
                    return
                entry = waiting.pop(0)
                if entry.state != "waiting":  # withdrawn before its turn
                    continue
                entry.state, entry.lane = "running", number
            train_one(entry, number)

    threads = [threading.Thread(target=lane, args=(n,), name=f"lane-{n}", daemon=True) for n in range(lanes.lanes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
