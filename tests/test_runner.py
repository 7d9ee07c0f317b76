"""The runner behind the UI: one run at a time for everyone, a waiting line with owners, stop and withdraw
only for the owner (or with override), a bad config refused, a crash reported in words."""

from __future__ import annotations

import time

import pytest

from finetune.core import checkpoints
from finetune.core.methods import METHODS
from finetune.engine.config import ConfigError, classroom_configs
from finetune.engine.runner import MAX_EVENTS, RunnerBusy, TrainingRunner
from finetune.engine.worker import INTERNAL

from .conftest import tiny_config


def wait_for(condition, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_train_all_in_order(tiny_bert, glue_dir, checkpoints_dir):
    configs = classroom_configs(
        "sst2", model=str(tiny_bert), data_dir=str(glue_dir), max_train_samples=48, max_eval_samples=24,
        batch_size=16, max_seq_length=48, evaluations=1,
    )  # fmt: skip
    runner = TrainingRunner(checkpoints_dir)
    job = runner.submit(configs, owner="teacher")
    assert runner.wait(300)
    snap = runner.snapshot()
    assert snap.state == "complete" and snap.completed == len(METHODS) and snap.queue == []
    runs = checkpoints.list_runs(checkpoints_dir)
    assert [r.method for r in runs] == list(METHODS)
    assert snap.last_run["run_id"] == runs[-1].run_id
    outcome = runner.outcome(job)
    assert outcome.state == "complete" and [r["run_id"] for r in outcome.runs] == [r.run_id for r in runs]
    # The log is the last run's own: its start, its evaluation, its end, saved; nothing of the three before it.
    assert [entry["event"]["type"] for entry in snap.log if "event" in entry] == ["start", "eval", "end"]
    assert snap.log[0]["event"]["method"] == configs[-1].method
    assert [e["values"] for e in snap.log if "message" in e] == [{"run_id": runs[-1].run_id}]


def test_a_second_visitor_waits_in_line_and_only_owners_stop_or_withdraw(tiny_bert, glue_dir, checkpoints_dir):
    runner = TrainingRunner(checkpoints_dir, estimate=lambda config: 30.0)
    slow = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=2000)
    a = runner.submit([slow], owner="alice")
    wait_for(lambda: any(e["type"] == "progress" for e in runner.snapshot().events))
    b = runner.submit([tiny_config(tiny_bert, glue_dir, "sst2", "lora")], owner="bob")
    c = runner.submit([tiny_config(tiny_bert, glue_dir, "sst2", "prompt")], owner="carol")
    snap = runner.snapshot()
    assert snap.owner == "alice" and [j.owner for j in snap.waiting] == ["bob", "carol"]
    bob_place, carol_place = snap.place_of("bob"), snap.place_of("carol")
    assert bob_place[0] == 1 and carol_place == (2, pytest.approx(bob_place[1] + 30.0))
    assert snap.place_of("alice") is None
    # Runs so far went at twice their estimate: the line's waits say so (the running run's own pace stays).
    runner.speed.factor = lambda: 2.0
    slower = runner.snapshot()
    assert slower.place_of("carol")[1] == pytest.approx(slower.place_of("bob")[1] + 60.0)

    assert not runner.stop(owner="bob")  # not bob's run: alice keeps training
    assert runner.snapshot().state == "running" and runner.snapshot().owner == "alice"
    assert runner.withdraw("carol") and not runner.withdraw("carol")
    assert runner.outcome(c).state == "withdrawn"
    assert runner.stop(owner="alice")  # her own run
    wait_for(lambda: runner.outcome(a) is not None)
    assert runner.outcome(a).state == "cancelled"
    assert runner.wait(120)
    assert runner.outcome(b).state == "complete"  # bob's run started after alice's stopped
    assert [r.method for r in checkpoints.list_runs(checkpoints_dir)] == ["lora"]


def test_override_stops_anyones_run(tiny_bert, glue_dir, checkpoints_dir):
    runner = TrainingRunner(checkpoints_dir)
    job = runner.submit([tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=2000)], owner="alice")
    wait_for(lambda: any(e["type"] == "progress" for e in runner.snapshot().events))
    assert runner.stop(owner="instructor", override=True)
    assert runner.wait(120) and runner.outcome(job).state == "cancelled"
    assert checkpoints.list_runs(checkpoints_dir) == []
    assert not runner.stop(owner="alice")  # nothing left to stop


def test_the_line_is_bounded(tiny_bert, glue_dir, checkpoints_dir, monkeypatch):
    from finetune.engine import runner as runner_module

    monkeypatch.setattr(runner_module, "MAX_WAITING", 1)
    runner = TrainingRunner(checkpoints_dir)
    slow = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=2000)
    runner.submit([slow], owner="a")
    wait_for(lambda: runner.snapshot().state == "running")
    runner.submit([slow], owner="b")
    with pytest.raises(RunnerBusy, match="waiting line is full"):
        runner.submit([slow], owner="c")
    runner.withdraw("", override=True)
    runner.stop("", override=True)
    assert runner.wait(120)


def test_a_bad_config_refuses_the_whole_job(tiny_bert, glue_dir, checkpoints_dir):
    runner = TrainingRunner(checkpoints_dir)
    good = tiny_config(tiny_bert, glue_dir)
    with pytest.raises(ConfigError, match="Learning rate must be > 0"):
        runner.submit([good, tiny_config(tiny_bert, glue_dir, learning_rate=-1.0)])
    assert not runner.busy and runner.snapshot().state == "idle"


def test_a_crash_is_reported_in_words_and_the_runner_keeps_working(tiny_bert, glue_dir, checkpoints_dir, tmp_path):
    runner = TrainingRunner(checkpoints_dir)
    config = tiny_config(tiny_bert, glue_dir)
    (tmp_path / "SST-2").mkdir()
    (tmp_path / "SST-2" / "train.tsv").write_text("sentence\tlabel\nok\tnot-a-number\n")
    (tmp_path / "SST-2" / "dev.tsv").write_text("sentence\tlabel\nok\t1\n")
    config.data_dir = str(tmp_path)  # passes the cheap checks, fails while reading labels
    job = runner.submit([config])
    runner.wait(120)
    snap = runner.snapshot()
    assert snap.state == "failed" and snap.reason == INTERNAL  # in words: no exception class, no server path
    assert str(tmp_path) not in snap.reason and runner.outcome(job).state == "failed"
    runner.submit([tiny_config(tiny_bert, glue_dir)])  # the next run is accepted and completes
    runner.wait(120)
    assert runner.snapshot().state == "complete"


def test_the_event_history_stays_bounded(checkpoints_dir):
    runner = TrainingRunner(checkpoints_dir)
    for step in range(3 * MAX_EVENTS):
        runner._on_event({"type": "progress", "step": step, "max_steps": 3 * MAX_EVENTS})
    runner._on_event({"type": "eval", "step": 1, "accuracy": 0.5, "f1": 0.5, "mcc": 0.0})
    events = runner.snapshot().events
    assert len(events) <= MAX_EVENTS + 1 and events[-1]["type"] == "eval"
