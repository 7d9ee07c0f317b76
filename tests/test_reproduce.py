"""The study's table: several seeds per (task, method), mean ± std, claims in words, and resuming."""

from __future__ import annotations

import csv
import dataclasses

import pytest

from finetune.core import checkpoints
from finetune.core.methods import METHODS
from finetune.core.tasks import TASKS
from finetune.engine import reproduce
from finetune.engine.config import RunConfig, resolve_config, settings_json


@pytest.mark.slow
def test_table_over_seeds_resumes_without_retraining(tiny_bert, glue_dir, checkpoints_dir, tmp_path):
    common = dict(model=str(tiny_bert), data_dir=str(glue_dir), max_train_samples=48, max_eval_samples=32,
                  epochs=1, batch_size=16, evaluations=1, max_seq_length=64)  # fmt: skip
    configs = reproduce.plan(["sst2", "cola"], ["full", "selective"], seeds=2, **common)
    assert len(configs) == 8 and {c.seed for c in configs} == {42, 43}
    runs = reproduce.run_all(configs, checkpoints_dir, log=lambda _: None)
    assert len(checkpoints.list_runs(checkpoints_dir)) == 8

    messages = []
    again = reproduce.run_all(configs, checkpoints_dir, log=messages.append)  # resume: nothing new
    assert [r.run_id for r in again] == [r.run_id for r in runs]
    assert len(checkpoints.list_runs(checkpoints_dir)) == 8 and all("already done" in m for m in messages)

    table = reproduce.write_results(runs, tmp_path / "results")
    text = table.read_text()
    assert "SST-2 (sentiment) — headline: Accuracy" in text and "CoLA (grammaticality) — headline: MCC" in text
    assert text.count(" ± ") >= 2 * 2 * 4  # every cell of both tasks' rows is mean ± std
    claims = text.split("## The study's claims, checked")[1]
    assert "**SST-2 (sentiment)" in claims and "**CoLA (grammaticality)" in claims
    with (tmp_path / "results" / "runs.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 8

    summary = reproduce.summarize(runs)
    accs = [r.info["metrics"]["accuracy"] for r in runs if r.task == "sst2" and r.method == "full"]
    assert summary["sst2"]["full"]["accuracy"][0] == sum(accs) / 2


def _cell(headline: float, std: float, trainable: int, majority: float) -> dict:
    return {"headline": (headline, std), "seeds": 3, "trainable": trainable, "majority": majority}


def test_claims_in_words():
    summary = {
        "sst2": {
            "full": _cell(0.85, 0.01, 1000, 0.509),
            "lora": _cell(0.83, 0.002, 10, 0.509),
            "selective": _cell(0.84, 0.02, 160, 0.509),
        },
        "cola": {"full": _cell(0.0, 0.0, 1000, 0.0), "selective": _cell(0.0, 0.0, 160, 0.0)},
    }
    sst2, cola = [line for line in reproduce.claims(summary) if "SST-2" in line], reproduce.claims(summary)[3:]
    assert "is full fine-tuning best?** yes (full Accuracy 0.850, best 0.850)" in sst2[0]
    assert "1.0 points below full fine-tuning with 84% fewer trainable parameters" in sst2[1]
    assert "most stable LoRA (± 0.002), least Selective layers (± 0.020)" in sst2[2]
    assert cola == [line for line in reproduce.claims(summary) if "CoLA" in line]
    assert len(cola) == 1 and "undecided on this budget" in cola[0] and "majority-class baseline" in cola[0]


def test_a_resolved_config_resolves_to_itself_so_a_saved_run_counts_as_done():
    """train() resolves the planned config again and saves that; reproduce finds a done run by comparing the two
    (LoRA's alpha once came back as 16.0 where the plan said 16, and every LoRA run was trained again)."""
    for task in TASKS:
        for method in METHODS:
            planned = resolve_config(RunConfig(task=task, method=method, seed=42))[0]
            saved = resolve_config(planned)[0]
            assert reproduce._identity(dataclasses.asdict(saved)) == reproduce._identity(dataclasses.asdict(planned))


def test_settings_compare_by_value_not_by_how_a_number_was_written():
    assert settings_json({"r": 8, "alpha": 16}) == settings_json({"alpha": 16.0, "r": 8.0})
    assert settings_json({"alpha": 16}) != settings_json({"alpha": 16.5})
    assert settings_json({"flag": True}) != settings_json({"flag": 1})
