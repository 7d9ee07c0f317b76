"""Integration: the packaged encoder (a real 6-layer BERT) trained on slices of the real GLUE files,
every method on every task, metrics recounted from real predictions, and the saved run reloaded."""

from __future__ import annotations

import numpy as np
import pytest

from finetune.core.data import load_glue
from finetune.core.metrics import classification_metrics
from finetune.core.models import PACKAGED_MODEL
from finetune.core.tasks import TASKS
from finetune.engine.config import RunConfig
from finetune.engine.predict import classify, load_trained, run_tokenizer
from finetune.engine.train import train

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("method", ["full", "lora", "prompt", "selective"])
@pytest.mark.parametrize("task", ["sst2", "mrpc", "cola"])
def test_packaged_encoder_trains_reloads_and_scores_every_method_and_task(glue_dir, checkpoints_dir, task, method):
    config = RunConfig(
        task=task, method=method, model=PACKAGED_MODEL, data_dir=str(glue_dir), max_train_samples=48,
        max_eval_samples=40, epochs=1, batch_size=16, evaluations=1, max_seq_length=96,
    )  # fmt: skip
    result = train(config)
    run = result.run
    assert run.info["model"] == PACKAGED_MODEL and run.info["params"]["full_total"] == 22_713_986
    if method != "full":
        assert run.info["params"]["trainable"] < 0.05 * run.info["params"]["full_total"] or method == "selective"
        assert run.info["size_bytes"] < 0.5 * 22_713_986 * 4  # compact: not a whole-model copy

    spec = TASKS[task]
    dev = load_glue(spec, glue_dir, max_eval_samples=40)["validation"]
    texts = list(dev[spec.text_keys[0]])
    pairs = list(dev[spec.text_keys[1]]) if spec.is_pair else None
    tokenizer = run_tokenizer(run)
    reloaded = load_trained(run)
    precision = result.run.info["precision"]
    probs, _ = classify(reloaded, tokenizer, spec, texts, pairs, 96, precision)
    in_memory, _ = classify(result.model.eval(), tokenizer, spec, texts, pairs, 96, precision)
    np.testing.assert_allclose(probs, in_memory, atol=1e-5)  # the saved run is the trained model
    recount = classification_metrics(probs.argmax(-1), dev["label"])
    for name in ("accuracy", "f1", "mcc"):
        assert result.metrics[name] == pytest.approx(recount[name], abs=1e-9)


def test_full_fine_tuning_really_learns_sentiment(glue_dir, checkpoints_dir):
    config = RunConfig(
        task="sst2", method="full", model=PACKAGED_MODEL, data_dir=str(glue_dir), max_train_samples=1000,
        max_eval_samples=200, epochs=2, batch_size=16, learning_rate=5e-5, evaluations=1,
    )  # fmt: skip
    result = train(config)
    majority = result.run.info["majority_baseline"]["accuracy"]
    assert result.metrics["accuracy"] > majority + 0.15, result.metrics  # well above the 0.5 floor

    # Why: removing the word Integrated Gradients ranks first moves the probability of the predicted label
    # more than removing a random word (the attributions point at what the model really uses).
    import random
    import statistics

    from finetune.engine.explain import explain

    model, tokenizer = result.model.eval(), run_tokenizer(result.run)
    dev = load_glue(TASKS["sst2"], glue_dir, max_eval_samples=200)["validation"]
    chooser = random.Random(0)
    top_moves, random_moves = [], []
    for sentence in dev["sentence"][:34]:
        e = explain(model, tokenizer, TASKS["sst2"], sentence, steps=24)
        words = [w.word for w in e.words]
        if len(words) < 4:
            continue

        def probability(kept: list[str], label: int = e.label) -> float:
            probs, _ = classify(model, tokenizer, TASKS["sst2"], [" ".join(kept)], None, 128, "fp32")
            return float(probs[0][label])

        top = max(range(len(words)), key=lambda i: e.words[i].score)
        other = chooser.randrange(len(words))
        whole = probability(words)
        top_moves.append(whole - probability(words[:top] + words[top + 1 :]))
        random_moves.append(whole - probability(words[:other] + words[other + 1 :]))
    assert len(top_moves) >= 28
    assert statistics.mean(top_moves) > statistics.mean(random_moves) + 0.02, (top_moves, random_moves)
