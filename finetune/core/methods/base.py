"""What a fine-tuning method is: what it shows people, its defaults and options, and how it prepares,
trains, saves and loads a model.

Each method is one module in this package: a ``Method`` subclass decorated with ``@register_method``.
Everything a front end needs comes from the class — ``title``, ``summary`` and ``color`` for people,
``defaults`` for a classroom run, and ``Options``, a dataclass whose fields are ``setting(...)``s with
their own label, help text and bounds (the CLI flags and the Train tab's inputs are generated from them).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from torch import nn

from ..fields import SettingError, parse_all, settings_of
from ..models import ModelSource


@dataclass
class TrainingSetup:
    """What the Trainer optimises and feeds it. `model` may be a cheaper view that shares its
    parameters with the run's model (so training it trains the run's model)."""

    model: nn.Module
    train_dataset: Any
    eval_dataset: Any
    data_collator: Callable
    # Seconds the setup spends before the Trainer's clock starts (e.g. computing a cache), counted
    # into the run's training time. Asked after training.
    extra_seconds: Callable[[], float] = field(default=lambda: 0.0)


def plain_setup(model: nn.Module, encoded, collator: Callable) -> TrainingSetup:
    """The model itself on the tokenized train/dev splits."""
    return TrainingSetup(model, encoded["train"], encoded["validation"], collator)


@dataclass(frozen=True)
class ComputeShape:
    """A method's compute, in forward passes of the whole encoder per token, for estimating a run's time
    before it starts. Full fine-tuning: forward + backward = 3 per training token, 1 per dev token."""

    train: float = 3.0  # per training token, per epoch
    evaluate: float = 1.0  # per dev token, per evaluation
    once: float = 0.0  # per train and dev token, once per run (e.g. a cache of frozen layers)
    extra_tokens: int = 0  # tokens the method adds to every example (e.g. a soft prompt)


@dataclass(frozen=True)
class TrainingDefaults:
    """Hyperparameters a method trains well with on a CPU classroom budget."""

    learning_rate: float
    epochs: float
    max_train_samples: int | None  # None: the whole training set
    batch_size: int = 16
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06


class Method(ABC):
    name: ClassVar[str]  # lower-case identifier: CLI flags (--<name>-...), folders, API keys
    title: ClassVar[str]
    order: ClassVar[int]  # position in tables and side-by-side views
    summary: ClassVar[str]
    color: ClassVar[str]  # its colour in every chart and card (CSS colour)
    defaults: ClassVar[TrainingDefaults]
    Options: ClassVar[type]  # a dataclass of setting(...) fields: the method's own hyperparameters

    #: Files `save` writes and `load` needs (a run without them is reported broken, never loaded).
    saved_files: ClassVar[tuple[str, ...]]
    #: True when `load` keeps `base`'s frozen tensors, so several runs can share one base in memory.
    shares_base: ClassVar[bool] = True
    #: The library a run's saved model loads with, as its model card's metadata says (`library_name`).
    card_library: ClassVar[str] = "transformers"

    def options(self, **values: Any) -> Any:
        """The method's options from raw values, each checked against its setting (None: the default).
        Raises ValueError naming the option."""
        unknown = set(values) - {s.name for s in settings_of(self.Options)}
        if unknown:
            known = ", ".join(s.name for s in settings_of(self.Options)) or "none"
            raise SettingError(f"{self.title} has no option {sorted(unknown)[0]!r}; its options: {known}")
        return self.Options(**parse_all(self.Options, values))

    def resolve(self, options: Any, model_config: Any) -> Any:
        """Fill options whose default depends on the model (e.g. how many layers to train)."""
        return options

    def validate(self, options: Any, model_config: Any, max_seq_length: int) -> None:  # noqa: B027 - optional hook
        """Raise ValueError when options cannot apply to this model (bounds that depend on it)."""

    @abstractmethod
    def prepare(self, model: nn.Module, options: Any, source: ModelSource) -> nn.Module:
        """Freeze / wrap a freshly loaded classifier so that only this method's parameters train."""

    def compute_shape(self, options: Any, model_config: Any) -> ComputeShape:
        """How much compute a run costs relative to full fine-tuning (see ComputeShape)."""
        return ComputeShape()

    def train_layer(self, layer: nn.Module, options: Any) -> nn.Module:
        """A fresh encoder layer made to train the way this method trains the encoder's layers (frozen, adapted,
        or by default every weight updated). The estimate (engine/estimate.py) times it before a run starts, since
        what a layer costs on a CPU is more than its FLOPs say when adapters or frozen weights change its work."""
        return layer

    def learning_rates(self, model: nn.Module, options: Any, learning_rate: float) -> list[dict] | None:
        """Optimizer parameter groups with their own learning rates (torch's `{"params", "lr"}` dicts), or
        None to train every trainable parameter at the run's learning rate (the Trainer's own optimizer)."""
        return None

    def training_setup(self, model: nn.Module, options: Any, encoded, collator: Callable) -> TrainingSetup:
        """How the Trainer trains `model` on the tokenized `encoded` splits. The default is the model
        itself on the tokenized data; a method may substitute an equivalent, cheaper setup."""
        return plain_setup(model, encoded, collator)

    @abstractmethod
    def save(self, model: nn.Module, folder: Path) -> None:
        """Write the trained weights (safetensors) in the method's most compact honest form."""

    def merged(self, model: nn.Module) -> nn.Module:
        """The trained model as a plain transformers classifier (for `export --merged`); raise ValueError,
        in words, when the method's trained part cannot be folded into the encoder."""
        return model

    def saved_problem(self, folder: Path, options: Any, weights: dict[str, dict]) -> str | None:
        """Why a saved model (in `folder`, of a run with `options`) may not be loaded, in words, or None: whatever
        its files say about the model's shape must agree with `options` and with the stored `weights` (each
        safetensors file's tensors: name -> dtype, shape), checked before anything is allocated (core/run_files)."""
        return None

    def loading_lines(self, base_model: str, num_labels: int) -> str | None:
        """The model card's Python lines that set `model` from the run folder's `model/` with plain transformers or
        peft (after `from transformers import AutoModelForSequenceClassification`), or None when the saved form
        needs glue-tune-lab to load (the card then says so)."""
        return None

    @abstractmethod
    def load(self, base: nn.Module, folder: Path, options: Any) -> nn.Module:
        """Rebuild the trained model on `base` (a classifier freshly loaded from the run's encoder).
        `base` may share its tensors with other loaded methods: never modify them in place."""


def check_layer_count(label: str, count: int | None, model_config: Any) -> None:
    """Refuse, in words, an option that counts transformer layers beyond the encoder's (None: decided later)."""
    layers = model_config.num_hidden_layers
    if count is not None and count > layers:
        raise ValueError(f"{label} must be at most {layers} (the encoder's layers), got {count}")


def freeze(module: nn.Module) -> None:
    for param in module.parameters():
        param.requires_grad_(False)


def encoder_parts(model: nn.Module) -> tuple[Any, Any, nn.ModuleList]:
    """(backbone, embeddings, list of transformer layers) of a BERT-style classifier."""
    backbone: Any = model.base_model
    try:
        return backbone, backbone.embeddings, backbone.encoder.layer
    except AttributeError:
        raise ValueError(f"{type(model).__name__} is not a BERT-style encoder (embeddings + encoder.layer)") from None
