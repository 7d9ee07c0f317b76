"""Loading trained runs back, and predicting with every method trained for a task side by side.

Methods that keep the encoder frozen (LoRA, prompt tuning, selective's lower layers) are
rebuilt on a *shared clone* of one base model: new module objects whose frozen tensors are the
base's own, so four loaded methods cost little more memory than one model.
"""

from __future__ import annotations

import json
import logging
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn
from transformers import AutoTokenizer

from ..core.checkpoints import CheckpointError, RunRecord, display_model, scan_runs
from ..core.methods import METHODS, get_method
from ..core.metrics import at_majority_baseline
from ..core.models import load_classifier, resolve_model, shared_clone
from ..core.precision import autocast, autocast_dtype, serving_precision
from ..core.storage import default_checkpoints_dir
from ..core.tasks import Task, get_task, use_store
from ..core.unknown_text import UNKNOWN_WARN_SHARE, unknown_note, unknown_share

if TYPE_CHECKING:
    from .explain import Explanation

# A few paragraphs. Checked before any tokenizer sees the text, so an oversized request costs nothing;
# within the cap, inputs are truncated to the run's max_seq_length (and the answer says so).
MAX_INPUT_CHARS = 5_000
log = logging.getLogger(__name__)
# Characters that show nothing: controls, format characters (zero-width space/joiners, BOM), separators,
# and combining marks on their own.
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"}


class InputError(ValueError):
    """Text the model cannot take (empty, invisible, not text, too long, missing second sentence)."""


@dataclass
class MethodPrediction:
    method: str
    title: str
    status: str  # "ok" | "not_trained"
    label: str | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    run_id: str | None = None
    model: str | None = None
    message: str | None = None
    truncated: bool = False
    dev_score: dict[str, float] | None = None  # the run's dev-set headline metric: {"Accuracy": 0.851}
    at_majority: bool = False  # the run scores no better on the dev set than always answering its commonest label
    # The share of the input's characters its encoder cannot read (core/unknown_text.py): at UNKNOWN_WARN_SHARE or
    # more the answer means little (a Korean sentence and an English encoder).
    unknown_share: float = 0.0
    unknown_note: str | None = None  # that, in words, where it is at UNKNOWN_WARN_SHARE or more


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


def cast_for_autocast(model: nn.Module, precision: str, casts: dict[int, nn.Parameter] | None = None) -> nn.Module:
    """`model` to predict with under autocast(`precision`), its linear layers' weights and biases already in that
    precision. Autocast casts them again at every call: a one-sentence prediction on a CPU spent ~40% of its time
    there (benchmarks/). The cast rounds exactly as autocast's does, so the logits are bit-identical. `model` itself
    stays in fp32 (explanations run it), and `casts` (linear_casts of a base it shares tensors with) holds casts made
    once for those shared tensors; the rest are cast here. fp32 runs get `model` back."""
    dtype = autocast_dtype(precision)
    if dtype is None:
        return model
    view = shared_clone(model)  # new modules over the same tensors: swapping a weight in it leaves `model` alone
    made = dict(casts or {})
    for module, name, param in list(_fp32_linear_parameters(view)):
        if id(param) not in made:
            made[id(param)] = _cast(param, dtype)
        setattr(module, name, made[id(param)])
    return view.eval()


def linear_casts(model: nn.Module, precision: str) -> dict[int, nn.Parameter]:
    """Every fp32 linear weight and bias of `model` cast for autocast(`precision`), by the id of the fp32 tensor."""
    dtype = autocast_dtype(precision)
    if dtype is None:
        return {}
    return {id(param): _cast(param, dtype) for _, _, param in _fp32_linear_parameters(model)}


def _fp32_linear_parameters(model: nn.Module) -> Iterator[tuple[nn.Module, str, nn.Parameter]]:
    """(module, name, parameter) of every fp32 weight and bias of `model`'s linear layers."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            for name, param in module.named_parameters(recurse=False):
                if param.dtype == torch.float32:
                    yield module, name, param


def _cast(param: nn.Parameter, dtype: torch.dtype) -> nn.Parameter:
    return nn.Parameter(param.detach().to(dtype), requires_grad=False)


def clean_text(name: str, value: object) -> str:
    """`value` as text to classify (control characters become spaces), or InputError in words."""
    if value is None:
        return ""
    if not isinstance(value, str):
        kind = {int: "a number", float: "a number", bool: "true/false", list: "a list", dict: "a mapping"}
        raise InputError(f"the {name} must be text, got {kind.get(type(value), type(value).__name__)}")
    if len(value) > MAX_INPUT_CHARS:
        raise InputError(f"the {name} has {len(value):,} characters; the limit is {MAX_INPUT_CHARS:,}")
    if any("\ud800" <= c <= "\udfff" for c in value):
        raise InputError(f"the {name} contains a broken character (a lone UTF-16 surrogate); retype it")
    if value.strip() and all(unicodedata.category(c) in _INVISIBLE for c in value):
        raise InputError(f"the {name} has no visible characters (only spaces, zero-width or control characters)")
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in value).strip()


def validate_input(task: Task, text: object, text_pair: object = None) -> tuple[str, str | None]:
    """The input's text(s), checked: one sentence, or two for a pair task."""
    first = clean_text("first sentence" if task.is_pair else "text", text)
    second = clean_text("second sentence", text_pair)
    if not first:
        raise InputError(f"the {'first sentence' if task.is_pair else 'text'} is empty: type something for "
                         f"{task.title} to classify")  # fmt: skip
    if task.is_pair and not second:
        raise InputError(f"the second sentence is empty: {task.title} compares two sentences")
    if not task.is_pair and second:
        raise InputError(f"{task.title} classifies a single sentence; leave the second one empty")
    return first, (second if task.is_pair else None)


def load_problem(error: Exception) -> str:
    """Why a run's saved model would not load, in words (never a library's raw message or a path)."""
    name = type(error).__name__
    if "Safetensor" in name or "HeaderTooLarge" in str(error):
        return "its weights file is damaged (not valid safetensors)"
    if isinstance(error, FileNotFoundError | CheckpointError):
        return "a file of its saved model is missing"
    if isinstance(error, ValueError | json.JSONDecodeError | UnicodeDecodeError | OSError):
        return "its saved model is damaged or does not match its encoder"
    return f"its saved model could not be loaded ({name})"


class Predictor:
    """Loads each task's newest good run per method on demand, sharing one frozen base per encoder,
    and reloads a method when a newer run of it appears. A run that is broken on disk, or whose model
    fails to load, is skipped (and said so) and the next older good run answers. Thread-safe."""

    def __init__(self, checkpoints_dir: Path | None = None):
        self.checkpoints_dir = checkpoints_dir
        use_store(checkpoints_dir)  # its tasks made from files are found by name
        self._lock = threading.Lock()
        self._bases: dict[tuple[str, str], nn.Module] = {}
        self._loaded: dict[tuple[str, str], tuple[str, nn.Module, object]] = {}  # -> (run_id, model, tokenizer)
        self._listed: dict[tuple[str, str], tuple[int, list[RunRecord], list[str]]] = {}  # -> (mtime, runs, broken)
        self._unloadable: dict[str, str] = {}  # run id -> why its model did not load
        # What predictions run: each loaded model with its linear weights cast for its precision (cast_for_autocast),
        # and the casts of each base's weights, shared by the methods built on it.
        self._predicting: dict[tuple[str, str], tuple[str, nn.Module]] = {}
        self._base_casts: dict[tuple[str, str, str], dict[int, nn.Parameter]] = {}
        # Held by every explanation, which hooks the (shared) embeddings for a moment, and while a prediction's own
        # view of a model is made (a copy made meanwhile would keep the hook); predictions run on those views.
        self._forward = threading.Lock()
        self._line = PredictionLine(self._predict_batch)

    def candidates(self, task: str, method: str) -> tuple[list[RunRecord], list[str]]:
        """The method's good runs newest first, and what was skipped as broken. Re-listed only when the
        method's folder changed (a run added or removed): a prediction costs one stat per method."""
        checkpoints_dir = self.checkpoints_dir or default_checkpoints_dir()
        try:
            stamp = (checkpoints_dir / task / method).stat().st_mtime_ns
        except FileNotFoundError:
            stamp = -1
        cached = self._listed.get((task, method))
        if cached is None or cached[0] != stamp:
            scan = scan_runs(checkpoints_dir, task, method)
            cached = (stamp, scan.runs[::-1], [str(b) for b in scan.broken])
            self._listed[(task, method)] = cached
        return cached[1], cached[2]

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

    def predicting_model(self, run: RunRecord) -> nn.Module:
        """`run`'s model as predictions run it: its linear weights already in the run's precision (the same
        logits as `model_for`'s under autocast, without casting 22M weights at every call)."""
        model, _ = self.model_for(run)
        precision = serving_precision(run.info.get("precision"))
        key = (run.task, run.method)
        with self._lock:
            cached = self._predicting.get(key)
            if cached is None or cached[0] != run.run_id:
                casts = None
                if get_method(run.method).shares_base and autocast_dtype(precision) is not None:
                    base_key = (run.info["model"], run.task, precision)
                    if base_key not in self._base_casts:
                        self._base_casts[base_key] = linear_casts(self._base(run), precision)
                    casts = self._base_casts[base_key]
                with self._forward:  # not while an explanation hooks `model`: the copy would keep its hook
                    view = cast_for_autocast(model, precision, casts)
                    # Predictions run on modules of their own (over the same tensors), never on the ones an
                    # explanation hooks: they need not wait for one.
                    cached = (run.run_id, shared_clone(model) if view is model else view)
                self._predicting[key] = cached
            return cached[1]

    def held_models(self, run: RunRecord) -> list[tuple[nn.Module, str]]:
        """Every model the Predictor keeps for `run`, each with the precision it runs in: the fp32 model
        (explanations) and its cast for predicting. The memory benchmark measures exactly these."""
        return [(self.model_for(run)[0], "fp32"),
                (self.predicting_model(run), serving_precision(run.info.get("precision")))]  # fmt: skip

    def serving(self, task: str, method: str) -> tuple[RunRecord, nn.Module, object, list[str]] | None:
        """The newest run of `method` whose model loads, with what was skipped on the way (in words)."""
        runs, skipped = self.candidates(task, method)
        skipped = list(skipped)
        for run in runs:
            if run.run_id not in self._unloadable:
                try:
                    model, tokenizer = self.model_for(run)
                    return run, model, tokenizer, skipped
                except Exception as e:  # a damaged run must not hide the older good one
                    log.warning("run %s did not load: %r", run.run_id, e)
                    self._unloadable[run.run_id] = load_problem(e)
            skipped.append(f"{run.where}: {self._unloadable[run.run_id]}")
        return None

    def predict(self, task_name: str, text: object, text_pair: object = None) -> list[MethodPrediction]:
        """One prediction per method (trained or not) for one input. Inputs asked for while others are computed
        are answered together, one forward pass per method (a class predicting at once waits for one batch, not
        for twenty); each input is checked on its own first, so a bad one is refused alone."""
        task = get_task(task_name)
        text, text_pair = validate_input(task, text, text_pair)
        return self._line.answer(_Question(task, text, text_pair))

    def _predict_batch(self, questions: list[_Question]) -> None:
        """Every method's predictions for `questions` (each task's together), into each question's answer."""
        for task_name in dict.fromkeys(q.task.name for q in questions):
            asked = [q for q in questions if q.task.name == task_name]
            for method in METHODS.values():
                try:
                    answers = self._predict_method(asked[0].task, method.name, method.title, asked)
                except Exception as e:  # (a model that fails to run) told to those asking, the line goes on
                    for question in asked:
                        question.error = question.error or e
                    continue
                for question, answer in zip(asked, answers, strict=True):
                    question.answers.append(answer)

    def explain(self, task_name: str, text: object, text_pair: object = None) -> dict[str, Explanation]:
        """Each trained method's word attributions for one input (engine/explain.py), by method name."""
        from .explain import explain  # captum loads on the first explanation, not with the app

        task = get_task(task_name)
        text, text_pair = validate_input(task, text, text_pair)
        explained = {}
        for method in METHODS:
            found = self.serving(task.name, method)
            if found is None:
                continue
            run, model, tokenizer, _ = found
            with self._forward:
                explained[method] = explain(model, tokenizer, task, text, text_pair,
                                            run.info["config"].get("max_seq_length", 128))  # fmt: skip
        return explained

    def _predict_method(self, task: Task, method: str, title: str, asked: list[_Question]) -> list[MethodPrediction]:
        """`method`'s prediction for each of `asked` (inputs of `task`), in one forward pass."""
        found = self.serving(task.name, method)
        if found is None:
            _, skipped = self.candidates(task.name, method)
            note = f" ({len(skipped)} broken run{'s' * (len(skipped) > 1)} skipped)" if skipped else ""
            message = f"{title} has not been trained on {task.title} yet: train it first{note}"
            return [MethodPrediction(method, title, "not_trained", message=message) for _ in asked]
        run, _, tokenizer, skipped = found
        max_length = run.info["config"].get("max_seq_length", 128)
        model = self.predicting_model(run)  # its own modules: no explanation's hook reaches them
        pairs = [q.text_pair or "" for q in asked] if task.is_pair else None
        probabilities, truncated = classify(
            model, tokenizer, task, [q.text for q in asked], pairs, max_length,
            precision=serving_precision(run.info.get("precision")),
        )  # fmt: skip
        notes = []
        if skipped:
            notes.append(
                f"skipped a broken run: {skipped[0]}" + (f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else "")
            )
        return [
            MethodPrediction(
                method,
                title,
                "ok",
                label=task.label_names[int(probs.argmax())],
                probabilities={name: round(float(p), 6) for name, p in zip(task.label_names, probs, strict=True)},
                run_id=run.run_id,
                model=display_model(run.info),
                dev_score={task.headline_title: round(float(run.info["metrics"]["headline"]), 4)},
                at_majority=at_majority_baseline(run.info),
                truncated=cut,
                message="; ".join([f"input truncated to {max_length} tokens"] * cut + notes) or None,
                **unknown_of(tokenizer, [q.text, *([q.text_pair] if q.text_pair else [])]),
            )
            for probs, cut, q in zip(probabilities, truncated, asked, strict=True)
        ]


def unknown_of(tokenizer, texts: list[str]) -> dict:
    """A prediction's unknown_share and, where the encoder cannot read most of the input, unknown_note."""
    share = unknown_share(tokenizer, texts)
    return {"unknown_share": round(share, 3),
            "unknown_note": unknown_note(share, texts) if share >= UNKNOWN_WARN_SHARE else None}  # fmt: skip


@dataclass
class _Question:
    """One input asked for, and what answers it (filled by the batch that takes it)."""

    task: Task
    text: str
    text_pair: str | None
    answers: list[MethodPrediction] = field(default_factory=list)
    error: Exception | None = None
    done: bool = False


class PredictionLine:
    """Questions answered in batches: the first asker computes at once; whoever asks meanwhile waits, and the
    next asker to find the line free takes everyone waiting (at most `max_batch`) in one batch. Nothing waits on
    a timer: a lone visitor's answer is as fast as before, and twenty at once cost a few forward passes."""

    def __init__(self, compute, max_batch: int = 32):
        self._compute = compute  # (list[_Question]) -> None, filling each question's answers or error
        self._max_batch = max_batch
        self._changed = threading.Condition()
        self._waiting: list[_Question] = []
        self._busy = False

    def answer(self, question: _Question) -> list[MethodPrediction]:
        with self._changed:
            self._waiting.append(question)
        while True:
            with self._changed:
                while not question.done and self._busy:
                    self._changed.wait()
                if question.done:
                    break
                # The line is free and this question not answered yet: take those waiting (it among them, or it is
                # in a later batch: more than max_batch were waiting).
                batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
                self._busy = True
            try:
                self._compute(batch)
            except Exception as e:
                for asked in batch:
                    asked.error = asked.error or e
            finally:
                with self._changed:
                    for asked in batch:
                        asked.done = True
                    self._busy = False
                    self._changed.notify_all()
        if question.error is not None:
            raise question.error
        return question.answers


@torch.inference_mode()
def classify(
    model, tokenizer, task: Task, texts: list[str], pairs: list[str] | None, max_length: int, precision: str = "fp32"
):
    """Class probabilities for a batch, and whether each input had to be truncated to `max_length`; in the
    `precision` the run was trained and evaluated in (core/precision.py)."""
    args = (list(texts), list(pairs)) if pairs is not None else (list(texts),)
    full_lengths = [len(ids) for ids in tokenizer(*args, truncation=False, verbose=False)["input_ids"]]
    batch = tokenizer(*args, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
    device = next(model.parameters()).device
    with autocast(precision, device.type):
        logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
    return logits.float().softmax(-1).cpu().numpy(), [n > max_length for n in full_lengths]
