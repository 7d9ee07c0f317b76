"""Shared fixtures: the real GLUE files from ../shared/glue, tiny random BERTs, a private checkpoints folder,
a tiny run's config, and a free port for a served app.

Tests that really train for more than a few seconds, drive a browser, spawn processes or run the
benchmark are marked ``slow``: ``make test-fast`` (``pytest -m "not slow"``) leaves them out."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the network
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
GLUE_DIR = Path(os.environ.get("GLUE_DIR") or REPO.parent / "shared" / "glue")


@pytest.fixture(scope="session")
def glue_dir() -> Path:
    if not (GLUE_DIR / "SST-2" / "train.tsv").is_file():
        pytest.fail(f"real GLUE files not found at {GLUE_DIR}: set GLUE_DIR (see README)")
    return GLUE_DIR


def make_tiny_bert(folder: Path, layers: int = 2, hidden: int = 32, heads: int = 2, intermediate: int = 37) -> Path:
    """A random BERT with the packaged encoder's (bert-base-uncased) vocabulary, saved like a user's
    save_pretrained folder."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from finetune.core.models import packaged_model_path

    tokenizer = AutoTokenizer.from_pretrained(packaged_model_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=160,
    )
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def checkpoints_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "checkpoints"
    monkeypatch.setenv("FINETUNE_CHECKPOINTS", str(folder))
    return folder


# Options that keep each method tiny on the tiny BERT.
TINY_OPTIONS = {"full": {}, "lora": {"r": 4}, "prompt": {"num_virtual_tokens": 4}, "selective": {"top_k": 1}}


def tiny_config(tiny_bert, glue_dir, task="sst2", method="full", **overrides):
    """A run that trains in seconds: the tiny BERT on 96 real training examples, scored on 48 dev ones."""
    from finetune.engine.config import RunConfig

    settings = dict(
        task=task,
        method=method,
        model=str(tiny_bert),
        data_dir=str(glue_dir),
        max_train_samples=96,
        max_eval_samples=48,
        epochs=1,
        batch_size=16,
        evaluations=2,
        max_seq_length=64,
        method_options=TINY_OPTIONS.get(method, {}),
    )
    settings.update(overrides)
    return RunConfig(**settings)


def train_sst2_store(root: Path, tiny_bert, glue_dir) -> Path:
    """A full, a LoRA and a prompt-tuning run of SST-2 (tiny, real) in `root`: the store the hardening tests craft
    bundles and broken runs from (each module trains its own, since some of them change it)."""
    from finetune.engine.train import train

    for method in ("full", "lora", "prompt"):
        train(tiny_config(tiny_bert, glue_dir, "sst2", method), checkpoints_dir=root)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout=180.0):
    """`condition()`'s first truthy value, asked every 50 ms; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return value


def never() -> threading.Event:
    """A cancel event nobody sets."""
    return threading.Event()
