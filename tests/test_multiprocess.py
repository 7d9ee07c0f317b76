"""`accelerate launch --cpu --num_processes 2 -m finetune train ...`: two processes train one run together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from finetune.core import checkpoints, resumable
from finetune.core.data import load_glue
from finetune.core.metrics import classification_metrics
from finetune.core.tasks import TASKS
from finetune.engine.events import read_events
from finetune.engine.predict import classify, load_trained, run_tokenizer

from .conftest import REPO

pytestmark = pytest.mark.slow


def test_two_processes_train_one_run_scored_on_the_whole_dev_set(tiny_bert, glue_dir, tmp_path):
    store = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(REPO), "FINETUNE_CHECKPOINTS": str(store), "OMP_NUM_THREADS": "1"}
    launch = [str(Path(sys.executable).parent / "accelerate"), "launch", "--cpu", "--num_processes", "2",
              "--num_machines", "1", "--dynamo_backend", "no"]  # fmt: skip
    train = ["-m", "finetune", "train", "--task", "sst2", "--method", "lora", "--model", str(tiny_bert),
             "--data-dir", str(glue_dir), "--max-train-samples", "96", "--max-eval-samples", "50",
             "--batch-size", "16", "--epochs", "2", "--evaluations", "2", "--max-seq-length", "64",
             "--lora-r", "4", "--json"]  # fmt: skip
    done = subprocess.run([*launch, *train], env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]

    # One run, reported once, saved once; nothing left in staging, nothing to resume.
    record = json.loads(done.stdout)
    [run] = checkpoints.list_runs(store)
    assert run.run_id == record["run_id"] and run.info == record
    assert not list((store / checkpoints.STAGING).iterdir()) and resumable.list_states(store) == []
    # The batch size is per optimizer step: 96 examples, batch 16, 2 epochs = 12 steps, as in one process.
    events = read_events(run.path / checkpoints.EVENTS_FILE)
    assert events[0]["max_steps"] == 12 and [e["type"] for e in events].count("start") == 1
    assert max(e["step"] for e in events if e["type"] == "log") == 12

    # Dev metrics over the whole dev slice (50 examples: not a multiple of 2 processes x 64), as predict sees it.
    dev = load_glue(TASKS["sst2"], glue_dir, max_eval_samples=50)["validation"]
    assert run.info["eval_samples"] == 50
    model, tokenizer = load_trained(run), run_tokenizer(run)
    probs, _ = classify(model, tokenizer, TASKS["sst2"], dev["sentence"], None, 64, run.info["precision"])
    recount = classification_metrics(probs.argmax(-1), dev["label"])
    for name in ("accuracy", "f1", "mcc"):
        assert run.info["metrics"][name] == pytest.approx(recount[name], abs=1e-9)
