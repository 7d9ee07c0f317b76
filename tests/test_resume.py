"""Resume: a run stopped after a dev evaluation goes on where it was and ends as if never stopped."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from finetune.core import checkpoints, resumable
from finetune.core.resumable import ResumeError
from finetune.engine.events import read_events
from finetune.engine.train import TRAINING_REVISION, train

from .conftest import REPO, tiny_config

# 24 steps, a dev evaluation (and a resumable checkpoint) every 8.
LONGER = dict(max_train_samples=192, epochs=2, evaluations=3)


def stop_after_first_evaluation(config, root: Path):
    """Train `config`, asking it to stop as soon as its first dev evaluation is in."""
    cancel = threading.Event()
    events: list[dict] = []

    def listener(event: dict) -> None:
        events.append(event)
        if event["type"] == "eval":
            cancel.set()

    return train(config, listeners=[listener], cancel=cancel, checkpoints_dir=root), events


def weights(run: checkpoints.RunRecord) -> dict:
    return {p.name: load_file(p) for p in sorted((run.path / checkpoints.MODEL_DIR).glob("*.safetensors"))}


def assert_same_weights(ours: checkpoints.RunRecord, theirs: checkpoints.RunRecord) -> None:
    mine, other = weights(ours), weights(theirs)
    assert mine.keys() == other.keys()
    for name in mine:
        for key, tensor in mine[name].items():
            assert tensor.equal(other[name][key]), f"{name}:{key} differs"


@pytest.mark.parametrize(
    ("method", "options"),
    [("full", {}), ("full", {"reinit_top_layers": 1}), ("lora", {}), ("prompt", {}), ("selective", {})],
    ids=["full", "full-top-layer-afresh", "lora", "prompt", "selective"],
)
def test_a_resumed_run_trains_only_the_rest_and_ends_like_an_uninterrupted_one(
    tiny_bert, glue_dir, tmp_path, method, options
):
    # A top layer started afresh is drawn again when the run resumes, then replaced by the saved weights.
    config = tiny_config(tiny_bert, glue_dir, "sst2", method, **LONGER, method_options=options)
    whole = train(config, checkpoints_dir=tmp_path / "whole").run
    assert whole is not None

    root = tmp_path / "stopped"
    stopped, before = stop_after_first_evaluation(config, root)
    assert stopped.status == "cancelled" and stopped.run is None and stopped.resumable_from == 8
    assert before[-1]["type"] == "end" and before[-1]["resumable_from"] == 8
    [state] = resumable.list_states(root)
    assert state.step == 8 and state.max_steps == 24 and checkpoints.list_runs(root) == []

    after: list[dict] = []
    resumed = train(None, listeners=[after.append], checkpoints_dir=root, resume="last").run
    assert resumed is not None and resumed.run_id == state.run_id
    # The earlier events are replayed first, then training goes on from step 9: no step is trained twice.
    marker = next(i for i, e in enumerate(after) if e["type"] == "resume")
    assert after[marker]["step"] == 8
    new_steps = [e["step"] for e in after[marker:] if e["type"] in ("progress", "log")]
    assert new_steps and min(new_steps) > 8 and max(new_steps) == 24
    # Same steps, same optimizer, schedule, data order and random state: the very same weights and metrics.
    assert resumed.info["metrics"] == whole.info["metrics"]
    assert_same_weights(resumed, whole)
    # The saved run carries one story: events up to step 8, the resume, the rest; no state is left over.
    logged = read_events(resumed.path / checkpoints.EVENTS_FILE)
    assert [e["type"] for e in logged].count("start") == 1 and logged[-1]["status"] == "complete"
    assert resumable.list_states(root) == []
    assert not (resumed.path / resumable.TRAINER_DIR).exists() and not (resumed.path / resumable.MARKER).exists()


def test_how_often_the_dev_set_is_scored_does_not_change_what_is_trained(tiny_bert, glue_dir, tmp_path):
    # Watching more often must not train another model: the Train tab scores the dev set three times,
    # `reproduce` once, and both must train the same weights (torch's DataLoader draws each dev pass's base
    # seed from the global random stream that dropout and the next epoch's order use).
    runs = {}
    for evaluations in (1, 3):
        config = tiny_config(tiny_bert, glue_dir, "sst2", "full", **{**LONGER, "evaluations": evaluations})
        runs[evaluations] = train(config, checkpoints_dir=tmp_path / str(evaluations)).run
    assert_same_weights(runs[1], runs[3])
    assert runs[1].info["metrics"] == runs[3].info["metrics"]
    assert runs[3].info["training_revision"] == TRAINING_REVISION


def test_resuming_with_other_settings_is_refused_and_keeps_the_state(tiny_bert, glue_dir, tmp_path):
    config = tiny_config(tiny_bert, glue_dir, **LONGER)
    stop_after_first_evaluation(config, tmp_path)
    run_id = resumable.list_states(tmp_path)[0].run_id
    other = tiny_config(tiny_bert, glue_dir, **LONGER, learning_rate=0.1)
    with pytest.raises(ResumeError, match=r"other settings \(Learning rate 5e-05, not 0.1\)"):
        train(other, checkpoints_dir=tmp_path, resume=run_id)
    assert [s.run_id for s in resumable.list_states(tmp_path)] == [run_id]
    # The same settings spelled out are fine.
    assert train(config, checkpoints_dir=tmp_path, resume=run_id).run.run_id == run_id


def test_changed_training_data_is_refused_and_keeps_the_state(tiny_bert, glue_dir, tmp_path):
    data = tmp_path / "glue"
    shutil.copytree(glue_dir / "SST-2", data / "SST-2")
    config = tiny_config(tiny_bert, glue_dir, **LONGER, data_dir=str(data))
    stop_after_first_evaluation(config, tmp_path / "runs")
    rows = (data / "SST-2" / "train.tsv").read_text(encoding="utf-8").splitlines()
    (data / "SST-2" / "train.tsv").write_text("\n".join(rows[:101]) + "\n", encoding="utf-8")  # 100 examples
    with pytest.raises(ResumeError, match=r"192 examples in 24 steps.*100 examples in 14 steps"):
        train(None, checkpoints_dir=tmp_path / "runs", resume="last")
    assert len(resumable.list_states(tmp_path / "runs")) == 1


@pytest.mark.parametrize("damage", ["optimizer.pt", "model.safetensors", "trainer_state.json", "resume.json"])
def test_a_damaged_state_is_refused_in_words_and_dropped(tiny_bert, glue_dir, tmp_path, damage):
    stop_after_first_evaluation(tiny_config(tiny_bert, glue_dir, "sst2", "full", **LONGER), tmp_path)
    [state] = resumable.list_states(tmp_path)
    target = state.folder / damage if damage == "resume.json" else state.checkpoint / damage
    target.write_bytes(target.read_bytes()[: len(target.read_bytes()) // 2])  # a disk that filled up
    with pytest.raises(ResumeError, match=r"damaged|no stopped run") as refused:
        train(None, checkpoints_dir=tmp_path, resume=state.run_id)
    assert str(tmp_path) not in str(refused.value)  # words, not server paths
    assert resumable.list_states(tmp_path) == [] and checkpoints.list_runs(tmp_path) == []


def test_nothing_to_resume_is_said_plainly(tmp_path):
    with pytest.raises(ResumeError, match="no stopped run to resume"):
        resumable.find_state(tmp_path, "last")
    for which in ("20260101-000000-000000-abcd", "../../etc", ".staging", ""):
        with pytest.raises(ResumeError, match="no stopped run"):
            resumable.find_state(tmp_path, which)


def test_a_run_stopped_before_its_first_evaluation_leaves_nothing(tiny_bert, glue_dir, tmp_path):
    cancel = threading.Event()
    cancel.set()  # stops at the first step, long before a dev evaluation
    result = train(tiny_config(tiny_bert, glue_dir, **LONGER), cancel=cancel, checkpoints_dir=tmp_path)
    assert result.status == "cancelled" and result.resumable_from is None
    assert resumable.list_states(tmp_path) == [] and not list((tmp_path / checkpoints.STAGING).iterdir())


def test_a_dead_process_leaves_a_resumable_state_and_only_so_many_are_kept(tmp_path):
    def dead_staging(n: int) -> Path:
        folder = tmp_path / checkpoints.STAGING / f"run-{n}.owner999999999-1"  # no such process
        (folder / resumable.TRAINER_DIR / "checkpoint-8").mkdir(parents=True)
        (folder / resumable.TRAINER_DIR / "checkpoint-8" / "trainer_state.json").write_text("{}")
        (folder / resumable.TRAINER_DIR / "checkpoint-16").mkdir()  # cut off mid-save: no marker names it
        resumable.mark(folder, f"run-{n}", {"task": "sst2", "method": "full"}, "checkpoint-8", 8, 24)
        return folder

    dead_staging(0)
    resumable.sweep_stale_staging(tmp_path)
    [state] = resumable.list_states(tmp_path)
    assert state.run_id == "run-0" and state.marker["reason"] == "the process training it ended"
    assert sorted(p.name for p in (state.folder / resumable.TRAINER_DIR).iterdir()) == ["checkpoint-8"]
    for n in range(1, resumable.MAX_KEPT + 3):
        dead_staging(n)
        resumable.sweep_stale_staging(tmp_path)
    kept = [s.run_id for s in resumable.list_states(tmp_path)]
    assert len(kept) == resumable.MAX_KEPT and kept[-1] == f"run-{resumable.MAX_KEPT + 2}" and "run-0" not in kept


# -- as a user would: the CLI, Ctrl-C and kill -9 ----------------------------------------------------------
def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "finetune", *args]


def _wait_for_marker(staging_root: Path, after_step: int, child: subprocess.Popen, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for marker in staging_root.glob(f"*/{resumable.MARKER}"):
            try:
                step = json.loads(marker.read_text())["step"]
            except (OSError, ValueError):
                continue
            if step > after_step:
                return step
        assert child.poll() is None, "the run ended before it could be stopped"
        time.sleep(0.02)
    raise AssertionError("no resumable checkpoint appeared")


@pytest.mark.slow
def test_cli_ctrl_c_then_kill_9_then_resume_ends_like_an_uninterrupted_run(tiny_bert, glue_dir, tmp_path):
    flags = ["--task", "sst2", "--method", "lora", "--model", str(tiny_bert), "--data-dir", str(glue_dir),
             "--max-train-samples", "4000", "--batch-size", "4", "--epochs", "1", "--evaluations", "10",
             "--max-eval-samples", "48", "--max-seq-length", "64", "--lora-r", "4", "--seed", "3"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO), "FINETUNE_CHECKPOINTS": str(tmp_path / "runs")}
    staging = tmp_path / "runs" / checkpoints.STAGING

    whole = subprocess.run(_cli("train", *flags, "--json"), env={**env, "FINETUNE_CHECKPOINTS": str(
        tmp_path / "whole")}, capture_output=True, text=True, timeout=600, cwd=tmp_path)  # fmt: skip
    assert whole.returncode == 0, whole.stderr
    expected = json.loads(whole.stdout)

    # Ctrl-C after the first dev evaluation: exit 130, and the command that resumes it.
    # A terminal's Ctrl-C: SIGINT handled as Python does by default (a test runner started in the background
    # passes SIGINT on as ignored, which Python would keep).
    child = subprocess.Popen(_cli("train", *flags), env=env, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    first = _wait_for_marker(staging, 0, child)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130
    [state] = resumable.list_states(tmp_path / "runs")
    assert state.step >= first and f"resume with: python -m finetune train --resume {state.run_id}" in stderr

    # Resumed, then killed with -9 after its next checkpoint: the next start (here `runs`) finds it.
    child = subprocess.Popen(_cli("train", "--resume", "last"), env=env, stderr=subprocess.DEVNULL, cwd=tmp_path)
    killed_at = _wait_for_marker(staging, state.step, child)
    child.kill()
    child.wait(timeout=30)
    listed = subprocess.run(_cli("runs"), env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert f"python -m finetune train --resume {state.run_id}" in listed.stderr
    assert resumable.list_states(tmp_path / "runs")[0].step >= killed_at

    # Other settings are refused (exit 2, one line); the run's own settings finish it.
    refused = subprocess.run(_cli("train", "--resume", "last", "--seed", "4"), env=env, capture_output=True,
                             text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 2 and "other settings (Seed 3, not 4)" in refused.stderr
    done = subprocess.run(_cli("train", "--resume", state.run_id, "--json"), env=env, capture_output=True,
                          text=True, timeout=600, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["run_id"] == state.run_id and record["metrics"] == expected["metrics"]
    events = read_events(tmp_path / "runs" / "sst2" / "lora" / state.run_id / checkpoints.EVENTS_FILE)
    resumes = [e["step"] for e in events if e["type"] == "resume"]
    assert len(resumes) == 1 and resumes[0] >= killed_at  # the kill -9'd part's events up to its checkpoint
    steps = [e["step"] for e in events if e["type"] == "log"]
    assert steps == sorted(steps) and steps[-1] <= 1000  # one story, no step twice


@pytest.mark.parametrize("method", ["full", "prompt"])
def test_a_run_stopped_inside_its_weight_averaging_resumes_to_the_same_average(tiny_bert, glue_dir, tmp_path, method):
    # Averaging over the last 90% of 24 steps starts at step 3: the checkpoint at step 8 holds a mean of 6 steps.
    config = tiny_config(tiny_bert, glue_dir, "sst2", method, **LONGER, average_tail=0.9)
    whole = train(config, checkpoints_dir=tmp_path / "whole").run
    plain = train(tiny_config(tiny_bert, glue_dir, "sst2", method, **LONGER), checkpoints_dir=tmp_path / "plain").run
    assert whole.info["config"]["average_tail"] == 0.9 and plain.info["config"]["average_tail"] == 0.0
    averaged, last_step = weights(whole), weights(plain)  # the averaged run keeps other weights than the last step's
    assert any(not t.equal(last_step[f][k]) for f, ts in averaged.items() for k, t in ts.items())

    root = tmp_path / "stopped"
    stopped, _ = stop_after_first_evaluation(config, root)
    [state] = resumable.list_states(root)
    assert stopped.resumable_from == 8 and (state.checkpoint / "tail_average.safetensors").is_file()
    resumed = train(None, checkpoints_dir=root, resume="last").run
    assert resumed.info["metrics"] == whole.info["metrics"]
    assert_same_weights(resumed, whole)


def test_a_state_whose_weight_average_is_lost_is_refused_in_words(tiny_bert, glue_dir, tmp_path):
    stop_after_first_evaluation(tiny_config(tiny_bert, glue_dir, "sst2", "full", **LONGER, average_tail=0.9), tmp_path)
    [state] = resumable.list_states(tmp_path)
    (state.checkpoint / "tail_average.safetensors").unlink()
    with pytest.raises(ResumeError, match="lacks its weight average") as refused:
        train(None, checkpoints_dir=tmp_path, resume=state.run_id)
    assert str(tmp_path) not in str(refused.value)
    assert resumable.list_states(tmp_path) == []  # a state that cannot give the same weights is dropped


@pytest.mark.parametrize("epoch_stopped", [1, 2])
def test_a_run_stopped_in_a_later_epoch_resumes_with_that_epochs_own_batch_order(tiny_bert, glue_dir, tmp_path,
                                                                                 epoch_stopped):  # fmt: skip
    """The Trainer shuffles an epoch as it begins, before it puts back a checkpoint's random state: without the
    epoch's own state saved beside the checkpoint, a run resumed in its second epoch trained on another order."""
    config = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=64, epochs=3, evaluations=6,
                         learning_rate=1e-3)  # 12 steps, 4 an epoch, a checkpoint every 2  # fmt: skip
    whole = train(config, checkpoints_dir=tmp_path / "whole").run
    cancel = threading.Event()
    stop_at = 4 * epoch_stopped + 2  # inside the epoch, not at its end

    def stop(event: dict) -> None:
        if event["type"] == "eval" and event["step"] >= stop_at:
            cancel.set()

    stopped = train(config, listeners=[stop], cancel=cancel, checkpoints_dir=tmp_path / "stopped")
    assert stopped.status == "cancelled" and stopped.resumable_from == stop_at
    resumed = train(None, checkpoints_dir=tmp_path / "stopped", resume="last").run
    assert resumed.info["metrics"] == whole.info["metrics"]
    assert_same_weights(resumed, whole)


def test_a_run_resumed_at_an_epochs_end_and_stopped_again_in_the_next_epoch_keeps_that_epochs_order(
    tiny_bert, glue_dir, tmp_path
):
    """Resumed at an epoch's last step, the Trainer draws the next epoch's order from the checkpoint's own random
    state; a stop inside that epoch must carry that state on, or the run resumed from it trains on another order
    (found on ZeroGPU, whose calls cut a run anywhere: stopped mid-epoch, at the epoch's end, then inside the next)."""
    config = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=64, epochs=3, evaluations=6,
                         learning_rate=1e-3)  # 12 steps, 4 an epoch, a checkpoint every 2  # fmt: skip
    whole = train(config, checkpoints_dir=tmp_path / "whole").run
    root = tmp_path / "stopped"
    for stop_at in (2, 4, 6):  # inside epoch 1, at its end, inside epoch 2
        cancel = threading.Event()

        def stop(event: dict, at: int = stop_at, cancel: threading.Event = cancel) -> None:
            if event["type"] == "eval" and event["step"] >= at:
                cancel.set()

        stopped = train(None if stop_at > 2 else config, listeners=[stop], cancel=cancel, checkpoints_dir=root,
                        resume="last" if stop_at > 2 else None)  # fmt: skip
        assert stopped.status == "cancelled" and stopped.resumable_from == stop_at
    resumed = train(None, checkpoints_dir=root, resume="last").run
    assert resumed.info["metrics"] == whole.info["metrics"]
    assert_same_weights(resumed, whole)
