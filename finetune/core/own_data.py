"""Your own data as a task: a CSV, TSV, JSON Lines file or an Excel sheet becomes train and dev rows, then a Task
beside GLUE's three (core/tasks.py), kept in the store so that runs, resume and reloads find it again.

Reading is strict and says what it read: the encoding (UTF-8, UTF-8 with a byte-order mark, or CP949/EUC-KR, which
Korean Excel writes its CSVs in), the columns it took for the text(s), the label and the split (found by name, then
by content, or named by the user), and everything it dropped or changed (empty cells, duplicates, texts cut to
MAX_TEXT_CHARS, dev rows also in train). Every bound is checked before anything is stored, each refusal names the
row or column; a refused file leaves nothing behind. Excel formulas are read as the values Excel saved with them,
never evaluated.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .tasks import TASKS_FOLDER, Task, data_task_folder, register_task

MAX_FILE_BYTES = 20_000_000  # a class's spreadsheet is a few hundred KB; GLUE's SST-2 train file is 5 MB
MAX_ROWS = 100_000
MAX_TEXT_CHARS = 2_000  # longer cells are cut (and counted); the encoder reads at most 512 tokens anyway
MIN_CLASSES, MAX_CLASSES = 2, 20
MIN_TRAIN_PER_CLASS = 4  # fewer and a class cannot be learned, nor a share of it held out
MIN_DEV_PER_CLASS = 1
DEFAULT_DEV_SHARE = 0.2
HEADLINES = {"accuracy": "accuracy", "f1": "F1", "mcc": "MCC"}  # what runs of a data task may be compared by
ENCODINGS = ("utf-8", "cp949")  # CP949 is a superset of EUC-KR (Korean Excel's "CSV")

LABEL_NAMES = {"label", "labels", "class", "target", "category", "sentiment", "y", "정답", "라벨", "레이블", "분류",
               "감정", "클래스"}  # fmt: skip
SPLIT_NAMES = {"split", "set", "subset", "fold", "구분", "분할"}
TRAIN_VALUES = {"train", "training", "학습", "훈련"}
DEV_VALUES = {"dev", "validation", "valid", "val", "eval", "test", "검증", "평가", "테스트"}
PAIR_NAMES = [("sentence1", "sentence2"), ("text_a", "text_b"), ("text1", "text2"), ("question", "answer"),
              ("premise", "hypothesis"), ("문장1", "문장2")]  # fmt: skip


class DataFileError(ValueError):
    """A file that cannot become a task, said in words (the row or column named)."""


# -- reading a table -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]
    encoding: str  # what the text was read as ("utf-8", "utf-8 with BOM", "cp949"), or "xlsx"
    name: str  # the file's name (never its folder: a server path must not reach a page)
    sha256: str
    notes: tuple[str, ...] = ()  # what reading noticed (formulas without saved values)


def read_table(path: str | Path) -> Table:
    """The file as a header and rows of text cells, by its kind (.csv .tsv .txt .jsonl .json .xlsx)."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        raise DataFileError(f"{path.name}: the file cannot be read") from None
    if size == 0:
        raise DataFileError(f"{path.name} is empty")
    if size > MAX_FILE_BYTES:
        raise DataFileError(f"{path.name} has {size / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        columns, rows, notes = _read_workbook(raw, path.name)
        return Table(columns, rows, "xlsx", path.name, digest, tuple(notes))
    if raw[:4] == b"PK\x03\x04":
        raise DataFileError(f"{path.name} is a zip archive (an Excel workbook?), not a {suffix or 'text'} table; "
                            "save it as .xlsx or .csv")  # fmt: skip
    if b"\x00" in raw[:65536]:
        raise DataFileError(f"{path.name} holds binary data, not a text table")
    text, encoding = decode(raw, path.name)
    if suffix in (".jsonl", ".json"):
        columns, rows = _read_json_lines(text, path.name)
    else:
        columns, rows = _read_delimited(text, path.name, "\t" if suffix == ".tsv" else None)
    return Table(columns, rows, encoding, path.name, digest)


def decode(raw: bytes, name: str) -> tuple[str, str]:
    """The text and the encoding it was read in: UTF-8 (with or without a byte-order mark), else CP949/EUC-KR."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict"), "utf-8 with BOM"
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise DataFileError(f"{name} is neither UTF-8 nor CP949/EUC-KR text; save it as UTF-8 CSV")


def _read_delimited(text: str, name: str, delimiter: str | None) -> tuple[list[str], list[list[str]]]:
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:65536], delimiters=",;\t").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise DataFileError(f"{name} has no rows") from None
    except csv.Error as e:
        raise DataFileError(f"{name}: row 1 cannot be read ({e})") from None
    columns = _column_names(header, name)
    rows = []
    try:
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(columns):
                raise DataFileError(f"{name}: row {number} has {len(row)} cells but the header names {len(columns)} "
                                    "columns (a separator inside a text that is not quoted?)")  # fmt: skip
            rows.append([*row, *[""] * (len(columns) - len(row))])
            _check_rows(rows, name)
    except csv.Error as e:
        raise DataFileError(f"{name}: row {reader.line_num} cannot be read ({e})") from None
    return columns, rows


def _read_json_lines(text: str, name: str) -> tuple[list[str], list[list[str]]]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise DataFileError(f"{name}: line {number} is not JSON (JSON Lines: one object a line)") from None
        if not isinstance(record, dict):
            raise DataFileError(f"{name}: line {number} is not a JSON object")
        records.append((number, record))
        _check_rows(records, name)
    if not records:
        raise DataFileError(f"{name} has no rows")
    columns = list(dict.fromkeys(key for _, record in records for key in record))
    rows = []
    for number, record in records:
        row = []
        for column in columns:
            value = record.get(column)
            if isinstance(value, list | dict):
                raise DataFileError(f"{name}: line {number}, {column!r} holds a list or an object, not a text")
            row.append(_cell_text(value))
        rows.append(row)
    return _column_names(columns, name), rows


def _read_workbook(raw: bytes, name: str) -> tuple[list[str], list[list[str]], list[str]]:
    """The first sheet of an .xlsx, its formulas as the values Excel saved with them (never evaluated), and what
    reading it noticed (formula cells without a saved value, read as empty)."""
    import openpyxl

    if not zipfile.is_zipfile(io.BytesIO(raw)):
        raise DataFileError(f"{name} is not an Excel workbook (.xlsx is a zip archive; this file is not one)")
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        if "xl/workbook.xml" not in archive.namelist():
            raise DataFileError(f"{name} is a zip archive but not an Excel workbook")
    try:  # twice: the values Excel saved, and which cells hold formulas
        values = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        formulas = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=False)
    except Exception:  # openpyxl's many errors for a damaged workbook: one message
        raise DataFileError(f"{name} is a damaged Excel workbook; save it again from Excel") from None
    try:
        lines = zip(values.worksheets[0].iter_rows(values_only=True),
                    formulas.worksheets[0].iter_rows(values_only=True), strict=False)  # fmt: skip
        first = next(lines, None)
        if first is None:
            raise DataFileError(f"{name} has no rows")
        columns = _column_names([_cell_text(v) for v in first[0]], name)
        rows, unsaved = [], []
        for number, (saved, written) in enumerate(lines, start=2):
            row = [_cell_text(v) for v in saved[: len(columns)]]
            pairs = list(zip(saved, written, strict=False))[: len(columns)]
            empty_formulas = [columns[i] for i, (v, f) in enumerate(pairs) if v is None and str(f).startswith("=")]
            unsaved += [(number, column) for column in empty_formulas]
            if any(cell.strip() for cell in row) or empty_formulas:
                rows.append([*row, *[""] * (len(columns) - len(row))])
                _check_rows(rows, name)
        notes = []
        if unsaved:
            number, column = unsaved[0]
            notes.append(f"{len(unsaved):,} formula cells have no value saved with them and read as empty (row "
                         f"{number}, {column!r}): formulas are never run here; open the file in Excel and save it "
                         "again to keep their values")  # fmt: skip
        return columns, rows, notes
    finally:
        values.close()
        formulas.close()


def _cell_text(value: object) -> str:
    """A cell as text: 1.0 reads "1" (a label typed as a number), None reads ""."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _column_names(header: list[str], name: str) -> list[str]:
    columns = [str(c).strip() for c in header]
    if not any(columns):
        raise DataFileError(f"{name}: the first row names no columns (it must be a header: text, label, …)")
    columns = [c or f"column {i + 1}" for i, c in enumerate(columns)]
    repeated = [c for c, n in Counter(columns).items() if n > 1]
    if repeated:
        raise DataFileError(f"{name}: the header names {repeated[0]!r} twice")
    return columns


def _check_rows(rows: list, name: str) -> None:
    if len(rows) > MAX_ROWS:
        raise DataFileError(f"{name} has more than {MAX_ROWS:,} rows")


# -- which columns -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Columns:
    text: tuple[str, ...]  # one, or two for a pair task
    label: str
    split: str | None = None


def infer_columns(table: Table, text: tuple[str, ...] | list[str] = (), label: str | None = None,
                  split: str | None = None) -> Columns:  # fmt: skip
    """The text column(s), the label column and the split column, as named or else found: the label by its name
    (label, class, 정답, …) or as the column of fewest distinct short values; the split by its name with train/dev
    values; a pair by names that go together (sentence1/sentence2, …); else the column of the longest texts."""
    for given in (*text, label, split):
        if given is not None and given not in table.columns:
            raise DataFileError(f"{table.name} has no column {given!r}; its columns: {', '.join(table.columns)}")
    if len(text) > 2:
        raise DataFileError("at most two text columns (a pair task), got " + ", ".join(text))
    if len(table.columns) < 2:
        raise DataFileError(f"{table.name} has one column ({table.columns[0]!r}): a task needs a text column and a "
                            "label column")  # fmt: skip
    values = {c: [row[i].strip() for row in table.rows] for i, c in enumerate(table.columns)}
    folded = {c.strip().lower(): c for c in table.columns}
    if split is None:
        split = next((folded[n] for n in folded if n in SPLIT_NAMES and _split_values(values[folded[n]])), None)
    if label is None:
        label = next((folded[n] for n in folded if n in LABEL_NAMES and folded[n] not in text), None)
    if label is None:
        candidates = [c for c in table.columns if c not in (*text, split) and _looks_like_labels(values[c])]
        label = min(candidates, key=lambda c: len(set(values[c])), default=None)
    if label is None:
        raise DataFileError(f"{table.name}: no column looks like the labels (2 to {MAX_CLASSES} different values); "
                            "name it (label column)")  # fmt: skip
    if not text:
        free = [c for c in table.columns if c not in (label, split)]
        pair = next(((folded[a], folded[b]) for a, b in PAIR_NAMES if a in folded and b in folded), None)
        if pair is not None and label not in pair:
            text = pair
        else:
            texts = [c for c in free if any(values[c]) and not all(v.isdigit() for v in values[c] if v)]
            if not texts:
                raise DataFileError(f"{table.name}: no column holds text; name the text column")
            text = (max(texts, key=lambda c: sum(map(len, values[c]))),)
    if label in text:
        raise DataFileError(f"{label!r} cannot be both the text and the label")
    return Columns(tuple(text), label, split)


def _split_values(values: list[str]) -> bool:
    seen = {v.lower() for v in values if v}
    return bool(seen) and seen <= TRAIN_VALUES | DEV_VALUES and bool(seen & TRAIN_VALUES) and bool(seen & DEV_VALUES)


def _looks_like_labels(values: list[str]) -> bool:
    kept = [v for v in values if v]
    distinct = set(kept)
    return MIN_CLASSES <= len(distinct) <= MAX_CLASSES and sum(map(len, kept)) / max(len(kept), 1) <= 30


# -- rows into train and dev ---------------------------------------------------------------------------------
@dataclass
class OwnData:
    """A file's rows as a task's train and dev examples, and what reading them did."""

    name: str
    title: str
    text_columns: tuple[str, ...]
    label_column: str
    label_names: tuple[str, ...]
    train: list[tuple[tuple[str, ...], int]]  # (texts, label index)
    dev: list[tuple[tuple[str, ...], int]]
    headline_metric: str  # "accuracy" | "f1" (binary: of the positive label; more classes: macro)
    headline_reason: str
    positive: int  # the label a binary F1 is of (the minority unless named)
    source: dict = field(default_factory=dict)  # file name, sha256, encoding, columns, dev: how it was held out
    report: list[str] = field(default_factory=list)


def build_data(table: Table, columns: Columns, dev_table: Table | None = None,
               dev_share: float = DEFAULT_DEV_SHARE, seed: int = 42, positive: str | None = None,
               name: str | None = None, headline: str | None = None) -> OwnData:  # fmt: skip
    """`table`'s rows by `columns`, held out for dev by the split column, else `dev_table`, else a stratified
    `dev_share` chosen by `seed`; every bound checked (DataFileError naming the row, column or class). `headline`:
    the metric runs are compared by (accuracy, f1 or mcc; default: F1 where the labels are imbalanced)."""
    report = [f"read {table.name} as {table.encoding}: {len(table.rows):,} rows", *table.notes]
    rows, split_of = _examples(table, columns, report)
    _label_names([label for _, label in rows], columns.label)  # first: a text column taken for labels is said so
    if dev_table is not None:
        for column in (*columns.text, columns.label):
            if column not in dev_table.columns:
                raise DataFileError(f"{dev_table.name} has no column {column!r} (the training file's)")
        report.append(f"read {dev_table.name} as {dev_table.encoding}: {len(dev_table.rows):,} rows")
        dev_rows, _ = _examples(dev_table, Columns(columns.text, columns.label), report)
        train_rows, how = rows, f"the file {dev_table.name}"
    elif columns.split is not None:
        other = sorted({s for s in split_of if s not in TRAIN_VALUES | DEV_VALUES})
        if other:  # a row in neither would be dropped without a word
            raise DataFileError(f"the split column {columns.split!r} says {other[0]!r}; its values must be train "
                                "(or training, 학습) and dev (or validation, test, 검증)")  # fmt: skip
        train_rows = [r for r, s in zip(rows, split_of, strict=True) if s in TRAIN_VALUES]
        dev_rows = [r for r, s in zip(rows, split_of, strict=True) if s in DEV_VALUES]
        how = f"the split column {columns.split!r}"
    else:
        if not 0.05 <= dev_share <= 0.5:
            raise DataFileError(f"the dev share must be between 0.05 and 0.5, got {dev_share}")
        train_rows, dev_rows = _hold_out(rows, dev_share, seed)
        how = f"{dev_share:.0%} of each label held out by seed {seed}"
    label_names = _label_names([label for _, label in rows] + [label for _, label in dev_rows], columns.label)
    index = {name: i for i, name in enumerate(label_names)}
    train_rows = _without_duplicates(train_rows, "training", report)
    dev_rows = _without_duplicates(dev_rows, "dev", report)
    in_dev = {texts for texts, _ in dev_rows}
    overlap = [r for r in train_rows if r[0] in in_dev]
    if overlap:
        report.append(f"{len(overlap):,} training rows are also dev rows: taken out of training, so that dev scores "
                      "are of texts the model never saw")  # fmt: skip
        train_rows = [r for r in train_rows if r[0] not in in_dev]
    train = [(texts, index[label]) for texts, label in train_rows]
    dev = [(texts, index[label]) for texts, label in dev_rows]
    _check_per_class(train, dev, label_names)
    counts = Counter(label for _, label in train + dev)
    if positive is not None and positive not in index:
        raise DataFileError(f"{positive!r} is not one of the labels: {', '.join(label_names)}")
    minority = min(range(len(label_names)), key=lambda i: (counts[i], i))
    positive_index = index[positive] if positive is not None else minority
    metric, reason = _headline(label_names, counts)
    if headline is not None:
        if headline not in HEADLINES:
            raise DataFileError(f"the headline metric is one of {', '.join(HEADLINES)}, got {headline!r}")
        if headline != metric:
            metric, reason = headline, f"{HEADLINES[headline]}: chosen (the default would be {reason})"
    report.append(f"{len(train):,} training and {len(dev):,} dev examples; dev: {how}")
    stem = Path(table.name).stem
    source = {
        "file": table.name,
        "sha256": table.sha256,
        "encoding": table.encoding,
        "text": list(columns.text),
        "label": columns.label,
        "dev": how,
        "positive": label_names[positive_index],
        "headline": metric,
    }
    if dev_table is not None:
        source |= {"dev_file": dev_table.name, "dev_sha256": dev_table.sha256}
    # Named by the file and everything that made the task of it: the same file read the same way is the same task
    # (its runs compare); read another way (other columns, another dev), another task, never a rewrite of the first.
    made_of = hashlib.sha256(json.dumps(source, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return OwnData(
        name=name or task_name(stem, made_of),
        title=stem,
        text_columns=columns.text,
        label_column=columns.label,
        label_names=label_names,
        train=train,
        dev=dev,
        headline_metric=metric,
        headline_reason=reason,
        positive=positive_index,
        source=source,
        report=report,
    )


def _examples(table: Table, columns: Columns, report: list[str]) -> tuple[list, list[str]]:
    """(texts, label) of each row with a text and a label, and each row's split value; what was dropped said."""
    where = {c: table.columns.index(c) for c in (*columns.text, columns.label)}
    split_at = table.columns.index(columns.split) if columns.split else None
    rows, splits, empty, cut = [], [], [], 0
    for number, row in enumerate(table.rows, start=2):
        texts = tuple(row[where[c]].strip() for c in columns.text)
        label = row[where[columns.label]].strip()
        if not all(texts) or not label:
            empty.append(number)
            continue
        if any(len(t) > MAX_TEXT_CHARS for t in texts):
            cut += 1
            texts = tuple(t[:MAX_TEXT_CHARS] for t in texts)
        rows.append((texts, label))
        splits.append(row[split_at].strip().lower() if split_at is not None else "")
    if empty:
        shown = ", ".join(map(str, empty[:5])) + (" …" if len(empty) > 5 else "")
        report.append(f"{len(empty):,} rows without a text or a label left out (rows {shown})")
    if cut:
        report.append(f"{cut:,} texts longer than {MAX_TEXT_CHARS:,} characters cut to that length")
    if not rows:
        raise DataFileError(f"{table.name}: no row has both a text and a label")
    return rows, splits


def _label_names(labels: list[str], column: str) -> tuple[str, ...]:
    distinct = set(labels)
    if len(distinct) < MIN_CLASSES:
        raise DataFileError(f"the label column {column!r} holds one value only ({next(iter(distinct))!r}): a task "
                            f"needs {MIN_CLASSES} to {MAX_CLASSES} labels")  # fmt: skip
    if len(distinct) > MAX_CLASSES:
        mean = sum(map(len, labels)) / len(labels)
        looks = " — it looks like text, not labels: name the label column" if mean > 20 else ""
        raise DataFileError(f"the label column {column!r} holds {len(distinct):,} different values; a task has "
                            f"{MIN_CLASSES} to {MAX_CLASSES}{looks}")  # fmt: skip
    if all(re.fullmatch(r"-?\d+", label) for label in distinct):
        return tuple(sorted(distinct, key=int))  # 0, 1, 2 as numbers (10 after 9)
    return tuple(sorted(distinct))


def _hold_out(rows: list, share: float, seed: int) -> tuple[list, list]:
    """A stratified share of each label for dev, the same for the same seed."""
    from sklearn.model_selection import train_test_split

    labels = [label for _, label in rows]
    small = [label for label, n in Counter(labels).items() if n < MIN_TRAIN_PER_CLASS + MIN_DEV_PER_CLASS]
    if small:
        raise DataFileError(f"the label {small[0]!r} has {labels.count(small[0])} rows; each label needs at least "
                            f"{MIN_TRAIN_PER_CLASS + MIN_DEV_PER_CLASS} (some for training, some for dev)")  # fmt: skip
    count = max(round(share * len(rows)), len(set(labels)))
    train, dev = train_test_split(rows, test_size=count, random_state=seed, stratify=labels)
    return list(train), list(dev)


def _without_duplicates(rows: list, which: str, report: list[str]) -> list:
    seen: dict[tuple[str, ...], str] = {}
    kept, conflicting = [], 0
    for texts, label in rows:
        if texts in seen:
            conflicting += seen[texts] != label
            continue
        seen[texts] = label
        kept.append((texts, label))
    if len(kept) < len(rows):
        note = f" ({conflicting:,} of them with another label: the first kept)" if conflicting else ""
        report.append(f"{len(rows) - len(kept):,} duplicate {which} rows left out{note}")
    return kept


def _check_per_class(train: list, dev: list, label_names: tuple[str, ...]) -> None:
    for which, rows, least in (("training", train, MIN_TRAIN_PER_CLASS), ("dev", dev, MIN_DEV_PER_CLASS)):
        counts = Counter(label for _, label in rows)
        for i, name in enumerate(label_names):
            if counts[i] < least:
                raise DataFileError(f"the label {name!r} has {counts[i]} {which} examples; each label needs at "
                                    f"least {least}")  # fmt: skip


def _headline(label_names: tuple[str, ...], counts: Counter) -> tuple[str, str]:
    """F1 where the commonest label has over 1.5 times the rows of the rarest (accuracy would reward always answering
    the commonest: GLUE's MRPC, at 68/32, is scored by F1 too), else accuracy."""
    top = max(range(len(label_names)), key=lambda i: counts[i])
    rare = min(range(len(label_names)), key=lambda i: counts[i])
    if counts[top] > 1.5 * counts[rare]:
        kind = "F1" if len(label_names) == 2 else "macro-F1 (each label's F1, averaged)"
        return "f1", (f"{kind}: the labels are imbalanced ({counts[top]:,} {label_names[top]!r} against "
                      f"{counts[rare]:,} {label_names[rare]!r}), where accuracy rewards always answering the "
                      "commonest")  # fmt: skip
    return "accuracy", "accuracy: the labels are about balanced"


def task_name(stem: str, sha256: str) -> str:
    """A task's name from its file's: lower-case letters, digits and dashes, with a hash of what made the task (the
    same file read the same way, the same task; another file of that name, or another reading, another)."""
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:32] or "data"
    return f"{slug}-{sha256[:6]}"


# -- a task, kept in the store ------------------------------------------------------------------------------------
def task_of(data: OwnData) -> Task:
    keys = ("sentence",) if len(data.text_columns) == 1 else ("sentence1", "sentence2")
    rows = data.train + data.dev
    mean_chars = sum(len(" ".join(texts)) for texts, _ in rows) / len(rows)
    return Task(
        name=data.name,
        title=data.title,
        text_keys=keys,
        label_names=data.label_names,
        headline_metric=data.headline_metric,
        hub_config=None,
        local=None,
        examples=tuple(texts for texts, _ in data.dev[:3]),
        train_size=len(data.train),
        dev_size=len(data.dev),
        mean_tokens=(mean_chars / 4.0, mean_chars / 4.0),  # about four characters a word piece
        classroom_epochs=3.0 if len(data.train) < 4000 else 1.0,  # a small set needs passes (as MRPC's)
        positive=data.positive,
        source=dict(data.source),
    )


def save_data(data: OwnData, store: Path) -> Task:
    """Keep the task in the store (its rows, the Task as data, and what reading the file said) and register it;
    the same file again is the same task. Each file written whole or not at all."""
    from .atomic_file import write_text

    task = task_of(data)
    folder = store / TASKS_FOLDER / data.name
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in (("train", data.train), ("dev", data.dev)):
        lines = (json.dumps({"texts": list(texts), "label": label}, ensure_ascii=False) for texts, label in rows)
        write_text(folder / f"{split}.jsonl", "\n".join(lines) + "\n")
    record = {"task": {k: v for k, v in asdict(task).items() if k != "local"}, "report": data.report,
              "headline_reason": data.headline_reason, "text_columns": list(data.text_columns),
              "label_column": data.label_column}  # fmt: skip
    write_text(folder / "task.json", json.dumps(record, ensure_ascii=False, indent=2))
    register_task(task, folder)
    return task


def read_rows(folder: Path, split: str) -> list[tuple[tuple[str, ...], int]]:
    lines = (folder / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [(tuple(row["texts"]), int(row["label"])) for row in map(json.loads, filter(None, lines))]


def data_folder(task: Task) -> Path:
    """Where a data task's rows are kept."""
    folder = data_task_folder(task)
    if folder is None:
        raise DataFileError(f"the data of task {task.name!r} is not in this lab's store")
    return folder
