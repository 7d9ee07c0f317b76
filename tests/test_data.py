"""Reading the real GLUE files: every row, the right columns, the quirks handled."""

from __future__ import annotations

import time

import pytest

from finetune.core.data import DataSourceError, load_glue, tokenize
from finetune.core.models import load_tokenizer, resolve_model
from finetune.core.tasks import TASKS

# Row counts and dev label balance from shared/glue/README.md
EXPECTED = {
    "sst2": {"train": 67349, "validation": 872, "dev_positive": 444},
    "mrpc": {"train": 3668, "validation": 408, "dev_positive": 279},
    "cola": {"train": 8551, "validation": 1043, "dev_positive": 721},
}


@pytest.mark.parametrize("task_name", list(TASKS))
def test_local_glue_reads_every_row_with_canonical_columns(task_name, glue_dir):
    task = TASKS[task_name]
    data = load_glue(task, glue_dir)
    assert len(data["train"]) == EXPECTED[task_name]["train"]
    assert len(data["validation"]) == EXPECTED[task_name]["validation"]
    assert sum(data["validation"]["label"]) == EXPECTED[task_name]["dev_positive"]
    assert data["train"].column_names == [*task.text_keys, "label"]
    assert data["train"].features["label"].names == list(task.label_names)
    for key in task.text_keys:
        assert all(isinstance(s, str) and s.strip() for s in data["validation"][key])


def test_quirks_bom_quotes_and_headerless_cola(glue_dir):
    mrpc = load_glue(TASKS["mrpc"], glue_dir)["train"]
    # The first MRPC pair contains stray double quotes that default CSV quoting would eat.
    assert mrpc[0]["sentence1"].startswith("Amrozi accused his brother")
    assert '" the witness "' in mrpc[0]["sentence1"]
    assert mrpc[0]["label"] == 1
    cola = load_glue(TASKS["cola"], glue_dir)["train"]
    # CoLA has no header: its very first line is an example, not column names.
    assert cola[0]["sentence"] == "Our friends won't buy this analysis, let alone the next one we propose."


def test_subsampling_is_seeded_and_sized(glue_dir):
    task = TASKS["sst2"]
    a = load_glue(task, glue_dir, max_train_samples=50, max_eval_samples=20, seed=1)
    b = load_glue(task, glue_dir, max_train_samples=50, max_eval_samples=20, seed=1)
    c = load_glue(task, glue_dir, max_train_samples=50, seed=2)
    assert len(a["train"]) == 50 and len(a["validation"]) == 20
    assert a["train"]["sentence"] == b["train"]["sentence"]
    assert a["train"]["sentence"] != c["train"]["sentence"]
    assert len(c["validation"]) == 872


def test_missing_task_files_name_the_path(tmp_path):
    (tmp_path / "SST-2").mkdir()
    with pytest.raises(DataSourceError, match=r"missing .*SST-2/train\.tsv"):
        load_glue(TASKS["sst2"], tmp_path)


@pytest.mark.parametrize("offline_env", ["1", ""])
def test_offline_without_local_dir_fails_fast_naming_glue_dir(monkeypatch, offline_env):
    monkeypatch.delenv("GLUE_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", offline_env)
    from finetune.core import hub

    monkeypatch.setattr(hub, "_cache", None)
    started = time.monotonic()
    with pytest.raises(DataSourceError, match="GLUE_DIR"):
        load_glue(TASKS["mrpc"])
    assert time.monotonic() - started < 15  # "within seconds", not a download timeout


def test_pairs_are_tokenized_as_pairs_without_padding(glue_dir, tiny_bert):
    task = TASKS["mrpc"]
    source = resolve_model(str(tiny_bert))
    tokenizer = load_tokenizer(source)
    data = load_glue(task, glue_dir, max_train_samples=8, max_eval_samples=8)
    encoded = tokenize(data, tokenizer, task, max_seq_length=60)
    lengths = [len(ids) for ids in encoded["train"]["input_ids"]]
    assert max(lengths) == 60 and len(set(lengths)) > 1  # truncated, not padded
    assert all(1 in types for types in encoded["train"]["token_type_ids"])  # second segment present
