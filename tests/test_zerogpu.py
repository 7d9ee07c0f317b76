"""ZeroGPU, the free home of 2026 (webui/zerogpu.py): the real `spaces` package effect-free off ZeroGPU and imported
before torch, and the lab's stand-in running each run as ZeroGPU does — a forked worker, arguments and yields
pickled, the duration enforced, a quota per visitor that refuses with ZeroGPU's own messages — which the lab then
says in its own words; a run cut short by its duration resumes to the metrics of a run never cut."""

from __future__ import annotations

import contextvars
import json
import os
import subprocess
import sys
import time
from types import SimpleNamespace

import gradio as gr
import pytest
from gradio_client import Client

from finetune.core import checkpoints
from finetune.core.methods import METHODS
from finetune.engine.runner import TrainingRunner
from finetune.engine.train import train
from webui import zerogpu
from webui.zerogpu import ZeroGpuStandIn, gpu_function, gpu_launcher, refusal

from .conftest import REPO, free_port, tiny_config
from .test_deployment import start_space


def visitor(token: str | None = None, host: str = "10.0.0.7") -> gr.Request:
    """A request as ZeroGPU's proxy forwards it: the visitor's X-IP-Token header, and their address."""
    return gr.Request(headers={"x-ip-token": token} if token else {}, client=SimpleNamespace(host=host))


def as_visitor(request: gr.Request, fn, *args):
    """Call `fn` inside a Gradio request's context, where spaces.GPU (and the stand-in) read who is asking."""
    context = contextvars.copy_context()
    context.run(gr.context.LocalContext.request.set, request)
    return context.run(fn, *args)


def counted(n: int):
    for i in range(n):
        yield {"i": i, "pid": os.getpid()}


def slow(seconds: float):
    yield "started"
    time.sleep(seconds)
    yield "late"


# -- the real package, off ZeroGPU -------------------------------------------------------------------------------
def test_spaces_is_effect_free_off_zerogpu_and_the_app_imports_it_before_torch():
    import spaces

    assert "SPACES_ZERO_GPU" not in os.environ
    assert spaces.GPU(counted) is counted and spaces.GPU(duration=30)(counted) is counted
    assert gpu_function() is zerogpu.train_on_gpu  # neither ZeroGPU nor its stand-in: the body as it is
    order = subprocess.run(
        [sys.executable, "-c", "import sys, app; names = list(sys.modules); "
                               "print(names.index('spaces') < names.index('torch'))"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert order.stdout.strip().splitlines()[-1] == "True", order.stderr[-2000:]


# -- the stand-in, as ZeroGPU behaves ------------------------------------------------------------------------------
def test_the_stand_in_runs_each_call_in_a_forked_worker_with_pickled_arguments_and_streamed_yields():
    stand_in = ZeroGpuStandIn(quota_s=100)
    call = stand_in.GPU(duration=10)(counted)
    values = as_visitor(visitor("a"), lambda: list(call(3)))
    assert [v["i"] for v in values] == [0, 1, 2]
    assert {v["pid"] for v in values} != {os.getpid()}  # computed in another process
    with pytest.raises((AttributeError, TypeError, Exception), match=r"pickle|Can't get local object"):
        as_visitor(visitor("a"), lambda: list(stand_in.GPU(duration=10)(lambda x: (yield x))(lambda: None)))


@pytest.fixture(autouse=True)
def behind_spaces_proxy(monkeypatch):
    """The lab behind a proxy that sets X-IP-Token per visitor, as Spaces' does (off a Space it is not trusted unless
    LAB_VISITOR_HEADER names it): these tests' requests carry the header as that proxy would."""
    monkeypatch.setenv("LAB_VISITOR_HEADER", "x-ip-token")


def test_the_stand_in_enforces_the_duration_and_refuses_as_zerogpu_does_with_visitors_counted_apart():
    stand_in = ZeroGpuStandIn(quota_s=4, max_duration_s=6)
    cut = stand_in.GPU(duration=1)(slow)
    with pytest.raises(gr.Error) as aborted:
        as_visitor(visitor("a"), lambda: list(cut(5)))
    assert aborted.value.title == "ZeroGPU worker error" and "GPU task aborted" in aborted.value.message
    assert 2.5 <= stand_in.left("token:a") <= 3.1  # charged for the second it ran
    with pytest.raises(gr.Error) as over_quota:
        as_visitor(visitor("a"), lambda: list(stand_in.GPU(duration=4)(counted)(1)))
    assert over_quota.value.title == "ZeroGPU quota exceeded"
    assert "(4s requested vs. 3s left)" in over_quota.value.message
    assert as_visitor(visitor("b"), lambda: list(stand_in.GPU(duration=4)(counted)(1)))  # another visitor's quota
    with pytest.raises(gr.Error) as too_long:
        as_visitor(visitor("c"), lambda: list(stand_in.GPU(duration=7)(counted)(1)))
    assert too_long.value.title == "ZeroGPU illegal duration"
    # No token: the address counts, as for ZeroGPU's anonymous visitors (a class behind one address shares it).
    assert ZeroGpuStandIn.visitor(visitor(None, "10.1.1.1")) == ZeroGpuStandIn.visitor(visitor(None, "10.1.1.1"))


def test_a_header_a_visitor_sends_does_not_choose_who_pays(monkeypatch):
    """Off a Space, with no proxy named, an X-IP-Token (or anything else) a browser sends changes nothing: the
    visitor is their address, and a fresh token buys no fresh quota."""
    monkeypatch.delenv("LAB_VISITOR_HEADER", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    stand_in = ZeroGpuStandIn(quota_s=4, max_duration_s=6)
    as_visitor(visitor("first", "10.0.0.9"), lambda: list(stand_in.GPU(duration=4)(counted)(1)))
    with pytest.raises(gr.Error, match="quota"):
        as_visitor(visitor("a-fresh-token", "10.0.0.9"), lambda: list(stand_in.GPU(duration=4)(counted)(1)))
    spoofed = gr.Request(headers={"x-ip-token": "x", "x-forwarded-for": "1.2.3.4"}, client=SimpleNamespace(
        host="10.0.0.9"))  # fmt: skip
    assert ZeroGpuStandIn.visitor(spoofed) == "ip:10.0.0.9"
    monkeypatch.setenv("SPACE_ID", "someone/lab")  # on a Space, its proxy's X-IP-Token is who pays
    assert ZeroGpuStandIn.visitor(spoofed) == "token:x"


def test_calls_started_together_cannot_be_granted_more_than_the_quota():
    """A race's four calls of 4 s against a 10 s quota, started at once: two are granted (each reserves its whole
    duration when it starts), the others refused; what a call did not use is given back when it ends."""
    import threading

    stand_in = ZeroGpuStandIn(quota_s=10, max_duration_s=6)
    call = stand_in.GPU(duration=4)(slow)
    outcomes: list[str] = []
    started = threading.Barrier(4)

    def one_lane() -> None:
        started.wait()
        try:
            as_visitor(visitor("racer"), lambda: list(call(0.5)))
            outcomes.append("granted")
        except gr.Error as e:
            outcomes.append(e.title)

    lanes = [threading.Thread(target=one_lane) for _ in range(4)]
    for lane in lanes:
        lane.start()
    for lane in lanes:
        lane.join(60)
    assert sorted(outcomes) == ["ZeroGPU quota exceeded"] * 2 + ["granted"] * 2
    assert 10 - 2 * 4 < stand_in.left("token:racer") < 10 - 2 * 0.5  # charged what the two calls really took


@pytest.mark.parametrize(
    ("title", "message", "kind", "words"),
    [
        ("ZeroGPU quota exceeded", "You have exceeded your free ZeroGPU quota (85s requested vs. 30s left). "
         "Try again in 5:12:00. ", "quota", "85 s of GPU time and you have 30 s left; try again in 5 h 12 min."),
        ("ZeroGPU quota exceeded", "You have exceeded your ZeroGPU quota (60s requested vs. 0s left). Try again in "
         "1 day, 0:00:00.", "quota", "you have 0 s left; try again in 24 h 0 min."),
        ("ZeroGPU quota exceeded", "You have exceeded your ZeroGPU quota (20s requested vs. 5s left). Try again in "
         "0:00:41.", "quota", "you have 5 s left; try again in 41 s."),
        ("ZeroGPU quota exceeded", "Space app has reached its GPU limit. Try re-running outside of examples if it "
         "happened after clicking one", "quota", "your GPU time for today is used up"),
        ("ZeroGPU illegal duration", "The requested GPU duration (400s) is larger than the maximum allowed",
         "duration", "more than one call may have"),
        ("ZeroGPU queue timeout", "No GPU was available after 60s. Retry later", "no_gpu", "no GPU free"),
        ("ZeroGPU client error", "No GPU was available", "no_gpu", "no GPU free"),
        ("ZeroGPU worker error", "GPU task aborted", "aborted", "the GPU call ended before the run did"),
    ],
)  # fmt: skip
def test_zerogpu_refusals_are_said_in_the_labs_words(title, message, kind, words):
    said_kind, said = refusal(gr.Error(message, title=title), 85)
    assert said_kind == kind and words in said
    assert "Traceback" not in said and "ZeroGPU client" not in said
    from webui.error_words import say_error
    from webui.language import speaking

    with speaking("ko"):
        korean = say_error(said)
    assert korean != said and not any(c.isascii() and c.isalpha() for c in korean.replace("ZeroGPU", "").replace(
        "GPU", "").replace("Hugging Face", "")), korean  # every word in Korean, a wait with its units  # fmt: skip


# -- runs through the runner, one GPU call each --------------------------------------------------------------------
def zerogpu_runner(checkpoints_dir, stand_in: ZeroGpuStandIn, estimate_s: float = 8.0) -> TrainingRunner:
    launcher = gpu_launcher(gpu_function(stand_in.GPU), lambda order: estimate_s)
    return TrainingRunner(checkpoints_dir, launcher=launcher, hardware="zerogpu")


def submitted_as(runner: TrainingRunner, request: gr.Request, configs, owner: str) -> int:
    context = contextvars.copy_context()
    context.run(gr.context.LocalContext.request.set, request)
    return runner.submit(configs, owner=owner, context=context)


@pytest.mark.slow
def test_a_run_is_one_gpu_call_charged_to_the_visitor_who_asked_and_a_used_quota_writes_nothing(
    tiny_bert, glue_dir, checkpoints_dir
):
    stand_in = ZeroGpuStandIn(quota_s=32.2)
    runner = zerogpu_runner(checkpoints_dir, stand_in)  # 8 s estimated: each call asks for 32 s
    job = submitted_as(runner, visitor("a"), [tiny_config(tiny_bert, glue_dir, "sst2", "lora")], "a")
    assert runner.wait(300) and runner.outcome(job).state == "complete"
    (run,) = checkpoints.list_runs(checkpoints_dir)
    assert run.info["hardware"]["kind"] == "zerogpu"
    # a paid for the seconds its call used (so that 32 s no longer fit); b paid nothing
    assert stand_in.left("token:a") < 32 and stand_in.left("token:b") == 32.2
    refused = submitted_as(runner, visitor("a"), [tiny_config(tiny_bert, glue_dir, "sst2", "full")], "a")
    assert runner.wait(120)
    outcome = runner.outcome(refused)
    assert outcome.state == "failed" and outcome.reason.startswith("ZeroGPU refused this run: it asks for 32 s")
    assert "logging in gives you your own" in outcome.reason
    from webui.train_tab import started_text

    said = started_text(runner, refused, "a")  # the action line of a click refused at once: not "Started."
    assert said.startswith("**It did not run:** ZeroGPU refused this run") and "Started" not in said
    assert len(checkpoints.list_runs(checkpoints_dir)) == 1 and not runner.stopped_runs()
    assert not any((checkpoints_dir / checkpoints.STAGING).glob("*"))  # nothing written, not even a staging folder
    other = submitted_as(runner, visitor("b"), [tiny_config(tiny_bert, glue_dir, "sst2", "full")], "b")
    assert runner.wait(300) and runner.outcome(other).state == "complete"  # b's own quota


@pytest.mark.slow
def test_a_run_cut_by_its_gpu_duration_resumes_to_the_metrics_of_a_run_never_cut(
    tiny_bert, glue_dir, checkpoints_dir, tmp_path, monkeypatch
):
    config = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=6000, epochs=3, evaluations=12,
                         learning_rate=1e-3)  # about 7 s of training  # fmt: skip
    monkeypatch.setenv("LAB_ZEROGPU_MAX_CALL_S", "4")  # each call: 4 s, the run stopping itself after 3 s
    runner = zerogpu_runner(checkpoints_dir, ZeroGpuStandIn(quota_s=3600), estimate_s=60)
    job = submitted_as(runner, visitor("a"), [config], "a")
    assert runner.wait(120)
    cut = runner.outcome(job)
    assert cut.state == "cancelled" and cut.reason.startswith("it used up the GPU time it asked for")
    assert "it can be resumed from step" in cut.reason
    for _ in range(200):  # each resumed call goes on where the last one stopped (a loaded CPU makes many calls)
        (stopped,) = runner.stopped_runs()
        again = runner.resume(stopped.run_id, owner="a", context=_context_of(visitor("a")))
        assert runner.wait(120)
        if runner.outcome(again).state == "complete":
            break
    assert runner.outcome(again).state == "complete"
    whole = train(config, checkpoints_dir=tmp_path / "whole").run
    resumed = checkpoints.list_runs(checkpoints_dir)[-1]
    assert resumed.info["metrics"] == whole.info["metrics"] and whole.info["metrics"]["mcc"] != 0
    assert (resumed.path / "dev_predictions.json").read_bytes() == (whole.path / "dev_predictions.json").read_bytes()


def _context_of(request: gr.Request) -> contextvars.Context:
    context = contextvars.copy_context()
    context.run(gr.context.LocalContext.request.set, request)
    return context


# -- the app, started fresh with the stand-in ------------------------------------------------------------------
@pytest.mark.slow
def test_the_app_on_the_stand_in_trains_through_train_and_counts_two_visitors_quotas_apart(tmp_path, tiny_bert,
                                                                                          glue_dir):  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("FINETUNE_CHECKPOINTS",)}
    # Each call asks for 20 s (a tiny run's estimate with the margin is more: capped); each visitor has 20.2 s.
    env |= {"LAB_ZEROGPU_EMULATE": "1", "LAB_ZEROGPU_QUOTA_S": "20.2", "LAB_ZEROGPU_MAX_CALL_S": "20",
            "FINETUNE_CHECKPOINTS": str(tmp_path / "runs"), "LAB_VISITOR_HEADER": "x-ip-token",  # as Spaces' proxy
            "GLUE_DIR": str(glue_dir), "PYTHONPATH": str(REPO)}  # fmt: skip
    port = free_port()
    app = start_space(env, port)
    try:
        url = f"http://127.0.0.1:{port}/"
        first, second = (Client(url, verbose=False, headers={"X-IP-Token": name}) for name in ("first", "second"))
        run = dict(task="sst2", method="lora", model=str(tiny_bert), data_dir=str(glue_dir), max_train_samples=64,
                   epochs=1, batch_size=16, seed=1)  # fmt: skip
        saved = first.predict(**run, api_name="/train")
        assert saved["hardware"]["kind"] == "zerogpu" and saved["metrics"]["accuracy"] is not None
        with pytest.raises(Exception, match="ZeroGPU refused this run") as refused:
            first.predict(**{**run, "method": "full"}, api_name="/train")
        assert "/" + "tmp" not in str(refused.value) and "Traceback" not in str(refused.value)
        assert second.predict(**{**run, "method": "full"}, api_name="/train")["method"] == "full"
        runs = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*/*/*/run.json")]
        assert sorted(r["method"] for r in runs) == ["full", "lora"]
    finally:
        app.terminate()
        app.wait(30)


@pytest.mark.slow
def test_the_gpu_machines_check_runs_each_method_as_a_forked_call_without_cuda_in_the_main_process(
    tiny_bert, glue_dir, tmp_path
):
    # The prepared script for a GPU machine (bench/zerogpu_device.py), down its whole path on this CPU: it cannot rot.
    done = subprocess.run(
        [sys.executable, "-m", "finetune.bench.zerogpu_device", "check", "--smoke", "--data-dir", str(glue_dir),
         "--model", str(tiny_bert), "--out", str(tmp_path)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "zerogpu-device.json").read_text())
    rows = report["packaged"] + report["bert_base_shape"]
    assert [r["method"] for r in rows] == [*METHODS, *METHODS] and {r["status"] for r in rows} == {"complete"}
    assert report["main_process_initialised_cuda"] is False and report["every_call_covered"]
    assert all(r["asked_s"] >= r["call_wall_s"] > 0 and r["estimate_s"] > 0 for r in rows)
    assert all("metrics" in r and "below_floor" in r for r in report["packaged"])
