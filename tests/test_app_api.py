"""The app's API through gradio_client, against the real app launched in this process."""

from __future__ import annotations

import time

import pytest
from gradio_client import Client

import app as lab
from finetune.core import checkpoints

from .conftest import free_port


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
        train_samples=extra.pop("train_samples", 64),
        seed=1,
        **extra,
    )


def test_train_runs_predict_through_the_api(served):
    client = served["client"]
    assert client.predict(api_name="/runs") == []
    record = client.predict(**tiny_run(served, "selective", top_k=1), api_name="/train")
    assert record["state"] == "complete" and record["method"] == "selective"
    assert set(record["metrics"]) == {"accuracy", "f1", "mcc", "headline"}
    assert record["params"]["trainable"] < record["params"]["full_total"]
    assert record["config"]["method_options"]["top_k"] == 1
    client.predict(**tiny_run(served, "lora", lora_r=2), api_name="/train")

    runs = client.predict(api_name="/runs")
    assert sorted(r["method"] for r in runs) == ["lora", "selective"]
    assert all(0 <= r["accuracy"] <= 1 and r["size_mb"] > 0 for r in runs)

    answers = {a["method"]: a for a in client.predict("sst2", "a warm, funny, moving film", api_name="/predict")}
    assert list(answers) == ["full", "lora", "prompt", "selective"]
    assert answers["selective"]["status"] == "ok" and answers["selective"]["run_id"] == record["run_id"]
    assert answers["selective"]["label"] in ("negative", "positive")
    assert answers["full"]["status"] == "not_trained" and "train" in answers["full"]["message"]


@pytest.mark.parametrize(
    "text",
    ["😀 great movie 🎬", "这部电影很好看", "הסרט הזה נהדר", ("a great film " * 10_000)[:100_000]],
    ids=["emoji", "cjk", "rtl", "100k-chars"],
)
def test_unusual_text_is_classified_not_crashed(served, text):
    answers = served["client"].predict("sst2", text, api_name="/predict")
    assert len(answers) == 4
    if len(text) == 100_000:
        ok = [a for a in answers if a["status"] == "ok"]
        assert all(a["truncated"] and "truncated" in a["message"] for a in ok)


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
        ({"learning_rate": "abc"}, "learning rate must be a number"),
        ({"learning_rate": -1}, "learning rate must be at least"),
        ({"batch_size": 0}, "batch size must be at least 1"),
        ({"epochs": "nan"}, "epochs must be a finite number"),
        ({"train_samples": 2.5}, "whole number"),
        ({"lora_r": 0, "method": "lora"}, "LoRA rank r must be at least 1"),
        ({"model": "/no/such/model"}, "does not exist"),
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


def test_one_run_at_a_time_and_stop(served):
    client = served["client"]
    job = client.submit(**tiny_run(served, "full", train_samples=3000), api_name="/train")
    deadline = time.monotonic() + 60
    while not served["demo"].runner.busy and time.monotonic() < deadline:
        time.sleep(0.2)
    assert served["demo"].runner.busy
    with pytest.raises(Exception, match="already in progress"):
        client.predict(**tiny_run(served, "lora"), api_name="/train")
    # The Playground keeps answering while training runs.
    assert len(client.predict("sst2", "still responsive?", api_name="/predict")) == 4
    client.predict(api_name="/stop")
    with pytest.raises(Exception, match="cancelled"):
        job.result(timeout=120)
    assert served["demo"].runner.snapshot().state == "cancelled"
    assert not any(r["method"] == "full" for r in client.predict(api_name="/runs"))
