"""The Train tab's form trains what the CLI trains: choosing a task and method fills every input, the recipe's
method options included, and a run started without edits resolves to the CLI's run for that task and method."""

from __future__ import annotations

import dataclasses

import gradio as gr
import pytest

from finetune.core.methods import METHODS
from finetune.core.recipes import RECIPES
from finetune.core.tasks import TASKS
from finetune.engine.config import RunConfig, classroom_defaults, resolve_config
from webui.deployment import Deployment
from webui.train_tab import build_form, form_config, option_inputs


@pytest.fixture(scope="module")
def form():
    with gr.Blocks():
        return build_form(Deployment.from_env())


def chosen(form, task: str, method: str, **edits) -> dict:
    """The form's values after a visitor picks `task` and `method` (what the choice fills in), then `edits`."""
    return {**form.defaults(), "task": task, "method": method, **classroom_defaults(task, method),
            **option_inputs(task, method), **edits}  # fmt: skip


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("method", list(METHODS))
def test_an_unedited_form_trains_the_clis_run(form, task, method):
    values = chosen(form, task, method)
    from_form, _ = resolve_config(form_config(values))
    from_cli, _ = resolve_config(RunConfig(task=task, method=method, data_dir=values["data_dir"] or None))
    assert dataclasses.asdict(from_form) == dataclasses.asdict(from_cli)


def test_the_recipes_options_show_in_the_form_and_an_edit_wins(form):
    recipe = RECIPES[("mrpc", "lora")].options
    shown = option_inputs("mrpc", "lora")
    assert shown["lora_target_modules"] == recipe["target_modules"] and shown["lora_dropout"] == recipe["dropout"]
    edited, _ = resolve_config(form_config(chosen(form, "mrpc", "lora", lora_dropout=0.1)))
    assert edited.method_options["dropout"] == 0.1  # the visitor's choice, not the recipe's
    assert edited.method_options["target_modules"] == recipe["target_modules"]


def test_a_recipe_option_that_does_not_fit_the_encoder_gives_way_as_from_the_cli(form, tiny_bert):
    # CoLA selective's recipe trains the top 4 layers; the tiny encoder has 2. Left as shown, the form's run takes
    # the method's own default there, as the CLI's does, instead of refusing to start.
    assert option_inputs("cola", "selective")["selective_top_k"] == RECIPES[("cola", "selective")].options["top_k"]
    values = chosen(form, "cola", "selective", model=str(tiny_bert))
    from_form, _ = resolve_config(form_config(values))
    from_cli, _ = resolve_config(RunConfig(task="cola", method="selective", model=str(tiny_bert),
                                           data_dir=values["data_dir"] or None))  # fmt: skip
    assert from_form.method_options == from_cli.method_options == {"top_k": 1}
