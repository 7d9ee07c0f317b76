"""Runs training in a background thread, one run at a time, and keeps its events for viewers.

The app (or any other front end) calls ``start`` / ``start_queue`` / ``stop`` and reads
``snapshot()``; it never trains anything itself. A queue runs several configs one after the
other ("train all four"); a second start while one is running is refused, not run alongside
(a 2-core machine cannot train two models at once usefully).
"""

from __future__ import annotations

import copy
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from .config import RunConfig, resolve_config
from .events import describe
from .train import train

MAX_LOG_LINES = 200


class RunnerBusy(RuntimeError):
    """A training run is already in progress."""


@dataclass
class Snapshot:
    state: str  # "idle" | "running" | "complete" | "cancelled" | "failed"
    config: RunConfig | None = None
    events: list[dict] = field(default_factory=list)  # the current (or last) run's events
    log: list[str] = field(default_factory=list)
    reason: str | None = None  # why a run failed or was cancelled
    queue: list[RunConfig] = field(default_factory=list)  # configs still waiting
    completed: int = 0  # runs saved since the app started; a viewer refreshes results when it changes
    last_run: dict | None = None  # run.json of the last saved run
    generation: int = 0  # bumped on every start, so viewers can tell runs apart


class TrainingRunner:
    def __init__(self, checkpoints_dir: Path | None = None):
        self.checkpoints_dir = checkpoints_dir
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._snap = Snapshot(state="idle")

    # -- control ---------------------------------------------------------------------------
    def start(self, config: RunConfig) -> None:
        self.start_queue([config])

    def start_queue(self, configs: list[RunConfig]) -> None:
        """Validate every config first (a bad one refuses the whole queue), then train in order."""
        for config in configs:
            resolve_config(config)
        with self._lock:
            if self.busy and (current := self._snap.config) is not None:
                raise RunnerBusy(
                    f"a training run is already in progress ({current.task} / {current.method}); "
                    "wait for it to finish or stop it first"
                )
            self._cancel.clear()
            self._snap = Snapshot(
                state="running",
                config=configs[0],
                queue=list(configs[1:]),
                completed=self._snap.completed,
                last_run=self._snap.last_run,
                generation=self._snap.generation + 1,
            )
            self._thread = threading.Thread(target=self._work, args=(list(configs),), daemon=True, name="training")
            self._thread.start()

    def stop(self) -> bool:
        """Ask the current run to stop at its next step and drop the rest of the queue."""
        with self._lock:
            if not self.busy:
                return False
            self._snap.queue = []
            self._cancel.set()
            self._log("stop requested: stopping at the next step")
            return True

    def wait(self, timeout: float | None = None) -> bool:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.busy

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def snapshot(self) -> Snapshot:
        with self._lock:
            return copy.deepcopy(self._snap)

    # -- the training thread ---------------------------------------------------------------
    def _log(self, line: str) -> None:
        self._snap.log.append(time.strftime("%H:%M:%S ") + line)
        del self._snap.log[:-MAX_LOG_LINES]

    def _on_event(self, event: dict) -> None:
        with self._lock:
            self._snap.events.append(event)
            if line := describe(event):
                self._log(line)

    def _work(self, configs: list[RunConfig]) -> None:
        pending = list(configs)
        while pending:
            config = pending.pop(0)
            with self._lock:
                if self._cancel.is_set():  # stopped between two queued runs
                    self._snap.state, self._snap.reason = "cancelled", "stopped by the user"
                    return
                self._snap.config, self._snap.events, self._snap.state = config, [], "running"
                self._snap.queue = list(pending)
            try:
                result = train(
                    config, listeners=[self._on_event], cancel=self._cancel, checkpoints_dir=self.checkpoints_dir
                )
            except Exception as e:  # a crashed run is reported; the app keeps serving
                with self._lock:
                    self._snap.state, self._snap.reason = "failed", f"{type(e).__name__}: {e}"
                    self._log("".join(traceback.format_exception_only(e)).strip())
                return
            with self._lock:
                if result.status == "cancelled" or result.run is None:
                    self._snap.state, self._snap.reason = "cancelled", "stopped by the user"
                    return
                self._snap.state = "complete"
                self._snap.completed += 1
                self._snap.last_run = result.run.info
                self._log(f"saved run {result.run.run_id}")
