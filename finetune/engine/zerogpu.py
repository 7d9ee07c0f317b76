"""Training on ZeroGPU without Gradio: the GPU call's body, its duration, the launcher that makes one call per run,
the refusals in words, and the stand-in (webui/zerogpu.py wires them to `spaces` and to the visitor's request).

What this relies on (the spaces-zerogpu documentation and the `spaces` package 0.51.3, read):
- A GPU exists only inside a function decorated `@spaces.GPU(duration=...)`; each call runs in a worker process
  forked from the app (spaces/zero/wrappers.py: `multiprocessing.get_context('fork')`), its arguments and results
  pickled, a generator's yields streamed back one by one. `duration` may be a callable of the call's arguments.
- A call is charged to the visitor whose Gradio request makes it: the package reads the request from Gradio's
  context variable (spaces/utils.py: `LocalContext.request`) and its X-IP-Token header (spaces/zero/client.py).
  The lab's runner launches each run inside the context of the request that asked for it (engine/runner.py,
  Job.context), so the visitor pays, even though the run starts when its turn in the line comes.
- Refusals are gr.Error with a title (spaces/zero/client.py): "ZeroGPU quota exceeded" (quota used up, or no GPU
  free within 60 s for a visitor without a token), "ZeroGPU illegal duration" (more than a call may ask),
  "ZeroGPU queue timeout" / "ZeroGPU client error" (no GPU free), "ZeroGPU worker error" ("GPU task aborted": the
  worker died or outlived its duration). Each is said here in the lab's words (and Korean, webui/error_words.py).
- Without SPACES_ZERO_GPU the decorator returns the function unchanged (spaces/zero/decorator.py).

The stand-in (LAB_ZEROGPU_EMULATE=1, core/hardware.py) runs every GPU call the way ZeroGPU does, on this machine:
a forked worker, arguments and yields pickled through queues, the requested duration enforced by killing the worker,
and a quota per visitor (LAB_ZEROGPU_QUOTA_S, default 120 s a day as for an anonymous visitor; visitors told apart
as ZeroGPU does: a logged-in name, else the X-IP-Token header, else the address) that refuses with ZeroGPU's own
messages. So the whole path — the call from the request, pickling, streaming, a cut run, a refusal — is tested
without a GPU.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import multiprocessing
import os
import pickle
import queue
import re
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

from .events import Listener
from .worker import Launcher, RunFailed, WorkOrder, WorkOutcome, follow, relay_stop, run_events

log = logging.getLogger(__name__)

# What one call asks for: the run's estimate with a margin (a forked worker loads the encoder and the data before
# it trains; a shared GPU may be slower than estimated), capped at what every visitor can be granted.
DURATION_MARGIN = 1.5
DURATION_EXTRA_S = 20.0
DEFAULT_MAX_CALL_S = 120  # an anonymous visitor's whole daily quota: a call every visitor can be granted
STOP_BEFORE_END_S = 10.0  # the run stops itself (resumable) this long before its call's time is up (a quarter of a
# short call): it saves its resumable state itself rather than being killed mid-step
ANONYMOUS_QUOTA_S = 120  # ZeroGPU's daily quotas (the reading of the 2026 documentation)
ACCOUNT_QUOTA_S = 5 * 60


def max_call_seconds() -> int:
    """The longest GPU call the lab asks for (LAB_ZEROGPU_MAX_CALL_S)."""
    try:
        return max(2, int(os.environ.get("LAB_ZEROGPU_MAX_CALL_S", DEFAULT_MAX_CALL_S)))
    except ValueError:
        return DEFAULT_MAX_CALL_S


def call_seconds(estimate_s: float) -> int:
    """The duration a run estimated at `estimate_s` asks ZeroGPU for."""
    return int(min(max_call_seconds(), round(estimate_s * DURATION_MARGIN + DURATION_EXTRA_S)))


# -- the GPU call ----------------------------------------------------------------------------------------------------
def train_on_gpu(order: WorkOrder, seconds: int) -> Iterator[dict]:
    """The body of the GPU call: in the forked worker, train the run, yielding its events (engine/worker.py)."""
    yield from run_events(order)


class ZeroGpuRefused(RunFailed):
    """ZeroGPU did not run the call (quota, duration, no GPU): nothing was trained or written."""


class GpuCallError(Exception):
    """A refused or aborted GPU call, as `spaces` reports one (a gr.Error's `message` and `title`) where Gradio is not
    at hand: the stand-in's refusals in a process without Gradio (the GPU machine's check, bench/zerogpu_device.py)."""

    def __init__(self, message: str, title: str = ""):
        super().__init__(message)
        self.message, self.title = message, title


GpuCall = Callable[[WorkOrder, int], Iterator[dict]]


def gpu_launcher(
    gpu_call: GpuCall, estimate: Callable[[WorkOrder], float], refusals: tuple[type[Exception], ...] = (GpuCallError,)
) -> Launcher:
    """Runs each run as one GPU call from the context the runner launches it in (the asking visitor's request):
    the call's duration from `estimate` (seconds), the run stopping itself shortly before that duration is up.
    `refusals`: the exceptions a refused or aborted call raises (gr.Error under `spaces`)."""

    def launch(order: WorkOrder, on_event: Listener, cancel: threading.Event) -> WorkOutcome:
        seconds = call_seconds(estimate(order))
        root = Path(order.checkpoints_dir or ".")
        stop_file = root / ".stops" / uuid.uuid4().hex
        stop_file.parent.mkdir(parents=True, exist_ok=True)
        order = dataclasses.replace(order, hardware="zerogpu", stop_file=str(stop_file),
                                    stop_after_s=seconds - min(STOP_BEFORE_END_S, seconds / 4))  # fmt: skip
        done = threading.Event()
        ended: list[str] = []

        def items() -> Iterator[dict]:
            take_turn_to_start()
            try:
                yield from gpu_call(order, seconds)
            except refusals as e:
                kind, words = refusal(e, seconds)
                if kind != "aborted":
                    raise ZeroGpuRefused(words) from None
                ended.append(words)  # the worker is gone: `follow` keeps the run resumable

        relay_stop(cancel, done, stop_file.touch)  # a forked GPU worker has no stdin: Stop leaves a file it watches
        try:
            return follow(items(), on_event, order, lambda: ended[0] if ended else "the GPU call ended before its run")
        finally:
            done.set()
            stop_file.unlink(missing_ok=True)

    return launch


# A race issues its GPU calls together, and `spaces` forks each call's worker as the call starts; filelock (under
# huggingface_hub and datasets) refuses a fork while another thread forks (a RuntimeError that ended a race's method).
# The calls start STAGGER_S apart, far longer than a fork takes and nothing beside a run's minutes.
STAGGER_S = 1.0
_starts = threading.Lock()
_next_start = [0.0]


def take_turn_to_start() -> None:
    with _starts:
        wait = _next_start[0] - time.monotonic()
        _next_start[0] = max(_next_start[0], time.monotonic()) + STAGGER_S
    if wait > 0:
        time.sleep(wait)


def refusal(error: Exception, requested: int) -> tuple[str, str]:
    """(kind, words) for a ZeroGPU refusal or abort: "quota", "duration", "no_gpu", "aborted" or "other"."""
    title, message = getattr(error, "title", "") or "", str(getattr(error, "message", error))
    if title == "ZeroGPU illegal duration" or "larger than the maximum allowed" in message:
        return "duration", (
            f"ZeroGPU refused this run: it asks for {requested} s of GPU time, more than one call may have; fewer "
            "training examples or epochs make it shorter"
        )
    if "No GPU was available" in message or title in ("ZeroGPU queue timeout", "ZeroGPU client error"):
        return "no_gpu", "ZeroGPU had no GPU free for this run within a minute; try again in a moment"
    if title == "ZeroGPU quota exceeded" or "quota" in message or "GPU limit" in message:
        left = re.search(r"vs\. (\d+)s left", message)
        wait = re.search(r"Try again in (?:(\d+) days?, )?(\d+):(\d\d):(\d\d)", message)  # a timedelta, as spaces says
        words = "ZeroGPU refused this run: your GPU time for today is used up"
        if left:
            words = f"ZeroGPU refused this run: it asks for {requested} s of GPU time and you have {left[1]} s left"
        if wait:
            from .estimate import duration_text  # (torch, which this module does not otherwise need)

            days, hours, minutes, seconds = (int(part or 0) for part in wait.groups())
            words += f"; try again in {duration_text(((days * 24 + hours) * 60 + minutes) * 60 + seconds)}"
        return "quota", words + (
            ". Visitors not logged in to Hugging Face share one quota per address; logging in gives you your own"
        )
    if "aborted" in message:
        return "aborted", f"the GPU call ended before the run did (ZeroGPU ends a call after the {requested} s asked)"
    return "other", f"ZeroGPU could not run this training ({title or 'error'})"


# -- the stand-in ----------------------------------------------------------------------------------------------------
WORKER_ERROR = "ZeroGPU worker error"
_FORKING = threading.Lock()


class ZeroGpuStandIn:
    """ZeroGPU's behaviour on this machine (see the module's docstring): `GPU` is a drop-in for `spaces.GPU`. Here
    every call is the Space's own and a refusal is a GpuCallError; the app's stand-in (webui/zerogpu.py) tells
    visitors apart by their request and refuses with gr.Error, as `spaces` does."""

    def __init__(self, quota_s: float = ANONYMOUS_QUOTA_S, max_duration_s: float = 300.0, day_s: float = 86400.0):
        self.quota_s, self.max_duration_s, self.day_s = quota_s, max_duration_s, day_s
        self._used: dict[str, list[tuple[float, float]]] = {}  # visitor -> (when, GPU seconds) of their calls
        self._lock = threading.Lock()

    def GPU(self, task: Callable | None = None, *, duration=None, size=None):  # spaces.GPU's name
        if task is None:
            return functools.partial(self.GPU, duration=duration, size=size)

        @functools.wraps(task)
        def call(*args, **kwargs) -> Iterator:
            seconds = duration(*args, **kwargs) if callable(duration) else (duration or 60)
            seconds = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
            visitor = self.current_visitor()
            reserved = self._schedule(visitor, seconds)
            started = time.monotonic()
            try:
                yield from self._in_forked_worker(task, args, kwargs, seconds)
            finally:
                self.charge(visitor, time.monotonic() - started, reserved)

        return call

    def current_visitor(self) -> str:
        """Who pays for a call made now."""
        return "the Space"

    def error(self, message: str, title: str) -> Exception:
        """What a refused or aborted call raises."""
        return GpuCallError(message, title)

    def left(self, visitor: str) -> float:
        with self._lock:
            return self._left(visitor)

    def _left(self, visitor: str) -> float:
        """The caller holds the lock."""
        now = time.time()
        calls = [c for c in self._used.get(visitor, []) if now - c[0] < self.day_s]
        self._used[visitor] = calls
        return max(0.0, self.quota_s - sum(s for _, s in calls))

    def charge(self, visitor: str, seconds: float, reserved: tuple[float, float] | None = None) -> None:
        """Charge `seconds` of GPU time to `visitor`, in place of what the call `reserved` when it started."""
        with self._lock:
            calls = self._used.setdefault(visitor, [])
            if reserved in calls:
                calls.remove(reserved)
            calls.append((time.time(), seconds))

    def _schedule(self, visitor: str, seconds: float) -> tuple[float, float]:
        """Refuse as ZeroGPU does (spaces/zero/client.py's titles and messages); else reserve the call's whole
        duration at once, so that calls started together (a race's methods) cannot be granted more than the quota
        holds. Returns the reservation, which `charge` replaces with the time the call really took."""
        if seconds > self.max_duration_s:
            raise self.error(
                f"The requested GPU duration ({round(seconds)}s) is larger than the maximum allowed",
                "ZeroGPU illegal duration",
            )
        with self._lock:
            left = self._left(visitor)
            if seconds <= left:
                reservation = (time.time(), seconds)
                self._used.setdefault(visitor, []).append(reservation)
                return reservation
            oldest = min((when for when, _ in self._used.get(visitor, [])), default=time.time())
        wait = timedelta(seconds=round(max(0.0, oldest + self.day_s - time.time())))
        message = f"You have exceeded your ZeroGPU quota ({round(seconds)}s requested vs. {round(left)}s left). "
        raise self.error(message + f"Try again in {wait}.", "ZeroGPU quota exceeded")

    def _in_forked_worker(self, task: Callable, args: tuple, kwargs: dict, seconds: float) -> Iterator:
        context = multiprocessing.get_context("fork")  # as spaces/zero/wrappers.py
        arguments, results = context.Queue(), context.Queue()
        stop = context.Event()
        # One fork at a time: filelock (under huggingface_hub and datasets) refuses a fork while another thread forks
        # ("os.fork is unsafe while filelock is changing descriptor ownership", a RuntimeError), which a race's
        # calls started together did, ending a method as an internal error.
        with _FORKING, warnings.catch_warnings():  # forking a threaded app is what ZeroGPU does; 3.12 warns about it
            warnings.simplefilter("ignore", DeprecationWarning)
            worker = context.Process(target=_stand_in_worker, args=(task, arguments, results, stop), daemon=True)
            worker.start()
        try:
            arguments.put(pickle.dumps((args, kwargs)))  # pickled here, as ZeroGPU does: an unpicklable argument fails
            deadline = time.monotonic() + seconds
            while True:
                try:
                    kind, payload = results.get(timeout=max(0.05, min(0.5, deadline - time.monotonic())))
                except queue.Empty:
                    if time.monotonic() > deadline or not worker.is_alive():
                        worker.kill()  # the duration is enforced: ZeroGPU aborts a call that outlives it
                        raise self.error("GPU task aborted", WORKER_ERROR) from None
                    continue
                if kind == "end":
                    return
                if kind == "error":
                    raise self.error(payload, WORKER_ERROR)
                try:
                    yield pickle.loads(payload)
                except GeneratorExit:
                    stop.set()
                    raise
        finally:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
                worker.join()


def _stand_in_worker(task: Callable, arguments, results, stop) -> None:
    """In the forked worker: run the generator, pickling each yield back; an exception is reported by class only
    (as spaces does)."""
    try:
        args, kwargs = pickle.loads(arguments.get())
        generator = task(*args, **kwargs)
        for value in generator:
            results.put(("yield", pickle.dumps(value)))
            if stop.is_set():
                generator.close()
                break
        results.put(("end", None))
    except Exception as e:
        traceback.print_exc()
        results.put(("error", type(e).__name__))
    finally:
        results.close()
        with contextlib.suppress(Exception):
            results.join_thread()
