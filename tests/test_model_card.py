"""Every run folder is a Hub-ready model repository: its model card parses with huggingface_hub, carries the
run's metrics as model-index, and its loading code — run in a fresh Python where glue-tune-lab cannot be
imported — gives the same probabilities as `predict`."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

import pytest
from huggingface_hub import ModelCard

from finetune.core.model_card import CARD_FILE, loading_code
from finetune.core.tasks import TASKS
from finetune.engine.predict import Predictor
from finetune.engine.train import train

from .conftest import tiny_config

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("task", "method"), [("sst2", "full"), ("sst2", "lora"), ("mrpc", "prompt")])
def test_the_card_parses_and_its_code_loads_the_run_without_this_project(
    tiny_bert, glue_dir, checkpoints_dir, tmp_path, task, method
):
    run = train(tiny_config(tiny_bert, glue_dir, task, method)).run
    card = ModelCard.load(run.path / CARD_FILE)
    data = card.data.to_dict()
    assert data["datasets"] == ["nyu-mll/glue"] and data["pipeline_tag"] == "text-classification"
    assert data["library_name"] == ("transformers" if method == "full" else "peft")
    assert "base_model" not in data  # a local encoder has no Hub id to name
    results = {r.metric_type: r for r in card.data.eval_results}
    assert results["accuracy"].metric_value == round(run.info["metrics"]["accuracy"], 4)
    assert results["matthews_correlation"].dataset_config == task
    assert "python -m finetune train --task" in card.text and f"--method {method}" in card.text

    code = re.search(r"```python\n(.*?)\n```", card.text, re.S).group(1)
    assert code == loading_code(run.info)
    probe = "import importlib.util, sys\nassert importlib.util.find_spec('finetune') is None\n" + code
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", probe], cwd=run.path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    plain = ast.literal_eval(result.stdout.strip().splitlines()[-1])  # the card's code prints {label: probability}

    ours = next(a for a in Predictor(checkpoints_dir).predict(task, *TASKS[task].examples[0]) if a.method == method)
    assert ours.run_id == run.run_id
    assert plain == pytest.approx(ours.probabilities, abs=1e-5)


def test_selective_says_how_it_loads(tiny_bert, glue_dir, checkpoints_dir):
    run = train(tiny_config(tiny_bert, glue_dir, "sst2", "selective")).run
    card = ModelCard.load(run.path / CARD_FILE)
    assert loading_code(run.info) is None and "python -m finetune predict" in card.text
    assert card.data.to_dict()["library_name"] == "transformers"
