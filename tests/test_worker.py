"""Every run trains in a worker process of its own (engine/worker.py): its events stream to the app's runner, its
run lands in the store, Stop ends it within a step (resumable), and a worker killed with -9 is told in words while
the app goes on predicting; the killed run resumes to the metrics of a run never interrupted."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from finetune.core import checkpoints, resumable
from finetune.engine.predict import Predictor
from finetune.engine.runner import TrainingRunner
from finetune.engine.train import train
from finetune.engine.worker import WorkOrder, WorkOutcome, train_in_worker

from .conftest import never, tiny_config, wait_for

pytestmark = pytest.mark.slow  # starts worker processes


def worker_processes() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "finetune.engine.worker" in " ".join(p.cmdline())]


def test_a_run_trains_in_a_worker_process_streams_its_events_and_lands_in_the_store(tiny_bert, glue_dir,
                                                                                   checkpoints_dir):  # fmt: skip
    events: list[dict] = []
    seen_workers: set[int] = set()

    def on_event(event: dict) -> None:
        events.append(event)
        seen_workers.update(p.pid for p in worker_processes())

    config = tiny_config(tiny_bert, glue_dir, "sst2", "lora")
    outcome = train_in_worker(WorkOrder(config, checkpoints_dir=str(checkpoints_dir)), on_event, never())
    assert isinstance(outcome, WorkOutcome) and outcome.status == "complete"
    assert seen_workers and os.getpid() not in seen_workers  # the events came while a worker process trained
    assert events[0]["type"] == "start" and events[-1]["type"] == "end"
    assert any(e["type"] == "eval" for e in events)
    (run,) = checkpoints.list_runs(checkpoints_dir)
    assert run.run_id == outcome.run["run_id"] == events[0]["run_id"]
    assert run.info["hardware"]["kind"] == "cpu" and run.info["hardware"]["threads"] >= 1
    assert not worker_processes()  # the worker ended with its run


def test_stop_ends_the_workers_run_within_a_step_and_resume_ends_like_a_run_never_stopped(
    tiny_bert, glue_dir, checkpoints_dir, tmp_path
):
    config = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=2000, epochs=3, evaluations=6)
    runner = TrainingRunner(checkpoints_dir)
    runner.submit([config], owner="a")
    wait_for(lambda: any(e["type"] == "eval" for e in runner.snapshot().events))
    asked = time.monotonic()
    assert runner.stop("a")
    assert runner.wait(120)
    stopped_after_s = time.monotonic() - asked
    snap = runner.snapshot()
    assert snap.state == "cancelled" and "it can be resumed from step" in snap.reason
    end = next(e for e in snap.events if e["type"] == "end")
    max_steps = next(e for e in snap.events if e["type"] == "start")["max_steps"]
    assert end["step"] < max_steps and stopped_after_s < 15  # at its next step (then the state is kept), not the end
    (stopped,) = runner.stopped_runs()
    runner.resume(stopped.run_id, owner="a")
    assert runner.wait(300) and runner.snapshot().state == "complete"
    whole = train(config, checkpoints_dir=tmp_path / "whole").run
    assert runner.snapshot().last_run["metrics"] == whole.info["metrics"]


def test_kill_9_of_a_training_worker_is_told_in_words_the_app_keeps_predicting_and_the_run_resumes(
    tiny_bert, glue_dir, checkpoints_dir, tmp_path
):
    train(tiny_config(tiny_bert, glue_dir, "sst2", "lora"), checkpoints_dir=checkpoints_dir)
    predictor = Predictor(checkpoints_dir)

    def answers() -> bool:
        return any(p.method == "lora" and p.status == "ok" for p in predictor.predict("sst2", "a fine film"))

    config = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=2000, epochs=3, evaluations=6)
    runner = TrainingRunner(checkpoints_dir)
    runner.submit([config], owner="a")
    # Killed once its first dev evaluation's state is saved (resume.json marks it, after the checkpoint is written).
    wait_for(lambda: list((checkpoints_dir / checkpoints.STAGING).glob(f"*/{resumable.MARKER}")))
    (worker,) = wait_for(worker_processes)
    os.kill(worker.pid, signal.SIGKILL)
    assert answers()  # the app answers while the run dies
    assert runner.wait(60)
    snap = runner.snapshot()
    assert snap.state == "failed"
    assert snap.reason.startswith("the training process was killed (out of memory, or by the machine)")
    assert "it can be resumed from step" in snap.reason and "Traceback" not in snap.reason
    assert answers()  # and afterwards
    (stopped,) = runner.stopped_runs()
    runner.resume(stopped.run_id, owner="a")
    assert runner.wait(300) and runner.snapshot().state == "complete"
    whole = train(config, checkpoints_dir=tmp_path / "whole").run
    assert runner.snapshot().last_run["metrics"] == whole.info["metrics"]
