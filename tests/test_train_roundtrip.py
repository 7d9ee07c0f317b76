"""Really train (tiny random BERT, small slices of real GLUE), save, reload: identical logits."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from finetune.core import checkpoints
from finetune.core.methods import METHODS
from finetune.core.tasks import TASKS
from finetune.engine.config import ConfigError
from finetune.engine.events import read_events
from finetune.engine.predict import Predictor, classify, load_trained, run_tokenizer, shared_clone
from finetune.engine.train import train

from .conftest import tiny_config


def sample_inputs(tokenizer, task_name):
    task = TASKS[task_name]
    texts = [example[0] for example in task.examples]
    pairs = [example[1] for example in task.examples] if task.is_pair else None
    return texts, pairs


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("task", ["sst2", "mrpc"])
def test_train_save_reload_gives_identical_logits(tiny_bert, glue_dir, checkpoints_dir, task, method):
    events = []
    result = train(tiny_config(tiny_bert, glue_dir, task, method), listeners=[events.append])
    assert result.status == "complete"
    run = result.run
    assert run.path == checkpoints_dir / task / method / run.run_id
    assert (run.path / "run.json").is_file() and not list((checkpoints_dir / ".staging").iterdir())

    # The event stream: start, progress, losses, several evaluations, end.
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and events[-1]["status"] == "complete"
    assert kinds.count("eval") >= 2 and "log" in kinds
    assert read_events(run.path / "events.jsonl") == events  # the JSONL log holds the same events

    # Weights on disk: safetensors only, in the method's compact form.
    files = {p.name for p in run.model_dir.rglob("*") if p.is_file()}
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in files)
    assert any(name.endswith(".safetensors") for name in files)
    expected = {"full": "model.safetensors", "lora": "adapter_model.safetensors",
                "prompt": "adapter_model.safetensors", "selective": "selective_weights.safetensors"}  # fmt: skip
    assert method not in expected or expected[method] in files
    assert run.info["size_bytes"] == sum(
        p.stat().st_size for p in run.model_dir.rglob("*") if p.is_file() and "tokenizer" not in p.parts
    )

    # Reload, privately and through the shared-base predictor: same logits as the trained model.
    tokenizer = run_tokenizer(run)
    texts, pairs = sample_inputs(tokenizer, task)
    trained = result.model.eval()
    precision = run.info["precision"]  # the arithmetic the run was trained and evaluated in
    expected_probs, _ = classify(trained, tokenizer, TASKS[task], texts, pairs, 64, precision)
    reloaded_probs, _ = classify(load_trained(run), tokenizer, TASKS[task], texts, pairs, 64, precision)
    np.testing.assert_allclose(reloaded_probs, expected_probs, atol=1e-6)
    predictor_model, predictor_tokenizer = Predictor(checkpoints_dir).model_for(run)
    shared_probs, _ = classify(predictor_model, predictor_tokenizer, TASKS[task], texts, pairs, 64, precision)
    np.testing.assert_allclose(shared_probs, expected_probs, atol=1e-6)

    # Metrics were computed on real predictions of the dev slice.
    info = run.info
    assert info["eval_samples"] == 48 and info["train_samples"] == 96
    assert (
        0 <= info["metrics"]["accuracy"] <= 1
        and info["metrics"]["headline"] == info["metrics"][TASKS[task].headline_metric]
    )


@pytest.mark.parametrize("average_tail", [0, 0.5])  # 0.5: the saved weights are the mean over the last steps
def test_reported_metrics_match_a_recount_with_the_reloaded_model(tiny_bert, glue_dir, checkpoints_dir, average_tail):
    from finetune.core.data import load_glue
    from finetune.core.metrics import classification_metrics

    result = train(tiny_config(tiny_bert, glue_dir, "sst2", "selective", max_train_samples=200,
                               average_tail=average_tail))  # fmt: skip
    dev = load_glue(TASKS["sst2"], glue_dir, max_eval_samples=48)["validation"]
    model, tokenizer = load_trained(result.run), run_tokenizer(result.run)
    # Predicted as the Playground predicts: in the run's precision (bf16 where the CPU has it).
    probs, _ = classify(model, tokenizer, TASKS["sst2"], dev["sentence"], None, 64, result.run.info["precision"])
    recount = classification_metrics(probs.argmax(-1), dev["label"])
    for name in ("accuracy", "f1", "mcc"):
        assert result.metrics[name] == pytest.approx(recount[name], abs=1e-9)


def test_shared_base_is_never_modified(tiny_bert, glue_dir, checkpoints_dir):
    runs = [train(tiny_config(tiny_bert, glue_dir, "sst2", m)).run for m in ("lora", "prompt", "selective")]
    predictor = Predictor(checkpoints_dir)
    models = [predictor.model_for(run)[0] for run in runs]
    base = predictor._bases[(runs[0].info["model"], "sst2")]
    before = {name: p.clone() for name, p in base.named_parameters()}
    embedding = base.bert.embeddings.word_embeddings.weight
    for model in models:  # each method computes with the base's own embedding tensor: shared, not copied
        shared = [p for p in model.parameters() if p.data_ptr() == embedding.data_ptr()]
        assert shared, "the frozen embeddings should be shared with the base"
    for name, p in base.named_parameters():
        assert torch.equal(p, before[name]), f"loading a method modified the shared base ({name})"
    # and the predictor answers with all three plus "not trained" for full
    answers = {r.method: r for r in predictor.predict("sst2", "a lovely film")}
    assert answers["full"].status == "not_trained"
    assert all(answers[m].status == "ok" for m in ("lora", "prompt", "selective"))
    assert all(abs(sum(answers[m].probabilities.values()) - 1) < 1e-5 for m in ("lora", "prompt", "selective"))


def test_shared_clone_shares_tensors_but_not_modules(tiny_bert):
    from finetune.core.models import load_classifier, resolve_model

    base = load_classifier(resolve_model(str(tiny_bert)), TASKS["sst2"])
    clone = shared_clone(base)
    assert clone is not base and clone.bert.encoder.layer[0] is not base.bert.encoder.layer[0]
    assert (
        clone.bert.encoder.layer[0].attention.self.query.weight
        is base.bert.encoder.layer[0].attention.self.query.weight
    )
    clone.classifier = torch.nn.Linear(2, 2)
    assert base.classifier.in_features == 32


def test_cancel_stops_at_next_step_and_keeps_earlier_runs(tiny_bert, glue_dir, checkpoints_dir):
    earlier = train(tiny_config(tiny_bert, glue_dir, "sst2", "selective")).run
    cancel = threading.Event()
    steps = []

    def cancel_after_first_step(event):
        if event["type"] == "progress":
            steps.append(event["step"])
            cancel.set()

    events = []
    result = train(
        tiny_config(tiny_bert, glue_dir, "sst2", "selective", max_train_samples=400),
        listeners=[cancel_after_first_step, events.append],
        cancel=cancel,
    )
    assert result.status == "cancelled" and result.run is None
    assert events[-1]["status"] == "cancelled" and events[-1]["step"] < 25  # stopped early, not at the end
    assert [r.run_id for r in checkpoints.list_runs(checkpoints_dir)] == [earlier.run_id]
    assert not list((checkpoints_dir / ".staging").iterdir())
    load_trained(earlier)  # still loadable


def test_failed_run_leaves_nothing_behind(tiny_bert, glue_dir, checkpoints_dir):
    def explode(event):
        if event["type"] == "eval":
            raise RuntimeError("disk on fire")

    events = []
    with pytest.raises(RuntimeError, match="disk on fire"):
        train(tiny_config(tiny_bert, glue_dir), listeners=[events.append, explode])
    assert events[-1] == {**events[-1], "type": "end", "status": "failed"}
    assert "disk on fire" in events[-1]["reason"]
    assert checkpoints.list_runs(checkpoints_dir) == []
    assert not list((checkpoints_dir / ".staging").iterdir())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"learning_rate": 0.0}, "Learning rate must be > 0 and at most 1, got 0"),
        ({"learning_rate": float("nan")}, "Learning rate must be a finite number"),
        ({"epochs": -1}, "Epochs must be > 0 and at most 20, got -1"),
        ({"epochs": 1e308}, "Epochs must be > 0 and at most 20"),
        ({"batch_size": 0}, "Batch size must be between 1 and 512, got 0"),
        ({"batch_size": 1e30}, "Batch size must be between 1 and 512, got 1e\\+30"),
        ({"batch_size": 2.5}, "Batch size must be a whole number, got 2.5"),
        ({"seed": 2**40}, "Seed must be between 0 and 4,294,967,295"),
        ({"seed": -1}, "Seed must be between 0"),
        ({"max_train_samples": 10**12}, "Training examples must be between 0 and 1,000,000"),
        ({"max_train_samples": 70_000}, "SST-2 \\(sentiment\\) has 67,349"),
        ({"max_train_samples": 0, "epochs": 20, "batch_size": 1}, "the limit is 100,000"),
        ({"task": "qnli"}, "unknown task 'qnli'"),
        ({"method": "adapter"}, "unknown method 'adapter'"),
        ({"model": "/nonexistent/model"}, "no save_pretrained model folder at /nonexistent/model"),
        ({"model": "/tmp"}, "no save_pretrained model folder at /tmp"),
        ({"max_seq_length": 200}, "exceeds the model's limit 160"),
        ({"max_seq_length": 1000}, "Max sequence length must be between 8 and 512"),
        ({"average_tail": 1}, "Weight averaging must be between 0 and 0.9, got 1"),
        ({"method": "lora", "method_options": {"rank": 3}}, "LoRA has no option 'rank'; its options: r, alpha"),
        ({"method": "lora", "method_options": {"r": 1_000_000}}, "LoRA rank r must be between 1 and 1,024"),
        ({"method": "lora", "method_options": {"r": 64}}, "at most the hidden size 32"),
        ({"method": "lora", "method_options": {"target_modules": "qkv"}}, "'qkv' is not in this encoder"),
        ({"method": "prompt", "method_options": {"num_virtual_tokens": 100}}, "at most 96 fit next to 64-token"),
        ({"method": "selective", "method_options": {"top_k": 3}}, "at most 2 \\(the encoder's layers\\)"),
    ],
)
def test_bad_configs_fail_before_anything_is_written(tiny_bert, glue_dir, checkpoints_dir, overrides, message):
    with pytest.raises(ConfigError, match=message):
        train(tiny_config(tiny_bert, glue_dir, **overrides))
    assert not checkpoints_dir.exists() or not any(checkpoints_dir.rglob("*.json"))


def test_data_dir_without_task_files_is_a_config_error(tiny_bert, tmp_path, checkpoints_dir):
    with pytest.raises(ConfigError, match="not a GLUE directory"):
        train(tiny_config(tiny_bert, tmp_path))


@pytest.fixture(scope="module")
def encoder_weights(tiny_bert) -> dict[str, torch.Tensor]:
    """The tiny encoder's weights as a fresh full fine-tuning run starts from them (the head aside)."""
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(tiny_bert).state_dict()


@pytest.fixture(scope="module")
def plain_full_run(tiny_bert, glue_dir, tmp_path_factory):
    """Full fine-tuning with every option at its default: what the option tests below compare against."""
    return train(tiny_config(tiny_bert, glue_dir, "sst2", "full", learning_rate=1e-3),
                 checkpoints_dir=tmp_path_factory.mktemp("plain-full"))  # fmt: skip


def moved(encoder_weights: dict[str, torch.Tensor], run_model, name: str) -> float:
    """How far a run's weight ended from the encoder's (mean absolute change)."""
    return float((run_model.state_dict()[name].float() - encoder_weights[name].float()).abs().mean())


def test_layer_wise_decay_moves_the_lower_layers_less(tiny_bert, glue_dir, checkpoints_dir, encoder_weights,
                                                      plain_full_run):  # fmt: skip
    """Full fine-tuning with layer_decay 0.5 on the 2-layer tiny BERT: the embeddings learn at 1/8 of the run's
    rate, so they move far less than the same seed moves them without decay, while the head learns alike."""
    plain = plain_full_run
    decayed = train(tiny_config(tiny_bert, glue_dir, "sst2", "full", learning_rate=1e-3,
                                method_options={"layer_decay": 0.5}))  # fmt: skip
    assert decayed.run.info["config"]["method_options"] == {"layer_decay": 0.5, "reinit_top_layers": 0}
    assert "--full-layer-decay 0.5" in (decayed.run.path / "README.md").read_text()  # the model card's command
    embeddings = "bert.embeddings.word_embeddings.weight"
    assert moved(encoder_weights, decayed.model, embeddings) < 0.3 * moved(encoder_weights, plain.model, embeddings)
    head = "classifier.weight"
    assert moved(encoder_weights, decayed.model, head) == pytest.approx(
        moved(encoder_weights, plain.model, head), rel=0.5
    )
    reloaded = load_trained(decayed.run)
    assert torch.equal(reloaded.state_dict()[embeddings], decayed.model.state_dict()[embeddings])


def test_a_top_layer_started_afresh_trains_saves_and_reloads(tiny_bert, glue_dir, checkpoints_dir, encoder_weights,
                                                             plain_full_run):  # fmt: skip
    """reinit_top_layers=1: the run trains its top layer from fresh weights (far from the encoder's, where the layer
    below only moves by training), records the setting, names it in its command, and reloads to the same weights."""
    plain = plain_full_run
    afresh = train(tiny_config(tiny_bert, glue_dir, "sst2", "full", learning_rate=1e-3,
                               method_options={"reinit_top_layers": 1}))  # fmt: skip
    assert afresh.run.info["config"]["method_options"] == {"layer_decay": 1.0, "reinit_top_layers": 1}
    assert "--full-reinit-top-layers 1" in (afresh.run.path / "README.md").read_text()  # the model card's command
    top, below = "bert.encoder.layer.1.output.dense.weight", "bert.encoder.layer.0.output.dense.weight"
    assert moved(encoder_weights, afresh.model, top) > 5 * moved(encoder_weights, plain.model, top)
    # The layer below trains from the encoder's weights.
    assert moved(encoder_weights, afresh.model, below) < 2 * moved(encoder_weights, plain.model, below)
    reloaded = load_trained(afresh.run).state_dict()
    assert all(torch.equal(reloaded[name], tensor) for name, tensor in afresh.model.state_dict().items())


@pytest.mark.parametrize(
    ("method", "options"), [("full", {"layer_decay": 0.5}), ("prompt", {"head_learning_rate": 3e-3})]
)
def test_grouped_learning_rates_step_the_trainers_own_optimizer(tiny_bert, glue_dir, tmp_path, method, options):
    """A method's own learning-rate groups go to the optimizer the Trainer would build (its fused AdamW, betas and
    eps), not a plain AdamW, which steps several times slower over many groups on a CPU; each keeps its rate, and
    biases and norms skip weight decay as the Trainer's own optimizer has them do."""
    from transformers import Trainer

    from finetune.core.methods import get_method
    from finetune.core.methods.base import plain_setup
    from finetune.engine.config import resolve_config
    from finetune.engine.train import build_trainer, prepare, training_arguments

    config, source = resolve_config(tiny_config(tiny_bert, glue_dir, "sst2", method, method_options=options))
    prepared = prepare(config, source)
    setup = plain_setup(prepared.model, prepared.encoded, None)
    trainer = build_trainer(config, setup, prepared.tokenizer, tmp_path, prepared.max_steps)
    expected_class, expected = Trainer.get_optimizer_cls_and_kwargs(training_arguments(config, tmp_path, 10))
    optimizer = trainer.optimizer
    assert type(optimizer) is expected_class and len(optimizer.param_groups) > 1
    assert all(optimizer.defaults[key] == value for key, value in expected.items() if key != "lr")
    grouping = get_method(method)
    method_rates = grouping.learning_rates(prepared.model, grouping.options(**options), config.learning_rate)
    rate = {id(p): g["lr"] for g in method_rates for p in g["params"]}
    stepped = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    assert stepped.keys() == rate.keys()  # every parameter the method grouped, once
    assert all(stepped[key]["lr"] == rate[key] for key in rate) and len(set(rate.values())) > 1
    if method == "full":
        bert, decay = prepared.model.bert, trainer.args.weight_decay
        assert decay > 0 and stepped[id(bert.encoder.layer[0].output.dense.weight)]["weight_decay"] == decay
        assert stepped[id(bert.encoder.layer[0].output.LayerNorm.weight)]["weight_decay"] == 0.0
        assert stepped[id(bert.pooler.dense.bias)]["weight_decay"] == 0.0


def test_predictions_run_on_weights_cast_once_and_match_autocast_exactly(tiny_bert, glue_dir, checkpoints_dir):
    runs = {m: train(tiny_config(tiny_bert, glue_dir, "sst2", m, precision="bf16")).run for m in METHODS}
    predictor = Predictor(checkpoints_dir)
    texts, _ = sample_inputs(None, "sst2")
    bf16_tensors = {}
    for method, run in runs.items():
        model, tokenizer = predictor.model_for(run)
        predicting = predictor.predicting_model(run)
        autocast_probs, _ = classify(model, tokenizer, TASKS["sst2"], texts, None, 64, "bf16")
        cast_probs, _ = classify(predicting, tokenizer, TASKS["sst2"], texts, None, 64, "bf16")
        np.testing.assert_array_equal(cast_probs, autocast_probs)  # the same rounding: bit-identical
        linears = [m for m in predicting.modules() if isinstance(m, torch.nn.Linear)]
        assert linears and all(m.weight.dtype == torch.bfloat16 for m in linears)
        assert all(p.dtype == torch.float32 for p in model.parameters())  # explanations still get fp32 weights
        assert predictor.predicting_model(run) is predicting  # cast once, not per prediction
        held = predictor.held_models(run)  # what the memory benchmark measures: these two, nothing else
        assert [m for m, _ in held] == [model, predicting] and held[0][1] == "fp32"
        bf16_tensors[method] = {p.data_ptr() for p in predicting.parameters() if p.dtype == torch.bfloat16}
        answer = next(a for a in predictor.predict("sst2", texts[0]) if a.method == method)
        expected = dict(zip(TASKS["sst2"].label_names, autocast_probs[0].tolist(), strict=True))
        assert answer.probabilities == pytest.approx(expected, abs=1e-6)
    # The frozen base's weights are cast once and shared by the methods built on it; full casts its own.
    assert bf16_tensors["lora"] & bf16_tensors["prompt"] & bf16_tensors["selective"]
    assert not bf16_tensors["full"] & bf16_tensors["prompt"]


def test_fp32_runs_predict_with_their_own_model(tiny_bert, glue_dir, checkpoints_dir):
    run = train(tiny_config(tiny_bert, glue_dir, "sst2", "lora", precision="fp32")).run
    predictor = Predictor(checkpoints_dir)
    view, model = predictor.predicting_model(run), predictor.model_for(run)[0]
    # Its own weights, no cast: the same tensors, on modules of its own (an explanation hooks the model's, not these).
    assert view is not model and {id(p) for p in view.parameters()} == {id(p) for p in model.parameters()}
    assert all(p.dtype == torch.float32 for p in view.parameters())
