"""Your own data (#40): files made here from the shared GLUE data in other shapes (renamed columns, string labels,
CP949 bytes, an .xlsx, JSON Lines, a split column, a pair task, three labels) become tasks the engine really trains
on; bad files are refused in words that name the row, column or label, leaving nothing behind."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from finetune.core import own_data
from finetune.core.own_data import DataFileError, build_data, infer_columns, read_table, save_data
from finetune.core.tasks import TASKS_FOLDER, forget_data_tasks, get_task

from .conftest import REPO, tiny_config


def glue_rows(glue_dir: Path, task: str = "SST-2", count: int = 300) -> list[list[str]]:
    """The first `count` rows of a GLUE training file, as read (no header)."""
    with open(glue_dir / task / "train.tsv", encoding="utf-8-sig") as f:
        return list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1 : count + 1]


def sentiment_csv(glue_dir: Path, path: Path, encoding: str = "utf-8", count: int = 300, delimiter: str = ",") -> Path:
    """SST-2 as a Korean teacher's sheet: a row number, the review, and the sentiment in Korean words."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(["번호", "리뷰", "감정"])
    for i, (sentence, label) in enumerate(glue_rows(glue_dir, count=count)):
        writer.writerow([i + 1, sentence, "긍정" if label == "1" else "부정"])
    path.write_bytes(out.getvalue().encode(encoding, errors="replace"))  # (as Excel writes what CP949 lacks: "?")
    return path


@pytest.mark.parametrize("encoding, said", [("cp949", "cp949"), ("utf-8", "utf-8"), ("utf-8-sig", "utf-8 with BOM")])
def test_a_korean_sheet_is_read_in_its_encoding_and_its_columns_are_found(glue_dir, tmp_path, encoding, said):
    table = read_table(sentiment_csv(glue_dir, tmp_path / "reviews.csv", encoding))
    assert table.encoding == said and table.columns == ["번호", "리뷰", "감정"] and len(table.rows) == 300
    columns = infer_columns(table)
    assert columns.text == ("리뷰",) and columns.label == "감정" and columns.split is None  # not the row number
    data = build_data(table, columns, seed=3)
    assert data.label_names == ("긍정", "부정") and len(data.train) + len(data.dev) <= 300
    assert data.source["encoding"] == said and "held out by seed 3" in data.source["dev"]
    # The same seed holds out the same rows, and is the same task; another seed others, and is another task (a task
    # is never rewritten under the runs trained on it).
    again, other = build_data(table, columns, seed=3), build_data(table, columns, seed=4)
    assert again.dev == data.dev != other.dev and again.name == data.name != other.name


def test_a_tsv_json_lines_and_an_excel_sheet_with_a_formula_read_alike(glue_dir, tmp_path):
    import openpyxl

    rows = glue_rows(glue_dir, count=60)
    tsv = sentiment_csv(glue_dir, tmp_path / "reviews.tsv", count=60, delimiter="\t")
    lines = tmp_path / "reviews.jsonl"
    lines.write_text("\n".join(json.dumps({"text": s, "label": int(label)}) for s, label in rows) + "\n")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["text", "label"])
    for sentence, label in rows:
        sheet.append([sentence, int(label)])
    sheet.append(['=HYPERLINK("http://example.com")', "=1+0"])  # formulas: read as saved values, never run
    book.save(tmp_path / "reviews.xlsx")
    assert infer_columns(read_table(tsv)).text == ("리뷰",)
    from_lines, from_sheet = read_table(lines), read_table(tmp_path / "reviews.xlsx")
    assert from_sheet.encoding == "xlsx" and from_lines.rows == [[s, label] for s, label in rows]
    assert from_sheet.rows[:60] == from_lines.rows  # the numbers 0 and 1 read as "0" and "1"
    # openpyxl saves no value for a formula: the row has none, is left out and said so.
    data = build_data(from_sheet, infer_columns(from_sheet))
    assert any(line.startswith("2 formula cells have no value saved with them and read as empty (row 62, 'text')")
               for line in data.report)  # fmt: skip
    assert data.label_names == ("0", "1") and any("1 rows without a text or a label left out (rows 62)" in line
                                                   for line in data.report)  # fmt: skip


def test_a_split_column_a_pair_task_and_three_labels(glue_dir, tmp_path):
    pairs = glue_rows(glue_dir, "MRPC", 200)
    path = tmp_path / "paraphrase.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "sentence1", "sentence2", "same", "split"])
        for i, row in enumerate(pairs):
            writer.writerow([i, row[3], row[4], "yes" if row[0] == "1" else "no", "dev" if i % 5 == 0 else "train"])
    table = read_table(path)
    columns = infer_columns(table, label="same")
    assert columns.text == ("sentence1", "sentence2") and columns.split == "split"
    data = build_data(table, columns)
    assert len(data.dev) == 40 and data.source["dev"] == "the split column 'split'"
    # A split column named by the user must say train or dev on every row: a row in neither is not dropped silently.
    with pytest.raises(DataFileError, match="the split column 'id' says '0'; its values must be train"):
        build_data(table, infer_columns(table, label="same", split="id"))
    task = save_data(data, tmp_path / "store")
    assert task.is_pair and task.text_keys == ("sentence1", "sentence2") and task.label_names == ("no", "yes")
    # Binary F1 is of the rarer label unless named.
    counts = {name: sum(label == i for _, label in data.train + data.dev) for i, name in enumerate(data.label_names)}
    assert data.label_names[task.positive] == min(counts, key=counts.get)

    # Three labels (CoLA's two and a third made of MRPC's first sentences): macro-F1, the reason said.
    three = tmp_path / "three.csv"
    with open(three, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "kind"])
        for sentence, label in glue_rows(glue_dir, count=240):
            writer.writerow([sentence, "positive" if label == "1" else "negative"])
        for row in pairs[:60]:
            writer.writerow([row[3], "news"])
    data = build_data(read_table(three), infer_columns(read_table(three), label="kind"))
    assert data.label_names == ("negative", "news", "positive") and data.headline_metric == "f1"
    assert "macro-F1" in data.headline_reason and "imbalanced" in data.headline_reason  # 60 news against 100 or more
    # The teacher's choice wins, and the default is still said.
    chosen = build_data(read_table(three), infer_columns(read_table(three), label="kind"), headline="mcc")
    assert chosen.headline_metric == "mcc" and chosen.headline_reason.startswith("MCC: chosen (the default would be")
    assert save_data(chosen, tmp_path / "store").headline_title == "MCC"


def test_duplicates_and_rows_in_both_train_and_dev_are_reported_and_kept_apart(glue_dir, tmp_path):
    rows = glue_rows(glue_dir, count=100)
    train, dev = tmp_path / "train.csv", tmp_path / "dev.csv"
    for path, chosen in ((train, rows + rows[:10]), (dev, rows[90:])):
        with open(path, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([["sentence", "label"], *chosen])
    data = build_data(read_table(train), infer_columns(read_table(train)), dev_table=read_table(dev))
    assert "10 duplicate training rows left out" in data.report
    assert any(line.startswith("10 training rows are also dev rows: taken out of training") for line in data.report)
    assert len(data.train) == 90 and len(data.dev) == 10 and data.source["dev"] == "the file dev.csv"
    assert not {texts for texts, _ in data.train} & {texts for texts, _ in data.dev}


@pytest.mark.parametrize(
    "content, name, words",
    [
        (b"", "empty.csv", "empty.csv is empty"),
        (b"PK\x03\x04" + b"\x00" * 64, "sheet.xlsx", "sheet.xlsx is not an Excel workbook"),
        (None, "archive.xlsx", "is a zip archive but not an Excel workbook"),
        (None, "renamed.csv", "renamed.csv is a zip archive (an Excel workbook?), not a .csv table"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "picture.csv", "picture.csv holds binary data, not a text table"),
        (b"text,label\n\xff\xfe\xfa\xfb,1\n", "broken.csv", "neither UTF-8 nor CP949/EUC-KR"),
        (
            b"text\na fine film\na dull film\n",
            "one.csv",
            "one.csv has one column ('text'): a task needs a text column and a label column",
        ),
        (b"text\tlabel\tx\na,1\t2\t3\t4\n", "cells.tsv", "row 2 has 4 cells but the header names 3 columns"),
        (b'{"text": "a", "label": 1}\n[1, 2]\n', "rows.jsonl", "rows.jsonl: line 2 is not a JSON object"),
        (b'{"text": ["a"], "label": 1}\n', "list.jsonl", "line 1, 'text' holds a list or an object"),
    ],
)
def test_a_file_that_is_not_a_table_is_refused_in_words(tmp_path, content, name, words):
    path = tmp_path / name
    if content is None:  # a real zip: holding a text file (not a workbook), or renamed
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("notes.txt", "hello")
    else:
        path.write_bytes(content)
    with pytest.raises(DataFileError, match=re.escape(words)):
        infer_columns(read_table(path))


def test_labels_and_sizes_out_of_bounds_are_refused_naming_the_column_or_label(glue_dir, tmp_path, monkeypatch):
    rows = glue_rows(glue_dir, count=200)

    def table_of(lines: list[list[str]], name: str = "t.csv"):
        path = tmp_path / name
        with open(path, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(lines)
        return read_table(path)

    # A label column that is really text.
    texts = table_of([["review", "comment"], *[[s, f"comment number {i} about it"] for i, (s, _) in enumerate(rows)]])
    with pytest.raises(DataFileError, match=r"holds 200 different values; .* it looks like text, not labels"):
        build_data(texts, infer_columns(texts, text=["review"], label="comment"))
    # One value only.
    one = table_of([["text", "label"], *[[s, "1"] for s, _ in rows]])
    with pytest.raises(DataFileError, match="holds one value only"):
        build_data(one, infer_columns(one, label="label"))
    # A label too rare to learn or to hold out.
    rare = table_of([["text", "label"], *[[s, lab] for s, lab in rows], ["a new film", "2"], ["a newer film", "2"]])
    with pytest.raises(DataFileError, match="the label '2' has 2 rows; each label needs at least 5"):
        build_data(rare, infer_columns(rare))
    # Bounds before reading: size and rows.
    monkeypatch.setattr(own_data, "MAX_FILE_BYTES", 1000)
    with pytest.raises(DataFileError, match=r"t\.csv has 0\.0 MB; the limit is 0 MB|limit"):
        table_of([["text", "label"], *rows])
    monkeypatch.setattr(own_data, "MAX_FILE_BYTES", 20_000_000)
    monkeypatch.setattr(own_data, "MAX_ROWS", 50)
    with pytest.raises(DataFileError, match="more than 50 rows"):
        table_of([["text", "label"], *rows])
    # A named column that is not there: the file's columns said.
    with pytest.raises(DataFileError, match="has no column 'sentiment'; its columns: text, label"):
        infer_columns(one, label="sentiment")


@pytest.mark.slow
def test_a_cp949_sheet_trains_from_the_cli_predicts_and_is_found_again_after_a_restart(glue_dir, tiny_bert, tmp_path):
    """`train --data` with the Korean sheet: the task is kept in the store, two methods really train on it, and a
    fresh process (a restart) predicts with both and lists them; a bundle of it is refused in words."""
    sheet = sentiment_csv(glue_dir, tmp_path / "리뷰 모음.csv", "cp949", count=400)
    store = tmp_path / "store"
    env = {"HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "finetune", *args, "--checkpoints-dir", str(store)], env=env,
                              capture_output=True, text=True, timeout=600, cwd=REPO)  # fmt: skip

    for method in ("full", "lora"):
        trained = cli("train", "--data", str(sheet), "--method", method, "--model", str(tiny_bert), "--epochs", "1",
                      "--batch-size", "16", "--lora-r", "4")  # fmt: skip
        assert trained.returncode == 0, trained.stderr[-2000:]
    assert "read 리뷰 모음.csv as cp949: 400 rows" in trained.stderr
    assert "text '리뷰', label '감정' (긍정, 부정)" in trained.stderr
    assert "does not know" not in trained.stderr  # its reviews are English (its labels Korean)
    (name,) = [p.name for p in (store / TASKS_FOLDER).iterdir()]  # the file's name made safe, and a hash
    assert re.fullmatch(r"data-[0-9a-f]{6}", name)  # (a Korean file name keeps no letters a folder name may hold)
    predicted = cli("predict", "--task", name, "--json", "정말 재미있는 영화")
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    cards = {card["method"]: card for card in json.loads(predicted.stdout)}
    assert {m for m, c in cards.items() if c["status"] == "ok"} == {"full", "lora"}
    assert all(card["label"] in ("긍정", "부정") for card in cards.values() if card["status"] == "ok")
    assert cards["full"]["unknown_note"].startswith("this encoder does not know Korean")
    listed = cli("runs")
    assert listed.stdout.count(name) == 2
    refused = cli("export", "--task", name, str(tmp_path / "b.zip"))
    assert refused.returncode != 0 and "made from a file" in refused.stderr


def test_a_task_from_a_file_trains_in_process_and_reloads_from_the_store(glue_dir, tiny_bert, tmp_path):
    """In the engine: the data task's run trains with its own label names and metrics, and a lab started afresh
    (the registry emptied) finds the task by name in the store and predicts with the run."""
    from finetune.engine.predict import Predictor
    from finetune.engine.train import train

    store = tmp_path / "store"
    table = read_table(sentiment_csv(glue_dir, tmp_path / "reviews.csv", "cp949", count=300))
    task = save_data(build_data(table, infer_columns(table)), store)
    result = train(tiny_config(tiny_bert, glue_dir, task.name, "full", max_train_samples=0, max_eval_samples=None),
                   checkpoints_dir=store)  # fmt: skip
    info = result.run.info
    assert info["task"] == task.name and info["train_samples"] == task.train_size
    assert set(info["metrics"]) >= {"accuracy", "f1", "mcc", "headline"}
    forget_data_tasks()  # a restart: the task is known only from the store
    answers = {a.method: a for a in Predictor(store).predict(task.name, "정말 좋은 영화")}
    assert answers["full"].status == "ok" and answers["full"].label in ("긍정", "부정")
    assert get_task(task.name).label_names == ("긍정", "부정") and get_task(task.name).source["encoding"] == "cp949"


def test_the_encoder_says_when_it_cannot_read_a_korean_sentence(tiny_bert, glue_dir, tmp_path):
    """The packaged encoder's English vocabulary turns a Korean sentence into [UNK] and jamo pieces: the share is
    measured, and every prediction of it (engine, cards, CLI words in Korean too) says its answer means little;
    an English sentence, or one Korean word in it, is not flagged."""
    from transformers import AutoTokenizer

    from finetune.core.models import PACKAGED_MODEL, resolve_model
    from finetune.core.unknown_text import UNKNOWN_WARN_SHARE, unknown_share
    from finetune.engine.predict import Predictor
    from finetune.engine.train import train
    from webui.language import speaking
    from webui.playground_tab import cards_html

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(PACKAGED_MODEL).path)
    assert unknown_share(tokenizer, ["정말 재미있는 영화였어요"]) == 1.0
    assert unknown_share(tokenizer, ["a gorgeous, witty, seductive movie."]) == 0.0
    assert unknown_share(tokenizer, ["a gorgeous movie, 정말"]) < UNKNOWN_WARN_SHARE  # one word of 18 characters

    store = tmp_path / "store"
    train(tiny_config(tiny_bert, glue_dir, "sst2", "full"), checkpoints_dir=store)
    predictor = Predictor(store)
    (korean,) = [a for a in predictor.predict("sst2", "정말 재미있는 영화였어요") if a.status == "ok"]
    (english,) = [a for a in predictor.predict("sst2", "a gorgeous, witty, seductive movie.") if a.status == "ok"]
    assert korean.unknown_share == 1.0 and korean.unknown_note.startswith("this encoder does not know Korean: 100%")
    assert english.unknown_share == 0.0 and english.unknown_note is None
    assert cards_html("sst2", [korean]).count("class='unknown-note'") == 1
    assert "class='unknown-note'" not in cards_html("sst2", [english])
    with speaking("ko"):
        assert "이 인코더는 한국어를 모릅니다: 문자의 100%가" in cards_html("sst2", [korean])
    # `train --data` says it of a file's texts before training.
    from finetune.cli import unreadable_by_encoder

    assert unreadable_by_encoder(str(tiny_bert), ["정말 재미있는 영화였어요", "지루했다"]).startswith(
        "this encoder does not know Korean: 100%"
    )
    assert unreadable_by_encoder(str(tiny_bert), ["a fine film"]) is None
