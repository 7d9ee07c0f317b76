"""Sharing runs on the Hugging Face Hub: push a run folder as a model repository, pull runs back into the
store through the same checks as an imported bundle. Offline or without a token, both fail within
seconds with a message naming the offline way (export / import)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..core.checkpoints import RunRecord, list_runs
from ..core.hub import hub_reachable
from ..core.storage import default_checkpoints_dir
from .bundle import ALLOWED_SUFFIXES, BundleError, ImportReport, import_folder, public_files

OFFLINE_HINT = "offline, move runs with `python -m finetune export` and `python -m finetune import`"


class HubSyncError(ValueError):
    """A push or pull that cannot happen here; the message says why and what to do instead."""


def find_run(run_id: str, checkpoints_dir: Path | None = None) -> RunRecord:
    """A saved run by id ("last": the newest run of any task and method)."""
    runs = list_runs(checkpoints_dir)
    if run_id == "last" and runs:
        return max(runs, key=lambda r: r.run_id)
    for run in runs:
        if run.run_id == run_id:
            return run
    raise HubSyncError(f"no saved run {run_id!r} (python -m finetune runs lists them)")


def upload_files(run: RunRecord) -> list[str]:
    """Exactly the files a push uploads: the run folder's own files (model card at the top), nothing else."""
    return sorted(
        p.relative_to(run.path).as_posix() for p in run.path.rglob("*") if p.is_file() and p.suffix in ALLOWED_SUFFIXES
    )


def _token(token: str | None) -> str | None:
    from huggingface_hub import get_token

    return token or os.environ.get("HF_TOKEN") or get_token()


def push_run(run_id: str, repo: str, private: bool = False, token: str | None = None,
             checkpoints_dir: Path | None = None) -> str:  # fmt: skip
    """Upload a run folder as the model repository `repo` (created if needed); returns its URL."""
    run = find_run(run_id, checkpoints_dir)
    if not hub_reachable():
        raise HubSyncError(f"cannot push: the Hugging Face Hub is unreachable; {OFFLINE_HINT}")
    token = _token(token)
    if not token:
        raise HubSyncError("cannot push: no Hugging Face token (set HF_TOKEN, or run `hf auth login`)")
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    url = api.create_repo(repo, private=private, exist_ok=True, repo_type="model")
    with tempfile.TemporaryDirectory(prefix="glue-tune-lab-push-") as scratch:  # the run as it may leave here
        for relative, content in public_files(run):
            if relative in upload_files(run):
                (Path(scratch) / relative).parent.mkdir(parents=True, exist_ok=True)
                (Path(scratch) / relative).write_bytes(content)
        api.upload_folder(folder_path=scratch, repo_id=repo, commit_message=f"glue-tune-lab run {run.where}")
    return str(url)


def pull_runs(repo: str, token: str | None = None, checkpoints_dir: Path | None = None) -> ImportReport:
    """Download runs from a model repository — one pushed run, or several in the store's layout
    (task/method/run_id/...) — into the store, checked like an import."""
    if not hub_reachable():
        raise HubSyncError(f"cannot pull {repo}: the Hugging Face Hub is unreachable; {OFFLINE_HINT}")
    from huggingface_hub import snapshot_download

    folder = snapshot_download(repo, repo_type="model", token=_token(token),
                               allow_patterns=[f"*{suffix}" for suffix in ALLOWED_SUFFIXES])  # fmt: skip
    try:
        return import_folder(Path(folder), checkpoints_dir or default_checkpoints_dir())
    except BundleError as e:
        raise HubSyncError(f"{repo}: {e}") from None
