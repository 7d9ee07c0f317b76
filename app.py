"""glue-tune-lab: compare four fine-tuning methods on GLUE, hands-on.

    python app.py            # http://127.0.0.1:7860 (0.0.0.0 on Hugging Face Spaces or when
                             # GRADIO_SERVER_NAME says so)

The UI is three tabs (webui/); training, checkpoints and prediction live in finetune/.
"""

# ruff: noqa: E402  -- the environment is settled before gradio and huggingface_hub are imported (they read it then)
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home, ever

from finetune.core.environment import settle
from finetune.core.storage import default_checkpoints_dir

settle()  # the Hugging Face cache on persistent storage when the Space has some; oneDNN's kernel cache

# ZeroGPU asks for `spaces` before anything that may initialise CUDA (torch): it patches torch in this process and
# forks GPU workers from it. Off ZeroGPU it changes nothing (webui/zerogpu.py).
import spaces  # noqa: F401

# isort: split
import gradio as gr

from finetune.core.hardware import training_hardware
from finetune.core.resumable import find_state, sweep_stale_staging
from finetune.engine.estimate import estimate, measure_classroom_shapes, remeasure_when_idle, speed_correction
from finetune.engine.hub_sync import HubSyncError, pull_runs
from finetune.engine.predict import Predictor
from finetune.engine.runner import SpeedFeedback, TrainingRunner
from finetune.engine.train import saved_settings
from finetune.engine.worker import Launcher, WorkOrder, train_in_worker
from webui import differences, playground_tab, race_view, results_tab, sharing, train_tab, zerogpu
from webui.deployment import Deployment
from webui.language import REPORT_LANGUAGE_JS, remember_language
from webui.locales import I18N, INTRO_KO, t
from webui.visitors import trust_only_the_socket

log = logging.getLogger("glue-tune-lab")

# Requests waiting for a free worker, all endpoints together: beyond this a visitor is told the lab is busy
# instead of waiting minutes (one small machine, one class).
MAX_QUEUE = 64

CSS = """
.run-status .run-label { font-weight: 600; margin-bottom: 6px; }
.run-status .bar, .card .prob { background: #e5e7eb; border-radius: 6px; height: 14px; overflow: hidden; }
.run-status .bar .fill { background: #2563eb; height: 100%; transition: width .5s; }
.run-status.complete .bar .fill { background: #16a34a; }
.run-status.failed .bar .fill, .run-status.cancelled .bar .fill { background: #dc2626; }
.parts { border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 12px; }
.parts .parts-title { font-weight: 600; margin-bottom: 6px; }
.parts .part { display: grid; grid-template-columns: 7em 1fr 13em; gap: 8px; align-items: center; margin: 3px 0; }
.parts .part-name { font-size: .9em; color: #111827; }
.parts .bar { background: #e5e7eb; border-radius: 4px; height: 12px; overflow: hidden; }
.parts .bar .fill { background: #ea580c; height: 100%; }
.parts .part-count { font-size: .85em; color: #374151; text-align: right; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px; }
.card { border: 2px solid #d1d5db; border-radius: 10px; padding: 10px 12px; }
.card.ok { border-color: var(--c); }
.card.disagree { box-shadow: 0 0 0 4px #fca5a5; }
.card h4 { margin: 0 0 6px 0; }
.card .label { font-size: 1.35em; font-weight: 700; margin-bottom: 6px; }
.card .prob .fill { background: var(--c); height: 100%; }
.card .prob-caption, .card .run, .card .note, .card .hint { font-size: .85em; color: #6b7280; margin: 4px 0 0 0; }
.card .dev-score { font-size: .95em; color: #111827; margin: 6px 0 0 0; }
.card .majority-note { font-size: .9em; color: #92400e; background: #fef3c7; border-radius: 6px; padding: 4px 6px;
  margin: 6px 0 0 0; }
.card details.run summary { cursor: pointer; }
.input-error { border: 2px solid #dc2626; background: #fef2f2; color: #991b1b; border-radius: 8px; padding: 10px 12px;
  font-weight: 600; }
#action-status p { font-size: 1.05em; margin: 0; }
.card.missing { opacity: .75; border-style: dashed; }
.matrices { display: grid; grid-template-columns: repeat(auto-fit, minmax(210px, 1fr)); gap: 12px; }
.matrix { border: 2px solid var(--c); border-radius: 10px; padding: 8px 10px; }
.matrix h4 { margin: 0 0 6px 0; }
.matrix table { border-collapse: collapse; width: 100%; }
.matrix th, .matrix td { border: 1px solid #e5e7eb; padding: 4px 6px; text-align: center; font-size: .95em; }
.matrix td { font-weight: 700; color: #111827; }
.matrix p { margin: 6px 0 0 0; font-size: .9em; color: #374151; }
.why { margin-top: 8px; line-height: 1.9; font-size: .95em; color: #111827; }
.why-word { border-radius: 4px; padding: 1px 3px; }
.why-sep { color: #6b7280; margin: 0 4px; }
.why-legend { font-size: .9em; color: #374151; margin-bottom: 8px; }
.why-legend span { border-radius: 4px; padding: 1px 4px; color: #111827; }
.banner { background: #fef3c7; border-radius: 8px; padding: 6px 10px; margin-bottom: 10px; font-weight: 600; }
#visitor-language { display: none !important; }
/* Gradio 6 titles its pop-ups with their kind in English, whatever title a handler gives: Korean pages get theirs. */
html[lang="ko"] .toast-title { font-size: 0 !important; }
html[lang="ko"] .toast-title::before { font-size: var(--text-lg); }
html[lang="ko"] .toast-title.error::before { content: "오류"; }
html[lang="ko"] .toast-title.warning::before { content: "알림"; }
html[lang="ko"] .toast-title.info::before { content: "안내"; }
html[lang="ko"] .toast-title.success::before { content: "완료"; }
/* A projector's 768 rows hold the buttons, the status, a race's table and the curves (tests/test_browser.py). */
#final-metrics table th, #final-metrics table td { padding: 2px 8px; }
#estimate p, #hardware p { margin: 0; }
.live-column { gap: 6px !important; }  /* (empty lines between its parts would each cost a full gap) */
.unknown-note { background: #fee2e2; color: #7f1d1d; border-radius: 8px; padding: 6px 10px; margin-bottom: 10px;
  font-weight: 600; }
""" + race_view.swatch_css()

INTRO = """# glue-tune-lab
How do **full fine-tuning, LoRA, prompt tuning and selective layer tuning** compare? Train them on a GLUE
task, watch loss and dev Accuracy / F1 / MCC live, see how many parameters each one trains, then type
sentences and compare the four side by side."""


def create_app(checkpoints_dir: Path | None = None, deployment: Deployment | None = None) -> gr.Blocks:
    """The lab's Blocks; runs live in `checkpoints_dir` (default: $FINETUNE_CHECKPOINTS, else persistent
    storage, else ./checkpoints); `deployment` (default: from the environment) says who may train."""
    deployment = deployment or Deployment.from_env()
    trust_only_the_socket()  # visitors told apart by what the platform sets, never a header of theirs (visitors.py)
    sweep_stale_staging(checkpoints_dir or default_checkpoints_dir())  # leftovers of a crash or restart
    sharing.sweep_leftovers()  # and of apps killed before they cleaned their temporary folders
    pull_class_runs(checkpoints_dir)
    measure_classroom_shapes()
    # Estimates from the measured machine, corrected by each run's real pace; re-measured when nothing trains.
    speed = SpeedFeedback(lambda: speed_correction.factor, speed_correction.listener, remeasure_when_idle)
    hardware = training_hardware()
    runner = TrainingRunner(checkpoints_dir, estimate=lambda c: estimate(c, corrected=False).seconds, speed=speed,
                            launcher=launcher_for(hardware.kind), hardware=hardware.kind)  # fmt: skip
    predictor = Predictor(checkpoints_dir)
    # Uploaded bundles and made files in Gradio's cache are deleted after an hour (checked every hour).
    with gr.Blocks(title="glue-tune-lab", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(t(INTRO, INTRO_KO))
        # The page's language, reported by REPORT_LANGUAGE_JS: messages computed here follow it (webui/language.py).
        language = gr.Textbox(elem_id="visitor-language", container=False, show_label=False)
        heard = language.change(remember_language, language, None, api_visibility="private", queue=False)
        with gr.Tabs() as tabs:
            with gr.Tab(t("Train"), id="train"):
                runs_saved = train_tab.build(runner, deployment, heard)
            with gr.Tab(t("Results"), id="results") as results_page:
                results = results_tab.build(checkpoints_dir, deployment)
            with gr.Tab(t("Playground"), id="playground"):
                playground = playground_tab.build(predictor)
        send_to_playground(results, playground, tabs)
        # Results follow the runs: on opening the app or the tab, and whenever a run is saved.
        demo.load(results.refresh, results.inputs, results.outputs, api_visibility="private")
        results_page.select(results.refresh, results.inputs, results.outputs, api_visibility="private")
        runs_saved.change(results.refresh, results.inputs, results.outputs, api_visibility="private")
        heard.then(results.refresh, results.inputs, results.outputs, api_visibility="private")

        def leave_the_line(request: gr.Request) -> None:
            """A visitor who closed (or reloaded) their page can no longer follow or stop a job that has not started:
            it leaves the line rather than train for nobody later. A run already training goes on and is saved."""
            runner.withdraw(train_tab.owner_of(request))

        demo.unload(leave_the_line)
    demo.validate_inputs = inputs_checked_in_words(demo.validate_inputs)  # type: ignore[method-assign]
    demo.runner = runner  # for tests and embedding
    launch = demo.launch

    def launch_in_both_languages(*args, **kwargs):
        # Gradio takes the translations, styles and page script at launch only: every launcher (main, tests,
        # embedding) gets them.
        kwargs.setdefault("i18n", I18N)
        kwargs.setdefault("css", CSS)
        kwargs.setdefault("js", REPORT_LANGUAGE_JS)
        return launch(*args, **kwargs)

    demo.launch = launch_in_both_languages  # type: ignore[method-assign]
    return demo


def inputs_checked_in_words(validate: Callable) -> Callable:
    """Gradio's check that a call brought every input, answering a raw API call that left some out in words (Gradio
    itself raises a ValueError, which a visitor reads as {"error": null}, and logs a traceback)."""

    def check(block_fn, inputs) -> None:
        try:
            validate(block_fn, inputs)
        except ValueError:
            name = getattr(block_fn, "api_name", None) or "this call"
            needed = len(getattr(block_fn, "inputs", []) or [])
            said = f"/{name} takes {needed} values and this call sent {len(inputs)}"
            raise gr.Error(said + ": the API page (Use via API, at the foot of the page) lists them",
                           print_exception=False) from None  # fmt: skip

    return check


def launcher_for(kind: str) -> Launcher:
    """How a run is trained: one GPU call each on ZeroGPU (or its stand-in), else a worker process each."""
    if kind != "zerogpu":
        return train_in_worker
    return zerogpu.gpu_launcher(zerogpu.gpu_function(), order_seconds)


def order_seconds(order: WorkOrder) -> float:
    """A run's estimated seconds where it trains; for a stopped run, what is left of it."""
    if order.config is not None:
        return estimate(order.config).seconds
    state = find_state(Path(order.checkpoints_dir or default_checkpoints_dir()), order.resume or "last")
    return estimate(saved_settings(state)).seconds * (1 - state.step / state.max_steps)


def send_to_playground(results: results_tab.ResultsTab, playground: playground_tab.PlaygroundTab, tabs) -> None:
    """A dev example clicked in Results opens in the Playground with the methods' predictions."""
    table = results.differ.table

    def fill(task_name: str, rows, evt: gr.SelectData):
        texts = differences.example_texts(rows.iloc[evt.index[0]], task_name)
        return task_name, texts[0], texts[1] if len(texts) > 1 else "", gr.Tabs(selected="playground")

    table.select(fill, [results.inputs[0], table], [playground.task, playground.text, playground.text_pair, tabs],
                 api_visibility="private").then(playground.show, playground.inputs, playground.output,
                                                api_visibility="private")  # fmt: skip


def pull_class_runs(checkpoints_dir: Path | None) -> None:
    """LAB_RUNS_REPO=user/name: the runs a teacher pushed are pulled at startup (checked like an import), so
    the Playground works on the first visit. A failure is logged; the lab still starts."""
    repo = os.environ.get("LAB_RUNS_REPO", "").strip()
    if not repo:
        return
    try:
        report = pull_runs(repo, checkpoints_dir=checkpoints_dir)
        log.info("pulled %s: %d new run(s), %d already here", repo, len(report.imported), len(report.already_there))
    except HubSyncError as e:
        log.warning("LAB_RUNS_REPO: %s", e)


def server_name() -> str:
    if os.environ.get("GRADIO_SERVER_NAME"):
        return os.environ["GRADIO_SERVER_NAME"]
    return "0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1"  # Spaces set SPACE_ID


def keep_measured(runner: TrainingRunner, every_s: float = 60.0) -> None:
    """Every minute while nothing trains, measure the machine again if its measurement was taken while other processes
    had the cores (a Space started on a busy host) or is old (engine/estimate.remeasure_when_idle)."""

    def loop() -> None:
        while True:
            time.sleep(every_s)
            if not runner.busy:
                try:
                    if remeasure_when_idle():
                        log.info("measured the machine again for the estimates")
                except Exception:  # an estimate is a courtesy: the lab goes on without a new one
                    log.exception("measuring the machine again failed")

    threading.Thread(target=loop, daemon=True, name="measuring").start()


def main() -> None:
    demo = create_app()
    keep_measured(demo.runner)
    demo.queue(default_concurrency_limit=2, max_size=MAX_QUEUE).launch(
        server_name=server_name(), server_port=int(os.environ.get("GRADIO_SERVER_PORT", 7860))
    )


if __name__ == "__main__":
    main()
