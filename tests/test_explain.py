"""Why (Playground): Integrated Gradients word attributions through every method's model. Completeness must
hold — the words' scores add up to the log-odds at the input minus at the all-[PAD] baseline — and the
words are the input's own words, in order, pairs included."""

from __future__ import annotations

import pytest
import torch

from finetune.core.methods import get_method
from finetune.core.models import load_classifier, load_tokenizer, resolve_model
from finetune.core.tasks import TASKS
from finetune.engine.explain import explain

from .conftest import TINY_OPTIONS

SENTENCE = "An utterly charming, funny film; never dull."


def method_model(tiny_bert, method_name: str, task):
    """The tiny BERT wrapped as the method trains it, with a head scaled up so that its log-odds move a lot."""
    torch.manual_seed(0)
    source = resolve_model(str(tiny_bert))
    method = get_method(method_name)
    model = method.prepare(load_classifier(source, task), method.options(**TINY_OPTIONS[method_name]), source)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "classifier" in name and name.endswith("weight"):
                param.mul_(3000)
    return model.eval(), load_tokenizer(source)


@pytest.mark.parametrize("method", ["full", "lora", "prompt", "selective"])
def test_attributions_add_up_to_the_log_odds_change(tiny_bert, method):
    model, tokenizer = method_model(tiny_bert, method, TASKS["sst2"])
    e = explain(model, tokenizer, TASKS["sst2"], SENTENCE)
    change = e.log_odds - e.baseline_log_odds
    assert abs(change) > 0.05, "the scaled head must move the log-odds for the check to mean anything"
    assert abs(sum(w.score for w in e.words) - change) <= 0.05 * abs(change)
    assert abs(e.completeness_gap) <= 0.05 * abs(change)
    assert e.log_odds > 0  # the label explained is the one predicted: its log-odds against the other is positive
    assert [w.word for w in e.words] == ["An", "utterly", "charming", ",", "funny", "film", ";", "never", "dull", "."]


def test_a_pair_is_attributed_word_by_word_in_both_sentences(tiny_bert):
    model, tokenizer = method_model(tiny_bert, "full", TASKS["mrpc"])
    e = explain(model, tokenizer, TASKS["mrpc"], "The cat sat down.", "A cat was sitting.")
    assert [(w.word, w.sequence) for w in e.words] == [
        ("The", 0), ("cat", 0), ("sat", 0), ("down", 0), (".", 0), ("A", 1), ("cat", 1), ("was", 1), ("sitting", 1),
        (".", 1),
    ]  # fmt: skip
    change = e.log_odds - e.baseline_log_odds
    assert abs(sum(w.score for w in e.words) - change) <= 0.05 * abs(change) + 1e-6
