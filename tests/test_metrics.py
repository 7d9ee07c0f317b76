from __future__ import annotations

import math

import pytest

from finetune.core.metrics import classification_metrics, majority_baseline
from finetune.core.tasks import TASKS


def test_metrics_match_a_hand_computation():
    labels = [1, 1, 1, 0, 0, 0, 1, 0]
    preds = [1, 1, 0, 0, 0, 1, 1, 0]
    tp, tn, fp, fn = 3, 3, 1, 1
    m = classification_metrics(preds, labels)
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert m["mcc"] == pytest.approx(mcc)


def test_majority_baseline_has_zero_mcc_and_positive_rate_accuracy():
    labels = [1] * 721 + [0] * 322  # CoLA dev
    base = majority_baseline(labels, TASKS["cola"])
    assert base["accuracy"] == pytest.approx(721 / 1043)
    assert base["mcc"] == 0.0
    assert base["headline"] == base["mcc"]
