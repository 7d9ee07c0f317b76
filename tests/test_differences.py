"""Where the methods differ: every run keeps its dev predictions (atomically, with the run); they recount to
the run's metrics and equal what `predict` says; the comparison's filters list exactly the examples they
name; an older run without them is scored once, to the same predictions; curves line up by examples seen."""

from __future__ import annotations

import numpy as np
import pytest

from finetune.core import dev_predictions
from finetune.core.checkpoints import latest_run
from finetune.core.metrics import classification_metrics
from finetune.core.tasks import TASKS
from finetune.engine.compare import compare, score_run
from finetune.engine.events import run_curves
from finetune.engine.predict import classify, load_trained, run_tokenizer
from finetune.engine.train import train
from webui.differences import examples_frame, matrices_html

from .conftest import tiny_config


@pytest.fixture(scope="module")
def three_runs(tiny_bert, glue_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("differences")
    for method, lr in (("full", 5e-4), ("lora", 5e-3), ("selective", 1e-3)):
        train(tiny_config(tiny_bert, glue_dir, method=method, learning_rate=lr, max_train_samples=160,
                          max_eval_samples=64), checkpoints_dir=root)  # fmt: skip
    return root


def test_a_run_keeps_its_dev_predictions_and_they_agree_with_its_metrics_and_predict(three_runs):
    run = latest_run("sst2", "lora", three_runs)
    stored = dev_predictions.read(run.path)
    assert stored is not None and len(stored.labels) == run.info["eval_samples"] == 64
    recounted = classification_metrics(stored.predicted, stored.labels)
    for name in ("accuracy", "f1", "mcc"):
        assert recounted[name] == pytest.approx(run.info["metrics"][name], abs=1e-9)
    model, tokenizer = load_trained(run).eval(), run_tokenizer(run)
    texts = [t[0] for t in stored.texts]
    probs, _ = classify(model, tokenizer, TASKS["sst2"], texts, None, 64, run.info["precision"])
    assert np.abs(probs - np.array(stored.probabilities)).max() < 2e-3  # 4 decimals, same arithmetic
    assert list(probs.argmax(-1)) == stored.predicted
    assert not list(run.path.glob(".dev_predictions-*"))  # no temporary file left behind


def test_filters_list_exactly_the_examples_they_name(three_runs):
    comparison = compare("sst2", three_runs)
    assert [c.method for c in comparison.columns] == ["full", "lora", "selective"] and not comparison.missing
    full, lora = np.array(comparison.right("full")), np.array(comparison.right("lora"))
    chosen = comparison.rows(right="full", wrong="lora", disagreements=False)
    assert chosen == [int(i) for i in np.flatnonzero(full & ~lora)]
    guesses = np.array([c.predictions.predicted for c in comparison.columns])
    disagree = comparison.rows(disagreements=True)
    assert disagree == [i for i in range(len(comparison.labels)) if len(set(guesses[:, i])) > 1]
    frame = examples_frame(comparison, chosen)
    assert list(frame["#"]) == chosen[: len(frame)]
    assert all(cell.startswith("✓") for cell in frame["Full fine-tuning"])
    assert all(cell.startswith("✗") for cell in frame["LoRA"])
    page = matrices_html(comparison)
    for column in comparison.columns:  # each matrix counts every compared example once
        assert sum(map(sum, column.predictions.confusion(2))) == len(comparison.labels)
        assert f"data-method='{column.method}'" in page


def test_an_older_run_is_scored_once_to_the_same_predictions(three_runs, glue_dir):
    run = latest_run("sst2", "selective", three_runs)
    kept = dev_predictions.read(run.path)
    (run.path / dev_predictions.FILE).unlink()  # as a run trained before predictions were kept
    comparison = compare("sst2", three_runs)
    assert comparison.missing == ["selective"] and [c.method for c in comparison.columns] == ["full", "lora"]
    scored = score_run(run, str(glue_dir))
    assert scored.texts == kept.texts and scored.labels == kept.labels
    assert np.abs(np.array(scored.probabilities) - np.array(kept.probabilities)).max() < 2e-3
    assert "selective" in [c.method for c in compare("sst2", three_runs).columns]


def test_a_damaged_file_is_said_so_and_the_others_still_compare(three_runs):
    run = latest_run("sst2", "full", three_runs)
    path = run.path / dev_predictions.FILE
    saved = path.read_bytes()
    try:
        path.write_text('{"texts": [["a"]], "labels": [1]', encoding="utf-8")
        comparison = compare("sst2", three_runs)
        assert [c.method for c in comparison.columns] == ["lora", "selective"]
        assert comparison.problems == [
            "Full fine-tuning: dev_predictions.json is damaged (JSONDecodeError); score the run again"
        ]
    finally:
        path.write_bytes(saved)


def test_curves_are_drawn_against_training_examples_seen(three_runs):
    run = latest_run("sst2", "full", three_runs)
    points = run_curves(run.path, run.info["config"])
    evals = [p for p in points if p["curve"] == "headline"]
    assert evals and evals[-1]["examples"] == 160  # the last evaluation after 10 steps of 16
    assert evals[-1]["value"] == pytest.approx(run.info["metrics"]["headline"])
    assert all(p["examples"] % 16 == 0 for p in points)


def test_runs_on_other_dev_samples_compare_on_the_examples_they_share(three_runs, tiny_bert, glue_dir, tmp_path):
    import shutil

    root = tmp_path / "store"
    shutil.copytree(three_runs, root)
    train(
        tiny_config(tiny_bert, glue_dir, method="prompt", max_train_samples=32, max_eval_samples=None),
        checkpoints_dir=root,
    )  # fmt: skip -- the whole dev set
    comparison = compare("sst2", root)
    assert [c.method for c in comparison.columns] == ["full", "lora", "prompt", "selective"]
    assert len(comparison.labels) == 64 and comparison.problems[0].endswith("64 examples are common to all of them.")
    prompt = next(c for c in comparison.columns if c.method == "prompt").predictions
    full = next(c for c in comparison.columns if c.method == "full").predictions
    assert prompt.texts == full.texts == comparison.texts and prompt.labels == comparison.labels
