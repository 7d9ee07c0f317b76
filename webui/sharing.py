"""Moving runs, in the Results tab: a task's runs as a bundle to download, a bundle to import, a run pushed
to the Hugging Face Hub. Downloading is for everyone; importing (which changes what the whole class sees)
and pushing (with the server's Hub token) are for the instructor (Deployment.check_may_change_store).
Every check is the engine's: the same as ``python -m finetune export / import / push``."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from finetune.core.checkpoints import RunRecord, list_runs, storage_problem
from finetune.core.tasks import TASKS
from finetune.engine.bundle import BundleError, export_runs, import_bundle, newest_runs
from finetune.engine.hub_sync import HubSyncError, push_run

from .common import TASK_CHOICES
from .deployment import Deployment, user_error
from .language import localized, say
from .locales import t

BUNDLE_TTL_S = 15 * 60  # a made bundle stays downloadable this long


@dataclass
class Sharing:
    imported: Any  # the import's event: the Results tab refreshes once it succeeded
    push_run: gr.Dropdown  # which run to push: its choices follow the saved runs


def run_choices(runs: list[RunRecord]) -> list[tuple[str, str]]:
    """(label, run id), newest first: 'sst2 / lora · Accuracy 0.830 · 20261126-…'."""
    return [
        (
            f"{r.task} / {r.method} · {metric_of(r.task)} {r.info['metrics']['headline']:.3f} · {r.run_id}",
            r.run_id,
        )
        for r in sorted(runs, key=lambda r: r.run_id, reverse=True)
    ]


def metric_of(task: str) -> str:
    """The task's headline metric by name; a run of a task this lab no longer knows still gets a label."""
    return TASKS[task].headline_title if task in TASKS else "headline"


def build(checkpoints_dir: Path | None, deployment: Deployment) -> Sharing:
    with gr.Accordion(t("Move runs: download a bundle, import one, push to the Hub"), open=False):
        with gr.Row():
            # Any value reaches the handler, which answers an unknown task in the lab's words (and the visitor's
            # language) rather than Gradio's "not in the list of choices".
            task = gr.Dropdown(
                TASK_CHOICES, value="sst2", label=t("Task to download"), scale=2, allow_custom_value=True
            )
            make = gr.Button(t("Make bundle"), scale=1, elem_id="make-bundle")
            bundle = gr.File(label=t("Bundle (python -m finetune import it elsewhere)"), interactive=False, scale=2,
                             elem_id="bundle-file")  # fmt: skip
        token = gr.Textbox(label=t("Instructor token"), type="password", elem_id="sharing-token",
                           visible=deployment.instructor_token is not None)  # fmt: skip
        with gr.Row():
            upload = gr.File(
                label=t("Bundle to import (.zip made by Make bundle or python -m finetune export)"),
                file_types=[".zip"], type="filepath", scale=3, height=120, elem_id="bundle-upload",
            )  # fmt: skip
            import_btn = gr.Button(t("Import"), scale=1, elem_id="import-btn")
        with gr.Row():
            # Runs saved after the app started are pushed too (the API names them by id; the choices refresh).
            run = gr.Dropdown(run_choices(list_runs(checkpoints_dir)), label=t("Run to push"), scale=3,
                              allow_custom_value=True, elem_id="push-run")  # fmt: skip
            repo = gr.Textbox(label=t("Hub model repository"), placeholder="user/name", scale=2, elem_id="push-repo")
            private = gr.Checkbox(label=t("Private"), value=True, scale=1)
            push_btn = gr.Button(t("Push"), scale=1, elem_id="push-btn")
        status = gr.Markdown(elem_id="sharing-status")

    make.click(bundle_maker(checkpoints_dir), task, bundle, api_name="export_bundle", concurrency_limit=1)
    imported = import_btn.click(runs_importer(checkpoints_dir, deployment), [upload, token], status,
                                api_name="import_bundle", concurrency_limit=1)  # fmt: skip
    push_btn.click(run_pusher(checkpoints_dir, deployment), [run, repo, private, token], status, api_name="push",
                   concurrency_limit=1)  # fmt: skip
    return Sharing(imported=imported, push_run=run)


def bundle_maker(checkpoints_dir: Path | None) -> Callable[[str], str]:
    """Make bundle: a zip of a task's newest runs, in a folder that goes away with the app."""
    bundles = tempfile.TemporaryDirectory(prefix="glue-tune-lab-bundles-")  # kept alive by the handler below
    made: dict[str, tuple[tuple[str, ...], Path]] = {}  # task -> (the runs it holds, the bundle)

    @localized
    def make_bundle(task_name: str) -> str:
        """The newest run of each method of the task, as a zip bundle to download (made again only when those runs
        change: any visitor may ask, and one bundle a task is kept)."""
        if not isinstance(task_name, str) or task_name not in TASKS:
            raise user_error(f"choose a task to download: {', '.join(TASKS)}")
        _forget_old(Path(bundles.name))
        try:
            runs = tuple(r.run_id for r in newest_runs(task_name, None, checkpoints_dir))
        except BundleError as e:
            raise user_error(str(e)) from None
        if task_name in made and made[task_name][0] == runs and made[task_name][1].is_file():
            return str(made[task_name][1])
        if task_name in made:
            shutil.rmtree(made.pop(task_name)[1].parent, ignore_errors=True)
        out = Path(tempfile.mkdtemp(dir=bundles.name)) / f"{task_name}-runs.zip"
        try:
            export_runs(out, task_name, checkpoints_dir=checkpoints_dir)
        except BundleError as e:
            raise user_error(str(e)) from None
        made[task_name] = (runs, out)
        return str(out)

    return make_bundle


def runs_importer(checkpoints_dir: Path | None, deployment: Deployment) -> Callable[[str | None, str | None], str]:
    @localized
    def import_runs(path: str | None, token_value: str | None) -> str:
        """Add the runs of a bundle to the lab (checked whole before anything is written)."""
        deployment.check_may_change_store(token_value)
        if not path:
            raise user_error("Choose a bundle (.zip) to import first.")
        try:
            report = import_bundle(Path(path), checkpoints_dir)
        except BundleError as e:
            raise user_error(say("This bundle was not imported: {reason}. Nothing was changed.", reason=e)) from None
        except OSError as e:  # a full disk or a read-only store, said as such
            if problem := storage_problem(e):
                raise user_error(problem) from None
            raise
        added = ", ".join(report.imported) or say("none")
        return say("**Imported {count} run(s)**: {added}. Already here: {already}.", count=len(report.imported),
                   added=added, already=len(report.already_there))  # fmt: skip

    return import_runs


def run_pusher(checkpoints_dir: Path | None, deployment: Deployment) -> Callable[..., str]:
    @localized
    def push(run_id: str | None, repo_id: str, private_repo: bool, token_value: str | None) -> str:
        """Upload a run folder (model card, weights, settings) as a model repository on the Hub."""
        deployment.check_may_change_store(token_value)
        if not run_id or not (repo_id or "").strip():
            raise user_error("Choose a run and name a Hub repository (user/name) to push to.")
        try:
            url = push_run(run_id, repo_id.strip(), private=bool(private_repo), checkpoints_dir=checkpoints_dir)
        except HubSyncError as e:
            raise user_error(str(e)) from None
        except Exception as e:  # the Hub's own refusals (a name taken, a token without write access)
            raise user_error(say("the Hub refused the push ({error}); check the name and the token",
                                 error=type(e).__name__)) from None  # fmt: skip
        return say("**Pushed** to [{repo}]({url}).", repo=repo_id.strip(), url=url)

    return push


def _forget_old(folder: Path) -> None:
    for made in folder.iterdir():
        if time.time() - made.stat().st_mtime > BUNDLE_TTL_S:
            shutil.rmtree(made, ignore_errors=True)


LEFTOVERS = ("glue-tune-lab-bundles-", "glue-tune-lab-results-", "glue-tune-lab-import-", "glue-tune-lab-pull-",
             "glue-tune-lab-push-")  # fmt: skip


def sweep_leftovers(max_age_s: float = 24 * 3600) -> int:
    """Remove the temporary folders (bundles, CSVs, unpacked imports) that apps killed without cleaning up left in
    the system's temp folder, once they are a day old; returns how many."""
    removed = 0
    for folder in Path(tempfile.gettempdir()).iterdir():
        try:
            old = time.time() - folder.stat().st_mtime > max_age_s
        except OSError:
            continue
        if folder.name.startswith(LEFTOVERS) and folder.is_dir() and old:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed
