"""kill -9 in the middle of saving a run leaves the previous run loadable and no half-written run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from finetune.core import checkpoints, resumable
from finetune.engine.predict import Predictor, load_trained
from finetune.engine.train import train

from .conftest import tiny_config

pytestmark = pytest.mark.slow

# The child trains a run and, while saving its weights, announces itself and sleeps so the test
# can kill it mid-save (after some weights were already written into the staging folder).
CHILD = textwrap.dedent(
    """
    import sys, time
    from finetune.core.methods.selective import SelectiveLayers
    from finetune.engine.config import RunConfig
    from finetune.engine.train import train
    original = SelectiveLayers.save

    def slow_save(self, model, folder):
        original(self, model, folder)
        print("MIDSAVE", flush=True)
        time.sleep(60)

    SelectiveLayers.save = slow_save
    train(RunConfig(**eval(sys.argv[1])))
    """
)


def test_kill_during_save_keeps_previous_checkpoint(tiny_bert, glue_dir, checkpoints_dir, tmp_path):
    previous = train(tiny_config(tiny_bert, glue_dir, "sst2", "selective")).run
    config = tiny_config(tiny_bert, glue_dir, "sst2", "selective", seed=7)
    env = {**os.environ, "FINETUNE_CHECKPOINTS": str(checkpoints_dir), "PYTHONPATH": os.getcwd()}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, repr(config.__dict__)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        deadline = time.monotonic() + 240
        line = ""
        while "MIDSAVE" not in line and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line and child.poll() is not None:
                break
        assert "MIDSAVE" in line, "the child never reached the save"
        staged = list((checkpoints_dir / ".staging").iterdir())
        assert staged and (staged[0] / "model" / "selective_weights.safetensors").is_file()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()

    # Readers see exactly the previous run, and it loads.
    assert [r.run_id for r in checkpoints.list_runs(checkpoints_dir)] == [previous.run_id]
    assert checkpoints.latest_run("sst2", "selective", checkpoints_dir).run_id == previous.run_id
    load_trained(previous)
    answers = {r.method: r for r in Predictor(checkpoints_dir).predict("sst2", "a fine movie")}
    assert answers["selective"].run_id == previous.run_id

    # The dead process's staging folder is swept on the next start; live runs' folders are not.
    removed = resumable.sweep_stale_staging(checkpoints_dir)
    assert len(removed) == 1 and not list((checkpoints_dir / ".staging").iterdir())


def test_sweep_keeps_staging_of_live_processes(checkpoints_dir):
    live = checkpoints.staging_dir(checkpoints_dir, checkpoints.new_run_id())
    assert resumable.sweep_stale_staging(checkpoints_dir) == []
    assert live.is_dir()


def test_unreadable_run_is_skipped_not_fatal(tiny_bert, glue_dir, checkpoints_dir):
    good = train(tiny_config(tiny_bert, glue_dir, "sst2", "lora")).run
    broken = checkpoints_dir / "sst2" / "lora" / "99999999-999999-broken"
    broken.mkdir(parents=True)
    (broken / "run.json").write_text("{not json")
    assert [r.run_id for r in checkpoints.list_runs(checkpoints_dir)] == [good.run_id]
    np.testing.assert_equal(checkpoints.latest_run("sst2", "lora", checkpoints_dir).run_id, good.run_id)


def test_run_ids_sort_in_creation_order():
    ids = [checkpoints.new_run_id() for _ in range(200)]
    assert ids == sorted(ids) and len(set(ids)) == 200
