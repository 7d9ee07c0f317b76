"""kill -9 in the middle of saving a run leaves the previous run loadable and no half-written run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

from finetune import checkpoints
from finetune.predict import Predictor, load_trained
from finetune.train import train

from .test_train_roundtrip import tiny_config

# The child trains a run and, while saving its weights, announces itself and sleeps so the test
# can kill it mid-save (after some weights were already written into the staging folder).
CHILD = textwrap.dedent(
    """
    import sys, time
    from finetune.methods.selective import SelectiveLayers
    from finetune.train import RunConfig, train
    original = SelectiveLayers.save

    def slow_save(self, model, folder):
        original(self, model, folder)
        print("MIDSAVE", flush=True)
        time.sleep(60)

    SelectiveLayers.save = slow_save
    train(RunConfig(**eval(sys.argv[1])))
    """
)


def test_kill_during_save_keeps_previous_checkpoint(tiny_bert, glue_dir, ckpt_root, tmp_path):
    previous = train(tiny_config(tiny_bert, glue_dir, "sst2", "selective")).run
    config = tiny_config(tiny_bert, glue_dir, "sst2", "selective", seed=7)
    env = {**os.environ, "FINETUNE_CHECKPOINTS": str(ckpt_root), "PYTHONPATH": os.getcwd()}
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
        staged = list((ckpt_root / ".staging").iterdir())
        assert staged and (staged[0] / "model" / "selective_weights.safetensors").is_file()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()

    # Readers see exactly the previous run, and it loads.
    assert [r.run_id for r in checkpoints.list_runs(ckpt_root)] == [previous.run_id]
    assert checkpoints.latest_run("sst2", "selective", ckpt_root).run_id == previous.run_id
    load_trained(previous)
    answers = {r.method: r for r in Predictor(ckpt_root).predict("sst2", "a fine movie")}
    assert answers["selective"].run_id == previous.run_id

    # The dead process's staging folder is swept on the next start; live runs' folders are not.
    removed = checkpoints.sweep_stale_staging(ckpt_root)
    assert len(removed) == 1 and not list((ckpt_root / ".staging").iterdir())


def test_sweep_keeps_staging_of_live_processes(ckpt_root):
    live = checkpoints.staging_dir(ckpt_root, checkpoints.new_run_id())
    assert checkpoints.sweep_stale_staging(ckpt_root) == []
    assert live.is_dir()


def test_unreadable_run_is_skipped_not_fatal(tiny_bert, glue_dir, ckpt_root):
    good = train(tiny_config(tiny_bert, glue_dir, "sst2", "lora")).run
    broken = ckpt_root / "sst2" / "lora" / "99999999-999999-broken"
    broken.mkdir(parents=True)
    (broken / "run.json").write_text("{not json")
    assert [r.run_id for r in checkpoints.list_runs(ckpt_root)] == [good.run_id]
    np.testing.assert_equal(checkpoints.latest_run("sst2", "lora", ckpt_root).run_id, good.run_id)


def test_run_ids_sort_in_creation_order():
    ids = [checkpoints.new_run_id() for _ in range(200)]
    assert ids == sorted(ids) and len(set(ids)) == 200
