"""What a fine-tuning method is: defaults, options, and how it prepares, saves and loads a model.

Each method lives in its own module in this package and subclasses ``Method``; the package
finds them by itself, so adding a method touches one file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from torch import nn

from ..models import ModelSource


@dataclass
class TrainingSetup:
    """What the Trainer optimises and feeds it. `model` may be a cheaper view that shares its
    parameters with the run's model (so training it trains the run's model)."""

    model: nn.Module
    train_dataset: Any
    eval_dataset: Any
    data_collator: Callable


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
    name: ClassVar[str]
    title: ClassVar[str]
    order: ClassVar[int]  # position in tables and side-by-side views
    summary: ClassVar[str]
    defaults: ClassVar[TrainingDefaults]
    Options: ClassVar[type]  # a dataclass of the method's own hyperparameters

    def options(self, **overrides: Any):
        """The method's options with user overrides applied (None means 'keep the default')."""
        return self.Options(**{k: v for k, v in overrides.items() if v is not None})

    def option_fields(self):
        return fields(self.Options)

    def resolve(self, options, model_config):
        """Fill options whose default depends on the model (e.g. how many layers to train)."""
        return options

    def validate(self, options, model_config) -> None:  # noqa: B027 - optional hook
        """Raise ValueError when options cannot apply to this model."""

    @abstractmethod
    def prepare(self, model: nn.Module, options, source: ModelSource) -> nn.Module:
        """Freeze / wrap a freshly loaded classifier so that only this method's parameters train."""

    def training_setup(self, model: nn.Module, options, encoded, collator: Callable) -> TrainingSetup:
        """How the Trainer trains `model` on the tokenized `encoded` splits. The default is the model
        itself on the tokenized data; a method may substitute an equivalent, cheaper setup."""
        return TrainingSetup(model, encoded["train"], encoded["validation"], collator)

    @abstractmethod
    def save(self, model: nn.Module, folder: Path) -> None:
        """Write the trained weights (safetensors) in the method's most compact honest form."""

    @abstractmethod
    def load(self, base: nn.Module, folder: Path, options) -> nn.Module:
        """Rebuild the trained model on `base` (a classifier freshly loaded from the run's encoder).
        `base` may share its tensors with other loaded methods: never modify them in place."""

    #: True when `load` keeps `base`'s frozen tensors, so several runs can share one base in memory.
    shares_base: ClassVar[bool] = True


def freeze(module: nn.Module) -> None:
    for param in module.parameters():
        param.requires_grad_(False)


def encoder_parts(model: nn.Module) -> tuple[nn.Module, nn.Module, nn.ModuleList]:
    """(backbone, embeddings, list of transformer layers) of a BERT-style classifier."""
    backbone = model.base_model
    try:
        return backbone, backbone.embeddings, backbone.encoder.layer
    except AttributeError:
        raise ValueError(f"{type(model).__name__} is not a BERT-style encoder (embeddings + encoder.layer)") from None
