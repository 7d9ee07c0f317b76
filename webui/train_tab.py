"""Train tab: pick a task, method and hyperparameters; start, stop, and watch the run live.

All training happens in finetune.runner.TrainingRunner; this tab only starts it and draws its
snapshot once a second (a gr.Timer), so a page reload or a second viewer sees the same run.
"""

from __future__ import annotations

import html
import inspect
import os
import time
from collections.abc import Iterator

import gradio as gr
import pandas as pd

from finetune.cli import cli_command
from finetune.methods import METHODS
from finetune.models import default_model_name
from finetune.runner import RunnerBusy, Snapshot, TrainingRunner
from finetune.train import ALL, ConfigError, RunConfig, classroom_configs, classroom_defaults

from .common import METHOD_CHOICES, TASK_CHOICES, format_count, number


def config_from_inputs(
    task: str,
    method: str,
    model: str | None = None,
    data_dir: str | None = None,
    epochs: float | None = None,
    learning_rate: float | None = None,
    batch_size: int | None = None,
    train_samples: int | None = None,
    seed: int | None = 42,
    lora_r: int | None = None,
    lora_alpha: float | None = None,
    lora_dropout: float | None = None,
    prompt_tokens: int | None = None,
    prompt_init_text: str | None = None,
    top_k: int | None = None,
) -> RunConfig:
    """A RunConfig from form values (UI or API). Empty values take the method's defaults."""
    if method not in METHODS:
        raise gr.Error(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    options = {
        "lora": {
            "r": number(lora_r, "LoRA rank r", integer=True, minimum=1, allow_empty=True),
            "alpha": number(lora_alpha, "LoRA alpha", minimum=1e-9, allow_empty=True),
            "dropout": number(lora_dropout, "LoRA dropout", minimum=0, allow_empty=True),
        },
        "prompt": {
            "num_virtual_tokens": number(prompt_tokens, "virtual tokens", integer=True, minimum=1, allow_empty=True),
            "init_text": prompt_init_text or None,
        },
        "selective": {"top_k": number(top_k, "top k layers", integer=True, minimum=0, allow_empty=True)},
    }.get(method, {})
    samples = number(train_samples, "training examples", integer=True, minimum=0, allow_empty=True)
    return RunConfig(
        task=task,
        method=method,
        model=(model or "").strip() or None,
        data_dir=(data_dir or "").strip() or None,
        epochs=number(epochs, "epochs", minimum=1e-9, allow_empty=True),
        learning_rate=number(learning_rate, "learning rate", minimum=1e-12, allow_empty=True),
        batch_size=number(batch_size, "batch size", integer=True, minimum=1, allow_empty=True),
        max_train_samples=ALL if samples == 0 else samples,
        seed=42 if (seed := number(seed, "seed", integer=True, minimum=0, allow_empty=True)) is None else seed,
        method_options={k: v for k, v in options.items() if v is not None},
    )


def start_queue(runner: TrainingRunner, configs: list[RunConfig]) -> None:
    try:
        runner.start_queue(configs)
    except (RunnerBusy, ConfigError) as e:
        raise gr.Error(str(e)) from None


# -- drawing a snapshot --------------------------------------------------------------------------
def progress_html(snap: Snapshot) -> str:
    if snap.config is None:
        return "<div class='run-status idle'>No training run yet. Pick a task and method, then Start.</div>"
    progress = [e for e in snap.events if "step" in e and "max_steps" in e]
    step, total = (progress[-1]["step"], progress[-1]["max_steps"]) if progress else (0, 1)
    eta = progress[-1].get("eta_s") if progress else None
    pct = 100.0 * step / max(total, 1)
    label = {
        "running": f"Training {snap.config.task} / {snap.config.method}: step {step}/{total}"
        + (f", about {eta:.0f}s left" if eta is not None and snap.state == "running" else ""),
        "complete": f"Finished {snap.config.task} / {snap.config.method}",
        "cancelled": f"Cancelled {snap.config.task} / {snap.config.method} at step {step}",
        "failed": f"Failed {snap.config.task} / {snap.config.method}: {snap.reason}",
    }.get(snap.state, snap.state)
    queued = f" · then {', '.join(c.method for c in snap.queue)}" if snap.queue and snap.state == "running" else ""
    return (
        f"<div class='run-status {snap.state}' data-state='{snap.state}'>"
        f"<div class='run-label'>{html.escape(label)}{html.escape(queued)}</div>"
        f"<div class='bar'><div class='fill' style='width:{pct:.1f}%'></div></div></div>"
    )


def loss_frame(snap: Snapshot) -> pd.DataFrame:
    rows = [{"step": e["step"], "loss": e["loss"]} for e in snap.events if e["type"] == "log"]
    return pd.DataFrame(rows, columns=["step", "loss"])


def metric_frame(snap: Snapshot) -> pd.DataFrame:
    rows = [
        {"step": e["step"], "value": e[name], "metric": title}
        for e in snap.events
        if e["type"] == "eval"
        for name, title in (("accuracy", "Accuracy"), ("f1", "F1"), ("mcc", "MCC"))
    ]
    return pd.DataFrame(rows, columns=["step", "value", "metric"])


def parts_frame(snap: Snapshot) -> pd.DataFrame:
    start = next((e for e in snap.events if e["type"] == "start"), None)
    rows = []
    for part, (trainable, total) in start["params"]["by_part"].items() if start else []:
        rows.append({"part": part, "parameters": trainable, "kind": "trainable"})
        rows.append({"part": part, "parameters": total - trainable, "kind": "frozen"})
    return pd.DataFrame(rows, columns=["part", "parameters", "kind"])


def parameter_card(snap: Snapshot) -> str:
    start = next((e for e in snap.events if e["type"] == "start"), None)
    if start is None:
        return "Parameter savings appear here when a run starts."
    p = start["params"]
    base_total = p["full_total"]  # what full fine-tuning would train
    saved = 100.0 * (1 - p["trainable"] / base_total)
    end = next((e for e in snap.events if e["type"] == "end" and "size_bytes" in e), None)
    full_mb = base_total * 4 / 1e6  # fp32 safetensors of the whole model
    size = (
        f"{end['size_bytes'] / 1e6:.2f} MB saved on disk vs ≈{full_mb:.1f} MB for a full-model checkpoint"
        if end
        else f"≈{p['trainable'] * 4 / 1e6:.2f} MB of trained weights to save vs ≈{full_mb:.1f} MB for the full model"
    )
    return (
        f"**{format_count(p['trainable'])} trainable** of {format_count(p['total'])} parameters "
        f"({p['trainable_percent']:.2f}%) · **{saved:.1f}% fewer** than full fine-tuning  \n{size}"
    )


def final_metrics(snap: Snapshot) -> str:
    evals = [e for e in snap.events if e["type"] == "eval"]
    if not evals:
        return ""
    e = evals[-1]
    return f"Dev (step {e['step']}): **Accuracy {e['accuracy']:.4f} · F1 {e['f1']:.4f} · MCC {e['mcc']:.4f}**"


def build(runner: TrainingRunner) -> gr.State:
    """Lay out the tab; returns the count of runs saved so far (other tabs refresh when it changes)."""
    default_model, model_note = default_model_name()
    first = METHODS["full"]
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            task = gr.Radio(TASK_CHOICES, value="sst2", label="GLUE task")
            method = gr.Radio(METHOD_CHOICES, value="full", label="Method")
            method_summary = gr.Markdown(first.summary)
            with gr.Accordion("Model and data", open=False):
                model = gr.Textbox(value=default_model, label="Encoder", info=model_note.capitalize())
                data_dir = gr.Textbox(
                    value=os.environ.get("GLUE_DIR", ""),
                    label="Local GLUE directory",
                    info="Empty: download nyu-mll/glue from the Hub",
                )
            with gr.Row():
                epochs = gr.Number(value=first.defaults.epochs, label="Epochs")
                lr = gr.Number(value=first.defaults.learning_rate, label="Learning rate")
            with gr.Row():
                batch_size = gr.Number(value=first.defaults.batch_size, label="Batch size", precision=0)
                train_samples = gr.Number(
                    value=first.defaults.max_train_samples, label="Training examples (0 = all)", precision=0
                )
                seed = gr.Number(value=42, label="Seed", precision=0)
            with gr.Group(visible=False) as lora_box, gr.Row():
                lora_r = gr.Number(value=8, label="LoRA rank r", precision=0)
                lora_alpha = gr.Number(value=16, label="LoRA alpha")
                lora_dropout = gr.Number(value=0.1, label="LoRA dropout")
            with gr.Group(visible=False) as prompt_box, gr.Row():
                prompt_tokens = gr.Number(value=20, label="Virtual tokens", precision=0)
                prompt_init_text = gr.Textbox(value="", label="Init text (empty: random)")
            with gr.Group(visible=False) as selective_box:
                top_k = gr.Number(value=None, label="Top k layers to train (empty: a third of the layers)", precision=0)
            with gr.Row():
                start_btn = gr.Button("Start", variant="primary", elem_id="start-btn")
                all_btn = gr.Button("Train all four", elem_id="train-all-btn")
                stop_btn = gr.Button("Stop", variant="stop", elem_id="stop-btn")
            command = gr.Code(label="Same run from a terminal", language="shell", interactive=False)
        with gr.Column(scale=2):
            status = gr.HTML(progress_html(runner.snapshot()), elem_id="run-status")
            metrics_md = gr.Markdown(elem_id="final-metrics")
            with gr.Row():
                loss_plot = gr.LinePlot(
                    loss_frame(runner.snapshot()), x="step", y="loss", title="Training loss", elem_id="loss-plot"
                )
                metric_plot = gr.LinePlot(
                    metric_frame(runner.snapshot()),
                    x="step",
                    y="value",
                    color="metric",
                    title="Dev metrics",
                    y_lim=[-0.1, 1.0],
                    elem_id="metric-plot",
                )
            card = gr.Markdown(parameter_card(runner.snapshot()), elem_id="param-card")
            parts_plot = gr.BarPlot(
                parts_frame(runner.snapshot()),
                x="part",
                y="parameters",
                color="kind",
                color_map={"trainable": "#d62728", "frozen": "#c7c7c7"},
                title="Parameters per part of the network",
                sort=None,
                elem_id="parts-plot",
            )
            log = gr.Textbox(label="Log", lines=6, max_lines=10, autoscroll=True, interactive=False)

    run_inputs = [
        task, method, model, data_dir, epochs, lr, batch_size, train_samples, seed,
        lora_r, lora_alpha, lora_dropout, prompt_tokens, prompt_init_text, top_k,
    ]  # fmt: skip

    def on_choice(task_name, name):
        defaults = classroom_defaults(task_name, name)
        return (
            METHODS[name].summary,
            defaults["epochs"],
            defaults["learning_rate"],
            defaults["batch_size"],
            defaults["max_train_samples"] or 0,
            gr.update(visible=name == "lora"),
            gr.update(visible=name == "prompt"),
            gr.update(visible=name == "selective"),
        )

    defaults_out = [method_summary, epochs, lr, batch_size, train_samples, lora_box, prompt_box, selective_box]
    method.change(on_choice, [task, method], defaults_out, api_visibility="private")
    task.change(on_choice, [task, method], defaults_out, api_visibility="private")

    def start(*values):
        config = config_from_inputs(*values)
        start_queue(runner, [config])
        return cli_command(config)

    def train_all(task_name, model_name, data, seed_value):
        configs = classroom_configs(
            task_name,
            model=(model_name or "").strip() or None,
            data_dir=(data or "").strip() or None,
            seed=number(seed_value, "seed", integer=True, minimum=0),
        )
        start_queue(runner, configs)
        return "\n".join(cli_command(c) for c in configs)

    start_btn.click(start, run_inputs, command, api_name="start")
    all_btn.click(train_all, [task, model, data_dir, seed], command, api_name="train_all")

    def stop() -> str:
        """Stop the current run at its next step (and drop any queued runs)."""
        if runner.stop():
            gr.Info("Stopping at the next step; runs saved earlier are kept.")
            return "stopping"
        gr.Warning("Nothing is training.")
        return "idle"

    stop_btn.click(stop, None, gr.Textbox(visible=False), api_name="stop")

    # Live view: redraw only when the runner has something new.
    seen = gr.State((-1, -1, ""))
    completed = gr.State(runner.snapshot().completed)

    def refresh(last):
        snap = runner.snapshot()
        key = (snap.generation, len(snap.events), snap.state + str(len(snap.log)))
        if key == tuple(last):
            return [gr.skip()] * 8 + [last, gr.skip()]
        return (
            progress_html(snap),
            final_metrics(snap),
            loss_frame(snap),
            metric_frame(snap),
            parameter_card(snap),
            gr.BarPlot(value=(parts := parts_frame(snap)), sort=list(dict.fromkeys(parts["part"]))),
            "\n".join(snap.log),
            cli_command(snap.config) if snap.config else gr.skip(),
            key,
            snap.completed,
        )

    timer = gr.Timer(1.0)
    timer.tick(
        refresh,
        seen,
        [status, metrics_md, loss_plot, metric_plot, card, parts_plot, log, command, seen, completed],
        show_progress="hidden",
        api_visibility="private",
    )

    def train_api(*values, **named) -> Iterator[dict]:
        """Train one run, streaming progress; the last value is the saved run's record. Empty values take
        the (task, method) defaults; no model or data_dir means the app's defaults."""
        config = config_from_inputs(*values, **named)
        start_queue(runner, [config])
        generation = runner.snapshot().generation
        while True:
            snap = runner.snapshot()
            last = next((e for e in reversed(snap.events) if "step" in e), {})
            yield {"state": snap.state, "step": last.get("step"), "max_steps": last.get("max_steps")}
            if snap.generation != generation or snap.state != "running":
                break
            time.sleep(1.0)
        if snap.state != "complete":
            raise gr.Error(f"training {snap.state}: {snap.reason}")
        yield {"state": "complete", **snap.last_run}

    # The API takes exactly the form's fields, named as in config_from_inputs.
    train_api.__signature__ = inspect.signature(config_from_inputs).replace(return_annotation="Iterator[dict]")
    train_api.__annotations__ = {**config_from_inputs.__annotations__, "return": "Iterator[dict]"}
    # No queue limit here: the runner itself refuses a second concurrent run with a clear message.
    gr.api(train_api, api_name="train", concurrency_limit=None)
    return completed
