"""The time shown before a run starts: it grows with the work, orders the methods as their compute does, and
a config that cannot run gets its reason instead (speed itself is measured in the benchmark, not here)."""

from __future__ import annotations

import pytest

from finetune.engine.config import ConfigError
from finetune.engine.estimate import RUN_OVERHEAD_S, duration_text, estimate

from .conftest import make_tiny_bert, tiny_config


@pytest.fixture(scope="module")
def deeper_bert(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("deeper-bert"), layers=4)


def seconds(tiny_bert, glue_dir, **overrides) -> float:
    return estimate(tiny_config(tiny_bert, glue_dir, **overrides)).seconds - RUN_OVERHEAD_S


def test_the_estimate_grows_with_the_work(tiny_bert, glue_dir, deeper_bert):
    base = seconds(tiny_bert, glue_dir, max_train_samples=2000, max_eval_samples=100, evaluations=1)
    assert base > 0
    more_data = seconds(tiny_bert, glue_dir, max_train_samples=4000, max_eval_samples=100, evaluations=1)
    assert more_data == pytest.approx(2 * base, rel=0.05)  # evaluation is a small share here
    assert seconds(tiny_bert, glue_dir, max_train_samples=2000, max_eval_samples=100, evaluations=1, epochs=3) > (
        2.9 * base
    )
    deeper = seconds(deeper_bert, glue_dir, max_train_samples=2000, max_eval_samples=100, evaluations=1)
    assert deeper == pytest.approx(2 * base, rel=0.15)  # twice the layers, about twice the compute


def test_methods_cost_what_they_compute(tiny_bert, glue_dir):
    common = dict(max_train_samples=4000, max_eval_samples=100, evaluations=1)
    full = seconds(tiny_bert, glue_dir, method="full", **common)
    lora = seconds(tiny_bert, glue_dir, method="lora", **common)
    selective = seconds(tiny_bert, glue_dir, method="selective", **common)  # top 1 of 2 layers
    assert lora < full and selective < full
    long_prompt = seconds(tiny_bert, glue_dir, method="prompt", method_options={"num_virtual_tokens": 60}, **common)
    assert long_prompt > lora  # every input carries 60 more tokens


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
