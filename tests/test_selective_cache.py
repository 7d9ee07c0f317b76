"""Selective layer tuning caches its frozen part's outputs: the same training, only cheaper.

Real training on a tiny BERT and a slice of the real SST-2 / MRPC files, cached against uncached
(the frozen part recomputed every step) from the same seed.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from finetune.core.methods import selective
from finetune.engine.config import RunConfig
from finetune.engine.predict import load_trained
from finetune.engine.train import train

from .conftest import tiny_config


def _run(tiny_bert, glue_dir, checkpoints_dir, task="sst2"):
    config = tiny_config(tiny_bert, glue_dir, task, "selective", epochs=2, learning_rate=1e-3)
    return train(config, checkpoints_dir=checkpoints_dir)


def _events(run, kind):
    return [e for e in map(json.loads, (run.path / "events.jsonl").read_text().splitlines()) if e["type"] == kind]


@pytest.mark.parametrize("task", ["sst2", "mrpc"])
def test_cached_training_equals_recomputing_the_frozen_layers(tiny_bert, glue_dir, checkpoints_dir, monkeypatch, task):
    cached = _run(tiny_bert, glue_dir, checkpoints_dir, task)
    monkeypatch.setenv("FINETUNE_SELECTIVE_CACHE", "0")  # recompute the frozen part every step
    recomputed = _run(tiny_bert, glue_dir, checkpoints_dir, task)

    # Same batches, same dropout masks in the top: the same losses and the same trained weights.
    losses = [e["loss"] for e in _events(cached.run, "log") if "loss" in e]
    assert len(losses) >= 5
    assert losses == pytest.approx([e["loss"] for e in _events(recomputed.run, "log") if "loss" in e], abs=1e-4)
    a, b = load_trained(cached.run), load_trained(recomputed.run)
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=1e-4, rtol=1e-4, msg=name)
    assert cached.metrics == pytest.approx(recomputed.metrics)


def test_cached_training_changes_only_the_top_and_reloads_exactly(tiny_bert, glue_dir, checkpoints_dir):
    from finetune.core.models import load_classifier, resolve_model
    from finetune.core.tasks import get_task

    result = _run(tiny_bert, glue_dir, checkpoints_dir)
    fresh = load_classifier(resolve_model(str(tiny_bert)), get_task("sst2"))
    trained = dict(result.model.named_parameters())
    changed = {n for n, p in fresh.named_parameters() if not torch.equal(p, trained[n].detach().cpu())}
    assert changed, "nothing trained"
    assert all(n.startswith(("bert.encoder.layer.1.", "bert.pooler.", "classifier.")) for n in changed), changed
    assert not any("embeddings" in n or "layer.0." in n for n in changed)

    # Reloaded: a whole model again (every layer), with exactly the trained weights...
    reloaded = load_trained(result.run)
    assert len(reloaded.bert.encoder.layer) == 2
    reloaded_params = dict(reloaded.named_parameters())
    assert set(reloaded_params) == set(trained)
    for name, param in trained.items():
        assert torch.equal(reloaded_params[name].detach().cpu(), param.detach().cpu()), name

    # ...and the dev metrics reported (computed on cached outputs) are those of the saved model.
    from finetune.core.data import load_glue
    from finetune.core.metrics import classification_metrics
    from finetune.engine.predict import classify, run_tokenizer

    dev = load_glue(get_task("sst2"), glue_dir, max_eval_samples=48)["validation"]
    probs, _ = classify(
        reloaded, run_tokenizer(result.run), get_task("sst2"), dev["sentence"], None, 64, result.run.info["precision"]
    )
    recount = classification_metrics(probs.argmax(-1), dev["label"])
    assert {k: result.metrics[k] for k in recount} == pytest.approx(recount, abs=1e-9)


def test_frozen_part_stays_in_eval_mode_when_training(tiny_bert):
    from finetune.core.methods import get_method
    from finetune.core.models import load_classifier, resolve_model
    from finetune.core.tasks import get_task

    source = resolve_model(str(tiny_bert))
    method = get_method("selective")
    model = method.prepare(load_classifier(source, get_task("sst2")), method.options(top_k=1), source)
    model.train()
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102]])
    model(input_ids=ids)
    assert not model.bert.embeddings.training and not model.bert.encoder.layer[0].training
    assert model.bert.encoder.layer[1].training and model.classifier.training


def test_views_share_the_runs_parameters(tiny_bert):
    from finetune.core.models import load_classifier, resolve_model
    from finetune.core.tasks import get_task

    model = load_classifier(resolve_model(str(tiny_bert)), get_task("sst2"))
    top, bottom = selective.top_view(model, 1), selective.bottom_view(model, 1)
    assert len(top.bert.encoder.layer) == 1 and len(bottom.encoder.layer) == 1
    assert top.bert.encoder.layer[0].output.dense.weight is model.bert.encoder.layer[1].output.dense.weight
    assert top.classifier.weight is model.classifier.weight
    assert bottom.encoder.layer[0].output.dense.weight is model.bert.encoder.layer[0].output.dense.weight
    assert len(model.bert.encoder.layer) == 2  # the run's model keeps all its layers

    # The bottom's output fed through the top gives the whole model's logits.
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 2204, 102, 0, 0, 0]])
    mask = (ids != 0).long()
    model.eval(), top.eval()
    with torch.no_grad():
        hidden = bottom(input_ids=ids, attention_mask=mask).last_hidden_state
        torch.testing.assert_close(
            top(inputs_embeds=hidden, attention_mask=mask).logits, model(input_ids=ids, attention_mask=mask).logits
        )


def test_frozen_layers_run_once_per_example_not_once_per_epoch(tiny_bert, glue_dir, tmp_path):
    from transformers import DataCollatorWithPadding

    from finetune.core.data import load_glue, tokenize
    from finetune.core.methods import get_method
    from finetune.core.models import load_classifier, load_tokenizer
    from finetune.core.tasks import get_task
    from finetune.engine.config import resolve_config, steps_for
    from finetune.engine.train import build_trainer

    task, method = get_task("sst2"), get_method("selective")
    run = RunConfig(task="sst2", method="selective", model=str(tiny_bert), epochs=3, batch_size=16)
    config, source = resolve_config(dataclasses.replace(run, method_options={"top_k": 1}))
    tokenizer = load_tokenizer(source)
    data = load_glue(task, str(glue_dir), max_train_samples=96, max_eval_samples=40, seed=0)
    model = method.prepare(load_classifier(source, task), method.options(top_k=1), source)
    examples_seen = []
    model.bert.encoder.layer[0].register_forward_hook(lambda module, args, out: examples_seen.append(len(out)))

    encoded = tokenize(data, tokenizer, task, 128)
    setup = method.training_setup(model, method.options(top_k=1), encoded, DataCollatorWithPadding(tokenizer))
    trainer = build_trainer(config, setup, tokenizer, tmp_path, steps_for(96, 16, 3))
    trainer.train()  # 3 epochs x 6 steps, with 3 dev evaluations

    assert trainer.state.global_step == 18
    assert sum(examples_seen) == 96 + 40  # each train and dev example through the frozen layer once
