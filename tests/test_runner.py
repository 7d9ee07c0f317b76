"""The runner behind the UI: a queue trains one run after another; one at a time; stop drops the rest."""

from __future__ import annotations

import time

import pytest

from finetune.core import checkpoints
from finetune.engine.config import ConfigError, classroom_configs
from finetune.engine.runner import RunnerBusy, TrainingRunner

from .conftest import tiny_config


def test_train_all_four_in_order_then_refuse_nothing(tiny_bert, glue_dir, checkpoints_dir):
    configs = classroom_configs(
        "sst2", model=str(tiny_bert), data_dir=str(glue_dir), max_train_samples=48, max_eval_samples=24,
        batch_size=16, max_seq_length=48, evaluations=1,
    )  # fmt: skip
    runner = TrainingRunner(checkpoints_dir)
    runner.start_queue(configs)
    with pytest.raises(RunnerBusy, match="already in progress"):
        runner.start(configs[0])
    assert runner.wait(300)
    snap = runner.snapshot()
    assert snap.state == "complete" and snap.completed == 4 and snap.queue == []
    runs = checkpoints.list_runs(checkpoints_dir)
    assert [r.method for r in runs] == ["full", "lora", "prompt", "selective"]
    assert snap.last_run["run_id"] == runs[-1].run_id
    assert any("saved run" in line for line in snap.log)


def test_stop_cancels_the_current_run_and_drops_the_queue(tiny_bert, glue_dir, checkpoints_dir):
    runner = TrainingRunner(checkpoints_dir)
    slow = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=2000)
    runner.start_queue([slow, tiny_config(tiny_bert, glue_dir, "sst2", "lora")])
    while not any(e["type"] == "progress" for e in runner.snapshot().events):
        assert runner.busy
        time.sleep(0.05)
    assert runner.stop()
    assert runner.wait(120)
    snap = runner.snapshot()
    assert snap.state == "cancelled" and snap.completed == 0
    assert checkpoints.list_runs(checkpoints_dir) == []
    assert not runner.stop()  # nothing left to stop


def test_a_bad_config_refuses_the_whole_queue(tiny_bert, glue_dir, checkpoints_dir):
    runner = TrainingRunner(checkpoints_dir)
    good = tiny_config(tiny_bert, glue_dir)
    with pytest.raises(ConfigError, match="Learning rate must be > 0"):
        runner.start_queue([good, tiny_config(tiny_bert, glue_dir, learning_rate=-1.0)])
    assert not runner.busy and runner.snapshot().state == "idle"


def test_a_crash_is_reported_and_the_runner_keeps_working(tiny_bert, glue_dir, checkpoints_dir, tmp_path):
    runner = TrainingRunner(checkpoints_dir)
    config = tiny_config(tiny_bert, glue_dir)
    (tmp_path / "SST-2").mkdir()
    (tmp_path / "SST-2" / "train.tsv").write_text("sentence\tlabel\nok\tnot-a-number\n")
    (tmp_path / "SST-2" / "dev.tsv").write_text("sentence\tlabel\nok\t1\n")
    config.data_dir = str(tmp_path)  # passes the cheap checks, fails while reading labels
    runner.start(config)
    runner.wait(120)
    snap = runner.snapshot()
    assert snap.state == "failed" and "ValueError" in snap.reason
    runner.start(tiny_config(tiny_bert, glue_dir))  # the next run is accepted and completes
    runner.wait(120)
    assert runner.snapshot().state == "complete"
