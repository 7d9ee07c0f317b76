"""GLUE task specifications as data (in the spirit of run_glue's ``task_to_keys``).

Everything task-specific lives in this table: which columns hold the text, the label names,
which metric is the task's headline, how its local GLUE TSV files are laid out, and a few
example inputs for the Playground. Adding a GLUE classification task means adding a row.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LocalLayout:
    """How a task's files look in the standard GLUE directory layout (see shared/glue/README.md)."""

    folder: str  # e.g. "SST-2"
    columns: tuple[str, ...]  # every column of the file, in order
    has_header: bool
    rename: dict[str, str]  # file column -> canonical column (sentence/sentence1/sentence2/label)
    encoding: str = "utf-8"


@dataclass(frozen=True)
class Task:
    name: str
    title: str
    text_keys: tuple[str, ...]  # one column for single-sentence tasks, two for pairs
    label_names: tuple[str, ...]
    headline_metric: str  # "accuracy" | "f1" | "mcc"
    hub_config: str | None  # config name in nyu-mll/glue (None: a task from a file, core/own_data.py)
    local: LocalLayout | None
    examples: tuple[tuple[str, ...], ...]
    train_size: int  # examples in the GLUE training split (a run can ask for at most these)
    dev_size: int
    # Mean tokens per example (bert-base-uncased vocabulary, truncated at 128), train / dev: what a run's
    # cost is estimated from before it starts.
    mean_tokens: tuple[float, float]
    # Passes over the training set in a classroom run (method default epochs x this): a small
    # training set needs several passes to learn anything.
    classroom_epochs: float = 1.0
    # The label a binary F1 is of (GLUE's: 1); a task of more labels reports macro-F1.
    positive: int = 1
    # A task from a file: what it was read from (file name, sha256, encoding, columns, how dev was held out).
    source: dict | None = None

    @property
    def is_pair(self) -> bool:
        return len(self.text_keys) == 2

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    @property
    def headline_title(self) -> str:
        """The headline metric as people read it: Accuracy, F1 or MCC."""
        return METRIC_TITLES[self.headline_metric]


TASKS: dict[str, Task] = {
    "sst2": Task(
        name="sst2",
        title="SST-2 (sentiment)",
        text_keys=("sentence",),
        label_names=("negative", "positive"),
        headline_metric="accuracy",
        hub_config="sst2",
        local=LocalLayout(folder="SST-2", columns=("sentence", "label"), has_header=True, rename={}),
        train_size=67_349,
        dev_size=872,
        mean_tokens=(13.3, 25.2),
        examples=(
            ("a gorgeous, witty, seductive movie.",),
            ("the plot is nothing but boilerplate clichés from start to finish.",),
            ("it's not a bad film, but it never quite comes alive.",),
        ),
    ),
    "mrpc": Task(
        name="mrpc",
        title="MRPC (paraphrase)",
        text_keys=("sentence1", "sentence2"),
        label_names=("not_equivalent", "equivalent"),
        headline_metric="f1",
        hub_config="mrpc",
        local=LocalLayout(
            folder="MRPC",
            columns=("Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"),
            has_header=True,
            rename={"Quality": "label", "#1 String": "sentence1", "#2 String": "sentence2"},
            encoding="utf-8-sig",  # the GLUE MRPC files start with a byte-order mark
        ),
        train_size=3_668,
        dev_size=408,
        mean_tokens=(53.2, 53.2),
        examples=(
            ("The company said profits rose 10 percent.", "Profits at the company climbed 10 percent, it said."),
            ("The cat sat on the mat.", "Stock markets fell sharply on Monday."),
            ("He was arrested on Friday in Miami.", "He was arrested in Miami last week."),
        ),
        classroom_epochs=3.0,  # 3,668 pairs: one pass barely beats the majority class
    ),
    "cola": Task(
        name="cola",
        title="CoLA (grammaticality)",
        text_keys=("sentence",),
        label_names=("unacceptable", "acceptable"),
        headline_metric="mcc",
        hub_config="cola",
        # CoLA's train/dev files have no header row.
        local=LocalLayout(
            folder="CoLA",
            columns=("source", "label", "original_mark", "sentence"),
            has_header=False,
            rename={},
        ),
        train_size=8_551,
        dev_size=1_043,
        mean_tokens=(11.3, 11.7),
        examples=(
            ("The book was written by John.",),
            ("The book was wrote by John.",),
            ("Himself likes John.",),
        ),
        classroom_epochs=3.0,  # one pass over 8,551 sentences leaves a small encoder at MCC 0
    ),
}

METRIC_TITLES = {"accuracy": "Accuracy", "f1": "F1", "mcc": "MCC"}


def get_task(name: str) -> Task:
    """GLUE's task `name`, else the task of that name made from a file (core/own_data.py) in a store in use."""
    if name in TASKS:
        return TASKS[name]
    if isinstance(name, str) and (found := find_data_task(name)) is not None:
        return found
    raise ValueError(f"unknown task {name!r}; choose one of: {', '.join(TASKS)}")


# -- tasks made from files (core/own_data.py makes them) ----------------------------------------------------------
# Each is kept in a store as <store>/.tasks/<name>/: task.json (the Task as data, under "task") and its rows. A dot
# folder: never taken for a task's runs (checkpoints.scan_runs).
TASKS_FOLDER = ".tasks"
STORES: list[Path] = []  # stores other than the default whose data tasks are found (use_store)
_FOUND: dict[str, tuple[Task, Path]] = {}  # name -> (task, its folder)


def use_store(store: Path | None) -> None:
    """Let get_task find the data tasks kept in `store` (a run trained into a store of its own)."""
    if store is not None and Path(store) not in STORES:
        STORES.append(Path(store))


def stores_in_use() -> list[Path]:
    from .storage import default_checkpoints_dir

    return [*STORES, default_checkpoints_dir()]


def register_task(task: Task, folder: Path) -> None:
    _FOUND[task.name] = (task, folder)


def forget_data_tasks() -> None:
    """As after a restart: data tasks are found again from the stores."""
    _FOUND.clear()


def task_from_record(record: dict) -> Task:
    """A Task from its JSON form (lists back to tuples)."""
    fields = dict(record)
    for key in ("text_keys", "label_names", "mean_tokens"):
        fields[key] = tuple(fields[key])
    fields["examples"] = tuple(tuple(example) for example in fields["examples"])
    fields["local"] = None
    return Task(**fields)


def find_data_task(name: str) -> Task | None:
    """The data task `name`, known already or kept in a store in use."""
    if name in _FOUND:
        return _FOUND[name][0]
    if not re.fullmatch(r"[a-z0-9-]{1,48}", name):
        return None
    for store in stores_in_use():
        folder = store / TASKS_FOLDER / name
        try:
            task = task_from_record(json.loads((folder / "task.json").read_text(encoding="utf-8"))["task"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        register_task(task, folder)
        return task
    return None


def data_task_folder(task: Task) -> Path | None:
    """Where a data task's rows are kept (found by name: a task never carries a server path)."""
    if find_data_task(task.name) is None:
        return None
    return _FOUND[task.name][1]


def task_names() -> list[str]:
    """GLUE's tasks, then the tasks made from files known here or kept in the stores in use."""
    kept = [
        path.parent.name for store in stores_in_use() for path in sorted((store / TASKS_FOLDER).glob("*/task.json"))
    ]
    return list(dict.fromkeys([*TASKS, *_FOUND, *kept]))
