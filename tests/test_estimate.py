"""The time shown before a run starts: it grows with the work, orders the methods as their compute does, and
a config that cannot run gets its reason instead (speed itself is measured in the benchmark, not here)."""

from __future__ import annotations

import time

import pytest

from finetune.bench.estimates import compare, table
from finetune.engine import estimate as estimate_module
from finetune.engine.config import ConfigError
from finetune.engine.estimate import RUN_OVERHEAD_S, duration_text, estimate, layer_speed

from .conftest import make_tiny_bert, tiny_config, wait_for


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
    assert len(layer_speed) == 2  # a training step at the run's batches, a forward-only dev pass
    again = estimate(tiny_config(tiny_bert, glue_dir, max_train_samples=4000, batch_size=8))
    assert len(layer_speed) == 2 and again.seconds > first.seconds  # same shapes: measured once
    estimate(tiny_config(tiny_bert, glue_dir, max_train_samples=2000, batch_size=32))
    assert len(layer_speed) == 3  # wider training batches: measured at their own shape
    lora = (("r", 4), ("target_modules", "query,dense"))
    for method, options in ((None, ()), ("full", ()), ("prompt", ()), ("selective", ()), ("lora", lora)):
        assert layer_speed(32, 64, 2, 8, 13, "fp32", method, options) > 0  # each method's layer, or forward only
    # An absurd batch is measured at a few thousand tokens a step (a million would take gigabytes and minutes).
    assert layer_speed(32, 64, 2, 10**6, 13, "fp32", "full") > 0


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


def test_a_busy_spell_during_a_measurement_is_forgotten_when_the_machine_is_measured_again(monkeypatch):
    """Started while another process had the cores, a shape measures slow; measured again while nothing trains,
    it takes the quiet machine's speed, and a later busy measurement does not pull it back down."""
    measured = iter([2e8, 1e9, 3e8])  # FLOP/s: busy at start-up, quiet when idle, busy again
    monkeypatch.setattr(estimate_module, "_measure_layer", lambda *shape: next(measured))
    speeds = estimate_module.MeasuredSpeeds()
    shape = (32, 64, 2, 8, 13, "fp32", "full")
    assert speeds(*shape) == 2e8 and speeds(*shape) == 2e8  # measured once, then kept
    speeds.remeasure()
    assert speeds(*shape) == 1e9
    speeds.remeasure()
    assert speeds(*shape) == 1e9  # the best ever seen: another process only ever slows a step


def test_a_real_runs_pace_corrects_every_later_estimate(tiny_bert, glue_dir, steady_machine, monkeypatch, tmp_path):
    """A real tiny run trains with the correction's listener: the estimates that follow are scaled by how its
    steps actually went (its projected seconds over the uncorrected estimate)."""
    from finetune.engine.train import train

    correction = estimate_module.SpeedCorrection()
    monkeypatch.setattr(estimate_module, "speed_correction", correction)
    monkeypatch.setattr(estimate_module.SpeedCorrection, "MIN_STEPS", 2)
    monkeypatch.setattr(estimate_module.SpeedCorrection, "MIN_SECONDS", 0.0)
    monkeypatch.setattr(estimate_module.SpeedCorrection, "BOUNDS", (1e-9, 1e9))
    config = tiny_config(tiny_bert, glue_dir, max_train_samples=160)
    planned = estimate(config, corrected=False).seconds - RUN_OVERHEAD_S
    paces: list[float] = []
    listener = correction.listener(config)

    def watch(event: dict) -> None:
        listener(event)
        if event["type"] in ("progress", "log") and event["step"] >= 2:
            paces.append(event["elapsed_s"] / event["step"] * event["max_steps"])

    train(config, listeners=[watch], checkpoints_dir=tmp_path)
    assert correction.observed == len(paces) > 0
    assert correction.factor == pytest.approx(paces[-1] / planned)
    assert estimate(config).seconds - RUN_OVERHEAD_S == pytest.approx(paces[-1])  # the next estimate: the real pace
    assert estimate(config, corrected=False).seconds - RUN_OVERHEAD_S == pytest.approx(planned)


def test_a_pace_from_a_runs_warm_up_or_beyond_reason_corrects_nothing():
    correction = estimate_module.SpeedCorrection()
    correction.observe(100.0, 0.0)
    correction.observe(0.0, 50.0)
    assert (correction.factor, correction.observed) == (1.0, 0)
    correction.observe(10.0, 10_000.0)  # a stalled run says more about the run than the machine
    assert correction.factor == correction.BOUNDS[1]


def test_a_measurement_taken_while_another_process_spins_is_taken_again_once_it_stops(monkeypatch):
    """The lab started on a busy machine: the measurement knows it was disturbed, and is taken again (keeping the
    faster) once the other process stops, not while it still spins; a page then reads a new estimate."""
    import subprocess
    import sys
    import time

    speeds = iter([2e8, 1e9])

    def measured(*shape) -> float:
        time.sleep(0.4)  # the measurement's own time, in which the other process shows
        return next(speeds)

    monkeypatch.setattr(estimate_module, "_measure_layer", measured)
    monkeypatch.setattr(estimate_module, "layer_speed", estimate_module.MeasuredSpeeds())
    monkeypatch.setattr(estimate_module, "speed_correction", estimate_module.SpeedCorrection())
    shape = (32, 64, 2, 8, 13, "fp32", "full")
    spinning = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        assert estimate_module.layer_speed(*shape) == 2e8 and estimate_module.layer_speed.disturbed
        assert not estimate_module.remeasure_when_idle()  # still busy: nothing measured, nothing lost
    finally:
        spinning.kill()
        spinning.wait()
    generation = estimate_module.layer_speed.generation
    assert estimate_module.remeasure_when_idle()
    assert estimate_module.layer_speed(*shape) == 1e9 and not estimate_module.layer_speed.disturbed
    assert estimate_module.layer_speed.generation == generation + 1


def test_options_that_change_no_compute_make_no_new_measurement(tiny_bert, glue_dir, monkeypatch):
    """Forty budget checks that differ in LoRA's alpha, a dropout's (non-zero) value or prompt tuning's init text and
    head learning rate measure nothing new; a rank, a dropout of zero or another length of prompt do."""
    monkeypatch.setattr(estimate_module, "layer_speed", estimate_module.MeasuredSpeeds())
    speeds = estimate_module.layer_speed

    def lora(**options):
        return estimate(tiny_config(tiny_bert, glue_dir, method="lora", method_options={"r": 4, **options}))

    def prompt(i: int):
        return estimate(tiny_config(tiny_bert, glue_dir, method="prompt", learning_rate=0.01 + i / 100, method_options={
            "num_virtual_tokens": 4, "init_text": f"words {i}", "head_learning_rate": 0.001 * (i + 1)}))  # fmt: skip

    lora(), prompt(0)
    measured = len(speeds)
    for i in range(20):
        lora(alpha=1 + i * 37.5, dropout=0.05 + i * 0.04)
        prompt(i + 1)
    assert len(speeds) == measured
    lora(dropout=0.0)  # no dropout path at all: another compute
    lora(r=8)
    assert len(speeds) == measured + 2


@pytest.fixture
def counted_measurements(monkeypatch):
    """A fresh set of measured speeds whose measurements are real, and recorded with the thread that made them."""
    import threading

    speeds = estimate_module.MeasuredSpeeds()
    monkeypatch.setattr(estimate_module, "layer_speed", speeds)
    monkeypatch.setattr(estimate_module, "MEASURE_PAUSE_S", 0.05)
    real, made = estimate_module._measure_layer, []

    def measure(*shape):
        made.append((shape, threading.current_thread().name))
        return real(*shape)

    monkeypatch.setattr(estimate_module, "_measure_layer", measure)
    return speeds, made


def test_a_request_never_measures_in_its_own_thread_and_is_answered_from_the_nearest_shape(
    tiny_bert, glue_dir, counted_measurements
):
    speeds, made = counted_measurements
    estimate(tiny_config(tiny_bert, glue_dir, batch_size=16))  # the app's start measures in place
    assert len(made) == 2
    token = estimate_module.ASKER.set("ip:10.0.0.1")
    try:
        near = estimate(tiny_config(tiny_bert, glue_dir, batch_size=24))  # a shape nobody measured yet
    finally:
        estimate_module.ASKER.reset(token)
    assert near.seconds > 0 and len(made) == 2  # answered at once, nothing measured in the request's thread
    wait_for(lambda: speeds.version == 1, timeout=30)  # measured later, by the measuring thread
    assert made[-1][1] == "measuring-shapes" and made[-1][0][3] == 24
    refined = estimate(tiny_config(tiny_bert, glue_dir, batch_size=24))
    assert len(made) == 3 and refined.seconds > 0  # now known: no measurement


def test_measurements_asked_from_requests_are_bounded_per_visitor_and_take_turns(counted_measurements):
    speeds, made = counted_measurements
    speeds(32, 64, 2, 8, 13, "fp32")  # one shape known, to answer from
    with speeds._lock:  # the measuring thread held back while both visitors ask (the lock is re-entrant)
        for asker, batches in (("ip:10.0.0.1", range(9, 49)), ("ip:10.0.0.2", [4])):  # forty new shapes, then one
            token = estimate_module.ASKER.set(asker)
            try:
                for batch in batches:
                    assert speeds(32, 64, 2, batch, 13, "fp32") > 0  # answered from the known shape
            finally:
                estimate_module.ASKER.reset(token)
    wait_for(lambda: speeds.pending() == 0, timeout=60)
    time.sleep(0.3)
    background = [shape[3] for shape, thread in made if thread == "measuring-shapes"]
    # The first visitor's three newest shapes only, and the second visitor's shape second, not after all of them.
    assert sorted(background) == [4, 46, 47, 48] and background.index(4) == 1
