"""The app's API through gradio_client, against the real app launched in this process."""

from __future__ import annotations

import json
import time

import pytest
from gradio_client import Client

import app as lab
from finetune.core import checkpoints
from finetune.core.methods import METHODS

from .conftest import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_bert, glue_dir):
    root = tmp_path_factory.mktemp("app-checkpoints")
    demo = lab.create_app(root)
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
    yield {"client": client, "root": root, "demo": demo, "model": str(tiny_bert), "glue": str(glue_dir)}
    demo.runner.stop()
    demo.runner.wait(60)
    demo.close()


def tiny_run(served, method, **extra):
    return dict(
        task="sst2",
        method=method,
        model=served["model"],
        data_dir=served["glue"],
        epochs=1,
        learning_rate=extra.pop("learning_rate", 1e-3),
        batch_size=16,
        max_train_samples=extra.pop("max_train_samples", 64),
        seed=1,
        **extra,
    )


@pytest.fixture(scope="module")
def selective_run(served) -> dict:
    """One selective run trained through /train (the first test to ask for it trains it)."""
    client = served["client"]
    assert client.predict(api_name="/runs") == []
    return client.predict(**tiny_run(served, "selective", selective_top_k=1), api_name="/train")


def test_train_runs_predict_through_the_api(served, selective_run):
    client, record = served["client"], selective_run
    assert record["state"] == "complete" and record["method"] == "selective"
    assert set(record["metrics"]) == {"accuracy", "f1", "mcc", "headline"}
    assert record["params"]["trainable"] < record["params"]["full_total"]
    assert record["config"]["method_options"]["top_k"] == 1
    client.predict(**tiny_run(served, "lora", lora_r=2), api_name="/train")

    runs = client.predict(api_name="/runs")
    assert sorted(r["method"] for r in runs) == ["lora", "selective"]
    assert all(0 <= r["accuracy"] <= 1 and r["size_mb"] > 0 for r in runs)

    answers = {a["method"]: a for a in client.predict("sst2", "a warm, funny, moving film", api_name="/predict")}
    assert list(answers) == list(METHODS)
    assert answers["selective"]["status"] == "ok" and answers["selective"]["run_id"] == record["run_id"]
    assert answers["selective"]["label"] in ("negative", "positive")
    assert answers["full"]["status"] == "not_trained" and "train" in answers["full"]["message"]


@pytest.mark.parametrize(
    "text",
    ["😀 great movie 🎬", "这部电影很好看", "הסרט הזה נהדר", ("a great film " * 1_000)[:5_000]],
    ids=["emoji", "cjk", "rtl", "5k-chars"],
)
def test_unusual_text_is_classified_not_crashed(served, selective_run, text):
    answers = {a["method"]: a for a in served["client"].predict("sst2", text, api_name="/predict")}
    assert list(answers) == list(METHODS)
    selective = answers["selective"]
    assert selective["status"] == "ok" and selective["label"] in ("negative", "positive")
    assert selective["truncated"] == (len(text) == 5_000)  # 64 tokens at most in this run
    if selective["truncated"]:
        assert "truncated" in selective["message"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sst2", "   "), "empty"),
        (("sst2", ""), "empty"),
        (("mrpc", "only one sentence", ""), "second sentence is empty"),
        (("qnli", "hello"), "unknown task"),
    ],
)
def test_bad_prediction_input_gives_a_clear_error(served, args, message):
    with pytest.raises(Exception, match=message):
        served["client"].predict(*args, api_name="/predict")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"learning_rate": "abc"}, "Learning rate must be a number, got 'abc'"),
        ({"learning_rate": -1}, "Learning rate must be > 0"),
        ({"batch_size": 0}, "Batch size must be between 1 and 512, got 0"),
        ({"batch_size": 1e30}, "Batch size must be between 1 and 512"),
        ({"epochs": "nan"}, "Epochs must be a finite number"),
        ({"epochs": 1e9}, "Epochs must be > 0 and at most 20"),
        ({"max_train_samples": 2.5}, "Training examples must be a whole number, got 2.5"),
        ({"max_train_samples": 1e12}, "Training examples must be between 0 and 1,000,000"),
        ({"seed": 2**40}, "Seed must be between 0 and 4,294,967,295"),
        ({"lora_r": 0, "method": "lora"}, "LoRA rank r must be between 1 and 1,024, got 0"),
        ({"lora_r": 1_000_000, "method": "lora"}, "LoRA rank r must be between 1 and 1,024"),
        ({"model": "/no/such/model"}, "no save_pretrained model folder"),
    ],
)
def test_bad_hyperparameters_give_a_clear_error_and_train_nothing(served, overrides, message):
    before = checkpoints.list_runs(served["root"])
    settings = tiny_run(served, "full")
    settings.update(overrides)
    with pytest.raises(Exception, match=message):
        served["client"].predict(**settings, api_name="/train")
    assert checkpoints.list_runs(served["root"]) == before
    assert served["client"].predict(api_name="/runs") is not None  # still serving


def wait_until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_two_visitors_share_the_machine_in_line(served):
    """A starts a run; B's Stop leaves it running; B's Start waits in line (with its place), then runs;
    A stops their own run; the Playground answers throughout."""
    alice, bob = served["client"], Client(served["client"].src, verbose=False)
    runner = served["demo"].runner
    job_a = alice.submit(**tiny_run(served, "full", max_train_samples=3000), api_name="/train")
    wait_until(lambda: runner.snapshot().state == "running" and runner.snapshot().config.method == "full")

    assert bob.predict(api_name="/stop") == "not yours"
    assert runner.snapshot().state == "running"
    job_b = bob.submit(**tiny_run(served, "prompt"), api_name="/train")
    wait_until(lambda: len(runner.snapshot().waiting) == 1)
    wait_until(lambda: any(update.get("state") == "queued" for update in job_b.outputs()))
    queued = next(u for u in job_b.outputs() if u.get("state") == "queued")
    assert queued["place"] == 1 and queued["eta_s"] >= 0
    assert len(bob.predict("sst2", "still responsive?", api_name="/predict")) == len(METHODS)

    assert alice.predict(api_name="/stop") == "stopping"
    with pytest.raises(Exception, match="cancelled"):
        job_a.result(timeout=120)
    record = job_b.result(timeout=180)  # bob's run started once alice's stopped
    assert record["state"] == "complete" and record["method"] == "prompt"
    methods = [r["method"] for r in alice.predict(api_name="/runs")]
    assert "full" not in methods and "prompt" in methods


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\u200b\u200b\u2060", "no visible characters"),
        ("\x00\x00 \x00", "no visible characters"),
        ("x" * 200_000, "200,000 characters; the limit is 5,000"),
        (12345, "must be text, got a number"),
        (["a", "list"], "must be text, got a list"),
        ("<img src=x onerror=alert(1)>", None),  # classified like any text
    ],
    ids=["zero-width", "nul", "huge", "number", "list", "html"],
)
def test_what_visitors_type_gets_a_clear_answer(served, text, message):
    client = served["client"]
    if message is None:
        assert len(client.predict("sst2", text, api_name="/predict")) == len(METHODS)
        return
    with pytest.raises(Exception, match=message):
        client.predict("sst2", text, api_name="/predict")


def test_huge_requests_do_not_slow_a_normal_prediction(served, selective_run):
    client = served["client"]
    floods = [Client(client.src, verbose=False).submit("sst2", "x" * 200_000, api_name="/predict") for _ in range(16)]
    started = time.monotonic()
    answers = client.predict("sst2", "a lovely, moving film", api_name="/predict")
    assert time.monotonic() - started < 2.0
    assert next(a for a in answers if a["method"] == "selective")["status"] == "ok"
    for job in floods:
        with pytest.raises(Exception, match="the limit is 5,000"):
            job.result(timeout=60)


def test_errors_show_user_text_as_text_and_no_server_paths(served):
    client = served["client"]
    with pytest.raises(Exception) as error:
        client.predict(**{**tiny_run(served, "full"), "model": "<b>bold</b>/x/y"}, api_name="/train")
    shown = str(error.value)
    assert "\u2039b>bold\u2039/b>" in shown and "<b>" not in shown and "&lt;" not in shown  # text, as typed
    for row in client.predict(api_name="/runs"):
        assert not any(isinstance(v, str) and v.startswith("/") for v in row.values())
    info = client.view_api(print_info=False, return_format="dict")
    assert served["glue"] not in json.dumps(info)  # no environment values in the API's description


def test_stop_then_resume_through_the_api(served):
    """Stop after a dev evaluation: the run is offered for resuming; /resume trains only the rest."""
    client, runner = served["client"], served["demo"].runner
    job = client.submit(**tiny_run(served, "lora", max_train_samples=6000, evaluations=6, lora_r=4), api_name="/train")

    def evaluated_once() -> bool:
        snap = runner.snapshot()
        ours = snap.state == "running" and snap.config.max_train_samples == 6000
        return ours and any(e["type"] == "eval" for e in snap.events)

    wait_until(evaluated_once, timeout=120)
    run_id = next(e["run_id"] for e in runner.snapshot().events if e["type"] == "start")
    assert client.predict(api_name="/stop") == "stopping"
    with pytest.raises(Exception, match=r"cancelled: stopped by the user; it can be resumed from step \d+"):
        job.result(timeout=120)
    [stopped] = [s for s in runner.stopped_runs() if s.run_id == run_id]

    record = client.predict(run_id, api_name="/resume")
    assert record["state"] == "complete" and record["run_id"] == run_id and record["method"] == "lora"
    events = [json.loads(line) for line in (served["root"] / "sst2" / "lora" / run_id / "events.jsonl").open()]
    [resume] = [e for e in events if e["type"] == "resume"]
    assert resume["step"] == stopped.step
    assert all(e["step"] > stopped.step for e in events[events.index(resume) :] if e["type"] == "log")
    assert run_id not in [s.run_id for s in runner.stopped_runs()]
    with pytest.raises(Exception, match="no stopped run"):
        client.predict(run_id, api_name="/resume")


def test_train_all_races_the_methods_and_one_stopped_method_resumes_with_the_race(served):
    """/train_all trains the four side by side; /stop with a method stops it alone, the others train on and are
    saved; /resume_race goes on with the stopped one where it was."""
    client, runner = served["client"], served["demo"].runner
    wait_until(lambda: not runner.busy, timeout=300)
    job = client.submit("sst2", served["model"], served["glue"], 3, api_name="/train_all")

    def evaluated() -> str | None:
        snap = runner.snapshot()
        running = [e for e in snap.race if e.state == "running" and any(v["type"] == "eval" for v in e.events)]
        return running[0].method if snap.state == "running" and snap.config is None and running else None

    wait_until(evaluated, timeout=300)
    method = evaluated()
    snap = runner.snapshot()
    assert sorted(e.method for e in snap.race) == sorted(METHODS) and snap.lanes is not None
    assert client.predict(None, method, api_name="/stop") == "stopping"
    with pytest.raises(Exception, match="the race can be resumed"):
        job.result(timeout=600)
    snap = runner.snapshot()
    stopped = next(e for e in snap.race if e.method == method)
    assert stopped.state == "cancelled" and stopped.resumable_from is not None
    assert all(e.state == "complete" for e in snap.race if e.method != method)

    record = client.predict(api_name="/resume_race")
    assert record["state"] == "complete" and record["method"] == method and record["run_id"] == stopped.run_id
    seeded = {r.method for r in checkpoints.list_runs(served["root"], "sst2") if r.info["config"]["seed"] == 3}
    assert seeded == set(METHODS)
    with pytest.raises(Exception, match="no stopped race"):
        client.predict(api_name="/resume_race")


def test_a_raw_call_that_leaves_values_out_is_answered_in_words(served):
    """A raw HTTP call to the queue API with too few values: words naming the call and the count, not
    {"error": null}."""
    import urllib.request

    base = served["client"].src.rstrip("/")
    for name in ("predict", "train"):
        request = urllib.request.Request(f"{base}/gradio_api/call/{name}", data=json.dumps({"data": []}).encode(),
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as answer:
            event_id = json.load(answer)["event_id"]
        with urllib.request.urlopen(f"{base}/gradio_api/call/{name}/{event_id}", timeout=60) as answer:
            stream = answer.read().decode()
        assert "event: error" in stream and '"error": null' not in stream, stream
        assert f"/{name} takes" in stream and "this call sent 0" in stream, stream
