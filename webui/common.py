"""Small helpers shared by the tabs: turning engine data into what Gradio components show."""

from __future__ import annotations

import math

import gradio as gr
import pandas as pd

from finetune.cli import RUN_COLUMNS, runs_table
from finetune.methods import METHODS, method_title
from finetune.tasks import METRIC_TITLES, TASKS

TASK_CHOICES = [(task.title, task.name) for task in TASKS.values()]
METHOD_CHOICES = [(method.title, method.name) for method in METHODS.values()]
METHOD_COLORS = {
    "full": "#1f77b4",
    "lora": "#ff7f0e",
    "prompt": "#2ca02c",
    "selective": "#d62728",
    "zeroshot": "#7c3aed",
}


def number(value, name: str, *, integer: bool = False, minimum: float | None = None, allow_empty: bool = False):
    """A hyperparameter from the UI or the API, checked, with a message a person understands."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if allow_empty:
            return None
        raise gr.Error(f"{name} is empty: enter a number")
    try:
        parsed = float(value)
    except (TypeError, ValueError):
        raise gr.Error(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(parsed):
        raise gr.Error(f"{name} must be a finite number, got {value!r}")
    if integer:
        if parsed != int(parsed):
            raise gr.Error(f"{name} must be a whole number, got {value!r}")
        parsed = int(parsed)
    if minimum is not None and parsed < minimum:
        raise gr.Error(f"{name} must be at least {minimum:g}, got {value!r}")
    return parsed


def runs_frame(records) -> pd.DataFrame:
    """One row per saved run (typed columns even when there are none yet)."""
    return pd.DataFrame(runs_table(records), columns=list(RUN_COLUMNS))


def headline_frame(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """Points for the study's picture: headline metric vs log10(trainable parameters), per run."""
    subset = frame[frame["task"] == task].copy()
    subset["log10_trainable_params"] = subset["trainable_params"].map(lambda n: round(math.log10(max(n, 1)), 3))
    subset["method"] = subset["method"].map(method_title)
    subset[METRIC_TITLES[TASKS[task].headline_metric]] = subset["headline"]
    return subset


def format_count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)
