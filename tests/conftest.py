"""Shared fixtures: the real GLUE files from ../shared/glue, tiny random BERTs, a private checkpoints folder."""

from __future__ import annotations

import os
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

    from finetune.models import packaged_model_path

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
def ckpt_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "checkpoints"
    monkeypatch.setenv("FINETUNE_CHECKPOINTS", str(root))
    return root
