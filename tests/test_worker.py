"""Every run trains in a worker process of its own (engine/worker.py): its events stream to the app's runner, its
run lands in the store, Stop ends it within a step (resumable), and a worker killed with -9 is told in words while
the app goes on predicting; the killed run resumes to the metrics of a run never interrupted."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from finetune.core import checkpoints, resumable
from finetune.engine import watchdog
from finetune.engine.predict import Predictor
from finetune.engine.runner import TrainingRunner
from finetune.engine.train import train
from finetune.engine.worker import STALLED, STOP_FORCED, WorkOrder, WorkOutcome, train_in_worker

from .conftest import never, tiny_config, wait_for

pytestmark = pytest.mark.slow  # starts worker processes


def worker_processes() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "finetune.engine.worker" in " ".join(p.cmdline())]


def test_a_run_trains_in_a_worker_process_streams_its_events_and_lands_in_the_store(tiny_bert, glue_dir,
                                                                                   checkpoints_dir):  # fmt: skip
    events: list[dict] = []
    seen_workers: set[int] = set()

    niceness: set[int] = set()

    def on_event(event: dict) -> None:
        events.append(event)
        seen_workers.update(p.pid for p in worker_processes())
        niceness.update(p.nice() for p in worker_processes())

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
    assert niceness == {psutil.Process().nice() + 10}  # it stood back for the app (LAB_WORKER_NICENESS)


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


def stop_worker_after_its_first_saved_state(checkpoints_dir) -> psutil.Process:
    """SIGSTOP the worker once its first dev evaluation's state is saved: as a hung read, a swapped-out process or a
    stuck GPU call stalls it (it then takes no step, answers no Stop, sends no event)."""
    wait_for(lambda: list((checkpoints_dir / checkpoints.STAGING).glob(f"*/{resumable.MARKER}")))
    (worker,) = wait_for(worker_processes)
    os.kill(worker.pid, signal.SIGSTOP)
    return worker


def test_stop_ends_a_stalled_worker_within_seconds_the_line_goes_on_and_the_run_resumes(
    tiny_bert, glue_dir, checkpoints_dir, tmp_path
):
    config = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=2000, epochs=3, evaluations=6)
    runner = TrainingRunner(checkpoints_dir)
    first = runner.submit([config], owner="a")
    worker = stop_worker_after_its_first_saved_state(checkpoints_dir)
    second = runner.submit([tiny_config(tiny_bert, glue_dir, "sst2", "lora")], owner="b")  # the next visitor waits
    asked = time.monotonic()
    assert runner.stop("a")
    wait_for(lambda: runner.snapshot().job_id == second, timeout=60)
    started_after_s = time.monotonic() - asked
    assert started_after_s < watchdog.LIMITS.stop_grace_s + 10  # the grace, then the kill, then the next job
    assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
    ended = runner.outcome(first)
    assert ended is not None and ended.state == "cancelled"
    assert ended.reason is not None and ended.reason.startswith(STOP_FORCED)
    assert "it can be resumed from step" in ended.reason  # what it had saved is kept
    assert runner.wait(120) and runner.outcome(second).state == "complete"
    (stopped,) = runner.stopped_runs()
    runner.resume(stopped.run_id, owner="a")
    assert runner.wait(300) and runner.snapshot().state == "complete"
    whole = train(config, checkpoints_dir=tmp_path / "whole").run
    assert runner.snapshot().last_run["metrics"] == whole.info["metrics"]  # nothing it learned was lost


def test_a_worker_silent_and_idle_far_past_its_own_pace_is_ended_as_stalled_and_stays_resumable(
    tiny_bert, glue_dir, checkpoints_dir, monkeypatch
):
    # The lab's bounds (a minute's silence at least) shortened, so the test waits seconds, not minutes.
    monkeypatch.setattr(watchdog, "LIMITS", watchdog.Limits(min_silence_s=4.0, idle_window_s=2.0))
    config = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=2000, epochs=3, evaluations=6)
    runner = TrainingRunner(checkpoints_dir)
    runner.submit([config], owner="a")
    stop_worker_after_its_first_saved_state(checkpoints_dir)
    assert runner.wait(60)  # nobody pressed Stop
    snap = runner.snapshot()
    assert snap.state == "failed" and snap.reason.startswith(STALLED)
    assert "it can be resumed from step" in snap.reason
    assert len(runner.stopped_runs()) == 1


def test_a_slow_but_busy_phase_is_not_a_stall(monkeypatch):
    """A worker that sends nothing for longer than the bound but keeps a core busy (caching frozen layers, a long
    evaluation) is left alone until four times the bound; the same silence with no CPU used is a stall."""
    monkeypatch.setattr(watchdog, "LIMITS", watchdog.Limits(min_silence_s=1.0, start_silence_s=1.5, idle_window_s=1.0))
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dogs = {name: watchdog.Watchdog(p.pid, threading.Event(), threading.Event(), end=p.kill).start()
                for name, p in (("busy", busy), ("idle", idle))}  # fmt: skip
        assert idle.wait(timeout=15) is not None and dogs["idle"].why == "stall"
        assert busy.poll() is None and dogs["busy"].why is None  # past the bound, but working
        assert busy.wait(timeout=15) is not None and dogs["busy"].why == "stall"  # silent 4x the bound: ended anyway
    finally:
        busy.kill()
        idle.kill()


@pytest.fixture
def small_store(tmp_path):
    """A store on a file system of its own (tmpfs, 256 MB), which a test can fill up."""

    folder = tmp_path / "small-store"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder) -> None:
    """Write into `folder` until its file system is full."""
    with open(folder / "filler", "wb", buffering=0) as filler:
        for block in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    filler.write(b"\0" * block)


def test_a_disk_filling_up_in_a_workers_run_is_told_as_a_full_disk_and_the_run_resumes_once_there_is_room(
    tiny_bert, glue_dir, small_store
):
    config = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=2000, epochs=3, evaluations=6)
    runner = TrainingRunner(small_store)
    runner.submit([config], owner="a")
    wait_for(lambda: list((small_store / checkpoints.STAGING).glob(f"*/{resumable.MARKER}")))
    fill(small_store)
    assert runner.wait(120)
    snap = runner.snapshot()
    assert snap.state == "failed" and snap.reason.startswith(checkpoints.DISK_FULL), snap.reason
    assert "it can be resumed from step" in snap.reason  # its last saved state is kept
    assert "Error" not in snap.reason and str(small_store) not in snap.reason  # no class names, no server paths
    (small_store / "filler").unlink()
    (stopped,) = runner.stopped_runs()
    runner.resume(stopped.run_id, owner="a")
    assert runner.wait(300) and runner.snapshot().state == "complete"
