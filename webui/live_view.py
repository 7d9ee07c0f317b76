"""Drawing the runner's snapshot: progress bar, loss and dev-metric curves, the parameter card and chart."""

from __future__ import annotations

import html
from dataclasses import dataclass, fields

import gradio as gr
import pandas as pd

from finetune.engine.estimate import duration_text
from finetune.engine.runner import Snapshot, TrainingRunner

from .common import format_count
from .locales import t


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
        "cancelled": f"Cancelled {snap.config.task} / {snap.config.method} at step {step}"
        + (" · resumable: Stopped runs → Resume" if "resumed" in (snap.reason or "") else ""),
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
    """Trainable parameters per part of the network, each with its share of that part. Only the trainable
    ones are drawn: next to 12M frozen embedding parameters, LoRA's 74K would be an invisible sliver."""
    start = next((e for e in snap.events if e["type"] == "start"), None)
    rows = []
    for part, (trainable, total) in start["params"]["by_part"].items() if start else []:
        share = f"{100 * trainable / total:.2g}% of {format_count(total)}" if total else "-"
        rows.append({"part": part, "trainable parameters": trainable, "share of the part": share})
    return pd.DataFrame(rows, columns=["part", "trainable parameters", "share of the part"])


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


@dataclass
class View:
    status: gr.HTML
    metrics: gr.Markdown
    loss_plot: gr.LinePlot
    metric_plot: gr.LinePlot
    card: gr.Markdown
    parts_plot: gr.BarPlot
    log: gr.Textbox

    def draw(self, snap: Snapshot) -> list:
        """What each component shows for `snap`, in field order."""
        parts = parts_frame(snap)
        return [
            progress_html(snap),
            final_metrics(snap),
            loss_frame(snap),
            metric_frame(snap),
            parameter_card(snap),
            gr.BarPlot(value=parts, sort=list(dict.fromkeys(parts["part"]))),
            "\n".join(snap.log),
        ]

    @property
    def components(self) -> list:
        return [getattr(self, f.name) for f in fields(self)]


def build(snap: Snapshot) -> View:
    status = gr.HTML(progress_html(snap), elem_id="run-status")
    metrics = gr.Markdown(final_metrics(snap), elem_id="final-metrics")
    with gr.Row():
        loss_plot = gr.LinePlot(loss_frame(snap), x="step", y="loss", title=t("Training loss"), elem_id="loss-plot")
        metric_plot = gr.LinePlot(
            metric_frame(snap), x="step", y="value", color="metric", title=t("Dev metrics"), y_lim=[-0.1, 1.0],
            elem_id="metric-plot",
        )  # fmt: skip
    card = gr.Markdown(parameter_card(snap), elem_id="param-card")
    parts_plot = gr.BarPlot(
        parts_frame(snap), x="part", y="trainable parameters", title="Trainable parameters per part of the network "
        "(hover: share of the part)", tooltip=["part", "trainable parameters", "share of the part"], sort=None,
        elem_id="parts-plot",
    )  # fmt: skip
    log = gr.Textbox(label=t("Log"), lines=6, max_lines=10, autoscroll=True, interactive=False)
    return View(status, metrics, loss_plot, metric_plot, card, parts_plot, log)


def line_status(snap: Snapshot, owner: str) -> str:
    """What this visitor should know about the shared machine: their place in line, or whose run trains."""
    place = snap.place_of(owner)
    if place is not None:
        number, wait = place
        return (f"**Your run is #{number} in line** — it starts in about {duration_text(wait)}. "
                "You can leave the line at any time.")  # fmt: skip
    if snap.state == "running" and snap.config is not None:
        whose = "your" if snap.owner == owner else "another visitor's"
        waiting = f" · {len(snap.waiting)} waiting" if snap.waiting else ""
        return f"Training {whose} run ({snap.config.task} / {snap.config.method}){waiting}."
    return ""


def stopped_choices(runner: TrainingRunner) -> list[tuple[str, str]]:
    """(label, run id) of each run that can be resumed, most recent first."""
    return [(state.summary(), state.run_id) for state in runner.stopped_runs()]


def follow(runner: TrainingRunner, view: View, line: gr.Markdown, stopped: gr.Dropdown, owner_of) -> gr.State:
    """Redraw `view` once a second when the runner has something new (and then the list of `stopped`
    runs), and this visitor's place in line; returns the count of saved runs (a gr.State other tabs
    listen to)."""
    seen = gr.State((-1, -1, ""))
    completed = gr.State(runner.snapshot().completed)

    def refresh(last, request: gr.Request):
        snap = runner.snapshot()
        status = line_status(snap, owner_of(request))
        key = (snap.generation, len(snap.events), snap.state + str(len(snap.log)))
        if key == tuple(last):
            return [gr.skip()] * len(view.components) + [status, last, gr.skip(), gr.skip()]
        return [*view.draw(snap), status, key, snap.completed, gr.update(choices=stopped_choices(runner))]

    gr.Timer(1.0).tick(
        refresh, seen, [*view.components, line, seen, completed, stopped], show_progress="hidden",
        api_visibility="private",
    )  # fmt: skip
    return completed
