"""The race view: while "Train all" trains the methods side by side (engine/race.py), one chart of their dev metric
and one of their loss against training examples seen, each in its method's colour; a card a method with its state,
progress, ETA, score and trainable share; one ETA for the whole race and its lanes. Drawn into the live view's
components (live_view.View) when the runner's current job is a race."""

from __future__ import annotations

import html

import altair as alt
import pandas as pd

from finetune.core.baselines import run_title
from finetune.core.methods import METHODS
from finetune.core.tasks import TASKS
from finetune.engine.race import Entry, race_pace
from finetune.engine.runner import Snapshot

from . import charts
from .error_words import say_error
from .language import duration, say
from .phase_words import doing_now, phase_words

NONE = "\u2013"  # an en dash: nothing to show yet
STATE_WORDS = {
    "waiting": "waiting for a lane",
    "running": "training",
    "complete": "saved",
    "cancelled": "stopped",
    "failed": "failed",
    "withdrawn": "not started",
}


def is_race(snap: Snapshot) -> bool:
    """The runner's current (or last) job is a race."""
    return bool(snap.race) and snap.config is None


def examples_seen(entry: Entry, step: int) -> int:
    return step * (entry.config.batch_size or 16)


def metric_frame(snap: Snapshot) -> pd.DataFrame:
    headline = TASKS[snap.race[0].config.task].headline_metric
    rows = [{"method": run_title(e.method), "examples seen": examples_seen(e, ev["step"]), "value": ev[headline]}
            for e in snap.race for ev in e.events if ev["type"] == "eval"]  # fmt: skip
    return pd.DataFrame(rows, columns=["method", "examples seen", "value"])


def loss_frame(snap: Snapshot) -> pd.DataFrame:
    rows = [{"method": run_title(e.method), "examples seen": examples_seen(e, ev["step"]), "value": ev["loss"]}
            for e in snap.race for ev in e.events if ev["type"] == "log" and "loss" in ev]  # fmt: skip
    return pd.DataFrame(rows, columns=["method", "examples seen", "value"])


def colors() -> dict[str, str]:
    return {m.title: m.color for m in METHODS.values()}


def swatch_css() -> str:
    """Each method's colour for the race table's swatches (a class each: the page's Markdown keeps no inline style)."""
    shape = ".swatch { display: inline-block; width: .8em; height: .8em; border-radius: 50%; margin-right: 4px; }"
    return "\n".join([shape, *[f".swatch.method-{m.name} {{ background: {m.color}; }}" for m in METHODS.values()]])


# Two race charts side by side in the live view's column, each with its legend under it.
RACE_WIDTH = charts.WIDTH - 70
RACE_HEIGHT = 150  # lower than a single run's: the table above them fits a projector's screen with them


def metric_chart(snap: Snapshot) -> alt.Chart:
    title = TASKS[snap.race[0].config.task].headline_title
    frame = metric_frame(snap)
    if frame.empty:
        return charts.empty_chart(say("Dev scores appear at each evaluation."), RACE_HEIGHT, charts.WIDTH)
    return charts.curves_chart(
        frame, say("dev {metric}", metric=title), colors(), RACE_WIDTH, RACE_HEIGHT, legend=False
    )


def loss_chart(snap: Snapshot) -> alt.Chart:
    frame = loss_frame(snap)
    if frame.empty:
        waiting = say("Training loss appears as they train.")
        return charts.empty_chart(waiting, RACE_HEIGHT, charts.WIDTH)
    return charts.curves_chart(frame, say("training loss"), colors(), RACE_WIDTH, RACE_HEIGHT, legend=False)


def status_html(snap: Snapshot) -> str:
    """One bar for the whole race: its share of steps done, what is saved, the time left and how it shares the
    machine."""
    done = sum(e.progress.get("step", 0) for e in snap.race)
    total = sum(e.progress.get("max_steps", 0) for e in snap.race) or 1
    started = [e for e in snap.race if e.progress]
    if len(started) < len(snap.race):  # a method not started yet: its steps count as the mean of the started ones'
        total += (len(snap.race) - len(started)) * (total / max(1, len(started)))
    saved = sum(e.state == "complete" for e in snap.race)
    lanes = snap.lanes
    label = say("Train all, side by side: {saved} of {count} saved", saved=saved, count=len(snap.race))
    if snap.state == "running":
        label += say(", about {eta} left", eta=duration(snap.race_remaining_s))
        if lanes:
            shared = {"lanes": lanes.lanes, "threads": lanes.threads}
            if lanes.threads == 1:
                label += say(" · {lanes} lanes of one thread each", **shared)
            else:
                label += say(" · {lanes} lanes of {threads} threads", **shared)
    elif snap.state == "cancelled":
        label += say(" · stopped: Resume the race goes on with every method not saved")
    elif snap.state == "failed":
        label += " · " + say("a method failed: its card says why")
    pct = 100.0 * min(1.0, done / total) if snap.state != "complete" else 100.0
    return (
        f"<div class='run-status {snap.state}' data-state='{snap.state}' data-race='1'>"
        f"<div class='run-label'>{html.escape(label)}</div>"
        f"<div class='bar'><div class='fill' style='width:{pct:.1f}%'></div></div></div>"
    )


def card_text(snap: Snapshot) -> str:
    """A row a method: its state, step, ETA, latest dev score and trainable share."""
    task = TASKS[snap.race[0].config.task]
    rows = [f"| {say('Method')} | {say('State')} | {say('Step')} | {say('Time left')} | {task.headline_title} | "
            f"{say('Trainable')} |", "|---|---|---|---|---|---|"]  # fmt: skip
    pace = race_pace(snap.race, snap.lanes, snap.correction) if snap.lanes else snap.correction
    for e in snap.race:
        progress = e.progress
        step = f"{progress['step']:,} / {progress['max_steps']:,}" if progress else NONE
        seconds = e.left_s(snap.lanes, pace) if snap.lanes else None
        if seconds is None:
            left = NONE
        elif e.state == "waiting":
            left = say("about {eta}", eta=duration(seconds))
        else:
            left = duration(seconds)
        evals = [ev for ev in e.events if ev["type"] == "eval"]
        score = f"{evals[-1][task.headline_metric]:.4f}" if evals else NONE
        start = next((ev for ev in e.events if ev["type"] == "start"), None)
        share = f"{start['params']['trainable_percent']:.2f}%" if start else NONE
        state = say(STATE_WORDS.get(e.state, e.state))
        if e.state == "running" and (phase := doing_now(e.events)) is not None:
            state = phase_words(phase)
        if e.state == "failed" and e.reason:
            state += f": {html.escape(say_error(e.reason))}"
        swatch = f"<span class='swatch method-{e.method}'></span>"  # the charts' colour: the table is their legend
        rows.append(f"| {swatch} **{run_title(e.method)}** | {state} | {step} | {left} | {score} | {share} |")
    return "\n".join(rows)
