"""Tail averaging: the weights a run keeps are the plain mean of its trainable weights over its last steps."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from finetune.engine.averaging import TailAverage, first_averaged_step


@pytest.mark.parametrize(
    ("max_steps", "fraction", "first"), [(1604, 0.25, 1204), (24, 0.9, 3), (10, 0.0, 10), (1, 0.5, 1)]
)
def test_the_tail_is_the_last_fraction_of_the_steps_and_never_empty(max_steps, fraction, first):
    assert first_averaged_step(max_steps, fraction) == first


def test_the_model_ends_with_the_mean_of_its_trainable_weights_over_the_tail():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    model[1].weight.requires_grad_(False)  # frozen weights are neither averaged nor touched
    frozen = model[1].weight.detach().clone()
    trainable = [p for p in model.parameters() if p.requires_grad]
    averaging = TailAverage(model, max_steps=8, fraction=0.5)  # steps 5-8
    tail = []
    for step in range(1, 9):
        with torch.no_grad():  # what an optimizer step would do
            for param in trainable:
                param.copy_(torch.randn_like(param))
        stepped = [p.detach().clone() for p in trainable]
        if step >= 5:
            tail.append(stepped)
        averaging.on_step_end(None, SimpleNamespace(global_step=step), None)
        if step < 8:  # until the last step the model trains on its own weights
            assert all(p.equal(w) for p, w in zip(trainable, stepped, strict=True))
    for index, param in enumerate(trainable):
        assert torch.allclose(param, torch.stack([weights[index] for weights in tail]).mean(0), atol=1e-6)
    assert model[1].weight.equal(frozen)
