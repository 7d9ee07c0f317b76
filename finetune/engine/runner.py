"""A waiting line of runs for many visitors, each run trained in a worker process of its own (engine/worker.py).

The app (or any other front end) calls ``submit`` / ``withdraw`` / ``stop`` and reads ``snapshot()``;
it never trains anything itself: a thread of the runner launches each run's worker and relays its events.
A job is one or more configs asked for by one owner (a browser session or API client); jobs wait in line and run
one after the other. "Train all" is a race (engine/race.py): one job whose methods train side by side in lanes, and
which holds every lane while it runs. Only a job's owner — or someone allowed to override, such as an instructor —
can stop it or take it out of the line.
"""

from __future__ import annotations

import contextvars
import copy
import dataclasses
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..core.checkpoints import EVENTS_FILE, list_runs
from ..core.resumable import ResumableState, ResumeError, find_state, list_states, note_owner, owner_of
from ..core.storage import default_checkpoints_dir
from . import unfinished
from .config import RunConfig, resolve_config
from .estimate import duration_text
from .events import describe, fan_out, read_events
from .race import Entry, Lanes, lanes_for, race_estimate_s, remaining_s, run_lanes
from .train import saved_settings
from .worker import OVERTIME, STOP_FORCED, Launcher, RunFailed, WorkOrder, WorkOutcome, explain_failure, train_in_worker

MAX_LOG_LINES = 200
MAX_EVENTS = 2_000  # a long run's progress events are thinned beyond this; start, evals and end are kept
MAX_WAITING = 20  # jobs in line; more is refused (one classroom, one small machine)
MAX_FINISHED = 200  # finished jobs whose outcome is kept for the callers still asking

log = logging.getLogger(__name__)


def share_left(state: ResumableState) -> float:
    """The share of a stopped run still to train."""
    return 1 - state.step / max(state.max_steps, 1)


class RunnerBusy(RuntimeError):
    """The waiting line is full."""


# One address (a classroom behind its school's network) or one login holds at most so many jobs (webui/deployment.py)
VISITOR_FULL = ("{count} runs from your address are already in line or training; one of them must end first (visitors "
                "sharing a network share this; logging in to Hugging Face gives you your own)")  # fmt: skip


@dataclass
class Job:
    id: int
    owner: str
    configs: list[RunConfig]
    estimates_s: list[float]  # each config's estimated duration before the machine's correction, for the ETAs
    resume: str | None = None  # a stopped run's id: the job goes on with it (configs: its own settings)
    max_seconds: float | None = None  # a run still training after this long is stopped (resumable)
    # The context of the request that asked for the job: its runs are launched in it, so that a launcher can see who
    # asked (on ZeroGPU the GPU call is charged to the visitor whose request it is made from: webui/zerogpu.py).
    context: contextvars.Context | None = None
    lanes: Lanes | None = None  # a race ("Train all"): its configs side by side in these lanes (engine/race.py)
    resumes: list[str | None] = field(default_factory=list)  # a race's stopped runs to go on with, by config
    # Who asks, beyond the browser session (`owner`): a login or an address (webui/visitors.py). A public lab bounds
    # the jobs one visitor holds, and a stopped run belongs to its visitor across restarts. Default: the owner.
    visitor: str = ""
    saved: list[str] = field(default_factory=list)  # a resumed race's runs saved before it stopped: shown, not trained

    def __post_init__(self) -> None:
        self.visitor = self.visitor or self.owner

    @property
    def estimate_s(self) -> float:
        return race_estimate_s(self.estimates_s, self.lanes) if self.lanes else sum(self.estimates_s)

    def __deepcopy__(self, memo: dict) -> Job:  # for snapshots: a Context cannot be copied, and need not be (immutable)
        return dataclasses.replace(self, configs=copy.deepcopy(self.configs, memo), estimates_s=list(self.estimates_s))


@dataclass
class Snapshot:
    state: str  # "idle" | "running" | "complete" | "cancelled" | "failed"
    config: RunConfig | None = None
    owner: str | None = None  # who started the current (or last) run
    events: list[dict] = field(default_factory=list)  # the current (or last) run's events
    # The current run's log: {"time", "event"} for its events worth a line, {"time", "message", "values"} for
    # the runner's own notes (English templates; each front end words them in its visitor's language).
    log: list[dict] = field(default_factory=list)
    reason: str | None = None  # why a run failed or was cancelled
    queue: list[RunConfig] = field(default_factory=list)  # the current job's configs still to run
    queue_estimate_s: float = 0.0  # their estimated duration (before the correction)
    waiting: list[Job] = field(default_factory=list)  # jobs in line behind the current one
    correction: float = 1.0  # real / estimated seconds as this machine's runs show now: scales every estimate
    completed: int = 0  # runs saved since the app started; a viewer refreshes results when it changes
    last_run: dict | None = None  # run.json of the last saved run
    generation: int = 0  # bumped on every start, so viewers can tell runs apart
    job_id: int | None = None  # the job now running (or last run)
    resuming: str | None = None  # the stopped run the current job goes on with
    race: list[Entry] = field(default_factory=list)  # the current (or last) race's methods, longest first
    lanes: Lanes | None = None  # how the current (or last) race shares the machine
    race_owner: str | None = None  # whose race that is

    @property
    def race_remaining_s(self) -> float:
        return remaining_s(self.race, self.lanes, self.correction) if self.race and self.lanes else 0.0

    def first_waiting(self, owner: str) -> Job | None:
        """`owner`'s first job in line, if any."""
        return next((job for job in self.waiting if job.owner == owner), None)

    def place_of(self, owner: str) -> tuple[int, float] | None:
        """(place in line counting from 1, estimated seconds until it starts) of `owner`'s first waiting job."""
        first = self.first_waiting(owner)
        return None if first is None else self.place_of_job(first.id)

    def place_of_job(self, job_id: int) -> tuple[int, float] | None:
        """(place in line counting from 1, estimated seconds until it starts) of one waiting job."""
        ahead = self.remaining_s()
        for place, job in enumerate(self.waiting, 1):
            if job.id == job_id:
                return place, ahead
            ahead += job.estimate_s * self.correction
        return None

    def remaining_s(self) -> float:
        """Estimated seconds until the current job ends (0 when idle)."""
        if self.state != "running":
            return 0.0
        progress = next((e for e in reversed(self.events) if e.get("eta_s") is not None), None)
        if self.race and self.config is None:  # a race runs (a later run's snapshot keeps the last race for its view)
            return self.race_remaining_s
        current = progress["eta_s"] if progress else 0.0  # the run's own pace
        return current + self.queue_estimate_s * self.correction


@dataclass(frozen=True)
class JobOutcome:
    state: str  # "complete" | "cancelled" | "failed" | "withdrawn"
    reason: str | None
    runs: tuple[dict, ...]  # run.json of each run the job saved


@dataclass
class SpeedFeedback:
    """How runs teach the estimates: the factor real / estimated seconds, a listener per run that updates it
    from the run's pace, and a hook for the moments the line is empty (re-measuring the machine)."""

    factor: Callable[[], float] = lambda: 1.0
    listener: Callable[[RunConfig], Callable[[dict], None]] | None = None
    on_idle: Callable[[], None] = lambda: None


class TrainingRunner:
    def __init__(
        self,
        checkpoints_dir: Path | None = None,
        estimate: Callable[[RunConfig], float] | None = None,
        speed: SpeedFeedback | None = None,
        launcher: Launcher = train_in_worker,
        hardware: str = "cpu",
    ):
        """`estimate`: a run's seconds before the machine's correction; `speed`: where that correction comes
        from (and goes to) as runs train, and what to do when the line empties; `launcher`: how a run is trained
        (default: a worker process each); `hardware`: where ("cpu", "gpu", "zerogpu"), for run.json."""
        self.checkpoints_dir = checkpoints_dir
        self.launcher, self.hardware = launcher, hardware
        self.estimate = estimate or (lambda config: 0.0)
        self.speed = speed or SpeedFeedback()
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._line: list[Job] = []
        self._ids = itertools.count(1)
        self._snap = Snapshot(state="idle")
        self._finished: dict[int, JobOutcome] = {}
        self._stopped_by: dict[str, str] = {}  # run id -> the visitor whose job stopped it (also in its marker)
        # owner -> what their race left, newest last; kept on disk (engine/unfinished.py), so a restart keeps it
        self._unfinished_races, self._race_saved = unfinished.load(self.root)  # and the runs each race saved
        self._restored = set(self._unfinished_races)  # owners whose race an earlier start of the lab stopped
        self._race_stops: dict[str, threading.Event] = {}  # method -> its Stop, in the race now running
        self._current: Job | None = None  # the job training now
        self._last_of: dict[str, tuple[int, float]] = {}  # owner -> (their last finished job, when it finished)

    # -- control ---------------------------------------------------------------------------
    def submit(
        self, configs: list[RunConfig], owner: str = "local", max_seconds: float | None = None,
        one_per_owner: bool = False, context: contextvars.Context | None = None, race: bool = False,
        resumes: list[str | None] | None = None, visitor: str | None = None, per_visitor: int | None = None,
        saved: list[str] | None = None,
    ) -> int:  # fmt: skip
        """Check every config (a bad one refuses the whole job), then put the job in line; returns its id.
        `max_seconds`: each run is stopped (resumable) once it has trained this long; `one_per_owner`: refused
        while `owner` has a job in line or training, or `visitor` (Job.visitor) holds `per_visitor` jobs; `context`:
        the asking request's (Job.context); `race`: the configs side by side (engine/race.py), `resumes` the stopped
        run each goes on with (None: a new run), `saved` the runs a resumed race had already saved (shown with it)."""
        for config in configs:
            resolve_config(config)
        resumes = list(resumes or [None] * len(configs))
        estimates = [self._estimate(c) * self._left_of(r) for c, r in zip(configs, resumes, strict=True)]
        # A race stays a race when resumed, even with one method left: it shows every method it had.
        lanes = lanes_for(len(configs), self.hardware) if race and (len(configs) > 1 or saved) else None
        with self._lock:
            if self._resumes_in_line() & set(filter(None, resumes)):
                raise ResumeError("a run of this race is already waiting in line to be resumed")
        single = resumes[0] if len(configs) == 1 and lanes is None else None  # alone: a plain resume
        job = Job(0, owner, list(configs), estimates, resume=single, max_seconds=max_seconds, context=context,
                  lanes=lanes, resumes=resumes, visitor=visitor or owner, saved=list(saved or []))  # fmt: skip
        return self._enqueue(job, one_per_owner, per_visitor)

    def resume_race(self, owner: str = "local", max_seconds: float | None = None, one_per_owner: bool = False,
                    context: contextvars.Context | None = None, anyone: bool = False, visitor: str | None = None,
                    per_visitor: int | None = None) -> int:  # fmt: skip
        """Put `owner`'s last stopped race back in line: its stopped runs go on where they were, the methods it never
        started start; with `anyone` (a private lab), the lab's last stopped race if `owner` has none. A method whose
        stopped run has since been resumed alone (or cleaned away) is left out. Raises ResumeError when there is no
        unfinished race."""
        with self._lock:
            whose = self._race_of(owner, anyone)
            left = self._unfinished_races.get(whose, []) if whose else []
            saved = self._race_saved.get(whose, []) if whose else []
        stopped = {s.run_id for s in list_states(self.root)}
        left = [(config, run) for config, run in left if run is None or run in stopped]
        if not left:
            with self._lock:
                self._forget_race(whose)  # every run of it went on alone: nothing to offer any more
            raise ResumeError("there is no stopped race of yours to resume")
        configs, resumes = [c for c, _ in left], [r for _, r in left]
        job_id = self.submit(configs, owner, max_seconds, one_per_owner, context, race=True, resumes=resumes,
                             visitor=visitor, per_visitor=per_visitor, saved=saved)  # fmt: skip
        with self._lock:
            self._forget_race(whose)
        return job_id

    def unfinished_race(self, owner: str, anyone: bool = False) -> list[tuple[RunConfig, str | None]]:
        """`owner`'s last race's methods still to train: (config, the stopped run it goes on with, or None); with
        `anyone`, the lab's last stopped race if `owner` has none."""
        with self._lock:
            whose = self._race_of(owner, anyone)
            return list(self._unfinished_races.get(whose, [])) if whose else []

    def _race_of(self, owner: str, anyone: bool) -> str | None:
        if owner in self._unfinished_races:
            return owner
        return next(reversed(self._unfinished_races), None) if anyone else None

    def _keep_race(self, owner: str, left: list[tuple[RunConfig, str | None]], saved: list[str]) -> None:
        self._forget_race(owner, write=False)
        if left:
            self._unfinished_races[owner] = left  # newest last
            self._race_saved[owner] = saved
        unfinished.save(self.root, self._unfinished_races, self._race_saved)

    def _forget_race(self, owner: str | None, write: bool = True) -> None:
        self._unfinished_races.pop(owner or "", None)
        self._race_saved.pop(owner or "", None)
        self._restored.discard(owner or "")
        if write:
            unfinished.save(self.root, self._unfinished_races, self._race_saved)

    def _left_of(self, run_id: str | None) -> float:
        """The share of a run still to train: all of a new one, the rest of a stopped one."""
        if run_id is None:
            return 1.0
        try:
            return share_left(find_state(self.root, run_id))
        except ResumeError:
            return 1.0

    def resume(self, run_id: str, owner: str = "local", max_seconds: float | None = None,
               one_per_owner: bool = False, context: contextvars.Context | None = None, visitor: str | None = None,
               per_visitor: int | None = None) -> int:  # fmt: skip
        """Put a stopped run in line to go on where it was (its own settings); returns the job's id.
        Raises ResumeError when there is no such run, or it is already waiting to be resumed; with
        `one_per_owner` (a public lab), also when it is not `visitor`'s own (its marker names who stopped it, so this
        holds across restarts; a run that names nobody is the instructor's to resume)."""
        state = find_state(self.root, run_id)
        visitor = visitor or owner
        with self._lock:
            if state.run_id in self._resumes_in_line():  # alone, or as a method of a race
                raise ResumeError(f"run {state.run_id} is already waiting in line to be resumed")
            stopped_by = self._stopped_by.get(state.run_id) or owner_of(state)
            if one_per_owner and stopped_by != visitor:
                raise ResumeError("this stopped run is another visitor's: only they (or the instructor) can resume it")
        config = saved_settings(state)
        job = Job(
            0,
            owner,
            [config],
            [self._estimate(config) * share_left(state)],
            resume=state.run_id,
            max_seconds=max_seconds,
            context=context,
            visitor=visitor,
        )
        return self._enqueue(job, one_per_owner, per_visitor)

    def stopped_runs(self) -> list[ResumableState]:
        """Runs that stopped after a dev evaluation and can be resumed, most recent first (none being resumed)."""
        with self._lock:
            taken = self._resumes_in_line() | {self._snap.resuming}
            taken |= {e.run_id for e in self._snap.race if e.state == "running"}
            # A race this start of the lab stopped offers its runs through "Resume the race"; one an earlier start
            # stopped belongs to a visitor who may not be back (a new browser session), so its runs stay listed too.
            ours = [left for owner, left in self._unfinished_races.items() if owner not in self._restored]
            taken |= {r for left in ours for _, r in left}
        return [s for s in reversed(list_states(self.root)) if s.run_id not in taken]

    @property
    def root(self) -> Path:
        return Path(self.checkpoints_dir or default_checkpoints_dir())

    def _enqueue(self, job: Job, one_per_owner: bool = False, per_visitor: int | None = None) -> int:
        with self._lock:
            if len(self._line) >= MAX_WAITING:
                raise RunnerBusy(f"the waiting line is full ({MAX_WAITING} jobs); try again when it is shorter")
            held = [*self._line, *([self._current] if self._current and self._snap.state == "running" else [])]
            if one_per_owner and any(other.owner == job.owner for other in held):
                raise RunnerBusy("you already have a run in line or training: one at a time in this lab (Stop my run "
                                 "or Leave the line first)")  # fmt: skip
            if per_visitor is not None and sum(other.visitor == job.visitor for other in held) >= per_visitor:
                raise RunnerBusy(VISITOR_FULL.format(count=per_visitor))
            job.id = next(self._ids)
            self._line.append(job)
            self._snap.waiting = list(self._line)
            if not self.busy:
                self._thread = threading.Thread(target=self._work, daemon=True, name="training")
                self._thread.start()
            return job.id

    def withdraw(self, owner: str, override: bool = False) -> bool:
        """Take `owner`'s waiting jobs out of the line (all waiting jobs when `override`)."""
        with self._lock:
            kept = [job for job in self._line if not (override or job.owner == owner)]
            removed = len(kept) != len(self._line)
            for job in self._line:
                if job not in kept:
                    self._finish(job.id, JobOutcome("withdrawn", "taken out of the line", ()))
            self._line[:] = kept
            self._snap.waiting = list(self._line)
            return removed

    def stop(self, owner: str = "local", override: bool = False, method: str | None = None) -> bool:
        """Stop the running job at its next step if `owner` started it (any job when `override`). In a race,
        `method` stops that method alone (the others train on); without it, the whole race. Nothing of a stopped
        race is lost: resume_race goes on with every method it had not finished."""
        with self._lock:
            if not self.busy or self._snap.state != "running" or not (override or self._snap.owner == owner):
                return False
            if method is not None and self._race_stops:
                entry = next((e for e in self._snap.race if e.method == method), None)
                if entry is None or entry.state not in ("waiting", "running"):
                    return False
                if entry.state == "waiting":
                    entry.state = "withdrawn"  # kept for the race's resume
                self._race_stops[method].set()
                self._log("stop requested for {method}: stopping at its next step", method=method)
                return True
            self._snap.queue = []
            self._cancel.set()
            for stop in self._race_stops.values():
                stop.set()
            self._log("stop requested: stopping at the next step")
            return True

    def outcome(self, job_id: int) -> JobOutcome | None:
        """How a finished job ended (None while it waits or runs)."""
        with self._lock:
            return self._finished.get(job_id)

    def _finish(self, job_id: int, outcome: JobOutcome, owner: str | None = None) -> None:
        self._finished[job_id] = outcome
        for old in list(self._finished)[:-MAX_FINISHED]:
            del self._finished[old]
        if owner is not None:
            self._last_of.pop(owner, None)
            self._last_of[owner] = (job_id, time.time())
            while len(self._last_of) > MAX_FINISHED:
                del self._last_of[next(iter(self._last_of))]

    def last_outcome(self, owner: str) -> tuple[JobOutcome, float] | None:
        """How `owner`'s last finished job ended, and when (time.time()); None if none is remembered. Each visitor's
        page tells them their own run's fate, whoever's run the machine shows now."""
        with self._lock:
            job_id, when = self._last_of.get(owner, (None, 0.0))
            outcome = self._finished.get(job_id) if job_id is not None else None
            return (outcome, when) if outcome is not None else None

    def running_owner(self) -> str | None:
        with self._lock:
            return self._snap.owner if self._snap.state == "running" else None

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (thread := self._thread) is not None and thread.is_alive():
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if deadline is not None and time.monotonic() >= deadline:
                break
        return not self.busy

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def snapshot(self) -> Snapshot:
        with self._lock:
            snap = copy.deepcopy(self._snap)
        snap.correction = self.speed.factor()
        return snap

    # -- the training thread ---------------------------------------------------------------
    def _estimate(self, config: RunConfig) -> float:
        try:
            return float(self.estimate(config))
        except Exception:  # an estimate is a courtesy; it never blocks a run
            return 0.0

    def _resumable_note(self, step: int | None = None) -> str:
        """'; it can resume from step 40' when the run just ended left a resumable state (its owner noted);
        `step`: where, when the run's end event (the worker's) cannot say it."""
        end: dict = next((e for e in reversed(self._snap.events) if e["type"] == "end"), {})
        step = end.get("resumable_from", step)
        if step is None:
            return ""
        start = next((e for e in self._snap.events if e["type"] == "start"), {})
        if start.get("run_id") and self._current:
            self._note_owner(start["run_id"], self._current.visitor)
        return f"; it can be resumed from step {step}"

    def _resumes_in_line(self) -> set[str]:
        """The stopped runs the waiting jobs go on with (the caller holds the lock)."""
        return {r for job in self._line for r in [job.resume, *job.resumes] if r}

    def _log_event(self, event: dict, method: str | None = None) -> None:
        """A line in the log for the events worth one (start, evaluations, resume, end; the caller holds the lock).
        A failure is told once, by whoever ends the run, in words for visitors rather than as the exception's class
        and text. `method`: the race's method the event is about."""
        if describe(event) is None or event.get("status") == "failed":
            return
        line = {"time": event.get("time", time.time()), "event": dict(event)}
        self._snap.log.append(line | ({"method": method} if method else {}))
        del self._snap.log[:-MAX_LOG_LINES]

    @staticmethod
    def _stop_reason(job: Job, overtime: threading.Event, outcome: WorkOutcome) -> str:
        """Why a run ended before its last step: this lab's limit, its GPU call's time, or its owner's Stop."""
        if overtime.is_set():
            return f"it trained past this lab's {duration_text(job.max_seconds or 0)} a run"
        if outcome.forced:
            return STOP_FORCED
        return OVERTIME if outcome.overtime else "stopped by the user"

    def _log(self, message: str, **values) -> None:
        self._snap.log.append({"time": time.time(), "message": message, "values": values})
        del self._snap.log[:-MAX_LOG_LINES]

    def _on_event(self, event: dict) -> None:
        with self._lock:
            events = self._snap.events
            events.append(event)
            if len(events) > MAX_EVENTS:  # keep the story, thin the ticks
                events[:] = [e for i, e in enumerate(events) if e["type"] not in ("progress", "log") or i % 2 == 0]
            self._log_event(event)

    def _deadline(self, seconds: float, overtime: threading.Event, stop: threading.Event | None = None
                  ) -> Callable[[dict], None]:  # fmt: skip
        """A listener that stops the run (at its next step, resumable) once it has trained `seconds`: counted from its
        first step, so that a worker process starting (importing torch, loading the data) is not counted."""
        started: list[float] = []

        def on_event(event: dict) -> None:
            if not started and event["type"] == "progress":
                started.append(time.monotonic())
            cancel = stop or self._cancel
            if started and time.monotonic() - started[0] > seconds and not cancel.is_set():
                overtime.set()
                cancel.set()
                with self._lock:
                    self._log("the run trained past this lab's limit: stopping at the next step")

        return on_event

    def _work(self) -> None:
        while True:
            with self._lock:
                idle = not self._line
            if idle:
                try:
                    self.speed.on_idle()  # nobody's run is disturbed by it now
                except Exception:
                    log.exception("re-measuring the machine failed")
            with self._lock:
                if not self._line:
                    return
                job = self._line.pop(0)
                self._current = job
                self._cancel.clear()
                self._snap.waiting = list(self._line)
                self._snap.owner, self._snap.job_id = job.owner, job.id
            saved: list[dict] = []
            (self._run_race if job.lanes else self._run_job)(job, saved)
            with self._lock:
                self._finish(job.id, JobOutcome(self._snap.state, self._snap.reason, tuple(saved)), job.owner)

    def _run_job(self, job: Job, saved: list[dict]) -> None:
        for index, config in enumerate(job.configs):
            pending = job.configs[index + 1 :]
            with self._lock:
                if self._cancel.is_set():  # stopped between two runs of the job
                    self._snap.state, self._snap.reason = "cancelled", "stopped by the user"
                    return
                self._snap.config, self._snap.events, self._snap.state = config, [], "running"
                self._snap.queue, self._snap.reason = list(pending), None
                self._snap.log = []  # each run's own story, not everyone's ever
                self._snap.queue_estimate_s = sum(job.estimates_s[index + 1 :])
                self._snap.generation += 1
                self._snap.resuming = job.resume
            listeners = [self._on_event] + ([self.speed.listener(config)] if self.speed.listener else [])
            overtime = threading.Event()
            if job.max_seconds is not None:
                listeners.append(self._deadline(job.max_seconds, overtime))
            order = WorkOrder(None if job.resume else config, resume=job.resume, checkpoints_dir=str(self.root),
                              hardware=self.hardware)  # fmt: skip

            def launch(order: WorkOrder = order, listeners: list = listeners) -> WorkOutcome:
                return self.launcher(order, fan_out(listeners), self._cancel)

            try:  # in the asking request's context: a ZeroGPU call is charged to that visitor
                outcome = job.context.copy().run(launch) if job.context else launch()
            except Exception as e:  # a crashed run (or worker) is reported; the app keeps serving
                if not isinstance(e, RunFailed | ResumeError):
                    log.exception("training run failed")
                step = e.resumable_from if isinstance(e, RunFailed) else None
                with self._lock:
                    self._snap.state, self._snap.reason = "failed", explain_failure(e) + self._resumable_note(step)
                    self._snap.resuming = None
                    self._log("run failed: {reason}", reason=self._snap.reason)
                log.warning("a run of %s failed: %s", job.owner, self._snap.reason)  # for whoever runs the lab
                return
            with self._lock:
                self._snap.resuming = None
                if outcome.status == "cancelled" or outcome.run is None:
                    why = self._stop_reason(job, overtime, outcome) + self._resumable_note(outcome.resumable_from)
                    self._snap.state, self._snap.reason = "cancelled", why
                    return
                self._snap.state = "complete"
                self._snap.completed += 1
                self._snap.last_run = outcome.run
                saved.append(outcome.run)
                self._log("saved run {run_id}", run_id=outcome.run["run_id"])

    # -- a race ------------------------------------------------------------------------------------------------------
    def _run_race(self, job: Job, saved: list[dict]) -> None:
        """The job's configs side by side in its lanes (engine/race.py); the job ends when every lane is done."""
        assert job.lanes is not None
        lanes = job.lanes
        entries = [Entry(c.method, c, est, resume=r)
                   for c, est, r in zip(job.configs, job.estimates_s, job.resumes, strict=True)]  # fmt: skip
        entries = self._saved_entries(job.saved) + entries
        with self._lock:
            self._snap.race, self._snap.lanes, self._snap.race_owner = entries, lanes, job.owner
            self._snap.state, self._snap.reason, self._snap.config, self._snap.events = "running", None, None, []
            self._snap.queue, self._snap.queue_estimate_s, self._snap.log = [], 0.0, []
            self._snap.generation += 1
            self._race_stops = {e.method: threading.Event() for e in entries}
        self._log("race: {methods} side by side in {lanes} lanes of {threads} threads",
                  methods=", ".join(e.method for e in entries), lanes=lanes.lanes, threads=lanes.threads)  # fmt: skip

        def train_one(entry: Entry, lane: int) -> None:
            self._race_run(job, entry, lanes, saved)

        run_lanes(entries, lanes, train_one, self._cancel, self._lock)
        with self._lock:
            saved_ids = [e.run["run_id"] for e in entries if e.state == "complete" and e.run]
            self._keep_race(job.owner, [pair for e in entries if (pair := e.to_resume()) is not None], saved_ids)
            done = [e for e in entries if e.state == "complete"]
            failed = [e for e in entries if e.state == "failed"]
            if len(done) == len(entries):
                self._snap.state, self._snap.reason = "complete", None
            elif failed and not self._cancel.is_set():
                self._snap.state = "failed"
                self._snap.reason = "; ".join(f"{e.method}: {e.reason}" for e in failed)
            else:
                self._snap.state, self._snap.reason = "cancelled", "stopped by the user; the race can be resumed"
            self._race_stops = {}
            self._log("race over: {done} of {total} methods saved", done=len(done), total=len(entries))

    def _saved_entries(self, run_ids: list[str]) -> list[Entry]:
        """A resumed race's methods saved before it stopped, as their entries: saved, with their curves (a run since
        deleted is left out)."""
        runs = {run.run_id: run for run in list_runs(self.root)}
        entries = []
        for run_id in run_ids:
            if (run := runs.get(run_id)) is None:
                continue
            fields = {f.name for f in dataclasses.fields(RunConfig)}
            config = RunConfig(**{k: v for k, v in run.info["config"].items() if k in fields})
            entry = Entry(run.method, config, 0.0, state="complete", run_id=run_id, run=run.info)
            for event in read_events(run.path / EVENTS_FILE):
                entry.record(event)
            entries.append(entry)
        return entries

    def _race_run(self, job: Job, entry: Entry, lanes: Lanes, saved: list[dict]) -> None:
        """One method of a race in its lane's worker; its end recorded in its entry."""
        stop = self._race_stops[entry.method]

        def on_event(event: dict) -> None:
            with self._lock:
                entry.record(event)
                self._log_event(event, entry.method)

        listeners: list[Callable[[dict], None]] = [on_event]
        overtime = threading.Event()
        if job.max_seconds is not None:
            listeners.append(self._deadline(job.max_seconds, overtime, stop))
        order = WorkOrder(None if entry.resume else entry.config, resume=entry.resume, checkpoints_dir=str(self.root),
                          hardware=self.hardware, threads=lanes.threads if self.hardware == "cpu" else None,
                          lanes=lanes.lanes)  # fmt: skip

        def launch() -> WorkOutcome:
            return self.launcher(order, fan_out(listeners), stop)

        try:  # in the asking request's context: on ZeroGPU one call per method, each charged to that visitor
            outcome = job.context.copy().run(launch) if job.context else launch()
        except Exception as e:
            if not isinstance(e, RunFailed | ResumeError):
                log.exception("training run failed")
            with self._lock:
                entry.state, entry.reason = "failed", explain_failure(e)
                entry.resumable_from = e.resumable_from if isinstance(e, RunFailed) else None
                self._note_stopped(entry, job.visitor)
            return
        with self._lock:
            if outcome.status == "complete" and outcome.run is not None:
                entry.state, entry.run = "complete", outcome.run
                self._snap.completed += 1
                self._snap.last_run = outcome.run
                saved.append(outcome.run)
                return
            entry.state = "cancelled"
            entry.resumable_from = outcome.resumable_from
            entry.reason = self._stop_reason(job, overtime, outcome)
            self._note_stopped(entry, job.visitor)

    def _note_stopped(self, entry: Entry, visitor: str) -> None:
        if entry.resumable_from is not None and entry.run_id:
            self._note_owner(entry.run_id, visitor)

    def _note_owner(self, run_id: str, visitor: str) -> None:
        """The stopped run `run_id` is `visitor`'s: remembered here, and in its marker so that a restart keeps it."""
        self._stopped_by[run_id] = visitor
        note_owner(self.root, run_id, visitor)
