"""GLUE dev metrics, computed in one function with scikit-learn (no metric scripts from the Hub)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from .tasks import Task


def classification_metrics(predictions, labels) -> dict[str, float]:
    """Accuracy, F1 of the positive class (label 1) and Matthews correlation."""
    predictions = np.asarray(predictions)
    labels = np.asarray(labels)
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "f1": float(f1_score(labels, predictions, pos_label=1, zero_division=0)),
        "mcc": float(matthews_corrcoef(labels, predictions)),
    }


def with_headline(metrics: dict[str, float], task: Task) -> dict[str, float]:
    return {**metrics, "headline": metrics[task.headline_metric]}


def majority_baseline(labels, task: Task) -> dict[str, float]:
    """What always predicting the most frequent dev label scores: the floor any method must beat."""
    labels = np.asarray(labels)
    majority = np.bincount(labels, minlength=task.num_labels).argmax()
    return with_headline(classification_metrics(np.full_like(labels, majority), labels), task)


def trainer_metrics(task: Task):
    """A ``compute_metrics`` callable for transformers' Trainer."""

    def compute(eval_prediction) -> dict[str, float]:
        logits, labels = eval_prediction.predictions, eval_prediction.label_ids
        if isinstance(logits, tuple):
            logits = logits[0]
        return with_headline(classification_metrics(np.argmax(logits, axis=-1), labels), task)

    return compute
