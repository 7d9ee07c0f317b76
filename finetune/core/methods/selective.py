"""Selective layer fine-tuning: embeddings and lower layers frozen; the top k layers, pooler and head train.

The frozen part runs in eval mode (no dropout): it is a fixed feature extractor. Training
therefore computes its outputs once per split and caches them (when they fit in memory), so every
step — and every epoch and dev evaluation — costs only the trainable top; the Trainer trains a
view of the model without the frozen part that shares the run's parameters.

Only what trained is saved; loading puts it back onto the base encoder.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from .. import phases
from ..fields import setting
from ..models import shared_clone
from .base import (
    ComputeShape,
    Method,
    TrainingDefaults,
    TrainingSetup,
    check_layer_count,
    encoder_parts,
    freeze,
    plain_setup,
)
from .registry import register_method

WEIGHTS = "selective_weights.safetensors"
MANIFEST = "selective.json"
# The study trained the top 4 of bert-base's 12 layers (~75% of parameters frozen); other depths scale.
STUDY_FRACTION = 4 / 12
# Cache the frozen part's outputs when they take at most this share of the machine's memory.
CACHE_MEMORY_FRACTION = 0.25
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

log = logging.getLogger(__name__)


@dataclass
class SelectiveOptions:
    top_k: int | None = setting(
        None, label="Top k layers", help="transformer layers to train from the top (empty: a third of the "
        "layers, 4 of 12 on bert-base-uncased)", minimum=0, maximum=48,
    )  # fmt: skip


def default_top_k(num_layers: int) -> int:
    return max(1, round(num_layers * STUDY_FRACTION))


@register_method
class SelectiveLayers(Method):
    name = "selective"
    title = "Selective layers"
    order = 3
    summary = "Embeddings and lower layers frozen; the top k layers, pooler and head train."
    color = "#d62728"
    saved_files = (WEIGHTS, MANIFEST)
    defaults = TrainingDefaults(learning_rate=3e-4, epochs=1, max_train_samples=12000)
    Options = SelectiveOptions

    def resolve(self, options: SelectiveOptions, model_config) -> SelectiveOptions:
        if options.top_k is None:
            return replace(options, top_k=default_top_k(model_config.num_hidden_layers))
        return options

    def validate(self, options: SelectiveOptions, model_config, max_seq_length: int) -> None:
        check_layer_count("Top k layers", options.top_k, model_config)

    def compute_shape(self, options: SelectiveOptions, model_config) -> ComputeShape:
        # With the cache, the frozen part runs once per example; every step and evaluation costs the top only.
        top = options.top_k if options.top_k is not None else default_top_k(model_config.num_hidden_layers)
        share = top / model_config.num_hidden_layers
        return ComputeShape(train=3.0 * share, evaluate=share, once=1.0 - share)

    def prepare(self, model, options: SelectiveOptions, source):
        _, embeddings, layers = encoder_parts(model)
        for part in [embeddings, *layers[: len(layers) - _top_k(options)]]:
            freeze(part)
            part.register_forward_pre_hook(_run_in_eval_mode)
        return model

    def training_setup(self, model, options: SelectiveOptions, encoded, collator) -> TrainingSetup:
        frozen_layers = model.config.num_hidden_layers - _top_k(options)
        tokens = sum(len(ids) for split in ("train", "validation") for ids in encoded[split]["input_ids"])
        cache_bytes = tokens * model.config.hidden_size * 4
        if cache_bytes > cache_limit_bytes():
            log.warning(
                "selective: the frozen layers' outputs (%.1f GB) exceed the cache limit; recomputing them each step",
                cache_bytes / 1e9,
            )
            return plain_setup(model, encoded, collator)
        top = top_view(model, frozen_layers)
        bottom = bottom_view(model, frozen_layers)
        train_outputs = FrozenOutputs(encoded["train"], bottom, collator, device_of=top)
        return TrainingSetup(
            model=top,
            train_dataset=train_outputs,
            eval_dataset=FrozenOutputs(encoded["validation"], bottom, collator, device_of=top),
            data_collator=pad_frozen_outputs,
            # The train split's cache is computed while the Trainer builds its data loader, before its
            # clock starts; the dev split's during the first evaluation, which the clock already counts.
            extra_seconds=lambda: train_outputs.compute_seconds,
        )

    def save(self, model, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        trained = {name: p.detach().contiguous() for name, p in model.named_parameters() if p.requires_grad}
        save_file(trained, folder / WEIGHTS)
        (folder / MANIFEST).write_text(json.dumps({"tensors": sorted(trained)}, indent=1))

    def saved_problem(self, folder: Path, options: SelectiveOptions, weights: dict[str, dict]) -> str | None:
        from ..run_files import small_json

        manifest = small_json(Path(folder) / MANIFEST)
        if not isinstance(manifest, dict) or sorted(manifest.get("tensors") or []) != sorted(weights[WEIGHTS]):
            return f"{MANIFEST} does not list the tensors {WEIGHTS} holds"
        return None

    def load(self, base, folder: Path, options: SelectiveOptions):
        trained = load_file(folder / WEIGHTS)
        own = dict(base.named_parameters())
        wrong = [n for n, t in trained.items() if n in own and tuple(t.shape) != tuple(own[n].shape)]
        if wrong:
            raise ValueError(f"{folder.name}'s {wrong[0]} does not have this encoder's shape")
        expected = set(trainable_names(base, _top_k(options)))
        if set(trained) != expected:
            raise ValueError(
                f"{folder} does not match a top-{options.top_k} selective run of this encoder "
                f"(missing {sorted(expected - set(trained))[:3]}, unexpected {sorted(set(trained) - expected)[:3]})"
            )
        # assign=True swaps in new tensors instead of copying into the base's, which other
        # methods may be sharing.
        base.load_state_dict(trained, strict=False, assign=True)
        return base


def _top_k(options: SelectiveOptions) -> int:
    if options.top_k is None:
        raise ValueError("selective options must be resolved against the model first (top_k is unset)")
    return options.top_k


def trainable_names(model, top_k: int) -> list[str]:
    """Names of the parameters a top-k selective run trains (everything above the frozen part)."""
    _, embeddings, layers = encoder_parts(model)
    frozen = {id(p) for p in embeddings.parameters()}
    for layer in layers[: len(layers) - top_k]:
        frozen.update(id(p) for p in layer.parameters())
    return [name for name, p in model.named_parameters() if id(p) not in frozen]


# -- the frozen part as a cache ----------------------------------------------------------------------
def _run_in_eval_mode(module: nn.Module, args) -> None:
    module.eval()  # a forward pre-hook: frozen parts stay in eval mode even when the Trainer calls .train()


def cache_limit_bytes() -> int:
    """FINETUNE_SELECTIVE_CACHE=0 turns the cache off (the frozen part is then recomputed every step)."""
    if os.environ.get("FINETUNE_SELECTIVE_CACHE", "1") == "0":
        return 0
    return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") * CACHE_MEMORY_FRACTION)


class _Precomputed(nn.Module):
    """Stands in for the embeddings: the batch already carries the frozen part's output."""

    def forward(self, inputs_embeds=None, **_):
        return inputs_embeds


def top_view(model: nn.Module, frozen_layers: int) -> nn.Module:
    """The classifier without its frozen part; its parameters are `model`'s own objects."""
    view = shared_clone(model)
    backbone, _, layers = encoder_parts(view)
    backbone.embeddings = _Precomputed()
    del layers[:frozen_layers]
    return view


def bottom_view(model: nn.Module, frozen_layers: int) -> nn.Module:
    """Embeddings and the frozen layers only (the backbone with its top layers removed)."""
    bottom, _, layers = encoder_parts(shared_clone(model))
    del layers[frozen_layers:]
    bottom.pooler = None
    return bottom.eval()


class FrozenOutputs(torch.utils.data.Dataset):
    """One tokenized split as the frozen part's outputs, one [length, hidden] tensor per example.

    Computed on first access — inside the Trainer's loop, so training time includes it — in
    length-sorted batches, on the device the Trainer put `device_of` on. Items keep their
    ``input_ids`` so the length-grouped sampler forms the same batches as uncached training."""

    def __init__(self, split, bottom: nn.Module, collator, device_of: nn.Module, batch_size: int = 128):
        self.rows = split.select_columns([c for c in (*MODEL_INPUTS, "label") if c in split.column_names]).to_list()
        self.bottom, self.collator, self.device_of, self.batch_size = bottom, collator, device_of, batch_size
        self.hidden: list[torch.Tensor] | None = None
        self.compute_seconds = 0.0
        # Computed later, outside any autocast: remember the arithmetic of the run that made this dataset
        # (train.fit builds the setup inside the run's autocast), so the cache holds what the frozen layers
        # would have computed in training.
        self.autocast = {
            device: torch.get_autocast_dtype(device) for device in ("cpu", "cuda") if torch.is_autocast_enabled(device)
        }

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        if self.hidden is None:
            started = time.perf_counter()
            self.hidden = self._compute()
            self.compute_seconds = time.perf_counter() - started
        row = self.rows[i]
        return {"input_ids": row["input_ids"], "inputs_embeds": self.hidden[i], "labels": row["label"]}

    @torch.no_grad()
    def _compute(self) -> list[torch.Tensor]:
        device = next(self.device_of.parameters()).device
        # On an accelerator, a temporary copy: the run's frozen weights stay where they are.
        bottom = self.bottom if device.type == "cpu" else copy.deepcopy(self.bottom).to(device)
        hidden: list[torch.Tensor] = [torch.empty(0)] * len(self.rows)
        order = sorted(range(len(self.rows)), key=lambda i: len(self.rows[i]["input_ids"]))
        dtype = self.autocast.get(device.type)
        for start in range(0, len(order), self.batch_size):
            phases.report(phases.CACHING, start, len(order))  # minutes on a CPU: the page says what it does
            chunk = order[start : start + self.batch_size]
            batch = self.collator([{k: self.rows[i][k] for k in MODEL_INPUTS if k in self.rows[i]} for i in chunk])
            with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                out = bottom(**{k: v.to(device) for k, v in batch.items()}).last_hidden_state.float().cpu()
            for row, i in enumerate(chunk):
                hidden[i] = out[row, : len(self.rows[i]["input_ids"])].clone()
        phases.report(phases.CACHING, len(order), len(order))
        return hidden


def pad_frozen_outputs(features: list[dict]) -> dict:
    """Pads cached outputs per batch (as the tokenizer pads ids) and builds the attention mask."""
    lengths = torch.tensor([f["inputs_embeds"].shape[0] for f in features])
    return {
        "inputs_embeds": pad_sequence([f["inputs_embeds"] for f in features], batch_first=True),
        "attention_mask": (torch.arange(int(lengths.max()))[None, :] < lengths[:, None]).long(),
        "labels": torch.tensor([f["labels"] for f in features]),
    }
