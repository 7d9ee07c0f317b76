"""Files written whole or not at all: a reader, or the lab started again after kill -9, sees the old file or the new
one, never half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text(path: Path, text: str) -> Path:
    """Write (or replace) `path` with `text` (UTF-8) through a temporary file beside it, `.<stem>-….tmp`, which is
    gone whether the write succeeds or fails."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
