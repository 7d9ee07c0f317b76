"""The time shown before a run starts: it grows with the work, orders the methods as their compute does, and
a config that cannot run gets its reason instead (speed itself is measured in the benchmark, not here)."""

from __future__ import annotations

import pytest

from finetune.bench.estimates import compare, table
from finetune.engine import estimate as estimate_module
from finetune.engine.config import ConfigError
from finetune.engine.estimate import RUN_OVERHEAD_S, duration_text, estimate, layer_speed

from .conftest import make_tiny_bert, tiny_config


@pytest.fixture(scope="module")
def deeper_bert(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("deeper-bert"), layers=4)


@pytest.fixture
def steady_machine(monkeypatch):
    """A machine whose layers achieve the same FLOP/s whatever the shape or mode, so that the arithmetic is tested
    apart from timing (this machine's own speeds are measured by test_the_estimate_measures_this_machine...)."""
    monkeypatch.setattr(estimate_module, "layer_speed", lambda *shape, **options: 1e9)


def seconds(tiny_bert, glue_dir, **overrides) -> float:
    return estimate(tiny_config(tiny_bert, glue_dir, **overrides)).seconds - RUN_OVERHEAD_S


def test_the_estimate_grows_with_the_work(tiny_bert, glue_dir, deeper_bert, steady_machine):
    base = seconds(tiny_bert, glue_dir, max_train_samples=2000, max_eval_samples=100, evaluations=1)
    assert base > 0
    more_data = seconds(tiny_bert, glue_dir, max_train_samples=4000, max_eval_samples=100, evaluations=1)
    assert more_data == pytest.approx(2 * base, rel=0.05)  # evaluation is a small share here
    assert seconds(tiny_bert, glue_dir, max_train_samples=2000, max_eval_samples=100, evaluations=1, epochs=3) > (
        2.9 * base
    )
    deeper = seconds(deeper_bert, glue_dir, max_train_samples=2000, max_eval_samples=100, evaluations=1)
    assert deeper == pytest.approx(2 * base, rel=0.15)  # twice the layers, about twice the compute


def test_methods_cost_what_they_compute(tiny_bert, glue_dir, steady_machine):
    common = dict(max_train_samples=4000, max_eval_samples=100, evaluations=1)
    full = seconds(tiny_bert, glue_dir, method="full", **common)
    lora = seconds(tiny_bert, glue_dir, method="lora", **common)
    selective = seconds(tiny_bert, glue_dir, method="selective", **common)  # top 1 of 2 layers
    assert lora < full and selective < full
    long_prompt = seconds(tiny_bert, glue_dir, method="prompt", method_options={"num_virtual_tokens": 60}, **common)
    assert long_prompt > lora  # every input carries 60 more tokens


def test_the_estimate_measures_this_machine_once_per_shape(tiny_bert, glue_dir):
    layer_speed.cache_clear()
    first = estimate(tiny_config(tiny_bert, glue_dir, max_train_samples=2000, batch_size=8))
    assert layer_speed.cache_info().currsize == 2  # a training step at the run's batches, a forward-only dev pass
    again = estimate(tiny_config(tiny_bert, glue_dir, max_train_samples=4000, batch_size=8))
    assert layer_speed.cache_info().currsize == 2 and again.seconds > first.seconds  # same shapes: measured once
    estimate(tiny_config(tiny_bert, glue_dir, max_train_samples=2000, batch_size=32))
    assert layer_speed.cache_info().currsize == 3  # wider training batches: measured at their own shape
    for mode, adapted in (("train", ()), ("backprop", ()), ("backprop", ("query", "dense")), ("forward", ())):
        assert layer_speed(32, 64, 2, 8, 13, "fp32", mode, adapted, 4 if adapted else 0) > 0
    # An absurd batch is measured at a few thousand tokens a step (a million would take gigabytes and minutes).
    assert layer_speed(32, 64, 2, 10**6, 13, "fp32", "train") > 0


def test_a_config_that_cannot_run_says_why(tiny_bert, glue_dir):
    with pytest.raises(ConfigError, match="Epochs must be"):
        estimate(tiny_config(tiny_bert, glue_dir, epochs=0))


def test_durations_read_as_people_say_them():
    assert [duration_text(s) for s in (4.4, 59.6, 200, 3600 + 65 * 60)] == [
        "4 s",
        "1 min 00 s",
        "3 min 20 s",
        "2 h 5 min",
    ]


def test_the_estimates_are_compared_with_real_runs(tiny_bert, glue_dir, tmp_path):
    runs = tmp_path / "runs.csv"
    runs.write_text("task,method,train_seconds\nsst2,full,10\nsst2,full,14\nsst2,lora,5\nsst2,zeroshot,0\n")
    rows = compare(runs, str(glue_dir), str(tiny_bert))
    assert [(r["task"], r["method"], r["measured_s"]) for r in rows] == [("sst2", "full", 12.0), ("sst2", "lora", 5.0)]
    assert all(r["estimated_s"] == pytest.approx(r["layers_s"] * estimate_module.REST) for r in rows)
    text = table(rows)
    assert "| sst2 | full | 12.0 |" in text and "REST fitted here" in text
