"""Every run trains in a worker process of its own; the app's process keeps the waiting line, Results and the
Playground.

Why a process: a run that runs out of memory or crashes takes only its worker down, never the Playground of every
visitor; a run starts from a fresh interpreter, so it takes the CLI's time for the same settings however many
runs came before it (in one long process CoLA LoRA took 142 s fresh and 169 s after an MRPC run); and it is the
shape ZeroGPU imposes anyway (a GPU only inside a `@spaces.GPU` call, run in a forked worker: webui/zerogpu.py).

    WorkOrder   what a worker needs to train one run (picklable, JSON-able: it crosses a process boundary)
    run_events  in the worker: train, yielding the run's events, then one "outcome" item
    train_in_worker  in the app: start `python -m finetune.engine.worker`, stream its events to the listeners,
                 stop it on request, and turn its end (or its death) into a WorkOutcome

The run's files go into the store as always (core/checkpoints.py: built in a staging folder that names its
process, committed with one rename). A worker that dies leaves that folder behind: it is kept as a resumable
state from its last dev evaluation (resumable.sweep_stale_staging), and the death is reported in words.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..core import resumable, storage
from ..core.checkpoints import storage_problem
from ..core.data import DataSourceError
from ..core.environment import settle
from ..core.models import ModelSourceError
from .config import ConfigError, RunConfig
from .events import Listener
from .watchdog import Watchdog

log = logging.getLogger(__name__)

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding `finetune`: the worker imports it from there
OVERTIME = "it used up the GPU time it asked for"  # why a run stopped by its own `stop_after_s` stopped
STOP = "stop"  # the line the app writes on a worker's stdin to stop its run (EOF stops it too: the app is gone)
# A worker that does not stop by itself is ended (engine/watchdog.py): what the visitor is told then.
STOP_FORCED = "stopped by the user; its training process did not stop by itself, so it was ended"
STALLED = "the training process stopped responding, so it was ended"
INTERNAL = "an internal error stopped the run (the server's log has the details)"


@dataclass(frozen=True)
class WorkOrder:
    """One run for a worker: a new run (`config`) or a stopped one to go on with (`resume`: its id)."""

    config: RunConfig | None
    resume: str | None = None
    checkpoints_dir: str | None = None
    hardware: str = "cpu"  # "cpu" | "gpu" | "zerogpu": recorded in run.json (core/hardware.py)
    stop_after_s: float | None = None  # the worker stops the run itself (resumable) once it has run this long
    stop_file: str | None = None  # the run stops when this file appears (a forked GPU worker has no stdin)
    threads: int | None = None  # torch threads the run computes with (None: torch's default, as the CLI's)
    lanes: int = 1  # runs training side by side with it, itself included ("Train all" as a race: engine/race.py)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkOrder:
        fields = json.loads(text)
        config = fields.pop("config")
        return cls(config=RunConfig(**config) if config else None, **fields)


@dataclass(frozen=True)
class WorkOutcome:
    status: str  # "complete" | "cancelled"
    run: dict | None  # the saved run's run.json
    resumable_from: int | None = None  # a stopped run: the step it resumes from
    overtime: bool = False  # stopped by its own `stop_after_s`
    forced: bool = False  # it did not stop by itself after Stop, so its worker was ended (engine/watchdog.py)


class RunFailed(RuntimeError):
    """A run raised inside its worker; the message is already in a visitor's words (explain_failure)."""

    def __init__(self, reason: str, resumable_from: int | None = None):
        super().__init__(reason)
        self.resumable_from = resumable_from


class WorkerDied(RunFailed):
    """The worker ended without saying how its run ended: killed, out of memory, or its GPU call cut short."""


def explain_failure(error: BaseException) -> str:
    """What a visitor is told about a crashed run: our own errors in their words, anything else by kind only
    (the details go to the server log)."""
    if isinstance(error, ConfigError | DataSourceError | ModelSourceError | resumable.ResumeError | RunFailed):
        return str(error)
    if isinstance(error, MemoryError):
        return "the run ran out of memory; nothing was saved (fewer training examples, a smaller batch or a smaller "\
               "encoder need less)"  # fmt: skip
    if problem := storage_problem(error):  # also a library's own error that carries the os error in its text
        return problem
    return INTERNAL  # never the exception's class or text: those go to the server log


# -- in the worker -------------------------------------------------------------------------------------------------
def run_events(order: WorkOrder, stop: threading.Event | None = None) -> Generator[dict, None, None]:
    """Train `order`'s run in this process, yielding each event as it happens, then {"type": "outcome", ...}.
    The run stops (resumable, at its next step) when `stop` is set, when `order.stop_file` appears, after
    `order.stop_after_s`, or when the caller stops listening (closing this generator)."""
    from ..core.hardware import this_process_device
    from .train import train

    stop = stop or threading.Event()
    started = time.monotonic()
    overtime = threading.Event()
    items: queue.Queue[dict | None] = queue.Queue()

    def deadline(event: dict) -> None:
        if order.stop_after_s is not None and time.monotonic() - started > order.stop_after_s and not stop.is_set():
            overtime.set()  # first: the run saves the step it stops at, for the next call to go on from
            stop.set()

    ended: list[dict] = []  # the run's end event: where a crashed run resumes from

    def relay(event: dict) -> None:
        if event["type"] == "end" and event.get("status") == "cancelled" and overtime.is_set():
            event = {**event, "reason": OVERTIME}
        if event["type"] == "end":
            ended.append(event)
        items.put(event)

    def work() -> None:
        try:
            if order.threads:  # before the first op: a run's arithmetic (and so its outcome) depends on the count
                import torch

                torch.set_num_threads(order.threads)
            hardware = {"kind": order.hardware, **this_process_device(), "lanes": order.lanes}
            result = train(
                order.config, listeners=[relay, deadline], cancel=stop, resume=order.resume,
                checkpoints_dir=Path(order.checkpoints_dir) if order.checkpoints_dir else None,
                hardware=hardware, save_on_stop=overtime,
            )  # fmt: skip
            items.put({"type": "outcome", "status": result.status, "run": result.run.info if result.run else None,
                       "resumable_from": result.resumable_from, "overtime": overtime.is_set()})  # fmt: skip
        except BaseException as e:  # told in words; the traceback goes to the server log
            if not isinstance(e, resumable.ResumeError | ConfigError):
                log.exception("training run failed")
            step = ended[-1].get("resumable_from") if ended else None  # a crash keeps its last evaluated step
            items.put({"type": "outcome", "status": "failed", "reason": explain_failure(e), "resumable_from": step})
        finally:
            items.put(None)

    trainer = threading.Thread(target=work, name="training", daemon=True)
    trainer.start()
    if order.stop_file:
        _watch_file(Path(order.stop_file), stop, trainer)
    try:
        while (item := items.get()) is not None:
            yield item
    finally:  # the caller stopped listening: stop the run, and wait until its state is saved
        stop.set()
        trainer.join()


def _watch_file(path: Path, stop: threading.Event, training: threading.Thread) -> None:
    def watch() -> None:
        while training.is_alive() and not stop.is_set():
            if path.exists():
                stop.set()
            time.sleep(0.2)

    threading.Thread(target=watch, name="stop-file", daemon=True).start()


NICENESS = 10  # LAB_WORKER_NICENESS: how far a training worker stands back when the app needs the cores


def yield_to_the_app() -> None:
    """A training worker runs at a lower CPU priority than the app: a class predicting in the Playground while a run
    trains gets the cores at once (a prediction takes milliseconds of them; the run loses only those), where at equal
    priority 20 visitors' predictions waited seconds behind the run's threads. Nothing changes when nobody asks."""
    try:
        niceness = int(os.environ.get("LAB_WORKER_NICENESS", NICENESS))
    except ValueError:
        niceness = NICENESS
    with contextlib.suppress(OSError):
        os.nice(max(0, min(19, niceness)))


def main() -> None:
    """`python -m finetune.engine.worker --events-fd N`: the order on stdin's first line; events as JSON lines on
    file descriptor N; "stop" on stdin (or stdin closing) stops the run."""
    settle()  # an entry point: before the libraries that read the environment start
    yield_to_the_app()
    logging.basicConfig(level=logging.WARNING, format="worker %(process)d: %(levelname)s %(message)s")
    events_fd = int(sys.argv[sys.argv.index("--events-fd") + 1])
    order = WorkOrder.from_json(sys.stdin.readline())
    stop = threading.Event()

    def listen() -> None:
        for line in sys.stdin:
            if line.strip() == STOP:
                break
        stop.set()  # asked, or the app is gone (EOF): the run stops at its next step and stays resumable

    threading.Thread(target=listen, name="stdin", daemon=True).start()
    events = os.fdopen(events_fd, "w", encoding="utf-8")
    items = run_events(order, stop)
    try:
        for item in items:
            events.write(json.dumps(item) + "\n")
            events.flush()
    except BrokenPipeError:  # the app is gone: the run stops where it is, resumable, and nobody needs a traceback
        items.close()
    finally:
        with contextlib.suppress(OSError):
            events.close()


# -- in the app ----------------------------------------------------------------------------------------------------
Launcher = Callable[[WorkOrder, Listener, threading.Event], WorkOutcome]


def train_in_worker(order: WorkOrder, on_event: Listener, cancel: threading.Event) -> WorkOutcome:
    """Train `order` in a new worker process (`python -m finetune.engine.worker`, like the CLI: a fresh interpreter
    with torch's default threads), passing each event to `on_event`; `cancel` stops the run at its next step.
    Raises RunFailed when the run failed, WorkerDied when the process ended without an outcome."""
    read_fd, write_fd = os.pipe()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))}
    if order.threads:  # OpenMP's pool sized from the start: lanes side by side must not oversubscribe the cores
        env["OMP_NUM_THREADS"] = str(order.threads)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "finetune.engine.worker", "--events-fd", str(write_fd)],
            stdin=subprocess.PIPE, pass_fds=(write_fd,), env=env, text=True,
        )  # fmt: skip
    finally:
        os.close(write_fd)
    assert process.stdin is not None
    process.stdin.write(order.to_json() + "\n")
    process.stdin.flush()
    done = threading.Event()

    def ask_to_stop() -> None:  # Stop pressed in the app: one line on the worker's stdin
        with contextlib.suppress(BrokenPipeError, ValueError, OSError):
            process.stdin.write(STOP + "\n")  # type: ignore[union-attr]
            process.stdin.flush()  # type: ignore[union-attr]

    relay_stop(cancel, done, ask_to_stop)
    watchdog = Watchdog(process.pid, cancel, done, end=process.kill).start()  # a worker that does not stop is ended

    def heard(event: dict) -> None:
        watchdog.heard(event)
        on_event(event)

    def ended() -> str:
        how = _reap(process, done)
        return STALLED if watchdog.why == "stall" else how

    try:
        return follow(_lines(read_fd), heard, order, ended)
    except WorkerDied as died:
        if watchdog.why != "stop":
            raise
        # Its owner's Stop, carried out by force: stopped as asked, resumable from what it had saved.
        return WorkOutcome("cancelled", None, died.resumable_from, forced=True)


def relay_stop(cancel: threading.Event, done: threading.Event, ask_to_stop: Callable[[], None]) -> None:
    """Tell a worker to stop, once, when `cancel` is set before `done` (its run over): from a thread of its own."""

    def watch() -> None:
        while not done.is_set():
            if cancel.wait(0.2):
                ask_to_stop()
                return

    threading.Thread(target=watch, name="stop-relay", daemon=True).start()


def _lines(fd: int) -> Iterator[dict]:
    with os.fdopen(fd, encoding="utf-8") as stream:
        for line in stream:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:  # a worker killed mid-line
                return


def _reap(process: subprocess.Popen, done: threading.Event) -> str:
    """Wait for the worker to end; how it ended, in words."""
    done.set()
    with contextlib.suppress(OSError):
        process.stdin.close()  # type: ignore[union-attr]
    code = process.wait()
    return exit_words(code)


def exit_words(code: int | None) -> str:
    if code is not None and code < 0:
        import signal

        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        if name == "SIGKILL":
            return "the training process was killed (out of memory, or by the machine)"
        return f"the training process was ended by {name}"
    return f"the training process ended unexpectedly (exit code {code})"


def follow(items: Iterator[dict], on_event: Listener, order: WorkOrder, ended: Callable[[], str]) -> WorkOutcome:
    """Pass a worker's events to `on_event` until its outcome; `ended()` waits for the worker and says how it
    ended. A worker that ends without an outcome leaves its run resumable from its last dev evaluation."""
    outcome: dict | None = None
    run_id = order.resume
    for item in items:
        if item.get("type") == "outcome":
            outcome = item
            continue
        if item.get("type") == "start":
            run_id = item.get("run_id", run_id)
        on_event(item)
    how = ended()
    if outcome is None:
        step = recover(order, run_id)
        raise WorkerDied(how if step is not None else how + "; nothing was saved", resumable_from=step)
    if outcome["status"] == "failed":
        raise RunFailed(outcome["reason"], resumable_from=outcome.get("resumable_from"))
    return WorkOutcome(
        outcome["status"], outcome.get("run"), outcome.get("resumable_from"), bool(outcome.get("overtime"))
    )


def recover(order: WorkOrder, run_id: str | None) -> int | None:
    """After a worker died: its staging folder becomes a resumable state (when it reached a dev evaluation);
    the step it resumes from, if any."""
    root = Path(order.checkpoints_dir or storage.default_checkpoints_dir())
    resumable.sweep_stale_staging(root)
    if run_id is None:
        return None
    try:
        return resumable.find_state(root, run_id).step
    except resumable.ResumeError:
        return None


def train_here(order: WorkOrder, on_event: Listener, cancel: threading.Event) -> WorkOutcome:
    """The same run in this process (a thread of the caller's): for the CLI's own runs and quick tests."""
    return follow(run_events(order, cancel), on_event, order, lambda: "the run ended without an outcome")


if __name__ == "__main__":
    main()
