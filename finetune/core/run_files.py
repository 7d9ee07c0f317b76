"""What a run folder may hold, and how much: checked before anything it describes is allocated.

A run folder arrives from this lab's own training, from a bundle, or from a Hub repository anybody could have
written. Whatever says how big a model is must agree with the weights actually stored, within bounds, before
a model is built from it: a LoRA adapter_config.json that says ``"r": 999999`` would otherwise have peft allocate
gigabytes at the first prediction. Every reader of the store (listing, Results, export, import, pull, loading)
goes through ``checkpoints.read_run``, which asks ``folder_problem`` here.
"""

from __future__ import annotations

import functools
import json
import struct
from pathlib import Path, PurePosixPath
from typing import IO, Any

MAX_HEADER_BYTES = 16 << 20  # a safetensors header: names, dtypes, shapes (a few KB for the lab's runs)
MAX_TENSORS = 4096  # tensors in one weights file: bert-large's classifier has about 400
# The files a run is made of, by name (the model folder's own come from its method's saved_files), and the most
# each may weigh; anything else in a run folder is not written by import and makes a stored run "broken".
RUN_FILES: dict[str, int] = {
    "run.json": 1 << 20,
    "events.jsonl": 32 << 20,
    "dev_predictions.json": 64 << 20,
    "README.md": 1 << 20,
    "model/README.md": 1 << 20,
    "model/config.json": 1 << 20,
    "model/tokenizer/tokenizer.json": 64 << 20,
    "model/tokenizer/tokenizer_config.json": 1 << 20,
    "model/tokenizer/special_tokens_map.json": 1 << 20,
    "model/tokenizer/vocab.txt": 16 << 20,
    "model/tokenizer/chat_template.jinja": 1 << 20,
}
MAX_WEIGHTS_BYTES = 1 << 30  # 1 GiB a weights file: a bert-base full fine-tuning run's are 0.44 GB
MAX_SMALL_JSON_BYTES = 1 << 20  # a method's own json (adapter config, manifest)
MAX_FILES_PER_RUN = len(RUN_FILES) + 8


class RunFileError(ValueError):
    """A run folder's file that is not what a run is made of; the message says which and why, in words."""


def file_limit(relative: str, method_files: tuple[str, ...]) -> int | None:
    """The most a file at `relative` (inside a run folder) may weigh, or None when no run has such a file."""
    if relative in RUN_FILES:
        return RUN_FILES[relative]
    name = relative.removeprefix("model/")
    if relative.startswith("model/") and name in method_files:
        return MAX_WEIGHTS_BYTES if name.endswith(".safetensors") else MAX_SMALL_JSON_BYTES
    return None


def entry_problem(relative: str, size: int, method_files: tuple[str, ...]) -> str | None:
    """Why a file may not be part of a run (its name, its size), or None; `relative` is inside the run folder."""
    limit = file_limit(str(PurePosixPath(relative)), method_files)
    if limit is None:
        return f"{relative!r} is not a file a run is made of"
    if size > limit:
        return f"{relative!r} is {_size(size)}; a run's {PurePosixPath(relative).name} holds at most {_size(limit)}"
    return None


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n:,} bytes"


def safetensors_header(path: Path) -> dict[str, dict]:
    """The tensors a safetensors file declares (name -> dtype, shape, data_offsets), checked against the file: a
    header of sane size, offsets that tile the data exactly to the file's end (a truncated or padded file fails).
    Reads the header only."""
    with path.open("rb") as f:
        return read_safetensors_header(f, path.stat().st_size, path.name)


def read_safetensors_header(stream: IO[bytes], size: int, name: str) -> dict[str, dict]:
    """safetensors_header from an open stream at the file's start (a file, or a zip entry before it is unpacked),
    `size` the file's size, `name` for the messages."""
    raw = stream.read(8)
    if len(raw) < 8:
        raise RunFileError(f"{name} is too short to be safetensors")
    (length,) = struct.unpack("<Q", raw)
    if length > min(MAX_HEADER_BYTES, size - 8):
        raise RunFileError(f"{name} is damaged (its header claims {length:,} bytes)")
    try:
        header = json.loads(stream.read(length))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RunFileError(f"{name} is damaged (unreadable header)") from None
    if not isinstance(header, dict):
        raise RunFileError(f"{name} is damaged (unreadable header)")
    header.pop("__metadata__", None)
    if len(header) > MAX_TENSORS:
        raise RunFileError(f"{name} declares {len(header):,} tensors; a run's weights hold at most {MAX_TENSORS:,}")
    return _tiled(header, length, size, name)


def _tiled(header: dict[str, dict], length: int, size: int, file_name: str) -> dict[str, dict]:
    """`header` when its tensors tile the file's data exactly (else RunFileError)."""
    spans = []
    for name, tensor in header.items():
        try:
            start, end = (int(x) for x in tensor["data_offsets"])
            shape = [int(d) for d in tensor["shape"]]
        except (KeyError, TypeError, ValueError):
            raise RunFileError(f"{file_name} is damaged (tensor {name!r} is not described)") from None
        if start < 0 or end < start or any(d < 0 for d in shape):
            raise RunFileError(f"{file_name} is damaged (tensor {name!r})")
        spans.append((start, end))
    spans.sort()
    position = 0
    for start, end in spans:
        if start != position:
            raise RunFileError(f"{file_name} is damaged (its tensors do not tile the file)")
        position = end
    if 8 + length + position != size:
        raise RunFileError(
            f"{file_name} is damaged: {size:,} bytes where its header describes {8 + length + position:,}"
        )
    return header


def small_json(path: Path) -> Any:
    """A method's own small json file (an adapter config, a manifest), refused in words when large or unreadable."""
    if path.stat().st_size > MAX_SMALL_JSON_BYTES:
        raise RunFileError(
            f"{path.name} is {_size(path.stat().st_size)}; it holds at most {_size(MAX_SMALL_JSON_BYTES)}"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RunFileError(f"{path.name} is not valid JSON") from None


def folder_problem(info: dict, folder: Path) -> str | None:
    """Why a run folder's files cannot serve its run.json (unknown or oversized files, damaged weights, a model
    description that disagrees with its weights or leaves the method's bounds), or None."""
    from .baselines import run_kind

    kind = run_kind(info["method"])
    if kind is None:
        return f"method {info['method']!r} is not part of this lab"
    files = [p for p in folder.rglob("*") if p.is_file()]
    if len(files) > MAX_FILES_PER_RUN:
        return f"it holds {len(files):,} files; a run is made of at most {MAX_FILES_PER_RUN}"
    for path in files:
        if problem := entry_problem(path.relative_to(folder).as_posix(), path.stat().st_size, kind.saved_files):
            return problem
    if not kind.saved_files:
        return None  # a baseline's scores: no model to check
    options = json.dumps(info["config"].get("method_options", {}), sort_keys=True, default=str)
    stamps = tuple(sorted((p.relative_to(folder).as_posix(), p.stat().st_mtime_ns, p.stat().st_size) for p in files))
    return _model_problem(info["method"], str(folder / "model"), options, stamps)


@functools.lru_cache(maxsize=1024)
def _model_problem(method_name: str, model_dir: str, options_json: str, stamps: tuple) -> str | None:
    """The saved model's verdict, remembered while its files and the run's options stay the same: a full model's
    check builds its config on the meta device, and Results lists the store at every refresh. `stamps` (each file's
    name, mtime and size) is only the cache's key."""
    from .methods import METHODS

    method = METHODS[method_name]
    folder = Path(model_dir)
    try:
        weights = {
            name: safetensors_header(folder / name) for name in method.saved_files if name.endswith(".safetensors")
        }
        options = method.options(**json.loads(options_json))
        return method.saved_problem(folder, options, weights)
    except RunFileError as e:
        return str(e)
    except (ValueError, TypeError) as e:  # options out of their bounds (SettingError), or of the wrong shape
        return f"its method options cannot be used ({e})"
