"""Where the lab keeps what it makes: the run store, reproduce's results and the Hugging Face cache, on persistent
storage when the machine has some (a Space's /data) and next to the code otherwise."""

from __future__ import annotations

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[2]


def persistent_dir() -> Path | None:
    """Storage that survives restarts, when there is some: Hugging Face Spaces mount paid persistent storage
    at /data ($LAB_PERSISTENT_DIR names another folder, e.g. in tests). None when absent or not writable."""
    folder = Path(os.environ.get("LAB_PERSISTENT_DIR") or "/data")
    return folder if folder.is_dir() and os.access(folder, os.W_OK) else None


def default_checkpoints_dir() -> Path:
    """$FINETUNE_CHECKPOINTS, else <persistent storage>/checkpoints, else ./checkpoints next to the code."""
    if os.environ.get("FINETUNE_CHECKPOINTS"):
        return Path(os.environ["FINETUNE_CHECKPOINTS"])
    persistent = persistent_dir()
    return persistent / "checkpoints" if persistent else _REPO_ROOT / "checkpoints"


def results_dir(checkpoints_dir: Path | None = None) -> Path:
    """Where `reproduce` writes its table (and Results reads it): next to the checkpoints folder."""
    return (checkpoints_dir or default_checkpoints_dir()).parent / "results"


def use_persistent_cache() -> None:
    """Keep downloaded models and datasets on persistent storage too (unless HF_HOME says otherwise), so a
    restarted Space does not download bert-base-uncased and GLUE again. Call before huggingface_hub is
    imported: it reads HF_HOME once, at import."""
    persistent = persistent_dir()
    if persistent is not None and not os.environ.get("HF_HOME"):
        os.environ["HF_HOME"] = str(persistent / "huggingface")
