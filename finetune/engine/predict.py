"""Loading trained runs back, and predicting with every method trained for a task side by side.

Methods that keep the encoder frozen (LoRA, prompt tuning, selective's lower layers) are
rebuilt on a *shared clone* of one base model: new module objects whose frozen tensors are the
base's own, so four loaded methods cost little more memory than one model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from transformers import AutoTokenizer

from ..core.checkpoints import CheckpointError, RunRecord, default_checkpoints_dir, latest_run
from ..core.methods import METHODS, get_method
from ..core.models import load_classifier, resolve_model, shared_clone
from ..core.tasks import Task, get_task

MAX_INPUT_CHARS = 200_000  # beyond this we refuse rather than tokenize megabytes


class InputError(ValueError):
    """Text the model cannot take (empty, missing second sentence, absurdly long)."""


@dataclass
class MethodPrediction:
    method: str
    title: str
    status: str  # "ok" | "not_trained" | "error"
    label: str | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    run_id: str | None = None
    model: str | None = None
    message: str | None = None
    truncated: bool = False


def run_tokenizer(run: RunRecord):
    return AutoTokenizer.from_pretrained(run.model_dir / "tokenizer", trust_remote_code=False)


def load_trained(run: RunRecord, base: nn.Module | None = None) -> nn.Module:
    """The exact trained model of `run`, in eval mode. `base`, if given, is a fresh classifier of
    the run's encoder whose tensors will be shared, not modified."""
    method = get_method(run.method)
    if not run.model_dir.is_dir():
        raise CheckpointError(f"{run.path} has no saved model")
    options = method.options(**run.info["config"]["method_options"])
    # Without a base we load a private one; with one, we share its tensors without touching them.
    base = (
        shared_clone(base)
        if base is not None
        else load_classifier(resolve_model(run.info["model"]), get_task(run.task))
    )
    model = method.load(base, run.model_dir, options)
    return model.eval()


def validate_input(task: Task, text: str, text_pair: str | None = None) -> tuple[str, str | None]:
    texts = [text, text_pair] if task.is_pair else [text]
    names = ["first sentence", "second sentence"] if task.is_pair else ["text"]
    for name, value in zip(names, texts, strict=True):
        if value is None or not str(value).strip():
            raise InputError(f"the {name} is empty: type something for {task.title} to classify")
        if len(value) > MAX_INPUT_CHARS:
            raise InputError(f"the {name} has {len(value):,} characters; the limit is {MAX_INPUT_CHARS:,}")
    if not task.is_pair and text_pair and text_pair.strip():
        raise InputError(f"{task.title} classifies a single sentence; leave the second one empty")
    return text.strip(), (text_pair.strip() if task.is_pair and text_pair is not None else None)


class Predictor:
    """Loads each task's latest run per method on demand, sharing one frozen base per encoder,
    and reloads a method when a newer run of it appears. Safe to call from several threads."""

    def __init__(self, checkpoints_dir: Path | None = None):
        self.checkpoints_dir = checkpoints_dir
        self._lock = threading.Lock()
        self._bases: dict[tuple[str, str], nn.Module] = {}
        self._loaded: dict[tuple[str, str], tuple[str, nn.Module, object]] = {}  # -> (run_id, model, tokenizer)
        self._latest: dict[tuple[str, str], tuple[int, RunRecord | None]] = {}  # -> (folder mtime, run)

    def latest(self, task: str, method: str) -> RunRecord | None:
        """The newest run, re-listed only when the method's folder changed (a run was added or removed),
        so a prediction costs one stat per method instead of reading every run.json."""
        checkpoints_dir = self.checkpoints_dir or default_checkpoints_dir()
        folder = checkpoints_dir / task / method
        try:
            stamp = folder.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = -1
        cached = self._latest.get((task, method))
        if cached is None or cached[0] != stamp:
            cached = (stamp, latest_run(task, method, checkpoints_dir))
            self._latest[(task, method)] = cached
        return cached[1]

    def _base(self, run: RunRecord) -> nn.Module:
        key = (run.info["model"], run.task)
        if key not in self._bases:
            base = load_classifier(resolve_model(run.info["model"]), get_task(run.task))
            for param in base.parameters():
                param.requires_grad_(False)
            self._bases[key] = base.eval()
        return self._bases[key]

    def model_for(self, run: RunRecord) -> tuple[nn.Module, object]:
        key = (run.task, run.method)
        with self._lock:
            cached = self._loaded.get(key)
            if cached is None or cached[0] != run.run_id:
                method = get_method(run.method)
                base = self._base(run) if method.shares_base else None
                cached = (run.run_id, load_trained(run, base), run_tokenizer(run))
                self._loaded[key] = cached
            return cached[1], cached[2]

    def predict(self, task_name: str, text: str, text_pair: str | None = None) -> list[MethodPrediction]:
        """One prediction per method (trained or not) for one input."""
        task = get_task(task_name)
        text, text_pair = validate_input(task, text, text_pair)
        results = []
        for method in METHODS.values():
            run = self.latest(task.name, method.name)
            if run is None:
                results.append(
                    MethodPrediction(
                        method.name,
                        method.title,
                        "not_trained",
                        message=f"{method.title} has not been trained on {task.title} yet: train it first",
                    )
                )
                continue
            try:
                model, tokenizer = self.model_for(run)
                probabilities, truncated = classify(
                    model,
                    tokenizer,
                    task,
                    [text],
                    [text_pair] if text_pair else None,
                    run.info["config"]["max_seq_length"],
                )
            except Exception as e:  # one broken run must not hide the others' answers
                results.append(
                    MethodPrediction(
                        method.name, method.title, "error", run_id=run.run_id, message=f"{type(e).__name__}: {e}"
                    )
                )
                continue
            probs = probabilities[0]
            results.append(
                MethodPrediction(
                    method.name,
                    method.title,
                    "ok",
                    label=task.label_names[int(probs.argmax())],
                    probabilities={name: round(float(p), 6) for name, p in zip(task.label_names, probs, strict=True)},
                    run_id=run.run_id,
                    model=run.info["model"],
                    truncated=truncated[0],
                    message=f"input truncated to {run.info['config']['max_seq_length']} tokens"
                    if truncated[0]
                    else None,
                )
            )
        return results


@torch.inference_mode()
def classify(model, tokenizer, task: Task, texts: list[str], pairs: list[str] | None, max_length: int):
    """Class probabilities for a batch, and whether each input had to be truncated to `max_length`."""
    args = (list(texts), list(pairs)) if pairs is not None else (list(texts),)
    full_lengths = [len(ids) for ids in tokenizer(*args, truncation=False, verbose=False)["input_ids"]]
    batch = tokenizer(*args, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
    device = next(model.parameters()).device
    logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
    return logits.float().softmax(-1).cpu().numpy(), [n > max_length for n in full_lengths]
