"""One damaged run folder never breaks the others: it is skipped, said in words, and the newest good run serves."""

from __future__ import annotations

import json
import shutil

import gradio as gr
import pytest

from finetune.cli import main
from finetune.core import checkpoints
from finetune.core.methods.peft_common import ADAPTER_WEIGHTS
from finetune.engine.predict import Predictor
from finetune.engine.train import train

from .conftest import tiny_config


@pytest.fixture(scope="module")
def trained_store(tiny_bert, glue_dir, tmp_path_factory):
    """Trained once: an older and a newer selective run of SST-2, and a LoRA run."""
    store = tmp_path_factory.mktemp("store")
    for method, seed in (("selective", 1), ("selective", 2), ("lora", 1)):
        train(tiny_config(tiny_bert, glue_dir, "sst2", method, seed=seed), checkpoints_dir=store)
    return store


@pytest.fixture
def two_runs(trained_store, checkpoints_dir):
    """A private copy of the trained store, for each test to damage: (older, newer selective, lora)."""
    shutil.copytree(trained_store, checkpoints_dir)
    older, newer = checkpoints.list_runs(checkpoints_dir, "sst2", "selective")
    (lora,) = checkpoints.list_runs(checkpoints_dir, "sst2", "lora")
    return older, newer, lora


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (b"{}", "run.json has no 'run_id'"),
        (b"\xff", "run.json is not UTF-8 text"),
        (b'{"run_id": "20', "run.json is not valid JSON"),
        (b"[1, 2]", "run.json holds list, not a run record"),
    ],
    ids=["empty-object", "not-utf8", "truncated", "wrong-shape"],
)
def test_a_damaged_run_json_is_skipped_and_reported(two_runs, checkpoints_dir, capsys, damage, reason):
    older, newer, _ = two_runs
    (newer.path / "run.json").write_bytes(damage)

    scan = checkpoints.scan_runs(checkpoints_dir)
    assert [r.run_id for r in scan.runs if r.method == "selective"] == [older.run_id]
    assert scan.summary() == f"1 broken run skipped: sst2/selective/{newer.run_id}: {reason}"

    # CLI: `runs` exits 0, lists the good ones, says what it skipped; --json is strict JSON.
    assert main(["runs"]) == 0
    out, err = capsys.readouterr()
    assert older.run_id in out and newer.run_id not in out and reason in err
    assert main(["runs", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and "run_dir" not in rows[0]

    # predict answers with the older good run, and says what it skipped.
    answers = {a.method: a for a in Predictor(checkpoints_dir).predict("sst2", "a fine film")}
    assert answers["selective"].status == "ok" and answers["selective"].run_id == older.run_id
    assert reason in answers["selective"].message

    # Results: the table lists the good runs, with a note naming the broken one.
    from webui import results_tab
    from webui.deployment import Deployment

    local = Deployment(public=False, training=True, instructor_token=None, encoders=())
    with gr.Blocks():
        tab = results_tab.build(checkpoints_dir, local)
    notice, table, *_ = tab.refresh("sst2")
    assert reason in notice and newer.run_id in notice
    assert sorted(table["Run"]) == sorted([older.run_id, two_runs[2].run_id])  # the table shows human headings


def test_missing_weights_are_reported_and_never_loaded(two_runs, checkpoints_dir):
    older, newer, lora = two_runs
    (newer.path / "model" / "selective_weights.safetensors").unlink()
    (lora.path / "model" / ADAPTER_WEIGHTS).rename(lora.path / "model" / "adapter_model.bin")  # a pickle stand-in
    scan = checkpoints.scan_runs(checkpoints_dir)
    reasons = {b.where.split("/")[1]: b.reason for b in scan.broken}
    assert reasons == {
        "selective": "its saved model lacks selective_weights.safetensors",
        "lora": f"its saved model lacks {ADAPTER_WEIGHTS}",
    }
    answers = {a.method: a for a in Predictor(checkpoints_dir).predict("sst2", "a fine film")}
    assert answers["selective"].run_id == older.run_id
    assert answers["lora"].status == "not_trained" and "1 broken run skipped" in answers["lora"].message


def test_peft_adapters_load_from_safetensors_only(two_runs):
    from finetune.core.methods import get_method
    from finetune.core.models import load_classifier, resolve_model
    from finetune.core.tasks import get_task

    _, _, lora = two_runs
    (lora.path / "model" / ADAPTER_WEIGHTS).rename(lora.path / "model" / "adapter_model.bin")
    base = load_classifier(resolve_model(lora.info["model"]), get_task("sst2"))
    method = get_method("lora")
    with pytest.raises(FileNotFoundError, match="safetensors only"):
        method.load(base, lora.model_dir, method.options(**lora.info["config"]["method_options"]))


def test_garbage_weights_fall_back_to_the_older_good_run(two_runs, checkpoints_dir):
    older, newer, _ = two_runs
    (newer.path / "model" / "selective_weights.safetensors").write_bytes(b"\x00garbage" * 100)
    predictor = Predictor(checkpoints_dir)
    for _ in range(2):  # the second time from memory of the failure, without loading it again
        answer = next(a for a in predictor.predict("sst2", "a fine film") if a.method == "selective")
        assert answer.status == "ok" and answer.run_id == older.run_id
        assert f"sst2/selective/{newer.run_id}: selective_weights.safetensors is damaged" in answer.message
        assert "/" + str(checkpoints_dir).strip("/") not in answer.message  # no server paths
