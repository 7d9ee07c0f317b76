"""Moving runs between machines: a bundle (zip) of run folders, exported and imported; the same checks
guard runs pulled from the Hugging Face Hub.

An import checks everything before anything is written: only the files a run is made of (safetensors,
json, jsonl, the model card, the tokenizer's vocabulary), no absolute or ``..`` paths, no links, sizes
within limits, every ``run.json`` of the right shape and every method's weights present. A bad bundle
is refused in words and leaves the store untouched; a run that is already there is left as it is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..core import checkpoints
from ..core.checkpoints import RunRecord, list_runs
from ..core.run_files import MAX_FILES_PER_RUN, MAX_WEIGHTS_BYTES, RunFileError, entry_problem, read_safetensors_header
from ..core.storage import default_checkpoints_dir
from ..core.tasks import TASKS_FOLDER

ALLOWED_SUFFIXES = {".safetensors", ".json", ".jsonl", ".md", ".txt"}  # what a pull downloads at most
MAX_FILE_BYTES = MAX_WEIGHTS_BYTES  # the largest file a run has: a bert-base full fine-tuning run's weights, 0.44 GB
MAX_TOTAL_BYTES = 4 << 30
MAX_RUNS = 200  # runs in one bundle: a class's runs of a task are a few dozen
_RUN_ID = re.compile(r"^\d{8}-\d{6}-\d{6}-[0-9a-f]{4}$")


class BundleError(ValueError):
    """A bundle (or pulled folder) that cannot be imported; the message says why, in words."""


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)  # task/method/run_id
    already_there: list[str] = field(default_factory=list)


def newest_runs(task: str, methods: list[str] | None, checkpoints_dir: Path | None) -> list[RunRecord]:
    """The newest good run of each method (every method with a run by default) of `task`."""
    from ..core.tasks import TASKS

    if task not in TASKS and (Path(checkpoints_dir or default_checkpoints_dir()) / TASKS_FOLDER / task).is_dir():
        # Another lab would not know the task (its labels, its file): not bundled until a bundle carries it.
        raise BundleError(f"{task} is a task made from a file: its runs cannot be bundled yet (they stay in this lab)")
    chosen = []
    for method in methods or sorted({r.method for r in list_runs(checkpoints_dir, task)}):
        runs = list_runs(checkpoints_dir, task, method)
        if runs:
            chosen.append(runs[-1])
    if not chosen:
        raise BundleError(f"no saved runs of {task} to export")
    return chosen


def server_paths(info: dict) -> dict[str, str]:
    """The server's own paths a run's files may mention, each with what to say instead: a local encoder by its
    folder's name, the packaged encoder by its alias, the data folder as $GLUE_DIR."""
    from ..core.models import PACKAGED_MODEL, packaged_model_path

    paths = {}
    if info.get("model_kind") == "local":
        paths[info["model"]] = checkpoints.display_model(info)
    if packaged := packaged_model_path():
        paths[str(packaged)] = PACKAGED_MODEL
    if data_dir := (info.get("config") or {}).get("data_dir"):
        paths[str(data_dir)] = "$GLUE_DIR"
    return {path: name for path, name in paths.items() if path.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", path)}


def public_files(run: RunRecord) -> Iterator[tuple[str, bytes]]:
    """(path inside the run folder, content) of every file of `run` as it may leave this machine: no server path in
    any text file (run.json names a local encoder by its folder and keeps no data folder; adapter configs and model
    cards name the encoder). Weights go as they are."""
    paths = server_paths(run.info)
    if checkpoints.link_in(run.path) is not None:  # never read through a link (it walks the files too)
        raise BundleError(f"{run.where}: it holds a link; a run is made of plain files")
    for path in sorted(p for p in run.path.rglob("*") if p.is_file()):
        relative = path.relative_to(run.path).as_posix()
        content = path.read_bytes()
        if relative == checkpoints.RUN_FILE:
            info = json.loads(content)
            info["model"] = checkpoints.display_model(info)
            info["config"] = {**info["config"], "data_dir": None, "model": info["model"]}
            content = json.dumps(info, indent=2).encode()
        elif path.suffix in (".json", ".jsonl", ".md"):
            text = content.decode("utf-8", errors="replace")
            for server_path, name in sorted(paths.items(), key=lambda item: -len(item[0])):  # longest first
                text = text.replace(server_path, name)
            content = text.encode("utf-8")
        yield relative, content


def export_runs(
    out: Path, task: str, methods: list[str] | None = None, checkpoints_dir: Path | None = None
) -> list[RunRecord]:
    """Zip the newest good run of each method (all methods by default) of `task` into `out`, without server paths."""
    chosen = newest_runs(task, methods, checkpoints_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for run in chosen:
            for relative, content in public_files(run):
                bundle.writestr(f"{run.where}/{relative}", content)
    return chosen


def export_merged(
    out: Path, task: str, methods: list[str] | None = None, checkpoints_dir: Path | None = None
) -> list[Path]:
    """Each chosen run as a complete `save_pretrained` classifier (safetensors + tokenizer) in its own folder
    under `out`, which plain transformers loads: AutoModelForSequenceClassification.from_pretrained(folder)."""
    from ..core.methods import METHODS, get_method
    from .predict import load_trained, run_tokenizer

    folders = []
    for run in [r for r in newest_runs(task, methods, checkpoints_dir) if r.method in METHODS]:
        try:
            model: Any = get_method(run.method).merged(load_trained(run))  # a transformers PreTrainedModel
        except ValueError as e:
            raise BundleError(f"{run.task}/{run.method}: {e}") from None
        folder = Path(out) / f"{run.task}-{run.method}-{run.run_id}"
        model.save_pretrained(folder, safe_serialization=True)
        run_tokenizer(run).save_pretrained(folder)
        folders.append(folder)
    return folders


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why one entry of a bundle may not be written, or None."""
    name = info.filename
    path = PurePosixPath(name)
    if "\\" in name:
        return f"{name!r} uses backslashes: a bundle's paths use /"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return f"{name!r} is an absolute path"
    if ".." in path.parts:
        return f"{name!r} climbs out of the bundle (..)"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return f"{name!r} is a symbolic link"
    if info.is_dir():
        return None
    if path.suffix not in ALLOWED_SUFFIXES:
        return f"{name!r} is not a file a run is made of (only {', '.join(sorted(ALLOWED_SUFFIXES))})"
    if info.file_size > MAX_FILE_BYTES:
        return f"{name!r} is {info.file_size / 1e9:.2f} GB; a file of a run holds at most {MAX_FILE_BYTES / 1e9:.2f} GB"
    if len(path.parts) < 4:
        return f"{name!r} is not inside a task/method/run-id folder"
    return None


# How a bundle's entries may be packed: what Python's zipfile unpacks, and no more than MAX_PACKING to one. A run's
# weights pack about 1.1 to 1, its JSON files 3 to 10 to 1; a zip bomb thousands to one.
PACKINGS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
MAX_PACKING = 100
PACKING_CHECKED_FROM = 1 << 20  # smaller files may pack as tightly as they like


def _packing_problem(info: zipfile.ZipInfo) -> str | None:
    """Why an entry cannot be unpacked as a run's file: encrypted, packed in a way zipfile cannot unpack, or far
    more tightly than any run's file packs (a zip bomb: it would fill the disk before any other check). None if fine."""
    if info.flag_bits & 0x1:
        return f"{info.filename!r} is encrypted; a bundle's files are not"
    if info.compress_type not in PACKINGS:
        return f"{info.filename!r} is packed in a way this lab cannot unpack (method {info.compress_type})"
    if info.file_size >= PACKING_CHECKED_FROM and info.file_size > MAX_PACKING * max(info.compress_size, 1):
        return (f"{info.filename!r} unpacks to {info.file_size / max(info.compress_size, 1):,.0f} times its packed "
                "size; a run's files pack far less tightly")  # fmt: skip
    return None


def _check_weights_header(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """A weights file's safetensors header read from the zip itself: its tensors must tile the declared size."""
    path = PurePosixPath(member.filename)
    try:
        with archive.open(member) as stream:
            read_safetensors_header(stream, member.file_size, path.name)
    except RunFileError as e:
        raise BundleError(f"{'/'.join(path.parts[:3])}: {e}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError):
        raise BundleError(f"the bundle is damaged ({member.filename!r} cannot be read)") from None


def _check_room(size: int, checkpoints_dir: Path) -> None:
    """Refuse a bundle the temporary folder or the store has no room for (unpacked in one, copied to the other)."""
    for where, folder in (("the temporary folder", Path(tempfile.gettempdir())), ("the store", checkpoints_dir)):
        existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if existing is not None and shutil.disk_usage(existing).free < size:
            raise BundleError(f"there is no room for this bundle in {where} ({size / 1e9:.2f} GB unpacked)")


def _check_layout(entries: list[tuple[str, int]]) -> dict[str, list[str]]:
    """Files (name, size) grouped by run folder (task/method/run_id): each folder name checked, and each file one a
    run of that method is made of, within its size (core/run_files.py), so nothing else is ever written."""
    from ..core.baselines import run_kind
    from ..core.tasks import TASKS

    runs: dict[str, list[str]] = {}
    for name, size in entries:
        task, method, run_id, *rest = PurePosixPath(name).parts
        where = f"{task}/{method}/{run_id}"
        kind = run_kind(method)
        if task not in TASKS or kind is None:
            raise BundleError(f"{where} is not a run of this lab (unknown task or method)")
        if not _RUN_ID.match(run_id):
            raise BundleError(f"{where}: {run_id!r} is not a run id")
        relative = "/".join(rest)
        if problem := entry_problem(relative, size, kind.saved_files):
            raise BundleError(f"{where}: {problem}")
        runs.setdefault(where, []).append(relative)
        if len(runs[where]) > MAX_FILES_PER_RUN:
            raise BundleError(f"{where} holds more than {MAX_FILES_PER_RUN} files; a run is made of fewer")
        if len(runs) > MAX_RUNS:
            raise BundleError(f"the bundle holds more than {MAX_RUNS} runs")
    return runs


def import_bundle(bundle: Path, checkpoints_dir: Path | None = None) -> ImportReport:
    """Check the whole bundle, then add its runs to the store (runs already there are left as they are)."""
    checkpoints_dir = Path(checkpoints_dir or default_checkpoints_dir())
    try:
        archive = zipfile.ZipFile(bundle)
    except (zipfile.BadZipFile, OSError):
        raise BundleError("not a zip bundle (python -m finetune export makes one)") from None
    with archive:
        members = archive.infolist()
        for info in members:
            if problem := _member_problem(info) or _packing_problem(info):
                raise BundleError(problem)
        if duplicate := next((name for name, n in Counter(m.filename for m in members).items() if n > 1), None):
            raise BundleError(f"{duplicate!r} is in the bundle twice; a bundle holds each file once")
        files = [m for m in members if not m.is_dir()]
        if not files:
            raise BundleError("the bundle holds no runs (python -m finetune export makes one)")
        if sum(m.file_size for m in files) > MAX_TOTAL_BYTES:
            raise BundleError(f"the bundle unpacks to more than {MAX_TOTAL_BYTES / 1e9:.0f} GB")
        runs = _check_layout([(m.filename, m.file_size) for m in files])
        for member in files:  # weights described as the run will read them, before a byte is unpacked
            if member.filename.endswith(".safetensors"):
                _check_weights_header(archive, member)
        _check_room(sum(m.file_size for m in files), checkpoints_dir)
        with tempfile.TemporaryDirectory(prefix="glue-tune-lab-import-") as scratch:  # outside the store
            for member in files:  # unpacked with the declared sizes enforced (a zip can lie about them)
                _extract(archive, member, Path(scratch) / member.filename)
            return _add_runs(Path(scratch), list(runs), checkpoints_dir)


def import_folder(folder: Path, checkpoints_dir: Path | None = None) -> ImportReport:
    """Add the runs kept in a plain folder, e.g. a Hub snapshot: one pushed run (run.json at the top), or
    several in the store's own layout (task/method/run_id/...). Checked exactly like a bundle."""
    checkpoints_dir = Path(checkpoints_dir or default_checkpoints_dir())
    folder = Path(folder)
    prefix = ""
    if (folder / checkpoints.RUN_FILE).is_file():  # one run: its place in the store comes from its run.json
        try:
            info = json.loads((folder / checkpoints.RUN_FILE).read_text(encoding="utf-8"))
            prefix = f"{info['task']}/{info['method']}/{info['run_id']}/"
        except (OSError, ValueError, KeyError, TypeError):
            raise BundleError(f"the {checkpoints.RUN_FILE} at the top of the folder is unreadable") from None
    entries = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if relative.startswith(".") or "/." in relative:  # the Hub's own bookkeeping (.gitattributes, .cache)
            continue
        if path.is_symlink():
            raise BundleError(f"{relative!r} is a symbolic link")
        if path.is_file():
            entry = zipfile.ZipInfo(prefix + relative)
            entry.file_size = path.stat().st_size
            if problem := _member_problem(entry):
                raise BundleError(problem)
            entries.append((entry, path))
    if not entries:
        raise BundleError("the folder holds no runs")
    if sum(entry.file_size for entry, _ in entries) > MAX_TOTAL_BYTES:
        raise BundleError(f"the folder holds more than {MAX_TOTAL_BYTES / 1e9:.0f} GB")
    runs = _check_layout([(entry.filename, entry.file_size) for entry, _ in entries])
    with tempfile.TemporaryDirectory(prefix="glue-tune-lab-pull-") as scratch:  # outside the store
        for entry, path in entries:
            target = Path(scratch) / entry.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        return _add_runs(Path(scratch), list(runs), checkpoints_dir)


def _extract(archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with archive.open(member) as source, target.open("wb") as sink:
            while chunk := source.read(1 << 20):
                written += len(chunk)
                if written > member.file_size:
                    raise BundleError(f"{member.filename!r} unpacks to more than it declares")
                sink.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError):
        raise BundleError(f"the bundle is damaged ({member.filename!r} does not unpack to what it was)") from None


def _add_runs(scratch: Path, wheres: list[str], checkpoints_dir: Path) -> ImportReport:
    """Every run checked as the store reads it; then each new one copied into the store's staging area (same
    filesystem) and renamed into place, so a reader never sees half a run."""
    report = ImportReport()
    for where in wheres:
        try:
            checkpoints.read_run(scratch / where)
        except checkpoints.CheckpointError as e:
            raise BundleError(f"{where}: {e}") from None
    for where in wheres:
        final = checkpoints_dir / where
        if final.exists():
            report.already_there.append(where)
            continue
        staged = checkpoints.staging_dir(checkpoints_dir, where.rsplit("/", 1)[-1])
        shutil.copytree(scratch / where, staged, dirs_exist_ok=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, final)
        report.imported.append(where)
    return report
