"""Structured training events: a JSONL log in the run folder, and in-process listeners (the UI).

Event types: ``start`` (sizes, parameter counts), ``progress`` (step, ETA; throttled),
``log`` (loss, learning rate, throughput), ``eval`` (dev metrics), ``end`` (status, reason).
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from transformers import TrainerCallback

from ..core.checkpoints import EVENTS_FILE

Listener = Callable[[dict], None]


class EventLog:
    """Appends each event as one JSON line, flushed at once so a reader can tail it live. A resumed run
    starts the log again from the events `before` its checkpoint."""

    def __init__(self, path: Path, before: Iterable[dict] = ()):
        self.path = path
        self._file = path.open("w", encoding="utf-8")
        for event in before:
            self(event)

    def __call__(self, event: dict) -> None:
        if self._file.closed:  # closed before the commit: a failure after it reaches the listeners, not the file
            return
        try:
            self._file.write(json.dumps(event) + "\n")
            self._file.flush()
        except OSError:  # a full disk: the run stops here, and its end still reaches the listeners (log closed)
            self.close()
            raise

    def close(self) -> None:  # idempotent: a run closes its log before committing and again on the way out
        with contextlib.suppress(OSError):  # what a full disk could not take is lost with it, not raised again
            self._file.close()


def read_events(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def run_curves(run_dir: Path, config: dict) -> list[dict]:
    """A saved run's curves as points {curve, examples, value}: training loss ("loss"), dev headline metric
    ("headline") and dev loss ("eval_loss"), against training examples seen (steps x batch size), so that
    runs with other batch sizes and budgets line up honestly."""
    batch_size = config.get("batch_size") or 1
    points = []
    for event in read_events(Path(run_dir) / EVENTS_FILE):
        examples = event.get("step", 0) * batch_size
        if event["type"] == "log" and event.get("loss") is not None:
            points.append({"curve": "loss", "examples": examples, "value": event["loss"]})
        elif event["type"] == "eval":
            if event.get("headline") is not None:
                points.append({"curve": "headline", "examples": examples, "value": event["headline"]})
            if event.get("loss") is not None:
                points.append({"curve": "eval_loss", "examples": examples, "value": event["loss"]})
    return points


def describe(event: dict) -> str | None:
    """One human line for the events worth a log line (start, eval, end); None for the others.
    Shared by the CLI's progress output and the app's log."""
    kind = event["type"]
    if kind == "start":
        p = event["params"]
        return (
            f"{event['task']} / {event['method']} on {event['model']}: {event['train_samples']:,} train, "
            f"{event['eval_samples']:,} dev examples, {event['max_steps']} steps; trainable {p['trainable']:,} "
            f"of {p['total']:,} ({p['trainable_percent']:.2f}%)"
        )
    if kind == "eval":
        return (
            f"step {event['step']}: dev Accuracy {event['accuracy']:.4f}  F1 {event['f1']:.4f}  MCC {event['mcc']:.4f}"
        )
    if kind == "resume":
        return f"resumed at step {event['step']} of {event['max_steps']}"
    if kind == "end":
        line = f"run {event['status']}" + (f": {event['reason']}" if event.get("reason") else "")
        if event.get("resumable_from") is not None:
            line += f" (resumable from step {event['resumable_from']})"
        return line
    return None


def fan_out(listeners: Iterable[Listener]) -> Listener:
    listeners = list(listeners)

    def emit(event: dict) -> None:
        event.setdefault("time", time.time())
        for listener in listeners:
            listener(event)

    return emit


class TrainingEvents(TrainerCallback):
    """Turns Trainer callbacks into events, and stops training when `cancel` is set."""

    def __init__(
        self,
        emit: Listener,
        cancel: threading.Event,
        batch_size: int,
        progress_every_s: float = 0.5,
        seconds_before: float = 0.0,  # a resumed run: the training time of its earlier part(s)
        save_on_stop: threading.Event | None = None,  # set with `cancel`: keep the step stopped at, resumable
    ):
        self.emit = emit
        self.cancel = cancel
        self.save_on_stop = save_on_stop
        self.batch_size = batch_size
        self.progress_every_s = progress_every_s
        self.seconds_before = seconds_before
        self.started = time.monotonic()
        self.first_step = 0  # a resumed run starts at its checkpoint's step
        self._last_progress = 0.0
        self.last_eval_step = -1
        self.last_eval: dict | None = None
        self.cancelled = False

    def _timing(self, state) -> dict:
        elapsed = time.monotonic() - self.started  # this part of the run; speeds and ETAs come from it
        done, total = state.global_step, state.max_steps
        done_here = done - self.first_step
        eta = elapsed / done_here * (total - done) if done_here > 0 else math.nan
        return {
            "step": done,
            "max_steps": total,
            "epoch": state.epoch,
            "elapsed_s": round(self.seconds_before + elapsed, 3),
            "eta_s": None if math.isnan(eta) else round(eta, 3),
            "samples_per_s": round(done_here * self.batch_size / elapsed, 3) if elapsed > 0 else None,
        }

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.monotonic()
        self.first_step = state.global_step  # restored from the checkpoint by now

    def on_step_end(self, args, state, control, **kwargs):
        if self.cancel.is_set():
            self.cancelled = True
            control.should_training_stop = True
            control.should_evaluate = False
            # A run that must stop (its GPU call's time is up) saves where it is, so that the next call goes on from
            # there; a Stop keeps the last dev evaluation's state.
            control.should_save = self.save_on_stop is not None and self.save_on_stop.is_set()
            return
        now = time.monotonic()
        if now - self._last_progress >= self.progress_every_s or state.global_step == state.max_steps:
            self._last_progress = now
            self.emit({"type": "progress", **self._timing(state)})

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" in logs:
            self.emit(
                {
                    "type": "log",
                    **self._timing(state),
                    "loss": logs["loss"],
                    "learning_rate": logs.get("learning_rate"),
                    "grad_norm": logs.get("grad_norm"),
                }
            )

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        metrics = {k.removeprefix("eval_"): v for k, v in (metrics or {}).items()}
        self.last_eval_step = state.global_step
        self.last_eval = {
            "type": "eval",
            **self._timing(state),
            **{k: metrics[k] for k in ("accuracy", "f1", "mcc", "headline", "loss") if k in metrics},
            "eval_seconds": metrics.get("runtime"),
        }
        self.emit(self.last_eval)
