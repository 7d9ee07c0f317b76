"""Drawing the runner's snapshot: progress bar, loss and dev-metric curves, the parameter card and chart,
and the current run's log, all in the visitor's language."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, fields
from pathlib import Path

import gradio as gr
import pandas as pd

from finetune.core.baselines import run_title
from finetune.core.metrics import at_majority_baseline
from finetune.core.resumable import SUMMARY as STOPPED_SUMMARY
from finetune.core.tasks import TASKS
from finetune.engine.runner import JobOutcome, Snapshot, TrainingRunner
from finetune.engine.worker import OVERTIME

from . import charts, race_view
from .common import format_count
from .error_words import say_error
from .language import current_language, duration, localized, say
from .locales import t
from .phase_words import doing_now, phase_words

LOG_LINES = 12  # the log box shows the current run's newest lines, with no scrolling to do


def run_names(task_name: str, method_name: str) -> dict[str, str]:
    """A run's task and method as people read them: 'SST-2 (sentiment)', 'LoRA'."""
    task = TASKS.get(task_name)
    return {"task": task.title if task else task_name, "method": run_title(method_name)}


def progress_html(snap: Snapshot, owner: str | None = None, stopped: int = 0) -> str:
    """The run the machine shows: its progress, or how it ended; another visitor's failure without its reason (a
    refusal of their GPU quota is theirs, not this visitor's). Nothing yet: what to do, stopped runs first."""
    if snap.config is None:
        text = (
            say(
                "Nothing trains now. Stopped runs can go on where they were: pick one below and press Resume, or "
                "start a new run."
            )
            if stopped
            else say("No training run yet. Pick a task and method, then Start.")
        )
        return f"<div class='run-status idle'>{html.escape(text)}</div>"
    progress = [e for e in snap.events if "step" in e and "max_steps" in e]
    start = next((e for e in snap.events if e["type"] == "start"), {})
    step, total = (progress[-1]["step"], progress[-1]["max_steps"]) if progress else (0, start.get("max_steps", 1))
    eta = progress[-1].get("eta_s") if progress else None
    pct = 100.0 * step / max(total, 1)
    run = run_names(snap.config.task, snap.config.method)
    phase = doing_now(snap.events)
    if snap.state == "running" and phase is not None:
        label, pct = say("{task} / {method}: {phase}", phase=phase_words(phase), **run), 0.0
    elif snap.state == "running":
        label = say("Training {task} / {method}: step {step}/{total}", step=f"{step:,}", total=f"{total:,}", **run)
        label += say(", about {eta} left", eta=duration(eta)) if eta is not None else ""
    elif snap.state == "complete":
        label = say("Finished {task} / {method}", **run)
    elif snap.state == "cancelled":
        # The step it stopped at is the one it saved (its end says so); the last progress report may be a step behind.
        ended = next((e for e in reversed(snap.events) if e["type"] == "end"), {})
        step = ended.get("resumable_from") or ended.get("step") or step
        label = say("Cancelled {task} / {method} at step {step}", step=f"{step:,}", **run)
        reason = (snap.reason or "").split("; it can be resumed")[0]
        limits = ("it trained past", "it used up the GPU time")  # the lab's limit, or the GPU call's
        label += f" · {say_error(reason)}" if reason.startswith(limits) else ""
        label += say(" · resumable: Stopped runs → Resume") if "resumed" in (snap.reason or "") else ""
    elif snap.state == "failed" and owner is not None and snap.owner != owner:
        label = say("Another visitor's run of {task} / {method} failed", **run)
    elif snap.state == "failed":
        label = say("Failed {task} / {method}: {reason}", reason=say_error(snap.reason or ""), **run)
    else:
        label = snap.state
    queued = (
        say(" · then {methods}", methods=", ".join(run_title(c.method) for c in snap.queue))
        if snap.queue and snap.state == "running"
        else ""
    )
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


def percent_text(share: float) -> str:
    """100, 23, 4.1, 0.41, 0.0041: two significant digits at most, never 1e+02."""
    if share == 0 or share >= 10:
        return f"{share:.0f}"
    return f"{share:.2g}" if share < 1 else f"{share:.1f}"


def parts_html(snap: Snapshot) -> str:
    """Each part of the network (embeddings, every layer, pooler, head) as a bar of the share of it that trains,
    with the counts written out. Shares, not counts: next to 12M frozen embedding parameters LoRA's 74K would
    be an invisible sliver; a part that trains anything keeps a visible sliver of bar."""
    start = next((e for e in snap.events if e["type"] == "start"), None)
    if start is None:
        return ""
    rows = []
    for part, (trainable, total) in start["params"]["by_part"].items():
        share = 100 * trainable / total if total else 0.0
        width = max(share, 1.5) if trainable else 0.0
        count = say("{trainable} of {total} ({share}%)", trainable=format_count(trainable), total=format_count(total),
                    share=percent_text(share))  # fmt: skip
        rows.append(
            f"<div class='part' data-part='{html.escape(part)}' data-trainable='{trainable}'>"
            f"<span class='part-name'>{html.escape(part)}</span>"
            f"<div class='bar'><div class='fill' style='width:{width:.1f}%'></div></div>"
            f"<span class='part-count'>{count}</span></div>"
        )
    title = say("Trainable share of each part of the network")
    return f"<div class='parts'><div class='parts-title'>{title}</div>{''.join(rows)}</div>"


def parameter_card(snap: Snapshot) -> str:
    start = next((e for e in snap.events if e["type"] == "start"), None)
    if start is None:
        return say("Parameter savings appear here when a run starts.")
    p = start["params"]
    base_total = p["full_total"]  # what full fine-tuning would train
    saved = 100.0 * (1 - p["trainable"] / base_total)
    end = next((e for e in snap.events if e["type"] == "end" and "size_bytes" in e), None)
    full_mb = base_total * 4 / 1e6  # fp32 safetensors of the whole model
    size = (
        say("{size} MB saved on disk vs ≈{full} MB for a full-model checkpoint", size=f"{end['size_bytes'] / 1e6:.2f}",
            full=f"{full_mb:.1f}")
        if end
        else say("≈{size} MB of trained weights to save vs ≈{full} MB for the full model",
                 size=f"{p['trainable'] * 4 / 1e6:.2f}", full=f"{full_mb:.1f}")
    )  # fmt: skip
    savings = say(
        "**{trainable} trainable** of {total} parameters ({percent}%) · **{saved}% fewer** than full fine-tuning",
        trainable=format_count(p["trainable"]), total=format_count(p["total"]),
        percent=f"{p['trainable_percent']:.2f}", saved=f"{saved:.1f}",
    )  # fmt: skip
    return f"{savings}  \n{size}"


def final_metrics(snap: Snapshot) -> str:
    evals = [e for e in snap.events if e["type"] == "eval"]
    if not evals:
        return ""
    e = evals[-1]
    scores = f"Accuracy {e['accuracy']:.4f} · F1 {e['f1']:.4f} · MCC {e['mcc']:.4f}"
    text = say("Dev (step {step}): **{scores}**", step=f"{e['step']:,}", scores=scores)
    if snap.state == "complete" and snap.last_run and at_majority_baseline(snap.last_run):
        text += "  \n⚠ " + say("This run scores no better than always answering the commonest label.")
    return text


@dataclass
class View:
    status: gr.HTML
    metrics: gr.Markdown
    loss_plot: gr.Plot
    metric_plot: gr.Plot
    card: gr.Markdown
    parts: gr.HTML
    log: gr.Textbox

    def draw(self, snap: Snapshot, owner: str | None = None, stopped: int = 0) -> list:
        """What each component shows for `snap`, in field order (a race: the four methods together), to `owner`;
        `stopped`: how many stopped runs can go on (what an idle machine's panel points to)."""
        if race_view.is_race(snap):
            return [
                race_view.status_html(snap),
                race_view.card_text(snap),
                race_view.loss_chart(snap),
                race_view.metric_chart(snap),
                "",
                "",
                log_text(snap),
            ]
        return [
            progress_html(snap, owner, stopped),
            final_metrics(snap),
            charts.loss_chart(loss_frame(snap)),
            charts.metric_chart(metric_frame(snap)),
            parameter_card(snap),
            parts_html(snap),
            log_text(snap),
        ]

    @property
    def components(self) -> list:
        return [getattr(self, f.name) for f in fields(self)]


def build(snap: Snapshot) -> View:
    """The live view's components, filled by the first timer tick in the visitor's language."""
    status = gr.HTML(elem_id="run-status")
    metrics = gr.Markdown(elem_id="final-metrics")
    with gr.Row(equal_height=True):
        loss_plot = gr.Plot(show_label=False, elem_id="loss-plot", min_width=260)
        metric_plot = gr.Plot(show_label=False, elem_id="metric-plot", min_width=260)
    card = gr.Markdown(elem_id="param-card")
    parts = gr.HTML(elem_id="parts-plot")
    log = gr.Textbox(label=t("Log"), lines=4, max_lines=LOG_LINES, autoscroll=True, interactive=False,
                     elem_id="run-log")  # fmt: skip
    return View(status, metrics, loss_plot, metric_plot, card, parts, log)


def shown_model(model: str) -> str:
    """An encoder as the runs table shows it: a Hub id as it is, a local folder by its name (no server paths)."""
    return Path(model).name if Path(model).is_absolute() else model


def log_line(entry: dict) -> str:
    """One line of the run's log in the visitor's language: the time, then what happened."""
    when = time.strftime("%H:%M:%S", time.localtime(entry.get("time", 0)))
    if "message" in entry:
        values = {k: say_error(v) if k == "reason" else v for k, v in entry.get("values", {}).items()}
        return f"{when} {say(entry['message'], **values)}"
    event = entry["event"]
    kind = event["type"]
    if kind == "start":
        p = event["params"]
        text = say(
            "{task} / {method} on {model}: {train} training and {dev} dev examples, {steps} steps; {trainable} of "
            "{total} parameters train ({percent}%)",
            **run_names(event["task"], event["method"]),
            model=shown_model(event["model"]),
            train=f"{event['train_samples']:,}",
            dev=f"{event['eval_samples']:,}",
            steps=f"{event['max_steps']:,}",
            trainable=f"{p['trainable']:,}",
            total=f"{p['total']:,}",
            percent=f"{p['trainable_percent']:.2f}",
        )
    elif kind == "eval":
        scores = f"Accuracy {event['accuracy']:.4f} · F1 {event['f1']:.4f} · MCC {event['mcc']:.4f}"
        text = say("step {step}: dev {scores}", step=f"{event['step']:,}", scores=scores)
    elif kind == "resume":
        text = say("resumed at step {step} of {total}", step=f"{event['step']:,}", total=f"{event['max_steps']:,}")
    elif event.get("status") == "complete":
        text = say("run complete")
    else:
        if event.get("status") == "cancelled":  # by its owner, or by its GPU call's time running out (ZeroGPU)
            text = say(OVERTIME if event.get("reason") == OVERTIME else "stopped by the user")
        else:
            text = say("run {status}", status=event.get("status"))
        if event.get("resumable_from") is not None:
            text += say(" (resumable from step {step})", step=f"{event['resumable_from']:,}")
    if entry.get("method") and kind != "start":  # a race's line: which method it is about
        text = f"{run_title(entry['method'])}: {text}"
    return f"{when} {text}"


def log_text(snap: Snapshot) -> str:
    """The current run's log, oldest first, its newest lines only (the box opens on them)."""
    return "\n".join(log_line(entry) for entry in snap.log[-LOG_LINES:])


OWN_FATE_S = 30 * 60  # how long a visitor's page keeps telling them how their last run ended


def own_fate(last: tuple[JobOutcome, float] | None, snap: Snapshot, owner: str) -> str:
    """How this visitor's last run ended, in words, with how to go on, when the machine shows something else now
    (another visitor's run, or nothing): a run cut by its GPU call, stopped at the lab's limit, or failed."""
    if last is None or time.time() - last[1] > OWN_FATE_S:
        return ""
    outcome, _ = last
    showing_theirs = snap.owner == owner and snap.state != "running"  # the panel itself tells it
    if outcome.state not in ("cancelled", "failed") or showing_theirs:
        return ""
    words = say_error(outcome.reason or "")
    if outcome.state == "failed":
        text = say("**Your last run failed:** {reason}.", reason=words)
    else:
        text = say("**Your last run stopped:** {reason}.", reason=words)
    if "can be resumed" in (outcome.reason or ""):
        text += say(" Pick it under Stopped runs (or Resume the race) to go on where it was.")
    return text


def line_status(snap: Snapshot, owner: str, last: tuple[JobOutcome, float] | None = None) -> str:
    """What this visitor should know about the shared machine: their place in line, or whose run trains; and how
    their own last run ended when the machine shows another's (`last`: runner.last_outcome)."""
    fate = own_fate(last, snap, owner)
    status = _line_status(snap, owner)
    return "  \n".join(filter(None, [fate, status]))


def _line_status(snap: Snapshot, owner: str) -> str:
    place = snap.place_of(owner)
    if place is not None:
        number, wait = place
        return say("**Your run is #{number} in line** — it starts in about {wait}. You can leave the line at any time.",
                   number=number, wait=duration(wait))  # fmt: skip
    if snap.state == "running" and race_view.is_race(snap):
        waiting = say(" · {count} waiting", count=len(snap.waiting)) if snap.waiting else ""
        template = "Training all your methods side by side (Train all){waiting}." if snap.race_owner == owner else (
            "Training another visitor's methods side by side (Train all){waiting}.")  # fmt: skip
        return say(template, waiting=waiting)
    if snap.state == "running" and snap.config is not None:
        waiting = say(" · {count} waiting", count=len(snap.waiting)) if snap.waiting else ""
        template = ("Training your run ({task} / {method}){waiting}." if snap.owner == owner
                    else "Training another visitor's run ({task} / {method}){waiting}.")  # fmt: skip
        return say(template, waiting=waiting, **run_names(snap.config.task, snap.config.method))
    return ""


def stopped_choices(runner: TrainingRunner) -> list[tuple[str, str]]:
    """(label, run id) of each run that can be resumed, most recent first, in the visitor's language."""
    return [
        (state.summary(say(STOPPED_SUMMARY), step=f"{state.step:,}", **run_names(state.config["task"],
                                                                                  state.config["method"])),
         state.run_id)
        for state in runner.stopped_runs()
    ]  # fmt: skip


def follow(runner: TrainingRunner, view: View, line: gr.Markdown, stopped: gr.Dropdown, stopped_row: gr.Row,
           owner_of) -> gr.State:  # fmt: skip
    """Redraw `view` once a second when the runner has something new (and then the list of `stopped`
    runs, shown only when there is one), and this visitor's place in line; returns the count of saved runs
    (a gr.State other tabs listen to)."""
    seen = gr.State((-1, -1, "", "", -1))
    completed = gr.State(runner.snapshot().completed)

    @localized
    def refresh(last, chosen, request: gr.Request):
        snap = runner.snapshot()
        owner = owner_of(request)
        status = line_status(snap, owner, runner.last_outcome(owner))
        progress = sum(len(e.events) + e.progress.get("step", 0) for e in snap.race)
        choices = stopped_choices(runner)
        key = (snap.generation, len(snap.events) + progress, snap.state + str(len(snap.log)), current_language(),
               len(choices))  # fmt: skip
        if key == tuple(last):
            return [gr.skip()] * len(view.components) + [status, last, gr.skip(), gr.skip(), gr.skip()]
        ids = [run_id for _, run_id in choices]
        pick = chosen if chosen in ids else (ids[0] if ids else None)  # the newest, unless one is chosen
        return [
            *view.draw(snap, owner, stopped=len(choices)),
            status,
            key,
            snap.completed,
            gr.update(choices=choices, value=pick),
            gr.Row(visible=bool(choices)),
        ]

    gr.Timer(1.0).tick(
        refresh, [seen, stopped], [*view.components, line, seen, completed, stopped, stopped_row],
        show_progress="hidden", api_visibility="private",
    )  # fmt: skip
    return completed
