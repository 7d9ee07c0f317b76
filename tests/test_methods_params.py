"""Each method freezes exactly what it should: counts checked against a hand computation."""

from __future__ import annotations

import re

import pytest

from finetune.core.methods import METHODS, get_method
from finetune.core.methods.selective import default_top_k
from finetune.core.models import load_classifier, resolve_model
from finetune.core.params import count_parameters
from finetune.core.tasks import TASKS

V, H, L, I, POS, TYPES, LABELS = 30522, 32, 2, 37, 160, 2, 2  # the tiny_bert fixture's config

EMBEDDINGS = V * H + POS * H + TYPES * H + 2 * H
LAYER = 4 * (H * H + H) + 2 * H + (H * I + I) + (I * H + H) + 2 * H
POOLER = H * H + H
HEAD = H * LABELS + LABELS
BASE = EMBEDDINGS + L * LAYER + POOLER + HEAD


def prepared(tiny_bert, method_name, **options):
    source = resolve_model(str(tiny_bert))
    method = get_method(method_name)
    model = load_classifier(source, TASKS["sst2"])
    opts = method.resolve(method.options(**options), model.config)
    return method.prepare(model, opts, source)


def test_full_trains_everything(tiny_bert):
    counts = count_parameters(prepared(tiny_bert, "full"))
    assert (counts.trainable, counts.total) == (BASE, BASE)
    assert counts.by_part["embeddings"] == [EMBEDDINGS, EMBEDDINGS]
    assert counts.by_part["layer.1"] == [LAYER, LAYER]


def test_lora_trains_low_rank_query_value_and_head(tiny_bert):
    r = 4
    counts = count_parameters(prepared(tiny_bert, "lora", r=r))
    lora = L * 2 * (r * H + H * r)  # A (r x H) and B (H x r) on query and value in every layer
    assert counts.trainable == lora + HEAD
    assert counts.total == BASE + lora
    assert counts.by_part["embeddings"] == [0, EMBEDDINGS]
    assert counts.by_part["layer.0"] == [2 * 2 * r * H, LAYER + 2 * 2 * r * H]
    assert counts.by_part["head"] == [HEAD, HEAD]


def test_prompt_tuning_trains_virtual_tokens_and_head(tiny_bert):
    n = 5
    counts = count_parameters(prepared(tiny_bert, "prompt", num_virtual_tokens=n))
    assert counts.trainable == n * H + HEAD
    assert counts.total == BASE + n * H
    assert counts.by_part["prompt"] == [n * H, n * H]


def test_selective_trains_top_layers_pooler_and_head(tiny_bert):
    counts = count_parameters(prepared(tiny_bert, "selective", top_k=1))
    assert counts.trainable == LAYER + POOLER + HEAD
    assert counts.total == BASE
    assert counts.by_part["layer.0"] == [0, LAYER]
    assert counts.by_part["layer.1"] == [LAYER, LAYER]
    assert list(counts.by_part) == ["embeddings", "layer.0", "layer.1", "pooler", "head"]


def test_selective_default_depth_follows_the_study():
    assert default_top_k(12) == 4  # bert-base-uncased: top 4 of 12
    assert default_top_k(6) == 2  # the packaged 6-layer encoder
    assert default_top_k(2) == 1


def test_selective_on_bert_base_freezes_about_three_quarters():
    from transformers import BertConfig, BertForSequenceClassification

    model = BertForSequenceClassification(BertConfig(num_labels=2))  # bert-base-uncased shape, random
    method = get_method("selective")
    opts = method.resolve(method.options(), model.config)
    counts = count_parameters(method.prepare(model, opts, None))
    assert opts.top_k == 4
    assert 0.70 < 1 - counts.trainable / counts.total < 0.80


@pytest.mark.parametrize(
    ("method_name", "options", "message"),
    [
        ("lora", {"r": 0}, "LoRA rank r must be between 1 and 1,024, got 0"),
        ("lora", {"r": "four"}, "LoRA rank r must be a number, got 'four'"),
        ("lora", {"dropout": 1.5}, "LoRA dropout must be between 0 and 0.9, got 1.5"),
        ("lora", {"r": 33}, "at most the hidden size 32"),
        ("prompt", {"num_virtual_tokens": 0}, "Virtual tokens must be between 1 and 128, got 0"),
        ("prompt", {"init_text": ["a", "list"]}, "Init text must be text, got a list"),
        ("full", {"layer_decay": 0}, "Layer-wise LR decay must be"),
        ("full", {"layer_decay": 1.5}, "Layer-wise LR decay must be"),
        ("full", {"reinit_top_layers": -1}, "Re-initialised top layers must be between 0 and 48, got -1"),
        (
            "full",
            {"reinit_top_layers": 3},
            r"Re-initialised top layers must be at most 2 \(the encoder's layers\), got 3",
        ),
        ("selective", {"top_k": 3}, "Top k layers must be at most 2"),
        ("selective", {"top_k": 1.5}, "whole number"),
    ],
)
def test_bad_method_options_are_rejected_in_words(tiny_bert, method_name, options, message):
    from transformers import AutoConfig

    method = get_method(method_name)
    config = AutoConfig.from_pretrained(tiny_bert)
    with pytest.raises(ValueError, match=message):
        method.validate(method.resolve(method.options(**options), config), config, 64)


def test_every_method_carries_what_the_front_ends_show():
    from finetune.core.fields import settings_of

    assert list(METHODS)[:4] == ["full", "lora", "prompt", "selective"]  # the study's four, in its order
    for method in METHODS.values():
        assert method.title and method.summary and method.color.startswith("#")
        for item in settings_of(method.Options):  # every option has a label and help for the form and --help
            assert item.label and item.spec.help
    assert len({m.color for m in METHODS.values()}) == len(METHODS)


def test_registration_is_explicit_and_rejects_a_taken_name():
    from finetune.core.methods import DuplicateMethodError, register_method
    from finetune.core.methods.full import FullFineTuning
    from finetune.core.methods.peft_common import PeftMethod

    # LoRA and prompt tuning share a base class: registration, not __subclasses__(), finds them.
    assert isinstance(METHODS["lora"], PeftMethod) and isinstance(METHODS["prompt"], PeftMethod)

    class AnotherFull(FullFineTuning):
        pass

    with pytest.raises(
        DuplicateMethodError, match=re.escape("'full' is already registered by finetune.core.methods.full")
    ):
        register_method(AnotherFull)

    class BadName(FullFineTuning):
        name = "Bad Name"

    with pytest.raises(ValueError, match="lower-case identifier"):
        register_method(BadName)
    assert METHODS["full"].__class__ is FullFineTuning


def test_prompt_tuning_can_give_its_head_its_own_learning_rate(tiny_bert):
    """The optimizer groups cover every trainable parameter once: the prompt at the run's rate, the head at its own."""
    from finetune.core.methods import get_method
    from finetune.core.models import load_classifier, resolve_model
    from finetune.core.tasks import TASKS

    source = resolve_model(str(tiny_bert))
    method = get_method("prompt")
    model = method.prepare(load_classifier(source, TASKS["sst2"]), method.options(num_virtual_tokens=4), source)
    assert method.learning_rates(model, method.options(num_virtual_tokens=4), 0.1) is None  # the Trainer's own
    groups = method.learning_rates(model, method.options(num_virtual_tokens=4, head_learning_rate=3e-3), 0.1)
    assert [g["lr"] for g in groups] == [0.1, 3e-3]
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    grouped = [id(p) for g in groups for p in g["params"]]
    assert sorted(grouped) == sorted(trainable) and len(groups[0]["params"]) == 1  # the prompt embedding alone


def test_full_fine_tuning_can_decay_the_learning_rate_layer_by_layer(tiny_bert):
    """Every trainable parameter in one group: the head and pooler at the run's rate, each layer below at `decay`
    times the one above, the embeddings least (which weights skip weight decay is the optimizer's rule: see
    test_grouped_learning_rates_step_the_trainers_own_optimizer)."""
    method = get_method("full")
    model = prepared(tiny_bert, "full")
    assert method.learning_rates(model, method.options(), 1e-4) is None  # 1: the Trainer's own optimizer
    groups = method.learning_rates(model, method.options(layer_decay=0.5), 1e-4)
    grouped = [id(p) for g in groups for p in g["params"]]
    assert sorted(grouped) == sorted(id(p) for p in model.parameters())  # each once
    rate = {id(p): g["lr"] for g in groups for p in g["params"]}
    bert = model.bert
    assert rate[id(model.classifier.weight)] == rate[id(bert.pooler.dense.weight)] == pytest.approx(1e-4)
    assert rate[id(bert.encoder.layer[1].attention.self.query.weight)] == pytest.approx(1e-4 * 0.5)
    assert rate[id(bert.encoder.layer[0].output.dense.weight)] == pytest.approx(1e-4 * 0.5**2)
    assert rate[id(bert.embeddings.word_embeddings.weight)] == pytest.approx(1e-4 * 0.5 ** (L + 1))


def test_full_fine_tuning_can_start_its_top_layers_afresh(tiny_bert):
    """reinit_top_layers=1: the top layer and the pooler start from BERT's initialisation, drawn from the seed;
    everything below, and the head, is exactly what the run would start from without it."""
    import torch
    from transformers import set_seed

    def start(**options):
        set_seed(7)  # as train.prepare does before loading the classifier
        return dict(prepared(tiny_bert, "full", **options).named_parameters())

    pretrained, afresh, again = start(), start(reinit_top_layers=1), start(reinit_top_layers=1)
    assert start(reinit_top_layers=0).keys() == pretrained.keys()
    moved = {name for name in pretrained if not torch.equal(pretrained[name], afresh[name])}
    top = {name for name in pretrained if name.startswith(("bert.encoder.layer.1.", "bert.pooler."))}
    # Every weight of the top layer and the pooler starts afresh (but a layer norm already at 1/0 stays so).
    assert moved <= top and {name for name in top if name.endswith("dense.weight")} <= moved
    assert all(torch.equal(afresh[name], again[name]) for name in afresh)  # the same seed, the same start
    fresh = afresh["bert.encoder.layer.1.intermediate.dense.weight"]
    assert fresh.std().item() == pytest.approx(0.02, rel=0.1)  # the tiny config's initializer_range
    assert not afresh["bert.pooler.dense.bias"].any()


@pytest.mark.parametrize("method_name", list(METHODS))
def test_the_layer_the_estimate_times_trains_as_the_method_trains_the_encoders_top_layer(tiny_bert, method_name):
    """The estimate times one layer made to train by the method itself (Method.train_layer): its trainable weights
    are those the method trains in the encoder's top layer (every method trains there, if anywhere), so a new
    method's estimate times its own work, adapters included."""
    from transformers.models.bert.modeling_bert import BertLayer

    from .conftest import TINY_OPTIONS

    method = get_method(method_name)
    options = TINY_OPTIONS.get(method_name, {})
    model = prepared(tiny_bert, method_name, **options)
    top = f"encoder.layer.{L - 1}."
    trained = {name for name, param in model.named_parameters() if param.requires_grad}
    timed = method.train_layer(BertLayer(model.config), method.options(**options))
    assert {name for name, param in timed.named_parameters() if param.requires_grad} == {
        name.split(top, 1)[1] for name in trained if top in name
    }
