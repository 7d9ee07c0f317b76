"""Train tab: pick a task, method and hyperparameters; start, stop, and watch the run live.

The form is generated from RunConfig's settings and each registered method's Options (webui/forms.py),
and so is the ``/train`` API's signature; the engine's ``config_from_values`` checks what comes in.
All training happens in finetune.engine.runner.TrainingRunner; this tab only starts it and draws its
snapshot once a second (a gr.Timer), so a page reload or a second viewer sees the same run.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from finetune.core.fields import Setting, settings_of
from finetune.core.methods import METHODS
from finetune.core.models import default_model_name
from finetune.engine.config import (
    ALL,
    ConfigError,
    RunConfig,
    classroom_configs,
    classroom_defaults,
    config_from_values,
    option_key,
)
from finetune.engine.runner import RunnerBusy, TrainingRunner

from . import live_view
from .command import gen_cmd
from .common import METHOD_CHOICES, TASK_CHOICES
from .forms import input_for

FIRST_METHOD = next(iter(METHODS))


def form_settings() -> dict[str, Setting]:
    """Every input of the form by the name the API uses: RunConfig's settings (task and method are
    radios), then each method's options as <method>_<option>."""
    named = {s.name: s for s in settings_of(RunConfig) if s.spec.form is not None}
    for method in METHODS.values():
        for item in settings_of(method.Options):
            named[option_key(method, item.name)] = item
    return named


@dataclass
class Form:
    task: gr.Radio
    method: gr.Radio
    summary: gr.Markdown
    inputs: dict[str, gr.components.Component]  # by form_settings() name
    method_groups: dict[str, gr.Group]  # method name -> the group holding its options

    def values(self, task: str, method: str, *values: Any) -> dict[str, Any]:
        return {"task": task, "method": method, **dict(zip(self.inputs, values, strict=True))}

    @property
    def components(self) -> list:
        return [self.task, self.method, *self.inputs.values()]


def build_form() -> Form:
    named = form_settings()
    first = classroom_defaults("sst2", FIRST_METHOD)
    initial = {"model": default_model_name()[0], "data_dir": os.environ.get("GLUE_DIR", ""), **first}
    initial["max_train_samples"] = initial["max_train_samples"] or ALL
    inputs: dict[str, gr.components.Component] = {}

    def place(names: list[str]) -> None:
        for name in names:
            inputs[name] = input_for(named[name], elem_id=f"in-{name.replace('_', '-')}", value=initial.get(name))

    task = gr.Radio(TASK_CHOICES, value="sst2", label="GLUE task", elem_id="in-task")
    method = gr.Radio(METHOD_CHOICES, value=FIRST_METHOD, label="Method", elem_id="in-method")
    summary = gr.Markdown(METHODS[FIRST_METHOD].summary)
    general = [s for s in settings_of(RunConfig) if s.spec.form is not None]
    with gr.Accordion("Model and data", open=False):
        place([s.name for s in general if s.spec.form == "model"])
    with gr.Row():
        place([s.name for s in general if s.spec.form == "main"])
    groups = {}
    for m in METHODS.values():
        with gr.Group(visible=m.name == FIRST_METHOD) as groups[m.name], gr.Row():
            place([option_key(m, s.name) for s in settings_of(m.Options)])
    with gr.Accordion("Advanced", open=False):
        place([s.name for s in general if s.spec.form == "advanced"])
    return Form(task, method, summary, inputs, groups)


def start_queue(runner: TrainingRunner, configs: list[RunConfig]) -> None:
    try:
        runner.start_queue(configs)
    except (RunnerBusy, ConfigError) as e:
        raise gr.Error(str(e)) from None


def parse_form(values: dict[str, Any]) -> RunConfig:
    try:
        return config_from_values(values)
    except ConfigError as e:
        raise gr.Error(str(e)) from None


def build(runner: TrainingRunner) -> gr.State:
    """Lay out the tab; returns the count of runs saved so far (other tabs refresh when it changes)."""
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            form = build_form()
            with gr.Row():
                start_btn = gr.Button("Start", variant="primary", elem_id="start-btn")
                all_btn = gr.Button(f"Train all {len(METHODS)}", elem_id="train-all-btn")
                stop_btn = gr.Button("Stop", variant="stop", elem_id="stop-btn")
            command = gr.Code(gen_cmd(parse_form(form_defaults(form))), label="Same run from a terminal",
                              language="shell", interactive=False)  # fmt: skip
        with gr.Column(scale=2):
            view = live_view.build(runner.snapshot())

    wire_form(form)
    wire_controls(runner, form, start_btn, all_btn, stop_btn, command)
    completed = live_view.follow(runner, view, command)
    add_train_api(runner)
    return completed


def form_defaults(form: Form) -> dict[str, Any]:
    return {"task": form.task.value, "method": form.method.value, **{n: c.value for n, c in form.inputs.items()}}


def wire_form(form: Form) -> None:
    """Choosing a task or method shows its options and fills its classroom defaults."""
    filled = ["epochs", "learning_rate", "batch_size", "max_train_samples"]

    def on_choice(task_name: str, method_name: str):
        defaults = classroom_defaults(task_name, method_name)
        defaults["max_train_samples"] = defaults["max_train_samples"] or ALL
        return (
            METHODS[method_name].summary,
            *[defaults[name] for name in filled],
            *[gr.update(visible=name == method_name) for name in form.method_groups],
        )

    outputs = [form.summary, *[form.inputs[n] for n in filled], *form.method_groups.values()]
    for trigger in (form.method, form.task):
        trigger.change(on_choice, [form.task, form.method], outputs, api_visibility="private")


def wire_controls(runner: TrainingRunner, form: Form, start_btn, all_btn, stop_btn, command) -> None:
    def start(*values):
        config = parse_form(form.values(*values))
        start_queue(runner, [config])
        return gen_cmd(config)

    def train_all(*values):
        base = parse_form(form.values(*values))
        configs = classroom_configs(base.task, model=base.model, data_dir=base.data_dir, seed=base.seed)
        start_queue(runner, configs)
        return "\n".join(gen_cmd(c) for c in configs)

    start_btn.click(start, form.components, command, api_name="start")
    all_btn.click(train_all, form.components, command, api_name="train_all")

    def stop() -> str:
        """Stop the current run at its next step (and drop any queued runs)."""
        if runner.stop():
            gr.Info("Stopping at the next step; runs saved earlier are kept.")
            return "stopping"
        gr.Warning("Nothing is training.")
        return "idle"

    stop_btn.click(stop, None, gr.Textbox(visible=False), api_name="stop")


def train_api_signature() -> inspect.Signature:
    """task, method, then every form input as an optional keyword (None: the default)."""
    params = [
        inspect.Parameter("task", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str),
        inspect.Parameter("method", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str),
    ]
    for name, item in form_settings().items():
        annotation = item.kind | None
        params.append(
            inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=annotation)
        )
    return inspect.Signature(params, return_annotation=Iterator[dict])


def add_train_api(runner: TrainingRunner) -> None:
    signature = train_api_signature()

    def train_api(*args, **kwargs) -> Iterator[dict]:
        """Train one run, streaming progress; the last value is the saved run's record. Empty values take
        the (task, method) defaults; no model or data_dir means the app's defaults."""
        bound = signature.bind(*args, **kwargs)
        config = parse_form(dict(bound.arguments))
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
        yield {"state": "complete", **(snap.last_run or {})}

    train_api.__signature__ = signature  # type: ignore[attr-defined]
    train_api.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()} | {
        "return": Iterator[dict]
    }
    # No queue limit here: the runner itself refuses a second concurrent run with a clear message.
    gr.api(train_api, api_name="train", concurrency_limit=None)
