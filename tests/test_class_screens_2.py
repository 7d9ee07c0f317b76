"""In front of the class, second round (#45): a bound that never refuses the default run on a busy spell's
measurement, ZeroGPU's words a visitor can act on."""

from __future__ import annotations

import html

import pytest

from finetune.engine import estimate as estimate_module
from finetune.engine.runner import TrainingRunner
from webui.deployment import Deployment

from .conftest import tiny_config


class Visitor:
    session_hash = "student"


def test_a_busy_spell_never_makes_the_bound_refuse_a_run(tiny_bert, glue_dir, checkpoints_dir, monkeypatch):
    """The runs' correction read 10x on a busy machine, and a measurement taken while other processes had the cores:
    the classroom run is still put in line (its own pace stops it at the lab's limit, resumable)."""
    import gradio as gr

    from webui.train_tab import submit

    monkeypatch.setenv("GLUE_DIR", str(glue_dir))
    monkeypatch.setattr(estimate_module.layer_speed, "disturbed", False)  # measured on a quiet machine, at first
    config = tiny_config(tiny_bert, glue_dir, "sst2", "full", data_dir=None, max_train_samples=6000, epochs=3)
    quiet = estimate_module.estimate(config, corrected=False).seconds
    monkeypatch.setattr(estimate_module.speed_correction, "factor", 10.0)
    assert estimate_module.estimate(config).seconds > 3 * quiet  # what the page says on the busy machine
    runner = TrainingRunner(checkpoints_dir)

    def put_in_line(max_run_s: float) -> None:
        lab = Deployment(public=True, training=True, instructor_token=None, encoders=(str(tiny_bert),),
                         max_run_s=max_run_s)  # fmt: skip
        job = submit(runner, lab, [config], None, Visitor())
        assert runner.snapshot().job_id == job or runner.snapshot().waiting[-1].id == job
        runner.stop("student")
        assert runner.wait(120)

    put_in_line(2 * quiet)  # held to the quiet estimate, not the busy page's: in line
    with pytest.raises(gr.Error, match="this lab allows"):
        put_in_line(quiet / 10)  # a quiet measurement over the bound: refused
    monkeypatch.setattr(estimate_module.layer_speed, "disturbed", True)
    put_in_line(quiet / 10)  # a measurement taken while others had the cores refuses nothing


def test_each_visitor_sees_their_own_runs_fate_not_another_visitors_failure(tiny_bert, glue_dir, checkpoints_dir,
                                                                            tmp_path):  # fmt: skip
    """A's run stops resumable; B's run, after it, fails. The machine's panel shows B's run: A's page says another
    visitor's run failed (not B's reason) and tells A how their own run ended and how to go on; B's page gives B's
    reason. In English and Korean."""
    from webui.language import speaking
    from webui.live_view import line_status, progress_html

    from .conftest import wait_for

    runner = TrainingRunner(checkpoints_dir)
    long = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=2000, epochs=3, evaluations=6)
    runner.submit([long], owner="A")
    wait_for(lambda: any(e["type"] == "eval" for e in runner.snapshot().events))
    broken = tmp_path / "broken-glue"
    (broken / "SST-2").mkdir(parents=True)
    (broken / "SST-2" / "train.tsv").write_text("sentence\tlabel\nok\tnot-a-number\n")
    (broken / "SST-2" / "dev.tsv").write_text("sentence\tlabel\nok\t1\n")
    runner.submit([tiny_config(tiny_bert, glue_dir, data_dir=str(broken))], owner="B")
    runner.stop("A")
    assert runner.wait(120)
    snap = runner.snapshot()
    assert snap.owner == "B" and snap.state == "failed"
    for language, theirs, mine, go_on in (
        ("en", "Another visitor's run of SST-2", "Your last run stopped", "Pick it under Stopped runs"),
        ("ko", "다른 방문자의 학습", "내 마지막 학습이 멈췄습니다", "중지된 학습에서 골라"),
    ):
        with speaking(language):
            panel_a, panel_b = (html.unescape(progress_html(snap, who)) for who in ("A", "B"))
            status_a = line_status(snap, "A", runner.last_outcome("A"))
            status_b = line_status(snap, "B", runner.last_outcome("B"))
        assert theirs in panel_a and "internal error" not in panel_a and "내부 오류" not in panel_a
        assert mine in status_a and go_on in status_a
        assert theirs not in panel_b and status_b == ""  # B's own panel already says why


def test_the_command_line_marks_a_run_at_the_majority_class_as_the_ui_does(tiny_bert, glue_dir, tmp_path, capsys):
    import json

    from finetune.cli import MAJORITY_NOTE, main
    from finetune.core import checkpoints
    from finetune.engine.train import train

    run = train(tiny_config(tiny_bert, glue_dir, "sst2", "lora"), checkpoints_dir=tmp_path).run
    info = json.loads((run.path / "run.json").read_text())
    info["metrics"]["headline"] = info["metrics"]["accuracy"] = info["majority_baseline"]["headline"]
    (run.path / "run.json").write_text(json.dumps(info))  # as a run that learned nothing records itself
    assert checkpoints.list_runs(tmp_path)  # still a good run
    main(["runs", "--checkpoints-dir", str(tmp_path)])
    listed = capsys.readouterr().out
    assert f"{run.run_id}  ! majority class" in listed and MAJORITY_NOTE in listed
    main(["predict", "--task", "sst2", "a fine film", "--checkpoints-dir", str(tmp_path)])
    answered = capsys.readouterr().out
    assert "! majority class" in answered.splitlines()[1] and MAJORITY_NOTE in answered  # LoRA's line


def test_a_selective_run_says_it_is_caching_its_frozen_layers_not_step_0(tiny_bert, glue_dir, tmp_path):
    """The selective method computes its frozen layers' outputs once before its first step (minutes on a CPU): the
    run reports it, and the page and the race's card say what it is doing, in English and Korean."""
    import dataclasses

    from finetune.engine.race import Entry
    from finetune.engine.runner import Snapshot
    from finetune.engine.train import train
    from webui.language import speaking
    from webui.live_view import progress_html
    from webui.phase_words import doing_now
    from webui.race_view import card_text

    events: list[dict] = []
    config = tiny_config(tiny_bert, glue_dir, "sst2", "selective")
    train(config, listeners=[events.append], checkpoints_dir=tmp_path)
    phases = [e for e in events if e["type"] == "phase"]
    assert phases[0]["done"] == 0 and phases[0]["total"] == 96  # the training split's cache, then the dev split's
    assert phases[-1]["done"] == phases[-1]["total"] == 48
    first = events.index(phases[0])
    caching = events[: first + 1]  # the page as it is before the first step
    assert doing_now(caching) is not None and doing_now(events) is None
    snap = Snapshot(state="running", config=dataclasses.replace(config), events=caching)
    with speaking("en"):
        assert "caching the frozen layers' outputs: 0%" in html.unescape(progress_html(snap))
        assert "step 0/1" not in progress_html(snap)
    with speaking("ko"):
        assert "고정된 레이어의 출력을 캐시하는 중" in progress_html(snap)
    entry = Entry("selective", config, 10.0, state="running")
    for event in caching:
        entry.record(event)
    race = Snapshot(state="running", events=[], race=[entry], lanes=None)
    with speaking("en"):
        assert "caching the frozen layers" in card_text(race)


@pytest.mark.slow
def test_a_stopped_runs_status_names_the_step_it_can_resume_from(tiny_bert, glue_dir, checkpoints_dir):
    """ "Cancelled … at step N" names the step the run saved and Stopped runs offers (its last progress report may be a
    step behind it), so that the page says one step for one stop."""
    from webui.live_view import progress_html, stopped_choices

    from .conftest import wait_for

    runner = TrainingRunner(checkpoints_dir)
    runner.submit([tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=4000, evaluations=50)], owner="a")
    wait_for(lambda: any(e["type"] == "eval" for e in runner.snapshot().events), timeout=120)
    assert runner.stop(owner="a") and runner.wait(120)
    snap = runner.snapshot()
    saved = next(e for e in reversed(snap.events) if e["type"] == "end")["resumable_from"]
    assert saved and f"at step {saved:,}" in html.unescape(progress_html(snap, "a"))
    assert f"{saved:,}" in stopped_choices(runner)[0][0]
