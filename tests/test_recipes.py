"""Recipes: a sweep's choice for a (task, method) is what a run with nothing changed trains with; the sweep
script trains candidates over seeds and reports the worst seed against the floors."""

from __future__ import annotations

import json
import re
from pathlib import Path

from finetune.bench.sweep import CANDIDATES, as_record, config_for, machine_name, settings_key, summary
from finetune.bench.sweep import main as sweep
from finetune.core.recipes import FLOORS, RECIPES, below_floor, recipe_for
from finetune.engine.config import RunConfig, classroom_defaults, resolve_config
from finetune.engine.train import TRAINING_REVISION


def test_a_recipe_is_the_default_and_a_typed_setting_wins():
    (task, method), recipe = next(iter(RECIPES.items()))
    defaults = classroom_defaults(task, method)
    for name in ("learning_rate", "epochs", "batch_size", "max_train_samples"):
        if getattr(recipe, name) is not None:
            assert defaults[name] == getattr(recipe, name)
    resolved, _ = resolve_config(RunConfig(task=task, method=method))
    assert resolved.learning_rate == defaults["learning_rate"]
    resolved, _ = resolve_config(RunConfig(task=task, method=method, learning_rate=0.5))
    assert resolved.learning_rate == 0.5
    assert recipe_for("cola", "nonexistent").learning_rate is None  # no recipe: the method's defaults


def test_prompt_init_text_random_overrides_a_recipe_with_words(monkeypatch):
    from finetune.core import recipes

    monkeypatch.setitem(recipes.RECIPES, ("mrpc", "prompt"), recipes.Recipe(options={"init_text": "same meaning?"}))
    assert resolve_config(RunConfig(task="mrpc", method="prompt"))[0].method_options["init_text"] == "same meaning?"
    asked = RunConfig(task="mrpc", method="prompt", method_options={"init_text": "random"})
    assert resolve_config(asked)[0].method_options["init_text"] == "random"


def test_floors_are_named_in_words():
    assert below_floor("sst2", "prompt", {"accuracy": 0.70, "f1": 0.7, "mcc": 0.4}) == ["accuracy 0.700 < 0.72"]
    assert below_floor("sst2", "prompt", {"accuracy": 0.80, "f1": 0.8, "mcc": 0.6}) == []
    assert all(set(floors) <= {"accuracy", "f1", "mcc"} for floors in FLOORS.values())


def test_the_sweep_trains_each_candidate_on_each_seed_and_continues(tiny_bert, glue_dir, tmp_path, capsys):
    args = ["--task", "sst2", "--method", "lora", "--seeds", "0", "1", "--model", str(tiny_bert), "--data-dir",
            str(glue_dir), "--out", str(tmp_path), "--only", "small", "--candidate",
            "small=max_train_samples:64,max_eval_samples:32,max_seq_length:32,lora_r:2"]  # fmt: skip
    assert sweep(args) == 0
    records = [json.loads(line) for line in (tmp_path / "sst2-lora.jsonl").read_text().splitlines()]
    assert [(r["candidate"], r["seed"]) for r in records] == [("small", 0), ("small", 1)]
    assert all(r["config"]["max_train_samples"] == 64 and r["config"]["method_options"]["r"] == 2 for r in records)
    assert f"| small | {machine_name()} | auto | 0,1 |" in capsys.readouterr().out
    assert all(r["training_revision"] == TRAINING_REVISION for r in records)
    assert sweep(args) == 0  # done already: nothing trained again
    assert len((tmp_path / "sst2-lora.jsonl").read_text().splitlines()) == 2
    # A run of an earlier training loop is not done: its seed trains again (the same settings drew otherwise).
    log = tmp_path / "sst2-lora.jsonl"
    log.write_text(json.dumps({**records[0], "training_revision": 1}) + "\n" + json.dumps(records[1]) + "\n")
    assert sweep(args) == 0
    again = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["seed"], r["training_revision"]) for r in again] == [
        (0, 1),
        (1, TRAINING_REVISION),
        (0, TRAINING_REVISION),
    ]
    readme = (tmp_path / "README.md").read_text()
    assert readme.count("### sst2 / lora") == 1  # rewritten, not appended
    assert f"### sst2 / lora (newest run {records[1]['date']})\n" in readme  # dated by its runs, not by the rewrite


def test_the_summary_tells_the_present_recipe_from_an_earlier_one(tmp_path):
    present = as_record(resolve_config(RunConfig(task="sst2", method="prompt", seed=0))[0])
    earlier = {**present, "learning_rate": 0.03}
    options = {**present["method_options"], "num_virtual_tokens": 10}
    another = {**present, "epochs": 5.0, "data_dir": "/elsewhere", "method_options": options}  # paths do not count
    log = tmp_path / "sst2-prompt.jsonl"
    runs = [("current", 0, 0.75, present), ("current", 1, 0.66, earlier), ("became-the-recipe", 2, 0.73, present),
            ("current", 3, 0.70, another)]  # fmt: skip
    rows = [{"candidate": name, "seed": seed, "precision": "auto", "machine": "m", "wall_seconds": 1.0,
             "metrics": {"accuracy": accuracy}, "config": config, "training_revision": TRAINING_REVISION}
            for name, seed, accuracy, config in runs]  # fmt: skip
    rows.append({**rows[0], "seed": 4, "metrics": {"accuracy": 0.71}})  # an earlier loop's run: no revision logged
    del rows[-1]["training_revision"]
    log.write_text("".join(json.dumps(row) + "\n" for row in rows))
    table = summary(log, "sst2", "prompt")
    assert table.startswith("### sst2 / prompt\n")  # runs logged before they carried a date: no date made up
    assert (
        "| current [training revision 1] | m | auto | 4 | 0.710 | 0.710 | 1 | seed 4: accuracy 0.710 < 0.72 |" in table
    )
    assert "| current | m | auto | 0,2 | 0.730 | 0.740 | 1 | yes |" in table
    assert "| current (an earlier recipe: learning_rate 0.03) | m | auto | 1 | 0.660 |" in table
    assert "| current (an earlier recipe: epochs 5.0, num_virtual_tokens 10) | m | auto | 3 | 0.700 |" in table


def test_a_recipe_option_that_does_not_fit_the_encoder_gives_way_to_the_method_default(tiny_bert):
    from finetune.engine.config import ConfigError

    assert RECIPES[("mrpc", "selective")].options == {"top_k": 4}  # tuned on the 6-layer packaged encoder
    assert resolve_config(RunConfig(task="mrpc", method="selective"))[0].method_options["top_k"] == 4
    on_tiny = resolve_config(RunConfig(task="mrpc", method="selective", model=str(tiny_bert)))[0]
    assert on_tiny.method_options["top_k"] == 1  # the method's own default: a third of 2 layers, at least 1
    try:
        resolve_config(RunConfig(task="mrpc", method="selective", model=str(tiny_bert), method_options={"top_k": 3}))
    except ConfigError as e:
        assert "at most 2" in str(e)  # asked by the run itself: refused in words
    else:
        raise AssertionError("a run's own top_k larger than the encoder must be refused")


def test_the_reference_lists_every_recipe_as_it_is():
    """The reference's recipe table is what users read: it must name every recipe and its numbers, no more."""
    readme = (Path(__file__).resolve().parents[1] / "docs" / "reference.md").read_text()
    rows = dict(re.findall(r"^\| (\w+ / \w+) \| (.+) \|$", readme, flags=re.MULTILINE))
    rows.pop("task / method")  # the heading
    assert set(rows) == {f"{task} / {method}" for task, method in RECIPES}
    for (task, method), recipe in RECIPES.items():
        row = rows[f"{task} / {method}"]
        if recipe.learning_rate:
            assert [float(x) for x in re.findall(r"lr ([\d.e-]+)", row)] == [recipe.learning_rate], row
        if recipe.epochs:
            assert f"{recipe.epochs:g} passes" in row, row
        if recipe.max_train_samples:
            assert f"{recipe.max_train_samples:,} examples" in row, row
        if "top_k" in recipe.options:
            assert f"top {recipe.options['top_k']} layers" in row, row
        if "init_text" in recipe.options:
            assert f'"{recipe.options["init_text"]}"' in row, row
        if "reinit_top_layers" in recipe.options:
            assert f"--full-reinit-top-layers {recipe.options['reinit_top_layers']}" in row, row


def test_every_swept_candidate_reruns_what_its_logged_runs_trained():
    """A candidate overrides the recipe of the day: once a recipe changes, a candidate that leaves a setting to
    it would rerun something else under its old name and mix two recipes in one summary row."""
    sweeps = Path(__file__).resolve().parents[1] / "benchmarks" / "sweeps"

    def trained(config: dict) -> str:
        options = config.get("method_options", {})
        if options.get("init_text") == "":  # older runs wrote a random start as no text; both train the same
            config = {**config, "method_options": {**options, "init_text": "random"}}
        return settings_key(config)

    checked = 0
    for (task, method), candidates in CANDIDATES.items():
        log = sweeps / f"{task}-{method}.jsonl"
        records = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
        for name, overrides in candidates.items():
            logged = {trained(r["config"]) for r in records if r["candidate"] == name}
            if logged:
                now = trained(as_record(resolve_config(config_for(task, method, overrides, 0, "auto"))[0]))
                assert logged == {now}, f"{task} / {method} candidate {name!r} would now train {now}"
                checked += 1
    assert checked >= 20  # the committed sweeps are read, not skipped


def test_every_recipe_names_the_swept_candidate_that_trained_it():
    """A recipe's provenance is one reference, "<sweep file>: <candidate>": that candidate's logged runs trained
    exactly what the recipe trains now, and benchmarks/sweeps/HISTORY.md tells its story."""
    sweeps = Path(__file__).resolve().parents[1] / "benchmarks" / "sweeps"
    history = (sweeps / "HISTORY.md").read_text()
    for (task, method), recipe in RECIPES.items():
        file, _, candidate = recipe.chosen_by.partition(": ")
        assert file == f"{task}-{method}.jsonl", recipe.chosen_by
        records = [json.loads(line) for line in (sweeps / file).read_text().splitlines()]
        logged = {settings_key(r["config"]) for r in records if r["candidate"] == candidate}
        now = settings_key(as_record(resolve_config(config_for(task, method, {}, 0, "auto"))[0]))
        assert logged and now in logged, f"{task} / {method}: {candidate!r} did not train the recipe"
        assert f"### {task} / {method}: `{candidate}` in `{file}`" in history
