"""Train tab: pick a task, method and hyperparameters; see how long it will take; start, stop, and watch.

The form is generated from RunConfig's settings and each registered method's Options (webui/forms.py),
and so is the ``/train`` API's signature; the engine's ``config_from_values`` checks what comes in.
All training happens in finetune.engine.runner.TrainingRunner, one run at a time for everyone: a Start
while another visitor's run trains waits in line (with its place and ETA), and Stop stops only the
visitor's own run (an instructor's token stops any); a run stopped after a dev evaluation can be resumed
(Stopped runs → Resume, or the ``/resume`` API). The live view redraws from the runner's snapshot.
"""

from __future__ import annotations

import contextvars
import dataclasses
import inspect
import json
import shlex
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from finetune.core.baselines import run_title
from finetune.core.data import DataSourceError, glue_dir_from_env, task_files
from finetune.core.fields import Setting, settings_of
from finetune.core.hardware import training_hardware
from finetune.core.hub import hub_reachable
from finetune.core.methods import METHODS
from finetune.core.models import default_model_name
from finetune.core.recipes import STUDY_MODEL
from finetune.core.resumable import ResumeError
from finetune.core.tasks import TASKS, get_task
from finetune.engine.config import (
    ConfigError,
    RunConfig,
    classroom_configs,
    classroom_defaults,
    classroom_options,
    cli_command,
    config_from_values,
    leaving_recipe_options,
    option_key,
)
from finetune.engine.estimate import duration_text, estimate, layer_speed, speed_correction
from finetune.engine.runner import RunnerBusy, TrainingRunner

from . import action_line, live_view
from .common import METHOD_CHOICES, TASK_CHOICES
from .deployment import Deployment, user_error
from .error_words import say_error
from .forms import input_for
from .language import duration, localized, say
from .locales import t
from .visitors import visitor_of
from .zerogpu import ZeroGpuStandIn, call_seconds, max_call_seconds

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
    # method name -> the groups holding its key and its finer options, each with whether it holds any
    method_groups: dict[str, list[tuple[gr.Group, bool]]]

    def values(self, task: str, method: str, *values: Any) -> dict[str, Any]:
        return {"task": task, "method": method, **dict(zip(self.inputs, values, strict=True))}

    @property
    def components(self) -> list:
        return [self.task, self.method, *self.inputs.values()]

    def defaults(self) -> dict[str, Any]:
        return {"task": self.task.value, "method": self.method.value, **{n: c.value for n, c in self.inputs.items()}}


# A public lab's encoder is one of its allow-list (no local folder, no other Hub id), said so.
PUBLIC_ENCODER_HELP = "the encoders this lab trains, chosen by whoever runs it (each is a Hugging Face Hub id)"


def build_form(deployment: Deployment) -> Form:
    """Task and method first, then the settings a class changes; the encoder and data, the rest of the
    settings and each method's finer options inside accordions, so that the form stays short."""
    named = form_settings()
    initial = {
        "model": default_model_name()[0],
        **classroom_defaults("sst2", FIRST_METHOD, default_model_name()[0]),
        **option_inputs("sst2", FIRST_METHOD, default_model_name()[0]),
    }
    # Empty: $GLUE_DIR, else the Hub (the field's help says so); the server's own path is never shown.
    initial["data_dir"] = ""
    inputs: dict[str, gr.components.Component] = {}

    def place(names: list[str]) -> None:
        for name in names:
            elem_id = f"in-{name.replace('_', '-')}"
            if name == "model" and deployment.public:  # a public lab trains allow-listed encoders only
                inputs[name] = gr.Dropdown(list(deployment.encoders), value=initial["model"], label=t("Encoder"),
                                           info=t(PUBLIC_ENCODER_HELP), elem_id=elem_id)  # fmt: skip
            elif name == "data_dir" and deployment.public:  # and names no server folders
                inputs[name] = gr.Textbox(value="", visible=False, elem_id=elem_id)
            else:
                inputs[name] = input_for(named[name], elem_id=elem_id, value=initial.get(name))

    def method_options(form: str) -> dict[str, tuple[gr.Group, bool]]:
        groups = {}
        for m in METHODS.values():
            names = [option_key(m, s.name) for s in settings_of(m.Options) if s.spec.form == form]
            with gr.Group(visible=m.name == FIRST_METHOD and bool(names)) as group, gr.Row():
                place(names)
            groups[m.name] = (group, bool(names))
        return groups

    task = gr.Radio(TASK_CHOICES, value="sst2", label=t("GLUE task"), elem_id="in-task")
    method = gr.Radio(METHOD_CHOICES, value=FIRST_METHOD, label=t("Method"), elem_id="in-method")
    summary = gr.Markdown(t(METHODS[FIRST_METHOD].summary), elem_id="method-summary")
    general = [s for s in settings_of(RunConfig) if s.spec.form is not None]
    with gr.Row():
        place([s.name for s in general if s.spec.form == "main"])
    key_options = method_options("main")
    with gr.Accordion(t("Model and data"), open=False):
        place([s.name for s in general if s.spec.form == "model"])
    with gr.Accordion(t("Advanced"), open=False):
        finer_options = method_options("advanced")
        place([s.name for s in general if s.spec.form == "advanced"])
    groups = {name: [key_options[name], finer_options[name]] for name in METHODS}
    return Form(task, method, summary, inputs, groups)


def form_config(values: dict[str, Any]) -> RunConfig:
    """The run a form (or /train call) asks for; method options left as the recipe has them stay the recipe's."""
    return leaving_recipe_options(config_from_values(values))


def parse_form(values: dict[str, Any]) -> RunConfig:
    try:
        return form_config(values)
    except ConfigError as e:
        raise user_error(str(e)) from None


def option_inputs(task_name: str, method_name: str, model: str | None = None) -> dict[str, Any]:
    """The method's option inputs (by form name) filled as a (task, method) run of `model` trains without edits."""
    method = METHODS[method_name]
    chosen = classroom_options(task_name, method_name, model)
    return {option_key(method, name): value for name, value in chosen.items()}


def owner_of(request: gr.Request | None) -> str:
    """Who asks: the browser session (each gradio_client Client has its own)."""
    return getattr(request, "session_hash", None) or "local"


def submit(runner: TrainingRunner, deployment: Deployment, configs: list[RunConfig], token, request,
           race: bool = False) -> int:  # fmt: skip
    """Put a job in line for this visitor, after every check (instructor token, allowed sources, the data, bounds,
    the lab's longest run, one job at a time on a public lab)."""
    deployment.check_may_train(token)
    for config in configs:
        deployment.check_sources(config.model, config.data_dir)
        if problem := data_problem(config, deployment):  # a run that cannot find its data is not put in line
            raise user_error(problem)
    budget = deployment.run_budget(token)
    if budget is not None:
        for config in configs:
            if (seconds := bound_seconds(config)) > budget:
                raise user_error(
                    f"this run would take about {duration_text(seconds)} on this machine; this lab allows "
                    f"{duration_text(budget)} a run: fewer training examples or epochs are faster"
                )
    try:
        return runner.submit(configs, owner=owner_of(request), max_seconds=budget, context=contextvars.copy_context(),
                             race=race, **visitor_bounds(deployment, token, request))  # fmt: skip
    except (RunnerBusy, ConfigError, ResumeError) as e:
        raise user_error(str(e)) from None


def bound_seconds(config: RunConfig) -> float:
    """What a run is held to before it starts: the quiet machine's estimate, never one a busy spell inflated (the
    runs' correction, or a measurement taken while other processes had the cores: then 0, nothing is refused). A run
    that trains slower than its estimate is stopped by its own pace at the lab's limit, resumable."""
    if layer_speed.disturbed:
        return 0.0
    try:
        return estimate(config, corrected=False).seconds
    except Exception:
        return 0.0


def train_all_configs(base: RunConfig) -> list[RunConfig]:
    """What "Train all" runs for the form's task, encoder, data and seed: every method's classroom defaults."""
    return classroom_configs(base.task, model=base.model, data_dir=base.data_dir, seed=base.seed)


def estimate_text(config: RunConfig) -> str:
    """ "This run: about 2 min 30 s on this machine · Train all 4: about 7 min", or why it cannot run."""
    try:
        this_run = estimate(config).seconds
        race = [estimate(c).seconds for c in train_all_configs(config)]
        everything = sum(race)
    except ConfigError as e:
        return say("**Cannot start:** {error}", error=say_error(str(e)))
    except Exception:  # an estimate is a courtesy: no estimate rather than no form
        return ""
    if training_hardware().kind == "zerogpu":
        text = gpu_time_text(this_run, race)
    else:
        text = say(
            "Estimated on this machine: **this run about {this_run}** · Train all {count}: about {everything}",
            this_run=duration(this_run), count=len(METHODS), everything=duration(everything),
        )  # fmt: skip
    if this_run > 10 * 60 or everything > 30 * 60:
        text += say(
            "  \n**That is long for a class:** fewer training examples or epochs, or the packaged encoder, are faster."
        )
    return text


def gpu_time_text(run_s: float, race_s: list[float]) -> str:
    """On ZeroGPU: the GPU time this run asks for, whose quota pays (the stand-in's own quota where it stands in),
    what Train all asks for in all (its calls start together, each charged as it starts), and what a longer run
    does."""
    asked = call_seconds(run_s)
    if training_hardware().emulated:
        text = say(
            "On ZeroGPU (stand-in) this run asks for **{asked} s of GPU time** from your daily quota ({quota} a "
            "day for each visitor here)",
            asked=asked,
            quota=duration(ZeroGpuStandIn.from_env().quota_s),
        )
    else:
        text = say(
            "On ZeroGPU this run asks for **{asked} s of GPU time** from your daily quota (2 min a day for visitors "
            "not logged in, shared by everyone behind one address; log in to Hugging Face for your own 5 min)",
            asked=asked,
        )  # fmt: skip
    text += say("  \nTrain all {count} asks for **{total} s** in all: {count} GPU calls started together, each charged "
                "as it starts (one your quota no longer covers is refused, resumable later).", count=len(race_s),
                total=sum(call_seconds(s) for s in race_s))  # fmt: skip
    if asked >= max_call_seconds():
        text += say("  \n**Longer than one GPU call:** it stops after {asked} s and Resume goes on with it.",
                    asked=asked)  # fmt: skip
    return text


def hardware_text() -> str:
    """Where this lab's runs train, for the top of the tab."""
    hardware = training_hardware()
    if hardware.kind == "zerogpu":
        if hardware.emulated:
            return say("Trains on **ZeroGPU (stand-in)**: each run is one GPU call in a forked worker on {device}, "
                       "paid from the quota of the visitor who started it.", device=hardware.device)  # fmt: skip
        return say("Trains on **ZeroGPU**: each run is one call to a GPU lent for it ({device}), paid from the quota "
                   "of the visitor who started it.", device=hardware.device)  # fmt: skip
    if hardware.kind == "gpu":
        return say("Trains on **this lab's GPU** ({device}), each run in a process of its own.", device=hardware.device)
    return say("Trains on **this machine's CPU** ({device}, {cores} cores), each run in a process of its own.",
               device=hardware.device, cores=hardware.cores)  # fmt: skip


def build(runner: TrainingRunner, deployment: Deployment, language_heard) -> gr.State:
    """Lay out the tab; returns the count of runs saved so far (other tabs refresh when it changes).
    `language_heard`: the event of the page reporting its language (the estimate is redrawn in it).

    The form on the left; on the right the buttons, a status line that answers every click, the estimate,
    and under them the live view, so that a 1366x768 projector shows the buttons, the status and the curves
    together."""
    with gr.Row():
        with gr.Column(scale=5, min_width=340):
            if not deployment.training:
                gr.Markdown(t("**Training is switched off in this lab.** Results and the Playground work as usual."))
            form = build_form(deployment)
            first_estimate, first_command = preview(form.defaults(), deployment)
            command = gr.Code(first_command, label=t("Same run from a terminal"), language="shell", lines=3,
                              max_lines=8, interactive=False, wrap_lines=True, elem_id="terminal-command")  # fmt: skip
        with gr.Column(scale=7, min_width=420, elem_classes=["live-column"]):
            # Beside the buttons it unlocks, so that nobody presses Start without seeing that it needs it.
            token = gr.Textbox(label=t("Instructor token"), type="password", elem_id="instructor-token",
                               info=t("Only the instructor trains in this lab: Start, Train all and Resume need "
                                      "this token. Results and the Playground are open to everyone."),
                               visible=deployment.instructor_token is not None)  # fmt: skip
            with gr.Row():
                start_btn = gr.Button(
                    t("Start"), variant="primary", elem_id="start-btn", interactive=deployment.training, min_width=90
                )
                all_btn = gr.Button(t(f"Train all {len(METHODS)}"), elem_id="train-all-btn",
                                    interactive=deployment.training, min_width=90)  # fmt: skip
                stop_btn = gr.Button(t("Stop my run"), variant="stop", elem_id="stop-btn", min_width=90)
                leave_btn = gr.Button(t("Leave the line"), elem_id="leave-btn", min_width=90)
            action = gr.Markdown(elem_id="action-status")
            said = gr.State(None)  # what the action line speaks of (webui/action_line.py)
            estimate_md = gr.Markdown(first_estimate, elem_id="estimate")
            where = gr.Markdown(hardware_text(), elem_id="hardware")
            with gr.Row(visible=bool(runner.stopped_runs()), equal_height=True) as stopped_row:
                # The timer reads the choice back (to keep it) while the list changes under it: a run just taken
                # up is no longer a choice, and Resume answers a stale one in words (allow_custom_value spares the
                # visitor Gradio's "not in the list of choices" pop-up).
                stopped = gr.Dropdown(
                    live_view.stopped_choices(runner), value=None, label=t("Stopped runs"),
                    info=t("A run stopped after a dev evaluation goes on where it was, with its own settings."),
                    elem_id="resume-pick", scale=4, allow_custom_value=True,
                )  # fmt: skip
                resume_btn = gr.Button(t("Resume"), elem_id="resume-btn", interactive=deployment.training, scale=1,
                                       min_width=90)  # fmt: skip
            line = gr.Markdown(elem_id="line-status")
            race = build_race_controls()
            view = live_view.build(runner.snapshot())

    wire_form(form, deployment, estimate_md, command, language_heard)
    language_heard.then(localized(hardware_text), None, where, api_visibility="private")
    wire_controls(runner, deployment, form, token, (start_btn, all_btn, stop_btn, leave_btn), command, action)
    wire_resume(runner, deployment, stopped, resume_btn, token, command, action)

    def remember_what_the_line_says(text: str, request: gr.Request) -> dict | None:
        return action_line.spoken(text, runner.snapshot(), owner_of(request))

    action.change(remember_what_the_line_says, action, said, api_visibility="private")
    wire_race(runner, deployment, race, token, (action, said))
    completed = live_view.follow(runner, view, line, stopped, stopped_row, owner_of)
    add_train_api(runner, deployment)
    return completed


def preview(values: dict[str, Any], deployment: Deployment | None = None) -> tuple[str, str]:
    """The estimate and the terminal command for the form as it stands (or why it cannot run, and no command)."""
    try:
        config = form_config(values)
    except ConfigError as e:
        return say("**Cannot start:** {error}", error=say_error(str(e))), ""
    if problem := data_problem(config, deployment or Deployment.from_env()):
        return say("**Cannot start:** {error}", error=problem), display_command(config)
    return estimate_text(config), display_command(config)


def data_problem(config: RunConfig, deployment: Deployment) -> str | None:
    """Why the run would find no GLUE data, in the visitor's words (the form's field, where GLUE comes from),
    or None. Checked before a run is put in line: a run that cannot start is not estimated, queued or logged."""
    task = get_task(config.task)
    if task.local is None:  # a task made from a file: its rows are in the lab's store
        return None
    folder = task.local.folder
    typed = (config.data_dir or "").strip()
    data_dir = typed or glue_dir_from_env()
    if data_dir:
        try:
            task_files(task, data_dir)
        except DataSourceError:
            where = "the Local GLUE directory" if typed else "the server's GLUE directory ($GLUE_DIR)"
            return say(
                "{where} has no {folder}/train.tsv and {folder}/dev.tsv: point it at a folder holding GLUE's files, "
                "one folder per task (SST-2/, MRPC/, CoLA/), or leave it empty to read nyu-mll/glue from the Hub",
                where=say(where), folder=folder,
            )  # fmt: skip
        return None
    if hub_reachable():
        return None
    if deployment.public:
        return say("no GLUE data for {task}: the Hugging Face Hub (nyu-mll/glue) cannot be reached from this lab "
                   "right now; try again later", task=task.title)  # fmt: skip
    return say(
        "no GLUE data for {task}: the Hugging Face Hub (nyu-mll/glue) cannot be reached from this server and the "
        "Local GLUE directory (under Model and data) is empty; enter a folder holding {folder}/train.tsv and "
        "{folder}/dev.tsv",
        task=task.title, folder=folder,
    )  # fmt: skip


def display_command(config: RunConfig) -> str:
    """The terminal command for `config` as a person may read it: the server's GLUE folder as $GLUE_DIR, a folder
    inside the lab's own as a relative path; never the server's absolute paths."""
    data_dir = (config.data_dir or "").strip()
    if data_dir:
        path = Path(data_dir).expanduser()
        shown = data_dir
        if str(path) == str(Path(glue_dir_from_env() or "\0").expanduser()):
            shown = "$GLUE_DIR"
        elif path.is_absolute() and path.resolve().is_relative_to(Path.cwd()):
            shown = str(path.resolve().relative_to(Path.cwd())) or "."
        config = dataclasses.replace(config, data_dir=shown)
    return cli_command(config).replace("'$GLUE_DIR'", '"$GLUE_DIR"')


def wire_form(form: Form, deployment: Deployment, estimate_md: gr.Markdown, command: gr.Code, language_heard) -> None:
    """Choosing a task, method or encoder shows the method's options and fills its classroom defaults (the recipe's
    options included: bert-base-uncased has the literature's); any change re-estimates the run's duration and
    rewrites the terminal command."""
    filled = ["epochs", "learning_rate", "batch_size", "max_train_samples", "average_tail"]
    options = [option_key(m, item.name) for m in METHODS.values() for item in settings_of(m.Options)]
    groups = [(name, group, filled_in) for name, pair in form.method_groups.items() for group, filled_in in pair]

    @localized
    def on_choice(method_name: str):
        return (
            say(METHODS[method_name].summary),
            *[gr.update(visible=name == method_name and filled_in) for name, _, filled_in in groups],
        )

    # The defaults are filled in the browser, at once: an answer from the server arriving late (a loaded machine)
    # would overwrite a value the visitor typed right after choosing.
    values = [*[form.inputs[n] for n in filled], *[form.inputs[n] for n in options]]
    fill = fill_defaults_js(filled, options)
    chosen = [form.task, form.method, form.inputs["model"]]
    shown = [form.summary, *[group for _, group, _ in groups]]
    model = form.inputs["model"]
    # The encoder refills the defaults once it is chosen (a dropdown) or typed (a text field left), not per keystroke.
    for trigger in (
        form.method.change,
        form.task.change,
        model.change if isinstance(model, gr.Dropdown) else model.blur,
    ):
        trigger(None, chosen, values, js=fill)
    form.method.change(on_choice, form.method, shown, api_visibility="private", show_progress="hidden")

    @localized
    def on_edit(*values):
        return preview(form.values(*values), deployment)

    for component in form.components:
        component.change(on_edit, form.components, [estimate_md, command], api_visibility="private",
                         show_progress="hidden", trigger_mode="always_last")  # fmt: skip
    language_heard.then(on_edit, form.components, [estimate_md, command], api_visibility="private",
                        show_progress="hidden")  # fmt: skip
    language_heard.then(on_choice, form.method, shown, api_visibility="private", show_progress="hidden")

    # The machine is measured again when it was busy, and each run's pace corrects the estimates: a page left open
    # reads the new estimate within half a minute, without anyone touching the form.
    measured = gr.State(machine_reading())

    @localized
    def on_new_reading(last, *values):
        reading = machine_reading()
        if list(reading) == list(last):
            return gr.skip(), gr.skip(), last
        return (*preview(form.values(*values), deployment), reading)

    gr.Timer(20.0).tick(on_new_reading, [measured, *form.components], [estimate_md, command, measured],
                        api_visibility="private", show_progress="hidden")  # fmt: skip


def defaults_by_choice(filled: list[str], options: list[str]) -> dict[str, list[Any]]:
    """What choosing a task, method and encoder fills in, for every choice the form offers: by "task|method|study"
    (study: 1 for the study's encoder, whose literature recipe differs), the values of `filled` then of `options`
    (the chosen method's; another method's options are left as they are)."""
    table = {}
    for task in TASKS:
        for method in METHODS:
            for study, model in enumerate((None, STUDY_MODEL)):
                defaults, chosen = classroom_defaults(task, method, model), option_inputs(task, method, model)
                table[f"{task}|{method}|{study}"] = [*[defaults[n] for n in filled], *[chosen.get(n) for n in options]]
    return table


def fill_defaults_js(filled: list[str], options: list[str]) -> str:
    """The browser's side of choosing: (task, method, model, *current values) -> the values filled in."""
    owner = {option_key(m, item.name): m.name for m in METHODS.values() for item in settings_of(m.Options)}
    owners = [owner[name] for name in options]
    return f"""(task, method, model, ...current) => {{
        const table = {json.dumps(defaults_by_choice(filled, options))};
        const owners = {json.dumps([None] * len(filled) + owners)};
        const study = String(model || "").trim() === {json.dumps(STUDY_MODEL)} ? 1 : 0;
        const row = table[`${{task}}|${{method}}|${{study}}`];
        if (!row) return current;
        return row.map((value, i) => (owners[i] === null || owners[i] === method) ? value : current[i]);
    }}"""


def machine_reading() -> tuple[int, int, float]:
    """What the estimates rest on now: the machine's measurement (generation), the shapes measured since a request
    asked for them (an estimate answered from the nearest shape is refined), and the runs' correction (rounded)."""
    return layer_speed.generation, layer_speed.version, round(speed_correction.factor, 1)


def started_text(runner: TrainingRunner, job: int, owner: str) -> str:
    """What a click that put a job in line did: started at once, or its place in the line and the wait."""
    snap = runner.snapshot()
    ended = runner.outcome(job)
    if ended is not None and ended.state in ("failed", "cancelled"):  # refused at once (a GPU quota), never "Started."
        return say("**It did not run:** {reason}", reason=say_error(ended.reason or ""))
    place = snap.place_of(owner)
    first_with_nothing_running = place is not None and place[0] == 1 and snap.state != "running"
    if snap.job_id == job or first_with_nothing_running:  # (the runner's thread takes it up in a moment)
        return say("**Started.** Progress and curves appear below.")
    if place is None:
        return say("**In line.** It starts as soon as the run before it ends.")
    # The wait itself is said once, in the status below, which keeps it current: two numbers on one page for one
    # wait (this one frozen at the click) would disagree within a minute.
    return say("**In line: #{number}.** The status below keeps your wait up to date.", number=place[0])


def refused_text(error: gr.Error) -> str:
    """The status line of a click that was refused, and the same words in a pop-up."""
    message = str(error.message)
    gr.Warning(message)
    return say("**Not started:** {reason}", reason=message)


def wire_controls(runner: TrainingRunner, deployment: Deployment, form: Form, token, buttons, command, action) -> None:
    start_btn, all_btn, stop_btn, leave_btn = buttons
    wire_start(runner, deployment, form, token, (start_btn, all_btn), command, action)
    wire_stop_and_leave(runner, deployment, token, (stop_btn, leave_btn), action)


def wire_start(runner: TrainingRunner, deployment: Deployment, form: Form, token, buttons, command, action) -> None:
    """Start and Train all: the form's run (or one per method) put in line, its command shown."""
    start_btn, all_btn = buttons

    @localized
    def start(request: gr.Request, *values):
        *fields, token_value = values
        try:
            config = parse_form(form.values(*fields))
            job = submit(runner, deployment, [config], token_value, request)
        except gr.Error as e:
            return gr.skip(), refused_text(e)
        return display_command(config), started_text(runner, job, owner_of(request))

    @localized
    def start_all(request: gr.Request, *values):
        *fields, token_value = values
        try:
            configs = train_all_configs(parse_form(form.values(*fields)))
            job = submit(runner, deployment, configs, token_value, request, race=True)
        except gr.Error as e:
            return gr.skip(), refused_text(e)
        return "\n".join(display_command(c) for c in configs), started_text(runner, job, owner_of(request))

    inputs = [*form.components, token]
    start_btn.click(start, inputs, [command, action], api_visibility="private")
    all_btn.click(start_all, inputs, [command, action], api_visibility="private")


def wire_stop_and_leave(runner: TrainingRunner, deployment: Deployment, token, buttons, action) -> None:
    """Stop (your run, or anyone's with the instructor's token) and Leave the line: buttons and /stop, /leave."""
    stop_btn, leave_btn = buttons

    @localized
    def stop(token: str | None = None, method: str | None = None, request: gr.Request = None) -> str:  # type: ignore[assignment]
        """Stop your run at its next step (an instructor's token stops anyone's). Runs saved earlier are kept. In a
        "Train all" race, `method` stops that method alone; without it the whole race stops, every method not saved
        kept for /resume_race."""
        override = deployment.is_instructor(token)
        if method is not None and (not isinstance(method, str) or method not in METHODS):
            raise user_error(f"unknown method {str(method)[:40]!r}: one of {', '.join(METHODS)}")
        if runner.stop(owner_of(request), override=override, method=method):
            gr.Info(say("Stopping at the next step; runs saved earlier are kept."))
            return "stopping"
        if runner.running_owner() is not None:
            gr.Warning(say("The run training now is another visitor's: only they (or the instructor) can stop it."))
            return "not yours"
        gr.Warning(say("Nothing is training."))
        return "idle"

    @localized
    def leave(request: gr.Request = None) -> str:  # type: ignore[assignment]
        """Take your waiting runs out of the line (a run already training is stopped with /stop)."""
        if runner.withdraw(owner_of(request)):
            gr.Info(say("Your waiting run was taken out of the line."))
            return "withdrawn"
        gr.Warning(say("You have no run waiting in line."))
        return "none"

    words = {
        "stopping": "**Stopping** at the next step; runs saved earlier are kept.",
        "not yours": "**Not stopped:** the run training now is another visitor's.",
        "idle": "**Not stopped:** nothing is training.",
        "withdrawn": "**Out of the line:** your waiting run will not start.",
        "none": "**Nothing to leave:** you have no run waiting in line.",
    }

    @localized
    def stop_clicked(token_value: str | None, request: gr.Request) -> str:
        return say(words[stop(token_value, None, request)])

    @localized
    def leave_clicked(request: gr.Request) -> str:
        return say(words[leave(request)])

    stop_btn.click(stop_clicked, [token], action, api_visibility="private")
    leave_btn.click(leave_clicked, None, action, api_visibility="private")
    gr.api(stop, api_name="stop")
    gr.api(leave, api_name="leave")


def resume_job(runner: TrainingRunner, deployment: Deployment, run_id: str | None, token, request) -> int:
    """Put a stopped run in line again for this visitor, after the same checks as a new run."""
    if not run_id:
        raise user_error("Pick a stopped run to resume.")
    if not isinstance(run_id, str) or len(run_id) > 64:  # a run id (or 'last'); nothing else is looked up or logged
        raise user_error("a stopped run is named by its run id (python -m finetune runs) or 'last'")
    return go_on(deployment, token, request, lambda **line: runner.resume(run_id, owner=owner_of(request), **line))


def visitor_bounds(deployment: Deployment, token, request) -> dict[str, Any]:
    """The runner's bounds on this visitor's jobs: one a browser session on a public lab (`one_per_owner`), who the
    visitor is (webui/visitors.py) and how many jobs they may hold at once (None: no bound); the instructor has none."""
    visitor = visitor_of(request)
    bounded = deployment.one_job_per_visitor and not deployment.is_instructor(token)
    return {"one_per_owner": bounded, "visitor": visitor,
            "per_visitor": deployment.jobs_per_visitor(visitor) if bounded else None}  # fmt: skip


def go_on(deployment: Deployment, token, request, put: Callable[..., int]) -> int:
    """Put a stopped run (or race) back in line for this visitor, as a new run's checks would: the instructor token,
    this lab's run budget, one job at a time on a public lab, the request's context; refusals in words."""
    deployment.check_may_train(token)
    try:
        return put(max_seconds=deployment.run_budget(token), context=contextvars.copy_context(),
                   **visitor_bounds(deployment, token, request))  # fmt: skip
    except (RunnerBusy, ConfigError, ResumeError) as e:
        raise user_error(str(e)) from None


def wire_resume(runner: TrainingRunner, deployment: Deployment, stopped, resume_btn, token, command, action) -> None:
    @localized
    def on_resume(run_id: str | None, token_value: str | None, request: gr.Request):
        try:
            job = resume_job(runner, deployment, run_id, token_value, request)
        except gr.Error as e:
            return gr.skip(), gr.skip(), refused_text(e)
        gr.Info(say("The stopped run is in line again; it goes on from its last dev evaluation."))
        status = (
            say("**Resumed:** it goes on from its last dev evaluation.")
            + " "
            + started_text(runner, job, owner_of(request))
        )
        return resume_command(run_id or ""), gr.update(choices=live_view.stopped_choices(runner), value=None), status

    resume_btn.click(on_resume, [stopped, token], [command, stopped, action], api_visibility="private")

    @localized
    def resume_api(run_id: str, token: str | None = None, request: gr.Request = None) -> Iterator[dict]:  # type: ignore[assignment]
        """Go on with a stopped run (its id, or 'last') where it was, streaming like /train; the last value
        is the saved run's record."""
        yield from follow_job(runner, resume_job(runner, deployment, run_id, token, request), request)

    gr.api(resume_api, api_name="resume", concurrency_limit=None)


@dataclass
class RaceControls:
    """During a visitor's own "Train all": a Stop button a method still training or waiting; after a stopped race,
    Resume the race."""

    row: gr.Row
    stops: dict[str, gr.Button]
    resume: gr.Button


def build_race_controls() -> RaceControls:
    with gr.Row(visible=False, elem_id="race-controls") as row:
        stops = {name: gr.Button(t("Stop"), size="sm", variant="stop", visible=False, elem_id=f"stop-{name}",
                                 min_width=80) for name in METHODS}  # fmt: skip
        resume = gr.Button(t("Resume the race"), size="sm", variant="primary", visible=False, elem_id="resume-race-btn",
                           min_width=120)  # fmt: skip
    return RaceControls(row, stops, resume)


def resume_race_job(runner: TrainingRunner, deployment: Deployment, token, request) -> int:
    """Put this visitor's stopped race in line again: its stopped runs go on, its methods never started start."""
    anyone = deployment.may_resume_any_race(token)
    return go_on(deployment, token, request,
                 lambda **line: runner.resume_race(owner_of(request), anyone=anyone, **line))  # fmt: skip


def wire_race(runner: TrainingRunner, deployment: Deployment, race: RaceControls, token, action_line_parts) -> None:
    """The race's Stop and Resume buttons; their timer also takes away an action line that speaks of a job gone by."""
    action, said = action_line_parts

    @localized
    def controls(said_value: dict | None, request: gr.Request):
        snap, owner = runner.snapshot(), owner_of(request)
        mine = snap.state == "running" and snap.race_owner == owner and snap.config is None
        live = {e.method for e in snap.race if e.state in ("waiting", "running")} if mine else set()
        left = bool(runner.unfinished_race(owner, anyone=deployment.may_resume_any_race())) and not mine
        stops = [gr.update(visible=name in live, value=say("Stop {method}", method=run_title(name)))
                 for name in race.stops]  # fmt: skip
        line = "" if action_line.outdated(said_value, snap, owner) else gr.skip()
        return [gr.Row(visible=bool(live) or left), *stops, gr.update(visible=left, value=say("Resume the race")), line]

    gr.Timer(1.0).tick(controls, said, [race.row, *race.stops.values(), race.resume, action],
                       show_progress="hidden", api_visibility="private")  # fmt: skip

    for name, button in race.stops.items():

        @localized
        def stop_one(token_value: str | None, request: gr.Request, name: str = name) -> str:
            if runner.stop(owner_of(request), override=deployment.is_instructor(token_value), method=name):
                return say("**Stopping {method}** at its next step; the other methods train on.",
                           method=run_title(name))  # fmt: skip
            return say("**Not stopped:** {method} is not training in your race.", method=run_title(name))

        button.click(stop_one, [token], action, api_visibility="private")

    @localized
    def on_resume_race(token_value: str | None, request: gr.Request) -> str:
        try:
            job = resume_race_job(runner, deployment, token_value, request)
        except gr.Error as e:
            return refused_text(e)
        return say("**The race goes on:** its stopped runs where they were, the others from the start.") + " " + (
            started_text(runner, job, owner_of(request)))  # fmt: skip

    race.resume.click(on_resume_race, [token], action, api_visibility="private")
    add_race_apis(runner, deployment)


def add_race_apis(runner: TrainingRunner, deployment: Deployment) -> None:
    """/train_all and /resume_race, for scripts (gradio_client): the race's buttons, streaming its progress."""

    @localized
    def train_all_api(
        task: str,
        model: str | None = None,
        data_dir: str | None = None,
        seed: int | None = None,
        token: str | None = None,
        request: gr.Request = None,
    ) -> Iterator[dict]:  # type: ignore[assignment]
        """Train every method side by side ("Train all"), streaming each method's state and step; the last value
        lists the saved runs' records. Stop one method with /stop's `method`, the whole race without it."""
        base = parse_form({"task": task, "method": FIRST_METHOD, "model": model, "data_dir": data_dir, "seed": seed})
        job = submit(runner, deployment, train_all_configs(base), token, request, race=True)
        yield from follow_job(runner, job, request)

    gr.api(train_all_api, api_name="train_all", concurrency_limit=None)

    @localized
    def resume_race_api(token: str | None = None, request: gr.Request = None) -> Iterator[dict]:  # type: ignore[assignment]
        """Go on with your stopped "Train all": its stopped runs where they were, the methods it never started."""
        yield from follow_job(runner, resume_race_job(runner, deployment, token, request), request)

    gr.api(resume_race_api, api_name="resume_race", concurrency_limit=None)


def resume_command(run_id: str) -> str:
    return f"python -m finetune train --resume {shlex.quote(run_id)}"


def follow_job(runner: TrainingRunner, job: int, request: gr.Request | None) -> Iterator[dict]:
    """A job's place in line, then its progress, then the record of the run it saved (or a user error)."""
    while (outcome := runner.outcome(job)) is None:
        snap = runner.snapshot()
        place = snap.place_of_job(job)  # this job's own place: a visitor may have several in a private lab
        if snap.job_id == job and snap.state == "running" and snap.race and snap.config is None:
            methods = {e.method: {"state": e.state, "step": e.progress.get("step"),
                                  "max_steps": e.progress.get("max_steps")} for e in snap.race}  # fmt: skip
            yield {"state": "running", "methods": methods, "eta_s": round(snap.race_remaining_s, 1)}
        elif snap.job_id == job and snap.state == "running":
            last = next((e for e in reversed(snap.events) if "step" in e), {})
            yield {"state": "running", "step": last.get("step"), "max_steps": last.get("max_steps")}
        elif place is not None:
            yield {"state": "queued", "place": place[0], "eta_s": round(place[1], 1)}
        time.sleep(1.0)
    if outcome.state != "complete" or not outcome.runs:
        raise user_error(f"training {outcome.state}: {outcome.reason}")
    if len(outcome.runs) > 1:  # a race: every saved run
        yield {"state": "complete", "runs": list(outcome.runs)}
        return
    yield {"state": "complete", **outcome.runs[-1]}


def train_api_signature() -> inspect.Signature:
    """task, method, every form input as an optional keyword (None: the default), the instructor token."""
    keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter("task", keyword, annotation=str), inspect.Parameter("method", keyword, annotation=str)]
    for name, item in form_settings().items():
        params.append(inspect.Parameter(name, keyword, default=None, annotation=item.kind | None))
    params.append(inspect.Parameter("token", keyword, default=None, annotation=str | None))
    params.append(inspect.Parameter("request", keyword, default=None, annotation=gr.Request))
    return inspect.Signature(params, return_annotation=Iterator[dict])


def add_train_api(runner: TrainingRunner, deployment: Deployment) -> None:
    signature = train_api_signature()

    def train_api(*args, **kwargs) -> Iterator[dict]:
        """Train one run, streaming its place in line, then progress; the last value is the saved run's
        record. Empty values take the (task, method) defaults; no model or data_dir means the app's defaults.
        token: the instructor token, when the lab has one."""
        arguments = dict(signature.bind(*args, **kwargs).arguments)
        request, token = arguments.pop("request", None), arguments.pop("token", None)
        config = parse_form(arguments)
        yield from follow_job(runner, submit(runner, deployment, [config], token, request), request)

    train_api.__signature__ = signature  # type: ignore[attr-defined]
    train_api.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()} | {
        "return": Iterator[dict]
    }
    # No queue limit here: callers wait in the runner's own line, which says their place.
    gr.api(localized(train_api), api_name="train", concurrency_limit=None)
