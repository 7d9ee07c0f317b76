"""Runs travel: export a task's runs to a bundle, import it into an empty store (the same runs, the same
answers), refuse bad bundles in words with the store untouched; pull from a folder laid out like a Hub
snapshot through the same checks; push fails fast offline."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
import zipfile

import pytest

from finetune.cli import main
from finetune.core import checkpoints
from finetune.core.methods import METHODS
from finetune.core.tasks import TASKS
from finetune.engine import bundle
from finetune.engine.bundle import BundleError, export_runs, import_bundle, import_folder
from finetune.engine.hub_sync import HubSyncError, push_run, upload_files
from finetune.engine.predict import Predictor
from finetune.engine.train import train

from .conftest import tiny_config


@pytest.fixture(scope="module")
def trained_store(tiny_bert, glue_dir, tmp_path_factory):
    """Every method trained once on SST-2 (tiny), in a store of its own."""
    store = tmp_path_factory.mktemp("home-store")
    for method in METHODS:
        train(tiny_config(tiny_bert, glue_dir, "sst2", method), checkpoints_dir=store)
    return store


@pytest.fixture
def exported(trained_store, tmp_path):
    out = tmp_path / "sst2-runs.zip"
    export_runs(out, "sst2", checkpoints_dir=trained_store)
    return out


def stored_files(store):
    return sorted(p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file())


def travelled(info: dict) -> dict:
    """A run's record as it leaves this machine: a local encoder named by its folder, no data folder."""
    name = checkpoints.display_model(info)
    return {**info, "model": name, "config": {**info["config"], "model": name, "data_dir": None}}


def test_export_then_import_gives_the_same_runs_and_answers(trained_store, exported, tmp_path, capsys, monkeypatch,
                                                            tiny_bert):  # fmt: skip
    class_store = tmp_path / "class-store"
    assert main(["import", str(exported), "--checkpoints-dir", str(class_store)]) == 0
    assert capsys.readouterr().out.count("imported sst2/") == len(METHODS)

    home, there = checkpoints.list_runs(trained_store), checkpoints.list_runs(class_store)
    assert [r.info for r in there] == [travelled(r.info) for r in home]
    monkeypatch.chdir(tiny_bert.parent)  # the other lab has the local encoder, by its folder's name
    sentence = TASKS["sst2"].examples[0][0]
    home_answers = Predictor(trained_store).predict("sst2", sentence)
    class_answers = Predictor(class_store).predict("sst2", sentence)
    assert [(a.run_id, a.probabilities) for a in class_answers] == [(a.run_id, a.probabilities) for a in home_answers]

    before = stored_files(class_store)
    report = import_bundle(exported, class_store)  # again: a no-op
    assert report.imported == [] and len(report.already_there) == len(METHODS)
    assert stored_files(class_store) == before


def rewrite(source, target, change):
    """A copy of a bundle with `change(zip_out, name, data)` deciding what each entry becomes."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            change(zout, info.filename, zin.read(info))
        return target


def with_extra(exported, tmp_path, name, data=b"x", mode=None):
    def change(zout, entry, content):
        zout.writestr(entry, content)

    target = rewrite(exported, tmp_path / "bad.zip", change)
    with zipfile.ZipFile(target, "a") as zout:
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        zout.writestr(info, data)
    return target


def not_a_zip(path):
    path.write_bytes(b"not a zip")
    return path


def first_run_json(exported):
    with zipfile.ZipFile(exported) as z:
        return next(n for n in z.namelist() if n.endswith("/run.json"))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda e, t: with_extra(e, t, "../evil.json"), "climbs out of the bundle"),
        (lambda e, t: with_extra(e, t, "/etc/evil.json"), "is an absolute path"),
        (lambda e, t: with_extra(e, t, "sst2/lora/link.json", b"/etc/passwd", stat.S_IFLNK | 0o777), "symbolic link"),
        (
            lambda e, t: with_extra(e, t, f"{first_run_json(e).rsplit('/', 1)[0]}/model/adapter_model.bin"),
            "is not a file a run is made of",
        ),
        (
            lambda e, t: with_extra(e, t, "qnli/full/20260101-000000-000000-abcd/run.json", b"{}"),
            "not a run of this lab",
        ),
        (
            lambda e, t: rewrite(
                e, t / "bad.zip", lambda z, n, d: z.writestr(n, b"{}" if n.endswith("run.json") else d)
            ),
            "run.json has no 'run_id'",
        ),
        (
            lambda e, t: rewrite(
                e, t / "bad.zip", lambda z, n, d: None if n.endswith(".safetensors") else z.writestr(n, d)
            ),
            "its saved model lacks",
        ),
        (lambda e, t: not_a_zip(t / "bad.zip"), "not a zip bundle"),
    ],
    ids=["dotdot", "absolute", "symlink", "pickle", "unknown-task", "bad-run-json", "no-weights", "not-zip"],
)
def test_a_bad_bundle_is_refused_in_words_and_the_store_is_untouched(exported, tmp_path, capsys, make, message):
    store = tmp_path / "class-store"
    bad = make(exported, tmp_path)
    with pytest.raises(SystemExit) as exit_code:
        main(["import", str(bad), "--checkpoints-dir", str(store)])
    assert exit_code.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not store.exists()  # nothing written, not even a folder


def test_an_oversized_entry_is_refused_before_anything_is_written(exported, tmp_path, monkeypatch):
    # A 2 GB entry, scaled down: the limit is lowered below the bundle's weight files.
    monkeypatch.setattr(bundle, "MAX_FILE_BYTES", 2000)
    with pytest.raises(BundleError, match="holds at most"):
        import_bundle(exported, tmp_path / "class-store")
    assert not (tmp_path / "class-store").exists()


def test_pull_takes_a_folder_laid_out_as_a_hub_snapshot(trained_store, tmp_path):
    run = checkpoints.list_runs(trained_store, "sst2", "lora")[-1]
    snapshot = tmp_path / "models--teacher--sst2-lora" / "snapshots" / "abc123"
    shutil.copytree(run.path, snapshot)
    (snapshot / ".gitattributes").write_text("*.safetensors filter=lfs\n")  # the Hub's own file, skipped
    report = import_folder(snapshot, tmp_path / "class-store")
    assert report.imported == [f"sst2/lora/{run.run_id}"]
    assert checkpoints.list_runs(tmp_path / "class-store")[0].info == run.info

    # A repository holding several runs in the store's layout (what LAB_RUNS_REPO usually names).
    layout = tmp_path / "snapshots" / "def456"
    for method in ("full", "selective"):
        several = checkpoints.list_runs(trained_store, "sst2", method)[-1]
        shutil.copytree(several.path, layout / "sst2" / method / several.run_id)
    report = import_folder(layout, tmp_path / "class-store")
    assert sorted(w.split("/")[1] for w in report.imported) == ["full", "selective"]
    assert len(checkpoints.list_runs(tmp_path / "class-store")) == 3

    (snapshot / "model" / "adapter_model.bin").write_bytes(b"pickle")  # not something a run is made of
    with pytest.raises(BundleError, match="is not a file a run is made of"):
        import_folder(snapshot, tmp_path / "other-store")
    assert not (tmp_path / "other-store").exists()


def test_push_uploads_the_run_folder_and_fails_fast_offline(trained_store, capsys, monkeypatch):
    run = checkpoints.list_runs(trained_store, "sst2", "full")[-1]
    files = upload_files(run)
    assert files[0] == "README.md" and "run.json" in files and "model/model.safetensors" in files
    assert all(not name.endswith((".bin", ".pt", ".pkl")) for name in files)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(SystemExit) as exit_code:
        main(["push", run.run_id, "--repo", "teacher/sst2-full", "--checkpoints-dir", str(trained_store)])
    assert exit_code.value.code == 2 and time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert "unreachable" in err and "python -m finetune export" in err
    with pytest.raises(HubSyncError, match="no saved run 'nope'"):
        push_run("nope", "teacher/x", checkpoints_dir=trained_store)
    assert json.loads((run.path / "run.json").read_text())["run_id"] == run.run_id


def test_merged_export_loads_with_plain_transformers(trained_store, tmp_path, capsys):
    out = tmp_path / "merged"
    assert main(["export", "--task", "sst2", "--methods", "selective", "lora", "full", "--merged", str(out),
                 "--checkpoints-dir", str(trained_store)]) == 0  # fmt: skip
    folders = sorted(out.iterdir())
    assert [f.name.split("-")[1] for f in folders] == ["full", "lora", "selective"]
    sentence = TASKS["sst2"].examples[0][0]
    program = (
        "import importlib.util, json, sys\n"
        "assert importlib.util.find_spec('finetune') is None\n"
        "from transformers import AutoModelForSequenceClassification, AutoTokenizer\n"
        "model = AutoModelForSequenceClassification.from_pretrained(sys.argv[1]).eval()\n"
        "tokenizer = AutoTokenizer.from_pretrained(sys.argv[1])\n"
        "import torch\n"  # in the arithmetic the run was trained in, as its model card says
        "with torch.autocast('cpu', dtype=torch.bfloat16, enabled=sys.argv[2] == 'bf16'):\n"
        f"    logits = model(**tokenizer({sentence!r}, return_tensors='pt')).logits\n"
        "print(json.dumps(logits.float().softmax(-1)[0].tolist()))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    answers = {a.method: a for a in Predictor(trained_store).predict("sst2", sentence)}
    for folder in folders:
        assert not any(p.suffix in (".bin", ".pt", ".pkl") for p in folder.iterdir())
        precision = checkpoints.list_runs(trained_store, "sst2", folder.name.split("-")[1])[-1].info["precision"]
        done = subprocess.run([sys.executable, "-c", program, str(folder), precision], cwd=tmp_path, env=env,
                              capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        method = folder.name.split("-")[1]
        assert json.loads(done.stdout.strip().splitlines()[-1]) == pytest.approx(
            list(answers[method].probabilities.values()), abs=1e-5
        )

    with pytest.raises(SystemExit) as exit_code:  # prompt tuning's virtual tokens cannot be merged
        main(["export", "--task", "sst2", "--methods", "prompt", "--merged", str(out / "p"),
              "--checkpoints-dir", str(trained_store)])  # fmt: skip
    assert exit_code.value.code == 2 and "prompt tuning cannot be merged" in capsys.readouterr().err


@pytest.mark.slow
def test_the_results_tab_moves_runs_between_two_labs(trained_store, exported, tmp_path, monkeypatch, tiny_bert):
    """Home lab: Make bundle. The class's public Space: only the instructor imports it; the Playground then
    answers like at home; a bad bundle changes nothing; a push offline says so in seconds."""
    from gradio_client import Client, handle_file

    import app as lab
    from finetune.core.models import PACKAGED_MODEL
    from webui.deployment import Deployment

    from .conftest import free_port

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    served = []

    def serve(store, deployment):
        demo = lab.create_app(store, deployment=deployment)
        port = free_port()
        demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        served.append(demo)
        return Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=str(tmp_path / "downloads"))

    try:
        home = serve(trained_store, Deployment(public=False, training=True, instructor_token=None, encoders=()))
        bundle_path = home.predict("sst2", api_name="/export_bundle")
        with zipfile.ZipFile(bundle_path) as made:
            assert sorted({n.split("/")[1] for n in made.namelist()}) == sorted(METHODS)

        class_store = tmp_path / "space-store"
        monkeypatch.chdir(tiny_bert.parent)  # the Space has the local encoder, by its folder's name
        space = serve(class_store, Deployment(public=True, training=True, instructor_token="s3cret",
                                              encoders=(PACKAGED_MODEL,)))  # fmt: skip
        with pytest.raises(Exception, match="only the instructor can import or push"):
            space.predict(handle_file(bundle_path), "", api_name="/import_bundle")
        bad = with_extra(exported, tmp_path, "../evil.json")
        with pytest.raises(Exception, match=r"was not imported: .*climbs out of the bundle.*Nothing was changed"):
            space.predict(handle_file(str(bad)), "s3cret", api_name="/import_bundle")
        assert space.predict(api_name="/runs") == []
        report = space.predict(handle_file(bundle_path), "s3cret", api_name="/import_bundle")
        assert f"Imported {len(METHODS)} run(s)" in report
        assert sorted(r["method"] for r in space.predict(api_name="/runs")) == sorted(METHODS)
        sentence = TASKS["sst2"].examples[0][0]
        at_home = {a.method: a.probabilities for a in Predictor(trained_store).predict("sst2", sentence)}
        in_class = space.predict("sst2", sentence, "", api_name="/predict")
        assert {card["method"]: card["probabilities"] for card in in_class} == at_home

        run_id = checkpoints.list_runs(trained_store)[-1].run_id
        started = time.monotonic()
        with pytest.raises(Exception, match=r"unreachable.*python -m finetune export"):
            home.predict(run_id, "teacher/sst2", True, "", api_name="/push")
        assert time.monotonic() - started < 10
        public_without_token = serve(tmp_path / "open", Deployment(public=True, training=True, instructor_token=None,
                                                                     encoders=(PACKAGED_MODEL,)))  # fmt: skip
        with pytest.raises(Exception, match="off in a public lab without an instructor token"):
            public_without_token.predict(handle_file(bundle_path), "", api_name="/import_bundle")
    finally:
        for demo in served:
            demo.close()
