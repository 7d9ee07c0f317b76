"""What a class reads off the screens, from real runs: the runs table (method titles, separators, whole dates, a
mark on a run that learned nothing), the Playground's cards (the bar of the label they say, labels in the
visitor's language, the run behind a toggle, the same mark), and the live view's log of the current run."""

from __future__ import annotations

import re

import pytest

from finetune.core.checkpoints import scan_runs
from finetune.core.metrics import at_majority_baseline
from finetune.engine.predict import Predictor
from finetune.engine.train import train
from webui.common import runs_frame
from webui.language import speaking
from webui.playground_tab import cards_html, error_html
from webui.results_tab import shown_table

from .conftest import tiny_config


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, tiny_bert, glue_dir):
    """Two tiny real runs of SST-2 (full fine-tuning, then LoRA), each saved and reloadable."""
    root = tmp_path_factory.mktemp("class-screens")
    first = train(tiny_config(tiny_bert, glue_dir, method="full", learning_rate=5e-4, max_train_samples=160,
                              max_eval_samples=64), checkpoints_dir=root).run  # fmt: skip
    second = train(tiny_config(tiny_bert, glue_dir, method="lora", max_train_samples=16, max_eval_samples=64),
                   checkpoints_dir=root).run  # fmt: skip
    return root, first, second


def test_a_run_is_marked_when_it_scores_no_better_than_the_majority_class(two_runs):
    _, run, _ = two_runs
    baseline = run.info["majority_baseline"]["headline"]
    scored = {**run.info, "metrics": {**run.info["metrics"]}}
    for headline, marked in ((baseline, True), (baseline - 0.1, True), (baseline + 0.0004, True),
                             (baseline + 0.01, False), (float("nan"), False)):  # fmt: skip
        scored["metrics"]["headline"] = headline
        assert at_majority_baseline(scored) is marked, headline


def test_the_runs_table_reads_as_people_write(two_runs):
    root, full, lora = two_runs
    scan = scan_runs(root)
    table = shown_table(runs_frame(scan.runs), scan.runs)
    assert list(table["Method"]) == ["LoRA", "Full fine-tuning"]  # titles, newest first
    assert list(table["Task"]) == ["SST-2", "SST-2"]
    params = table.set_index("Run")["Trained params"]
    assert params[full.run_id] == f"{full.info['params']['trainable']:,}" and "," in params[full.run_id]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", table["Created"][0])  # the date and time, whole
    assert set(table["Run"]) == {full.run_id, lora.run_id}  # ids whole, never cut
    notes = table.set_index("Run")["Note"]
    for run in (full, lora):
        assert notes[run.run_id] == ("⚠ majority class" if at_majority_baseline(run.info) else "")
    with speaking("ko"):
        korean = shown_table(runs_frame(scan.runs), scan.runs).set_index("학습")["메모"]
    assert {i: korean[i] for i in korean.index} == {
        i: n.replace("majority class", "다수 클래스 수준") for i, n in notes.items()
    }


def test_a_card_measures_the_label_it_says_in_the_visitors_words(two_runs):
    root, full, lora = two_runs
    predictions = Predictor(root).predict("sst2", "a dull , lifeless and boring film")
    by_method = {p.method: p for p in predictions}
    for method in ("full", "lora"):
        said = by_method[method]
        html = cards_html("sst2", [said])
        width = float(re.search(r"class='fill' style='width:([\d.]+)%'", html)[1])
        assert width == pytest.approx(100 * said.probabilities[said.label], abs=0.06) and width >= 50
        assert f"<div class='label'>{said.label}</div>" in html
        assert "<details class='run'>" in html and said.run_id in html.split("<details class='run'>")[1]
    for run in (full, lora):
        said = by_method[run.info["method"]]
        assert said.at_majority == at_majority_baseline(run.info)
        assert ("majority-note" in cards_html("sst2", [said])) == said.at_majority
    with speaking("ko"):
        korean = cards_html("sst2", [by_method["full"]])
    assert re.search(r"<div class='label'>(긍정|부정)</div>", korean) and "자세히" in korean


def test_a_refused_input_shows_its_reason_where_the_cards_were():
    shown = error_html("the text is empty: <b>type</b> something")
    assert "class='input-error'" in shown and "&lt;b&gt;" in shown and "card" not in shown
