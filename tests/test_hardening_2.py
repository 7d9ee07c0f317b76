"""A public lab, second round (#44): a store that never leaks and bundles checked before a byte is unpacked: links
out of the store, crafted adapter configs, zip bombs, encrypted or oddly packed entries, duplicate entries, weights
whose header lies, records with non-finite numbers or huge texts, a full model of 20,000 empty layers."""

from __future__ import annotations

import json
import shutil
import struct
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from finetune.core import checkpoints
from finetune.core.checkpoints import scan_runs
from finetune.core.methods import get_method
from finetune.core.models import load_classifier, resolve_model
from finetune.core.tasks import get_task
from finetune.engine.bundle import BundleError, export_runs, import_bundle
from finetune.engine.predict import Predictor

from .conftest import tiny_config, train_sst2_store


@pytest.fixture(scope="module")
def store(tiny_bert, glue_dir, tmp_path_factory):
    """A full, a LoRA and a prompt-tuning run of SST-2 (tiny, real), in a store of their own."""
    return train_sst2_store(tmp_path_factory.mktemp("hardening-2-store"), tiny_bert, glue_dir)


@pytest.fixture
def copy_of(store, tmp_path):
    def make() -> Path:
        copy = tmp_path / "store"
        shutil.copytree(store, copy)
        return copy

    return make


def rezip(source: Path, target: Path, edit=lambda name, content: content, **more: bytes) -> Path:
    """`source`'s entries, each through `edit` (None drops it), plus the `more` entries, into `target`."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for name in old.namelist():
            if (content := edit(name, old.read(name))) is not None:
                new.writestr(name, content)
        for name, content in more.items():
            new.writestr(name, content)
    return target


@pytest.fixture
def bundle(store, tmp_path) -> Path:
    out = tmp_path / "plain.zip"
    export_runs(out, "sst2", checkpoints_dir=store)
    return out


@pytest.fixture
def scratch(tmp_path, monkeypatch) -> Path:
    """The temporary folder an import unpacks into, watched."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(folder))
    return folder


def written(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# -- links out of the store ----------------------------------------------------------------------------------------
def test_a_run_holding_a_link_out_of_the_store_is_broken_and_neither_exported_nor_loaded(copy_of, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the server's own file\n")
    copy = copy_of()
    [lora] = checkpoints.list_runs(copy, "sst2", "lora")
    vocab = lora.model_dir / "tokenizer" / "vocab.txt"
    vocab.unlink(missing_ok=True)
    vocab.symlink_to(secret)
    scan = scan_runs(copy)
    assert [b.where for b in scan.broken] == [lora.where] and "holds a link (model/tokenizer/vocab.txt)" in str(
        scan.broken[0]
    )
    out = tmp_path / "out.zip"
    shipped = export_runs(out, "sst2", checkpoints_dir=copy)
    assert "lora" not in {r.method for r in shipped}
    with zipfile.ZipFile(out) as z:
        assert all(b"the server's own file" not in z.read(n) for n in z.namelist())
    answers = {p.method: p.status for p in Predictor(copy).predict("sst2", "a fine film")}
    assert answers["lora"] == "not_trained" and answers["full"] == "ok"
    # A whole run folder that is a link is refused the same way.
    [full] = checkpoints.list_runs(copy, "sst2", "full")
    elsewhere = tmp_path / "elsewhere"
    shutil.move(full.path, elsewhere)
    full.path.symlink_to(elsewhere, target_is_directory=True)
    assert full.where in {b.where for b in scan_runs(copy).broken}


# -- crafted adapter configs ---------------------------------------------------------------------------------------
def edit_json(method: str, file: str, change):
    """A bundle edit (rezip's `edit`) that applies `change` to the JSON file `file` of the `method` run."""

    def edit(name: str, content: bytes) -> bytes:
        if f"/{method}/" in name and name.endswith(file):
            data = json.loads(content)
            change(data)
            return json.dumps(data).encode()
        return content

    return edit


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda c: c.update(layer_replication=[[0, 2]] * 300), "layer_replication"),
        (lambda c: c.update(init_lora_weights="pissa"), "init_lora_weights"),
        (lambda c: c.update(init_lora_weights="olora"), "init_lora_weights"),
        (lambda c: c.update(lora_alpha=1e30), "lora_alpha"),
        (lambda c: c.update(bias="all"), "bias"),
        (lambda c: c.update(some_future_key={"layers": 10**6}), "some_future_key"),
    ],
    ids=["replication", "pissa", "olora", "alpha", "bias", "unknown-key"],
)
def test_an_adapter_config_set_otherwise_than_the_labs_lora_is_refused(bundle, tmp_path, scratch, change, key):
    with pytest.raises(BundleError, match=f"sets {key} to .*which this lab's LoRA runs never do"):
        import_bundle(
            rezip(bundle, tmp_path / "crafted.zip", edit_json("lora", "adapter_config.json", change)),
            tmp_path / "class-store",
        )
    assert not (tmp_path / "class-store").exists()


def test_a_lora_adapter_loads_from_its_runs_options_never_from_its_file(store, tmp_path):
    """Even past every check, loading builds the adapter config from the run's options: a PiSSA initialisation in the
    file cannot rewrite the frozen base the other methods share, nor 300 replicated layers be built."""
    [lora] = checkpoints.list_runs(store, "sst2", "lora")
    folder = tmp_path / "model"
    shutil.copytree(lora.model_dir, folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    config.update(init_lora_weights="pissa", layer_replication=[[0, 2]] * 300, lora_alpha=1e30)
    (folder / "adapter_config.json").write_text(json.dumps(config))
    method = get_method("lora")
    base = load_classifier(resolve_model(lora.info["model"]), get_task("sst2"))
    before = {n: p.detach().clone() for n, p in base.named_parameters()}
    model = method.load(base, folder, method.options(**lora.info["config"]["method_options"]))
    assert model.peft_config["default"].lora_alpha == method.options(**lora.info["config"]["method_options"]).alpha
    assert model.peft_config["default"].layer_replication is None
    after = dict(model.get_base_model().named_parameters())
    changed = [n for n, p in before.items() if n in after and not torch.equal(after[n], p)]
    assert changed == []


# -- zips checked before a byte is unpacked ---------------------------------------------------------------------------
def test_a_zip_bomb_is_refused_before_anything_is_unpacked(bundle, tmp_path, scratch):
    with zipfile.ZipFile(bundle) as z:
        where = "/".join(next(n for n in z.namelist() if "/full/" in n).split("/")[:3])
    bomb = rezip(bundle, tmp_path / "bomb.zip", lambda n, c: None if n.endswith("model.safetensors") else c,
                 **{f"{where}/model/model.safetensors": b"\0" * (300 << 20)})  # fmt: skip
    assert bomb.stat().st_size < 5 << 20
    with pytest.raises(BundleError, match=r"unpacks to [\d,]+ times its packed size"):
        import_bundle(bomb, tmp_path / "class-store")
    assert written(scratch) == 0 and not (tmp_path / "class-store").exists()


def test_weights_whose_header_lies_about_their_size_are_refused_before_unpacking(bundle, tmp_path, scratch):
    def lying(name: str, content: bytes) -> bytes:
        if not name.endswith("adapter_model.safetensors"):
            return content
        (length,) = struct.unpack("<Q", content[:8])
        header = json.loads(content[8 : 8 + length])
        first = next(k for k in header if k != "__metadata__")
        header[first]["data_offsets"][1] += 10**9  # a tensor a gigabyte longer than the file holds
        text = json.dumps(header).encode()
        return struct.pack("<Q", len(text)) + text + content[8 + length :]

    with pytest.raises(
        BundleError,
        match=r"sst2/lora/[\d-]+\w*: adapter_model.safetensors is damaged \(its tensors do not tile the file\)",
    ):
        import_bundle(rezip(bundle, tmp_path / "lying.zip", lying), tmp_path / "class-store")
    assert written(scratch) == 0


def test_encrypted_oddly_packed_and_duplicate_entries_are_refused_in_words(bundle, tmp_path, scratch):
    with zipfile.ZipFile(bundle) as z:
        first = z.infolist()[0]
        content = z.read(first)

    def variant(name: str, adjust) -> Path:
        out = tmp_path / name
        with zipfile.ZipFile(bundle) as old, zipfile.ZipFile(out, "w") as new:
            for info in old.infolist():
                new.writestr(info, old.read(info))
            extra = zipfile.ZipInfo(first.filename)
            adjust(extra)
            new.writestr(extra, content)
        return out

    with pytest.warns(UserWarning, match="Duplicate name"):
        duplicate = variant("duplicate.zip", lambda info: None)
    with pytest.raises(BundleError, match="is in the bundle twice"):
        import_bundle(duplicate, tmp_path / "class-store")

    def flagged(bits: int, method: int | None = None) -> Path:
        out = tmp_path / f"flagged-{bits}-{method}.zip"
        data = bytearray(bundle.read_bytes())
        central = data.index(b"PK\x01\x02")  # the first entry's central directory record
        data[central + 8 : central + 10] = struct.pack("<H", bits)
        if method is not None:
            data[central + 10 : central + 12] = struct.pack("<H", method)
        out.write_bytes(bytes(data))
        return out

    with pytest.raises(BundleError, match="is encrypted"):
        import_bundle(flagged(0x1), tmp_path / "class-store")
    with pytest.raises(BundleError, match="packed in a way this lab cannot unpack"):
        import_bundle(flagged(0x0, method=99), tmp_path / "class-store")
    assert written(scratch) == 0 and not (tmp_path / "class-store").exists()


# -- records: non-finite numbers, huge texts; a full model of 20,000 empty layers -------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda i: i["metrics"].update(accuracy=float("nan")), "no number for metric 'accuracy'"),
        (lambda i: i["metrics"].update(loss=float("inf")), "a number that is not finite"),
        (lambda i: i.update(model="x" * 900_000), "a text of 900,000 characters"),
    ],
    ids=["nan-metric", "infinite-number", "huge-encoder-name"],
)
def test_a_record_with_a_non_finite_number_or_a_huge_text_is_refused(bundle, copy_of, tmp_path, change, message):
    edit = edit_json("full", "/run.json", change)
    with pytest.raises(BundleError, match=message):
        import_bundle(rezip(bundle, tmp_path / "record.zip", edit), tmp_path / "class-store")
    copy = copy_of()
    [full] = checkpoints.list_runs(copy, "sst2", "full")
    info = json.loads((full.path / "run.json").read_text())
    change(info)
    (full.path / "run.json").write_text(json.dumps(info))
    assert full.where in {b.where for b in scan_runs(copy).broken}


def test_a_full_model_of_twenty_thousand_empty_layers_is_refused_from_its_header(copy_of):
    copy = copy_of()
    [full] = checkpoints.list_runs(copy, "sst2", "full")
    config = json.loads((full.model_dir / "config.json").read_text())
    config["num_hidden_layers"] = 20_000
    (full.model_dir / "config.json").write_text(json.dumps(config))
    save_file({f"t{i}": torch.empty(0) for i in range(20_001)}, full.model_dir / "model.safetensors")
    (broken,) = scan_runs(copy).broken
    assert broken.where == full.where and "declares 20,001 tensors" in broken.reason


# -- the smaller ones --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("setting", ["   ", "\n", " \t\n "])
def test_a_blank_instructor_token_is_refused_at_start(monkeypatch, setting):
    from webui.deployment import Deployment

    monkeypatch.setenv("LAB_INSTRUCTOR_TOKEN", setting)
    with pytest.raises(SystemExit, match="LAB_INSTRUCTOR_TOKEN is set but blank"):
        Deployment.from_env()


def test_the_instructor_token_is_taken_without_its_surrounding_spaces(monkeypatch):
    from webui.deployment import Deployment

    monkeypatch.setenv("LAB_INSTRUCTOR_TOKEN", " s3cret \n")
    lab = Deployment.from_env()
    assert lab.instructor_token == "s3cret" and lab.is_instructor("s3cret") and lab.is_instructor(" s3cret\n")
    assert not lab.is_instructor(" ") and not lab.is_instructor("\n") and not lab.is_instructor("s3cre")


def test_a_refusal_leaves_no_traceback_in_the_server_log():
    from webui.deployment import user_error

    assert user_error("choose a task").print_exception is False


def test_an_oversized_unfinished_races_record_is_not_read_at_start(tmp_path, tiny_bert, glue_dir, caplog):
    from finetune.engine import unfinished

    config = tiny_config(tiny_bert, glue_dir)
    unfinished.save(tmp_path, {f"visitor-{i}": [(config, None)] for i in range(3)})
    assert len(unfinished.load(tmp_path)[0]) == 3
    record = json.loads((tmp_path / unfinished.FILE).read_text())
    many = {f"v{i}": record["visitor-0"] for i in range(120_000)}  # 120,000 races: tens of megabytes
    (tmp_path / unfinished.FILE).write_text(json.dumps(many))
    assert unfinished.load(tmp_path) == ({}, {}) and "more than the lab writes" in caplog.text
    (tmp_path / unfinished.FILE).write_text(json.dumps(dict(list(many.items())[:300])))
    assert len(unfinished.load(tmp_path)[0]) == unfinished.MAX_RACES  # the newest kept


@pytest.mark.slow  # a process of its own
def test_predict_on_the_command_line_prints_its_answer_and_nothing_else(store):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "finetune", "predict", "--task", "sst2", "a fine film",
                           "--checkpoints-dir", str(store)], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0 and "Full fine-tuning" in done.stdout
    assert "Loading weights" not in done.stderr and "Warning" not in done.stderr, done.stderr


@pytest.mark.slow  # a worker process
def test_a_worker_whose_app_is_gone_stops_quietly_and_resumable(tiny_bert, glue_dir, tmp_path):
    """The app killed mid-run: the worker's next event finds no reader. It stops its run (resumable) and exits
    without a BrokenPipeError traceback in the terminal."""
    import os
    import subprocess
    import sys

    from finetune.core import resumable
    from finetune.engine.worker import PACKAGE_ROOT, WorkOrder

    config = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=2000, epochs=3, evaluations=6)
    read_fd, write_fd = os.pipe()
    worker = subprocess.Popen([sys.executable, "-m", "finetune.engine.worker", "--events-fd", str(write_fd)],
                              stdin=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(write_fd,), text=True,
                              env={**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)})  # fmt: skip
    os.close(write_fd)
    assert worker.stdin is not None and worker.stderr is not None
    worker.stdin.write(WorkOrder(config, checkpoints_dir=str(tmp_path)).to_json() + "\n")
    worker.stdin.flush()
    with os.fdopen(read_fd, encoding="utf-8") as events:
        for line in events:
            if json.loads(line)["type"] == "eval":
                break  # the app goes away after the first evaluation: nobody reads the events any more
    assert worker.wait(timeout=120) is not None
    stderr = worker.stderr.read()
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert [s.step for s in resumable.list_states(tmp_path)]  # its run stays resumable


# -- visitors: one address's share of the line, stopped runs that stay theirs ------------------------------------------
def test_one_address_holds_at_most_its_share_of_the_line_and_others_still_get_in(tiny_bert, glue_dir, checkpoints_dir):
    """Twenty browser sessions from one address no longer fill the line: the address holds LAB_JOBS_PER_ADDRESS
    (4) jobs at once, in words; a visitor from elsewhere still gets in."""
    from finetune.engine.runner import VISITOR_FULL, RunnerBusy, TrainingRunner

    runner = TrainingRunner(checkpoints_dir)
    slow = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=4000, epochs=3)
    quick = tiny_config(tiny_bert, glue_dir, "sst2", "lora")
    same_address = {"visitor": "ip:10.0.0.1", "per_visitor": 4, "one_per_owner": True}
    runner.submit([slow], owner="session-0", **same_address)
    for session in range(1, 4):
        runner.submit([quick], owner=f"session-{session}", **same_address)
    for session in range(4, 20):
        with pytest.raises(RunnerBusy) as refused:
            runner.submit([quick], owner=f"session-{session}", **same_address)
        assert str(refused.value) == VISITOR_FULL.format(count=4)
    runner.submit([quick], owner="elsewhere", visitor="ip:10.9.9.9", per_visitor=4, one_per_owner=True)
    snap = runner.snapshot()
    assert [job.visitor for job in snap.waiting].count("ip:10.0.0.1") == 3 and snap.waiting[-1].visitor == "ip:10.9.9.9"
    runner.withdraw("teacher", override=True)
    runner.stop("teacher", override=True)
    assert runner.wait(120)


def test_a_stopped_run_stays_its_visitors_across_a_restart(tiny_bert, glue_dir, checkpoints_dir):
    from finetune.core import resumable
    from finetune.core.resumable import ResumeError
    from finetune.engine.runner import TrainingRunner

    from .conftest import wait_for

    config = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=2000, epochs=3, evaluations=6)
    runner = TrainingRunner(checkpoints_dir)
    runner.submit([config], owner="ana's tab", visitor="ip:10.0.0.5", one_per_owner=True)
    wait_for(lambda: any(e["type"] == "eval" for e in runner.snapshot().events))
    assert runner.stop("ana's tab") and runner.wait(120)
    (state,) = resumable.list_states(checkpoints_dir)
    assert resumable.owner_of(state) == "ip:10.0.0.5"  # in its marker, which a restart reads
    restarted = TrainingRunner(checkpoints_dir)
    with pytest.raises(ResumeError, match="another visitor's"):
        restarted.resume(state.run_id, owner="ben's new tab", visitor="ip:10.0.0.6", one_per_owner=True)
    job = restarted.resume(state.run_id, owner="ana's new tab", visitor="ip:10.0.0.5", one_per_owner=True)
    restarted.stop("ana's new tab")
    assert restarted.wait(120) and restarted.outcome(job) is not None
    for kept in resumable.list_states(checkpoints_dir):  # stopped again: still hers
        assert resumable.owner_of(kept) == "ip:10.0.0.5"


def stopped_state(root: Path, run_id: str, owner: str, size: int = 0) -> None:
    """A stopped run of `owner`, as a dead worker leaves it (`size` bytes of checkpoint)."""
    from finetune.core import resumable

    folder = root / checkpoints.STAGING / f"{run_id}.owner999999999-1"  # no such process
    checkpoint = folder / resumable.TRAINER_DIR / "checkpoint-8"
    checkpoint.mkdir(parents=True)
    (checkpoint / "trainer_state.json").write_text("{}")
    (checkpoint / "optimizer.pt").write_bytes(b"\0" * size)
    resumable.mark(folder, run_id, {"task": "sst2", "method": "full"}, "checkpoint-8", 8, 24)
    resumable.sweep_stale_staging(root)
    resumable.note_owner(root, run_id, owner)


def test_another_visitors_stopped_runs_never_push_mine_out(tmp_path, monkeypatch):
    from finetune.core import resumable

    stopped_state(tmp_path, "mine", "ip:10.0.0.1", size=1000)
    for n in range(8):  # someone else's eight quick stopped runs
        stopped_state(tmp_path, f"theirs-{n}", "ip:10.0.0.2", size=1000)
    kept = {s.run_id: resumable.owner_of(s) for s in resumable.list_states(tmp_path)}
    assert "mine" in kept and sorted(r for r, o in kept.items() if o == "ip:10.0.0.2") == [
        f"theirs-{n}" for n in range(8 - resumable.MAX_KEPT, 8)
    ]  # their newest four
    # Bounded in bytes too: made room for by the visitor who keeps several, never by anyone's only one.
    monkeypatch.setattr(resumable, "MAX_KEPT_BYTES", 2500)
    stopped_state(tmp_path, "a-third-visitors", "ip:10.0.0.3", size=1000)
    kept = {s.run_id: resumable.owner_of(s) for s in resumable.list_states(tmp_path)}
    assert set(kept) == {"mine", "theirs-7", "a-third-visitors"}  # three visitors, one each: over the bound, kept


def test_a_class_predicting_at_once_is_answered_in_batches_each_input_on_its_own(store):
    """Twenty visitors predicting at once: the methods run a few batched forward passes, not twenty each; every
    visitor gets their own input's answer (the one it gets alone, to float precision); a bad input among them is
    refused alone."""
    import threading

    from finetune.engine.predict import InputError

    predictor = Predictor(store)
    sentences = [f"{word} film , {n} times over" for n in range(5) for word in ("a moving", "a dull", "an odd", "a")]
    alone = {text: {a.method: a for a in predictor.predict("sst2", text)} for text in sentences}
    # Count the forward passes of the models that answer (each loaded once above).
    passes = []
    for method in ("full", "lora", "prompt"):
        run = predictor.candidates("sst2", method)[0][0]
        predictor.predicting_model(run).register_forward_hook(lambda *_, m=method: passes.append(m))
    together: dict[str, list] = {}
    refused: list[str] = []
    start = threading.Barrier(len(sentences) + 1)

    def visitor(text: str) -> None:
        start.wait()
        try:
            together[text] = predictor.predict("sst2", text)
        except InputError as e:
            refused.append(str(e))

    threads = [threading.Thread(target=visitor, args=(text,)) for text in [*sentences, "\u200b \t"]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert refused == ["the text has no visible characters (only spaces, zero-width or control characters)"]
    assert sorted(together) == sorted(sentences)
    for text, answers in together.items():
        for answer in answers:
            own = alone[text][answer.method]
            assert (answer.status, answer.label, answer.run_id) == (own.status, own.label, own.run_id), text
            for label, p in answer.probabilities.items():
                assert p == pytest.approx(own.probabilities[label], abs=2e-3)
    # Each method answered the twenty in fewer passes than inputs (the first asker alone, the rest together).
    for method in ("full", "lora", "prompt"):
        assert 1 <= passes.count(method) < len(sentences) / 2, (method, passes.count(method))


@pytest.mark.slow
def test_ten_runs_and_twenty_bundles_leave_no_open_files_temporary_files_or_growing_memory(
    tiny_bert, glue_dir, tmp_path, monkeypatch
):
    """The lab as a class uses it for an afternoon: ten runs (each in its worker process, each predicted with as it
    lands) and twenty bundles made and imported through the API. After the first run and bundle (what loads once),
    the app holds no more open files, the temporary folder no more of the lab's folders, and its memory stays put."""
    import tempfile

    import psutil
    from gradio_client import Client, handle_file

    import app as lab

    from .conftest import free_port

    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))  # the workers' and the app's temporary files, where we count them
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    demo = lab.create_app(tmp_path / "runs")
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    me = psutil.Process()
    visitor = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=str(tmp_path / "downloads"))
    home = tmp_path / "home"

    def lab_leftovers() -> list[str]:
        return sorted(p.name for p in temporary.iterdir() if p.name.startswith("glue-tune-lab-"))

    def one_run(n: int) -> None:
        config = tiny_config(tiny_bert, glue_dir, "sst2", ("full", "lora", "prompt", "selective")[n % 4], seed=n)
        demo.runner.submit([config], owner=f"visitor-{n}")
        assert demo.runner.wait(180)
        assert all(card["status"] == "ok" or card["method"] != config.method
                   for card in visitor.predict("sst2", "a fine film", "", api_name="/predict"))  # fmt: skip

    def one_bundle(n: int) -> None:
        made = visitor.predict("sst2", api_name="/export_bundle")
        if n == 0:  # the home lab's copy, imported back: each import unpacks the bundle, checks it, and adds nothing
            import_bundle(Path(made), home)
        assert "run" in visitor.predict(handle_file(made), "", api_name="/import_bundle")

    try:
        one_run(0)
        one_bundle(0)
        settled = (me.num_fds(), len(lab_leftovers()), me.memory_info().rss)
        for n in range(1, 10):
            one_run(n)
            one_bundle(n)
        for n in range(10, 20):
            one_bundle(n)
        assert len(checkpoints.list_runs(tmp_path / "runs")) == 10
        after = (me.num_fds(), len(lab_leftovers()), me.memory_info().rss)
        assert after[0] <= settled[0] + 3, (settled, after)  # (a connection or two of the client may be open)
        assert after[1] <= settled[1], lab_leftovers()  # the bundles' folder, made once; no worker's or import's
        assert after[2] - settled[2] < 300e6, (settled, after)  # nine more runs loaded: the newest of each kept
    finally:
        visitor.close()
        demo.close()
