"""GLUE data: from a local GLUE directory or the Hub (``nyu-mll/glue``), read with ``datasets``.

Both sources yield the same columns: the task's text keys plus an integer ``label``, with
splits ``train`` and ``validation`` (the GLUE dev set; GLUE test labels are not public).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from datasets import ClassLabel, DatasetDict, Features, Value, load_dataset

from .hub import hub_reachable
from .tasks import Task

HUB_DATASET = "nyu-mll/glue"
_SPLIT_FILES = {"train": "train.tsv", "validation": "dev.tsv"}


class DataSourceError(ValueError):
    """The task's data cannot be found or read."""


def glue_dir_from_env() -> str | None:
    return os.environ.get("GLUE_DIR") or None


def task_files(task: Task, data_dir: str | Path) -> dict[str, str]:
    """The task's train/dev TSV paths under a GLUE directory, or a clear error if any is missing."""
    if task.local is None:
        raise DataSourceError(f"{task.title} is a task from a file: its rows are in the lab's store, not in {data_dir}")
    folder = Path(data_dir).expanduser() / task.local.folder
    files = {split: folder / name for split, name in _SPLIT_FILES.items()}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise DataSourceError(f"{data_dir} is not a GLUE directory for {task.name}: missing {', '.join(missing)}")
    return {split: str(path) for split, path in files.items()}


def _features(task: Task) -> Features:
    columns = {key: Value("string") for key in task.text_keys}
    columns["label"] = ClassLabel(names=list(task.label_names))
    return Features(columns)


def load_local(task: Task, data_dir: str | Path) -> DatasetDict:
    layout = task.local
    assert layout is not None, "a GLUE task"
    raw = load_dataset(
        "csv",
        data_files=task_files(task, data_dir),
        delimiter="\t",
        quoting=csv.QUOTE_NONE,  # GLUE strings contain stray double quotes
        encoding=layout.encoding,
        header=0 if layout.has_header else None,
        column_names=list(layout.columns),
        # Every column read as text: a sentence like "null" or "1" must not become NaN or a number.
        features=Features({column: Value("string") for column in layout.columns}),
        keep_default_na=False,
    )
    raw = raw.rename_columns(layout.rename) if layout.rename else raw
    keep = [*task.text_keys, "label"]
    raw = raw.remove_columns([c for c in raw["train"].column_names if c not in keep])
    return raw.map(lambda row: {"label": int(row["label"])}).cast(_features(task))


def load_own(task: Task) -> DatasetDict:
    """A task made from a file (core/own_data.py): its train and dev rows as kept in the store."""
    from datasets import Dataset

    from .own_data import data_folder, read_rows

    folder = data_folder(task)
    splits = {}
    for split, name in (("train", "train"), ("validation", "dev")):
        rows = read_rows(folder, name)
        columns = {key: [texts[i] for texts, _ in rows] for i, key in enumerate(task.text_keys)}
        splits[split] = Dataset.from_dict({**columns, "label": [label for _, label in rows]}, features=_features(task))
    return DatasetDict(splits)


def load_hub(task: Task) -> DatasetDict:
    assert task.local is not None and task.hub_config is not None, "a GLUE task"
    if not hub_reachable():
        raise DataSourceError(
            f"cannot download {HUB_DATASET} ({task.name}): the Hugging Face Hub is unreachable. "
            "Point GLUE_DIR (or --data-dir) at a local GLUE directory with "
            f"{task.local.folder}/train.tsv and {task.local.folder}/dev.tsv"
        )
    raw = load_dataset(HUB_DATASET, task.hub_config)
    raw = DatasetDict({split: raw[split] for split in _SPLIT_FILES})
    keep = [*task.text_keys, "label"]
    return raw.remove_columns([c for c in raw["train"].column_names if c not in keep])


def load_glue(
    task: Task,
    data_dir: str | Path | None = None,
    max_train_samples: int | None = None,
    max_eval_samples: int | None = None,
    seed: int = 42,
) -> DatasetDict:
    """Train and dev splits of `task`; `data_dir` (or $GLUE_DIR) wins over the Hub."""
    data_dir = data_dir or glue_dir_from_env()
    # A task from a file has its rows in the store, whatever the GLUE folder.
    if task.source is not None:
        data = load_own(task)
    elif data_dir:
        data = load_local(task, data_dir)
    else:
        data = load_hub(task)
    if max_train_samples is not None and max_train_samples < len(data["train"]):
        data["train"] = data["train"].shuffle(seed=seed).select(range(max_train_samples))
    if max_eval_samples is not None and max_eval_samples < len(data["validation"]):
        data["validation"] = data["validation"].shuffle(seed=seed).select(range(max_eval_samples))
    return data


def tokenize(data: DatasetDict, tokenizer, task: Task, max_seq_length: int) -> DatasetDict:
    """Token ids without padding: the collator pads each batch to its own longest example."""

    def encode(batch):
        texts = [batch[key] for key in task.text_keys]
        return tokenizer(*texts, truncation=True, max_length=max_seq_length)

    return data.map(encode, batched=True, remove_columns=list(task.text_keys))
