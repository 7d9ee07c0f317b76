"""Selective layer fine-tuning: embeddings and lower layers frozen; the top k layers, pooler and head train.

Only what trained is saved; loading puts it back onto the base encoder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from safetensors.torch import load_file, save_file

from .base import Method, TrainingDefaults, encoder_parts, freeze

WEIGHTS = "selective_weights.safetensors"
MANIFEST = "selective.json"
# The study trained the top 4 of bert-base's 12 layers (~75% of parameters frozen); other depths scale.
STUDY_FRACTION = 4 / 12


@dataclass
class SelectiveOptions:
    top_k: int | None = None  # None: a third of the layers (4 of 12 on bert-base-uncased)


def default_top_k(num_layers: int) -> int:
    return max(1, round(num_layers * STUDY_FRACTION))


class SelectiveLayers(Method):
    name = "selective"
    title = "Selective layers"
    order = 3
    summary = "Embeddings and lower layers frozen; the top k layers, pooler and head train."
    defaults = TrainingDefaults(learning_rate=3e-4, epochs=1, max_train_samples=12000)
    Options = SelectiveOptions

    def resolve(self, options: SelectiveOptions, model_config) -> SelectiveOptions:
        if options.top_k is None:
            return replace(options, top_k=default_top_k(model_config.num_hidden_layers))
        return options

    def validate(self, options: SelectiveOptions, model_config) -> None:
        layers = model_config.num_hidden_layers
        if options.top_k is not None and not 0 <= options.top_k <= layers:
            raise ValueError(f"top_k must be between 0 and {layers} (the encoder's layers), got {options.top_k}")

    def prepare(self, model, options: SelectiveOptions, source):
        _, embeddings, layers = encoder_parts(model)
        freeze(embeddings)
        for layer in layers[: len(layers) - options.top_k]:
            freeze(layer)
        return model

    def save(self, model, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        trained = {name: p.detach().contiguous() for name, p in model.named_parameters() if p.requires_grad}
        save_file(trained, folder / WEIGHTS)
        (folder / MANIFEST).write_text(json.dumps({"tensors": sorted(trained)}, indent=1))

    def load(self, base, folder: Path, options: SelectiveOptions):
        trained = load_file(folder / WEIGHTS)
        expected = set(trainable_names(base, options.top_k))
        if set(trained) != expected:
            raise ValueError(
                f"{folder} does not match a top-{options.top_k} selective run of this encoder "
                f"(missing {sorted(expected - set(trained))[:3]}, unexpected {sorted(set(trained) - expected)[:3]})"
            )
        # assign=True swaps in new tensors instead of copying into the base's, which other
        # methods may be sharing.
        base.load_state_dict(trained, strict=False, assign=True)
        return base


def trainable_names(model, top_k: int) -> list[str]:
    """Names of the parameters a top-k selective run trains (everything above the frozen part)."""
    _, embeddings, layers = encoder_parts(model)
    frozen = {id(p) for p in embeddings.parameters()}
    for layer in layers[: len(layers) - top_k]:
        frozen.update(id(p) for p in layer.parameters())
    return [name for name, p in model.named_parameters() if id(p) not in frozen]
