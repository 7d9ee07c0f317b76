"""A run's dev-set predictions: every dev example's text, gold label and the run's probabilities, kept in
the run folder (``dev_predictions.json``) so that the Results tab can show where methods go wrong and
disagree without loading a model.

The file is written into the run's staging folder before the run is committed, so it appears atomically
with the run; a run scored later (an older run, or one imported without it) gets it through a temporary
file and a rename. It is plain JSON: a few hundred KB at most for the GLUE dev sets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import atomic_file

FILE = "dev_predictions.json"
DECIMALS = 4  # probabilities to 4 decimals: enough to rank confidence, a third of the bytes of full floats


@dataclass(frozen=True)
class DevPredictions:
    texts: list[list[str]]  # each dev example's text fields in the task's order (one sentence, or a pair)
    labels: list[int]  # gold labels
    probabilities: list[list[float]]  # per example, per label

    def __post_init__(self):
        n = len(self.labels)
        if len(self.texts) != n or len(self.probabilities) != n:
            raise ValueError(f"{len(self.texts)} texts, {n} labels and {len(self.probabilities)} probability rows")

    @classmethod
    def from_arrays(cls, texts: list[list[str]], labels, probabilities) -> DevPredictions:
        probs = np.round(np.asarray(probabilities, dtype=np.float64), DECIMALS)
        return cls([list(t) for t in texts], [int(label) for label in labels], probs.tolist())

    @classmethod
    def of_split(cls, split, text_keys: tuple[str, ...], probabilities) -> DevPredictions:
        """A scored dev split: its texts in the task's key order, its gold labels, and `probabilities`."""
        texts = [list(row) for row in zip(*(split[key] for key in text_keys), strict=True)]
        return cls.from_arrays(texts, split["label"], probabilities)

    @property
    def predicted(self) -> list[int]:
        return [int(np.argmax(p)) for p in self.probabilities]

    @property
    def confidence(self) -> list[float]:
        """The probability of each predicted label."""
        return [max(p) for p in self.probabilities]

    def confusion(self, num_labels: int) -> list[list[int]]:
        """counts[gold][predicted]."""
        counts = [[0] * num_labels for _ in range(num_labels)]
        for gold, guess in zip(self.labels, self.predicted, strict=True):
            counts[gold][guess] += 1
        return counts


def write(folder: Path, predictions: DevPredictions) -> Path:
    """Write (or replace) the run's file atomically: readers see the old file or the new one, never half."""
    folder = Path(folder)
    fields = {"texts": predictions.texts, "labels": predictions.labels, "probabilities": predictions.probabilities}
    return atomic_file.write_text(folder / FILE, json.dumps(fields, ensure_ascii=False, separators=(",", ":")))


def read(folder: Path) -> DevPredictions | None:
    """The run's dev predictions; None when it has none (an older run). Raises ValueError, in words, when the
    file is damaged."""
    path = Path(folder) / FILE
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return DevPredictions(
            texts=[[str(t) for t in row] for row in raw["texts"]],
            labels=[int(label) for label in raw["labels"]],
            probabilities=[[float(p) for p in row] for row in raw["probabilities"]],
        )
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{FILE} is damaged ({type(e).__name__}); score the run again") from None
