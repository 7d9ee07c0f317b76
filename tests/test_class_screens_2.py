"""In front of the class, second round (#45): a bound that never refuses the default run on a busy spell's
measurement, ZeroGPU's words a visitor can act on."""

from __future__ import annotations

import pytest

from finetune.engine import estimate as estimate_module
from finetune.engine.runner import TrainingRunner
from webui.deployment import Deployment

from .conftest import tiny_config


class Visitor:
    session_hash = "student"


def test_a_busy_spell_never_makes_the_bound_refuse_a_run(tiny_bert, glue_dir, checkpoints_dir, monkeypatch):
    """The runs' correction read 10x on a busy machine, and a measurement taken while other processes had the cores:
    the classroom run is still put in line (its own pace stops it at the lab's limit, resumable)."""
    import gradio as gr

    from webui.train_tab import submit

    monkeypatch.setenv("GLUE_DIR", str(glue_dir))
    config = tiny_config(tiny_bert, glue_dir, "sst2", "full", data_dir=None, max_train_samples=6000, epochs=3)
    quiet = estimate_module.estimate(config, corrected=False).seconds
    monkeypatch.setattr(estimate_module.speed_correction, "factor", 10.0)
    assert estimate_module.estimate(config).seconds > 3 * quiet  # what the page says on the busy machine
    runner = TrainingRunner(checkpoints_dir)

    def put_in_line(max_run_s: float) -> None:
        lab = Deployment(public=True, training=True, instructor_token=None, encoders=(str(tiny_bert),),
                         max_run_s=max_run_s)  # fmt: skip
        job = submit(runner, lab, [config], None, Visitor())
        assert runner.snapshot().job_id == job or runner.snapshot().waiting[-1].id == job
        runner.stop("student")
        assert runner.wait(120)

    put_in_line(2 * quiet)  # held to the quiet estimate, not the busy page's: in line
    with pytest.raises(gr.Error, match="this lab allows"):
        put_in_line(quiet / 10)  # a quiet measurement over the bound: refused
    monkeypatch.setattr(estimate_module.layer_speed, "disturbed", True)
    put_in_line(quiet / 10)  # a measurement taken while others had the cores refuses nothing
