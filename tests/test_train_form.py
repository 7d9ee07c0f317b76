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


def test_the_form_keeps_each_methods_finer_options_in_advanced(form):
    """A method's key option shows under the settings; the rest of its options open with Advanced."""
    key_options = {name: [] for name in METHODS}
    for name, pair in form.method_groups.items():
        (key_group, has_key), (finer_group, has_finer) = pair
        assert key_group is not finer_group
        key_options[name] = [has_key, has_finer]
    assert key_options["lora"] == [True, True] and key_options["selective"] == [True, False]
    assert key_options["full"] == [False, True]  # full fine-tuning's options are both for the curious


def test_the_terminal_command_never_shows_the_servers_paths(form, monkeypatch, tmp_path):
    from webui.train_tab import display_command

    glue = tmp_path / "glue"
    monkeypatch.setenv("GLUE_DIR", str(glue))
    base = chosen(form, "sst2", "lora")
    assert form.defaults()["data_dir"] == ""  # the form does not pre-fill the server's folder
    assert "--data-dir" not in display_command(form_config(base))  # empty: $GLUE_DIR, as the CLI reads it
    same = display_command(form_config({**base, "data_dir": str(glue)}))
    assert '--data-dir "$GLUE_DIR"' in same and str(tmp_path) not in same
    monkeypatch.chdir(tmp_path)
    inside = display_command(form_config({**base, "data_dir": str(tmp_path / "data" / "glue")}))
    assert "--data-dir data/glue" in inside and str(tmp_path) not in inside


def test_a_run_without_data_is_refused_naming_the_forms_field(form, monkeypatch, tmp_path, glue_dir):
    from webui.language import speaking
    from webui.train_tab import data_problem, preview

    monkeypatch.delenv("GLUE_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no Hub to read nyu-mll/glue from
    private, public = Deployment(False, True, None, ()), Deployment(True, True, None, ())
    values = chosen(form, "mrpc", "lora")
    problem = data_problem(form_config(values), private)
    assert problem is not None
    assert "Local GLUE directory (under Model and data) is empty" in problem and "nyu-mll/glue" in problem
    assert "MRPC/train.tsv" in problem and "GLUE_DIR" not in problem and "--data-dir" not in problem
    assert "Local GLUE directory" not in data_problem(form_config(values), public)  # a field public labs hide
    estimate, _ = preview(values, private)
    assert estimate.startswith("**Cannot start:**") and "about" not in estimate  # no estimate for a run that can't
    with speaking("ko"):
        assert "로컬 GLUE 폴더가 비어 있습니다" in data_problem(form_config(values), private)
    empty = tmp_path / "empty"
    empty.mkdir()
    wrong = data_problem(form_config({**values, "data_dir": str(empty)}), private)
    assert wrong.startswith("the Local GLUE directory has no MRPC/train.tsv") and str(empty) not in wrong
    assert data_problem(form_config({**values, "data_dir": str(glue_dir)}), private) is None


def test_bert_base_trains_with_the_literatures_rates_labelled_not_validated(form, tiny_bert, monkeypatch):
    from finetune.core.models import ModelSource, resolve_model
    from finetune.core.recipes import STUDY_MODEL, STUDY_RECIPES
    from finetune.engine import config as engine_config

    for recipe in STUDY_RECIPES.values():  # each cites its source and says it is not validated here
        assert "not validated here" in recipe.chosen_by and any(
            f" {year}" in recipe.chosen_by for year in range(2019, 2023)
        )
    ours, theirs = classroom_defaults("sst2", "full"), classroom_defaults("sst2", "full", STUDY_MODEL)
    assert (theirs["learning_rate"], theirs["batch_size"]) == (2e-5, 32) != (ours["learning_rate"], ours["batch_size"])
    assert theirs["max_train_samples"] == ours["max_train_samples"] and theirs["epochs"] == ours["epochs"]

    # bert-base from the Hub, stood in by a local encoder under its name: the CLI's run and the form's take the same.
    def hub(name):
        return ModelSource(STUDY_MODEL, str(tiny_bert), "hub") if name == STUDY_MODEL else resolve_model(name)

    monkeypatch.setattr(engine_config, "resolve_model", hub)
    from_cli, _ = resolve_config(RunConfig(task="mrpc", method="lora", model=STUDY_MODEL))
    assert (from_cli.learning_rate, from_cli.batch_size) == (4e-4, 16)
    assert from_cli.method_options["target_modules"] == "query,value" and from_cli.method_options["alpha"] == 8.0
    values = {**form.defaults(), "task": "mrpc", "method": "lora", "model": STUDY_MODEL,
              **classroom_defaults("mrpc", "lora", STUDY_MODEL),
              **option_inputs("mrpc", "lora", STUDY_MODEL)}  # fmt: skip
    from_form, _ = resolve_config(form_config(values))
    assert dataclasses.asdict(from_form) == dataclasses.asdict(
        dataclasses.replace(from_cli, data_dir=from_form.data_dir)
    )
