"""Small helpers shared by the tabs: turning engine data into what Gradio components show."""

from __future__ import annotations

import math

import pandas as pd

from finetune.core.checkpoints import RUN_COLUMNS, runs_table
from finetune.core.methods import METHODS, method_title
from finetune.core.tasks import TASKS

TASK_CHOICES = [(task.title, task.name) for task in TASKS.values()]
METHOD_CHOICES = [(method.title, method.name) for method in METHODS.values()]
ZERO_SHOT_COLOR = "#7c3aed"


def method_color(name: str) -> str:
    """A method's own colour (the zero-shot LM, which is no method, has one too)."""
    return METHODS[name].color if name in METHODS else ZERO_SHOT_COLOR


def runs_frame(records) -> pd.DataFrame:
    """One row per saved run (typed columns even when there are none yet)."""
    return pd.DataFrame(runs_table(records), columns=list(RUN_COLUMNS))


MAJORITY = "Majority class"  # the chart's baseline: always answering the most common dev label
CHART_X_LIM = [2.0, 8.0]  # log10 of trainable parameters: 100 to 100M


def headline_frame(frame: pd.DataFrame, task: str, majority: float | None = None) -> pd.DataFrame:
    """Points for the study's picture: headline metric vs log10(trainable parameters), per run; with
    `majority`, a dotted line of points across the chart at the majority-class score."""
    subset = frame[frame["task"] == task].copy()
    subset["log10_trainable_params"] = subset["trainable_params"].map(lambda n: round(math.log10(max(n, 1)), 3))
    subset["method"] = subset["method"].map(method_title)
    metric = TASKS[task].headline_title
    subset[metric] = subset["headline"]
    if majority is None or subset.empty:
        return subset
    low, high = CHART_X_LIM
    line = pd.DataFrame({"log10_trainable_params": [low + (high - low) * i / 40 for i in range(41)],
                         metric: majority, "method": MAJORITY, "run_id": "", "trainable_params": 0})  # fmt: skip
    return pd.concat([subset, line], ignore_index=True)


def with_every_category(frame: pd.DataFrame, column: str, categories: list[str]) -> pd.DataFrame:
    """`frame` plus one empty row (no x, no y) for each category it lacks. Gradio's plots fix their colour
    domain at the first data they draw and never draw a category added later, so every chart that can gain
    a method carries all of them from the start (the legend then lists every method, in its colour)."""
    absent = [c for c in categories if c not in set(frame[column])]
    if not absent:
        return frame
    return pd.concat([frame, pd.DataFrame({column: absent})], ignore_index=True)


# Column headings people read (the CSV keeps the field names, for scripts).
COLUMN_TITLES = {
    "task": "Task", "method": "Method", "model": "Encoder", "accuracy": "Accuracy", "f1": "F1", "mcc": "MCC",
    "headline": "Headline", "trainable_params": "Trainable parameters", "trainable_percent": "Trainable %",
    "size_mb": "Saved MB", "train_seconds": "Training s", "train_samples": "Training examples",
    "created": "Created", "run_id": "Run",
}  # fmt: skip


def format_count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)
