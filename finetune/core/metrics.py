"""GLUE dev metrics, computed in one function with scikit-learn (no metric scripts from the Hub)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from .tasks import Task


def classification_metrics(predictions, labels, num_labels: int = 2, positive: int = 1) -> dict[str, float]:
    """Accuracy, F1 and Matthews correlation. F1 of two labels is the positive label's (GLUE's: 1); of more, the
    mean of each label's F1 (macro), every label counted whether or not it was predicted."""
    predictions = np.asarray(predictions)
    labels = np.asarray(labels)
    if num_labels == 2:
        f1 = f1_score(labels, predictions, pos_label=positive, zero_division=0)
    else:
        f1 = f1_score(labels, predictions, labels=list(range(num_labels)), average="macro", zero_division=0)
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "f1": float(f1),
        "mcc": float(matthews_corrcoef(labels, predictions)),
    }


def task_metrics(predictions, labels, task: Task) -> dict[str, float]:
    """`task`'s dev metrics with its headline (its label count and positive label)."""
    return with_headline(classification_metrics(predictions, labels, task.num_labels, task.positive), task)


def with_headline(metrics: dict[str, float], task: Task) -> dict[str, float]:
    return {**metrics, "headline": metrics[task.headline_metric]}


def majority_baseline(labels, task: Task) -> dict[str, float]:
    """What always predicting the most frequent dev label scores: the floor any method must beat."""
    labels = np.asarray(labels)
    majority = np.bincount(labels, minlength=task.num_labels).argmax()
    return task_metrics(np.full_like(labels, majority), labels, task)


def at_majority_baseline(info: dict) -> bool:
    """True when a saved run (its run.json) scores no better on its headline metric than always answering the
    most frequent dev label: it has learned nothing a class should trust (e.g. LoRA on too few examples)."""
    baseline = (info.get("majority_baseline") or {}).get("headline")
    headline = (info.get("metrics") or {}).get("headline")
    if baseline is None or headline is None or not np.isfinite(headline):
        return False
    return headline <= baseline + 1e-3  # run.json rounds; a thousandth above is the same answer


def trainer_metrics(task: Task, on_predictions: Callable[[np.ndarray, np.ndarray], None] | None = None):
    """A ``compute_metrics`` callable for transformers' Trainer; `on_predictions(probabilities, labels)` is
    told each evaluation's softmax probabilities (the run keeps the last: core/dev_predictions.py)."""

    def compute(eval_prediction) -> dict[str, float]:
        logits, labels = eval_prediction.predictions, eval_prediction.label_ids
        if isinstance(logits, tuple):
            logits = logits[0]
        if on_predictions is not None:
            on_predictions(softmax(np.asarray(logits, dtype=np.float64)), np.asarray(labels))
        return task_metrics(np.argmax(logits, axis=-1), labels, task)

    return compute


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
