"""Where the methods differ: each method's newest run of a task side by side on the dev set — confusion
matrices, the examples each gets wrong, and the examples on which they disagree — from the predictions
every run keeps (core/dev_predictions.py). An older run without them is scored once, on demand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core import dev_predictions
from ..core.checkpoints import RunRecord, latest_run
from ..core.data import load_glue
from ..core.dev_predictions import DevPredictions
from ..core.methods import METHODS
from ..core.precision import serving_precision
from ..core.tasks import get_task
from .predict import classify, load_trained, run_tokenizer

SCORE_BATCH = 64


@dataclass
class MethodColumn:
    method: str
    run: RunRecord
    predictions: DevPredictions


@dataclass
class Comparison:
    """The task's dev examples that every compared run scored, one row each."""

    task: str
    columns: list[MethodColumn]
    texts: list[list[str]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # methods whose newest run has no stored predictions
    problems: list[str] = field(default_factory=list)  # in words: damaged files, runs on other dev examples

    @property
    def methods(self) -> list[str]:
        return [c.method for c in self.columns]

    def right(self, method: str) -> list[bool]:
        """Whether `method` gets each example right (False everywhere for a method without a compared run)."""
        column = next((c for c in self.columns if c.method == method), None)
        if column is None:
            return [False] * len(self.labels)
        return [guess == gold for guess, gold in zip(column.predictions.predicted, self.labels, strict=True)]

    def rows(self, right: str | None = None, wrong: str | None = None, disagreements: bool = False) -> list[int]:
        """Indices of the examples that `right` gets right, `wrong` gets wrong, and (when asked) on which the
        methods do not all say the same."""
        keep = np.ones(len(self.labels), dtype=bool)
        if any(name and name not in self.methods for name in (right, wrong)):
            return []  # a method with no run to compare: nothing to list (the summary says why)
        if right:
            keep &= np.array(self.right(right), dtype=bool)
        if wrong:
            keep &= ~np.array(self.right(wrong), dtype=bool)
        if disagreements:
            guesses = np.array([c.predictions.predicted for c in self.columns])
            keep &= (guesses != guesses[0]).any(axis=0) if len(self.columns) > 1 else False
        return [int(i) for i in np.flatnonzero(keep)]


def compare(task_name: str, checkpoints_dir: Path | None = None) -> Comparison:
    """Each method's newest run of the task with its stored dev predictions, lined up example by example: the
    dev examples every run scored, in the order of the run that scored most."""
    task = get_task(task_name)
    comparison = Comparison(task.name, [])
    for method in METHODS:
        run = latest_run(task.name, method, checkpoints_dir)
        if run is None:
            continue
        try:
            predictions = dev_predictions.read(run.path)
        except ValueError as e:
            comparison.problems.append(f"{METHODS[method].title}: {e}")
            continue
        if predictions is None:
            comparison.missing.append(method)
            continue
        comparison.columns.append(MethodColumn(method, run, predictions))
    if not comparison.columns:
        return comparison
    # Line the runs up by example text: runs evaluated on other dev samples compare on what they share.
    reference = max(comparison.columns, key=lambda c: len(c.predictions.labels)).predictions
    positions = [{tuple(t): i for i, t in reversed(list(enumerate(c.predictions.texts)))} for c in comparison.columns]
    shared = [i for i, t in enumerate(reference.texts) if all(tuple(t) in where for where in positions)]
    if len(shared) < len(reference.labels):
        comparison.problems.append(
            f"The runs were evaluated on different dev samples: {len(shared)} examples are common to all of them."
        )
    for column, where in zip(comparison.columns, positions, strict=True):
        p = column.predictions
        order = [where[tuple(reference.texts[i])] for i in shared]
        column.predictions = DevPredictions([p.texts[j] for j in order], [p.labels[j] for j in order],
                                            [p.probabilities[j] for j in order])  # fmt: skip
    comparison.texts = [reference.texts[i] for i in shared]
    comparison.labels = [reference.labels[i] for i in shared]
    return comparison


def score_run(run: RunRecord, data_dir: str | None = None) -> DevPredictions:
    """Score an older run on the dev examples it was evaluated on (its config's dev sample) in the precision
    it was trained in, and store the predictions in its folder (atomically)."""
    task = get_task(run.task)
    config = run.info["config"]
    trained_on = config.get("data_dir")  # another machine's folder is not used here: $GLUE_DIR or the Hub then
    local = data_dir or (trained_on if trained_on and Path(trained_on).is_dir() else None)
    data = load_glue(task, local, max_eval_samples=config.get("max_eval_samples"),
                     seed=config.get("seed", 42))["validation"]  # fmt: skip
    model, tokenizer = load_trained(run).eval(), run_tokenizer(run)
    columns = [data[key] for key in task.text_keys]
    probabilities = []
    for start in range(0, len(data), SCORE_BATCH):
        texts = columns[0][start : start + SCORE_BATCH]
        pairs = columns[1][start : start + SCORE_BATCH] if task.is_pair else None
        probs, _ = classify(model, tokenizer, task, texts, pairs, config.get("max_seq_length", 128),
                            precision=serving_precision(run.info.get("precision")))  # fmt: skip
        probabilities.append(probs)
    predictions = DevPredictions.of_split(data, task.text_keys, np.concatenate(probabilities))
    dev_predictions.write(run.path, predictions)
    return predictions
