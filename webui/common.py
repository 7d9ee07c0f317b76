"""Small helpers shared by the tabs: turning engine data into what Gradio components show."""

from __future__ import annotations

import pandas as pd

from finetune.core.baselines import run_kind
from finetune.core.methods import METHODS
from finetune.core.runs_table import RUN_COLUMNS, runs_table
from finetune.core.tasks import TASKS

TASK_CHOICES = [(task.title, task.name) for task in TASKS.values()]
METHOD_CHOICES = [(method.title, method.name) for method in METHODS.values()]
UNKNOWN_COLOR = "#888888"


def run_color(name: str) -> str:
    """The colour of a method or a baseline in every chart and card (grey for a name neither is)."""
    kind = run_kind(name)
    return kind.color if kind is not None else UNKNOWN_COLOR


def runs_frame(records) -> pd.DataFrame:
    """One row per saved run (typed columns even when there are none yet)."""
    return pd.DataFrame(runs_table(records), columns=list(RUN_COLUMNS))


def format_count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)
