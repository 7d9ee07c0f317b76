"""A new method is one new file: a copy of the lab with LoRA-on-key/value dropped into the methods package,
and nothing else changed, shows the method in `train --help`, trains it from the CLI, and serves it in
the Train tab's choices and form, in `/train`, in the Playground and in Results, with its own model card and an
estimate that times its own layer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client

from .conftest import REPO, free_port

pytestmark = pytest.mark.slow

NEW_METHOD = "lora_kv"


def lab_with_a_new_method(folder: Path) -> Path:
    """A copy of the lab's code plus finetune/core/methods/lora_kv.py made from lora.py by renaming."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("finetune", "webui", "tests"):
        shutil.copytree(REPO / part, folder / part, ignore=ignore)
    for name in ("app.py", "pyproject.toml"):
        shutil.copy(REPO / name, folder / name)
    source = (REPO / "finetune" / "core" / "methods" / "lora.py").read_text()
    replacements = {
        "class LoRA(PeftMethod):": "class LoRAKeyValue(PeftMethod):",
        'name = "lora"': f'name = "{NEW_METHOD}"',
        'title = "LoRA"': 'title = "LoRA (key, value)"',
        "order = 1": "order = 4",
        'color = "#ff7f0e"': 'color = "#8c564b"',
        '"query,value", label="Target modules"': '"key,value", label="Target modules"',
    }
    for old, new in replacements.items():
        assert old in source, f"lora.py changed: {old!r} not found"
        source = source.replace(old, new)
    (folder / "finetune" / "core" / "methods" / f"{NEW_METHOD}.py").write_text(source)
    return folder


def run(folder: Path, *args, env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_a_new_method_file_appears_everywhere(tmp_path, tiny_bert, glue_dir):
    lab = lab_with_a_new_method(tmp_path / "lab")
    checkpoints_dir = tmp_path / "checkpoints"
    env = {
        **os.environ,
        "PYTHONPATH": str(lab),
        "FINETUNE_CHECKPOINTS": str(checkpoints_dir),
        "GLUE_DIR": str(glue_dir),
    }
    tiny = [
        "--model",
        str(tiny_bert),
        "--max-train-samples",
        "64",
        "--max-eval-samples",
        "32",
        "--max-seq-length",
        "64",
    ]

    # The CLI: its options in --help, and a run trained with them.
    help_text = run(lab, "-m", "finetune", "train", "--help", env=env).stdout
    assert "--lora-kv-r" in help_text and "--lora-kv-target-modules" in help_text and NEW_METHOD in help_text
    trained = run(lab, "-m", "finetune", "train", "--task", "sst2", "--method", NEW_METHOD, "--lora-kv-r", "2",
                  *tiny, "--json", env=env)  # fmt: skip
    info = json.loads(trained.stdout)
    assert info["method"] == NEW_METHOD and info["config"]["method_options"]["target_modules"] == "key,value"
    assert 0 < info["params"]["trainable"] < info["params"]["full_total"]
    # Its model card: what the method says about itself (a peft adapter, loaded with peft), under its own name.
    card = (checkpoints_dir / "sst2" / NEW_METHOD / info["run_id"] / "README.md").read_text()
    assert "library_name: peft" in card and f"- {NEW_METHOD}" in card
    assert "# LoRA (key, value) on SST-2" in card and 'PeftModel.from_pretrained(base, "model")' in card
    # Its estimate: the layer timed before a run trains as the method trains the encoder (its adapters on key and
    # value), by the same test that holds every method to it; and the Train tab's estimate is made from it.
    contract = run(lab, "-m", "pytest", "-p", "no:cacheprovider", "-v", "tests/test_methods_params.py", "-k",
                   "estimate_times", env=env).stdout  # fmt: skip
    assert f"top_layer[{NEW_METHOD}] PASSED" in contract and "failed" not in contract
    estimated = run(lab, "-c", f"""
from finetune.engine.estimate import RUN_OVERHEAD_S, estimate, layer_speed
from finetune.engine.config import RunConfig
config = RunConfig(task="sst2", method="{NEW_METHOD}", model={str(tiny_bert)!r}, data_dir={str(glue_dir)!r},
                   max_train_samples=64, max_eval_samples=32, max_seq_length=64, method_options={{"r": 2}})
seconds = estimate(config).seconds
timed = sorted(shape[6] if len(shape) > 6 else "forward-only" for shape in layer_speed._speeds)
print(seconds > RUN_OVERHEAD_S, *timed)
""", env=env).stdout  # fmt: skip
    assert estimated.split() == ["True", "forward-only", NEW_METHOD]  # its own layer timed, and the dev pass

    # The app, served from the copy.
    port = free_port()
    app = subprocess.Popen(
        [sys.executable, "app.py"], cwd=lab, env={**env, "GRADIO_SERVER_PORT": str(port)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/"
        config = wait_for_config(url, app)
        components = {c.get("props", {}).get("elem_id"): c["props"] for c in config["components"]}
        words = config["i18n_translations"]["en"]

        def english(value: str) -> str:  # a translated text travels as a key (webui/locales.py)
            marker = "__i18n__"
            return words[json.loads(value.removeprefix(marker))["key"]] if value.startswith(marker) else value

        method_choices = [choice[1] for choice in components["in-method"]["choices"]]
        assert method_choices[-1] == NEW_METHOD  # the Train tab's choices, in the method's order
        assert english(components["in-lora-kv-r"]["label"]) == "LoRA rank r"  # its options in the form
        assert components["in-lora-kv-target-modules"]["value"] == "key,value"
        # Its colour in Results' charts (drawn per refresh from this table).
        colors = run(lab, "-c", "from webui.results_tab import CHART_COLORS; print(CHART_COLORS['LoRA (key, value)'])",
                     env=env).stdout  # fmt: skip
        assert colors.strip() == "#8c564b"
        assert english(components["predict-btn"]["value"]) == "Predict with all 5"

        client = Client(url, verbose=False)
        record = client.predict(
            "sst2", NEW_METHOD, model=str(tiny_bert), max_train_samples=64, max_eval_samples=32, max_seq_length=64,
            lora_kv_r=3, api_name="/train",
        )  # fmt: skip
        assert record["state"] == "complete" and record["config"]["method_options"]["r"] == 3
        runs = client.predict(api_name="/runs")  # what Results lists
        assert [r["method"] for r in runs] == [NEW_METHOD, NEW_METHOD]
        answers = {a["method"]: a for a in client.predict("sst2", "a fine film", api_name="/predict")}
        assert answers[NEW_METHOD]["status"] == "ok" and answers[NEW_METHOD]["run_id"] == record["run_id"]
        assert answers[NEW_METHOD]["title"] == "LoRA (key, value)"
    finally:
        app.terminate()
        app.wait(30)


def wait_for_config(url: str, app: subprocess.Popen, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert app.poll() is None, "the app exited"
        try:
            with urllib.request.urlopen(url + "config", timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(1)
    raise AssertionError("the app did not start")
