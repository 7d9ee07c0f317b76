"""GLUE task specifications as data (in the spirit of run_glue's ``task_to_keys``).

Everything task-specific lives in this table: which columns hold the text, the label names,
which metric is the task's headline, how its local GLUE TSV files are laid out, and a few
example inputs for the Playground. Adding a GLUE classification task means adding a row.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    hub_config: str  # config name in nyu-mll/glue
    local: LocalLayout
    examples: tuple[tuple[str, ...], ...]
    train_size: int  # examples in the GLUE training split (a run can ask for at most these)
    dev_size: int
    # Mean tokens per example (bert-base-uncased vocabulary, truncated at 128), train / dev: what a run's
    # cost is estimated from before it starts.
    mean_tokens: tuple[float, float]
    # Passes over the training set in a classroom run (method default epochs x this): a small
    # training set needs several passes to learn anything.
    classroom_epochs: float = 1.0

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
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; choose one of: {', '.join(TASKS)}") from None
