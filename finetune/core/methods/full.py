"""Full fine-tuning: every weight trains; the whole model is saved."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import AutoModelForSequenceClassification

from ..fields import setting
from .base import Method, TrainingDefaults, check_layer_count, encoder_parts
from .registry import register_method


@dataclass
class FullOptions:
    layer_decay: float = setting(
        1.0, label="Layer-wise LR decay", help="each layer learns at this fraction of the rate of the layer above "
        "it, the embeddings least (1: every weight at the run's learning rate)", minimum=0, exclusive_minimum=True,
        maximum=1, form="advanced",
    )  # fmt: skip
    reinit_top_layers: int = setting(
        0, label="Re-initialised top layers", help="start this many transformer layers from the top, and the "
        "pooler, from random weights instead of the encoder's (0: every layer as pretrained)", minimum=0,
        maximum=48, form="advanced",
    )  # fmt: skip


@register_method
class FullFineTuning(Method):
    name = "full"
    title = "Full fine-tuning"
    order = 0
    summary = "All weights train. The reference point: usually the best, always the most expensive."
    color = "#1f77b4"
    defaults = TrainingDefaults(learning_rate=5e-5, epochs=1, max_train_samples=12000)
    Options = FullOptions
    shares_base = False
    saved_files = ("config.json", "model.safetensors")

    def loading_lines(self, base_model: str, num_labels: int) -> str | None:
        return 'model = AutoModelForSequenceClassification.from_pretrained("model").eval()'

    def validate(self, options: FullOptions, model_config, max_seq_length: int) -> None:
        check_layer_count("Re-initialised top layers", options.reinit_top_layers, model_config)

    def prepare(self, model, options: FullOptions, source):
        # Re-initialising the top layers (Zhang et al. 2021, "Revisiting few-sample BERT fine-tuning"): the top
        # of a pretrained encoder is the most specific to its own training objective (for the packaged encoder,
        # sentence similarity through mean pooling), and on a small task set fine-tuning from it can settle
        # near where it started. CoLA's recipe starts its top layer afresh: over seeds 0-9 on a 2-core CPU, mean
        # MCC 0.282 instead of 0.259, one seed under the 0.25 floor instead of four (benchmarks/sweeps/README.md).
        # Drawn after the head's initialisation, from the run's seed: the same seed gives the same start.
        if options.reinit_top_layers:
            _, _, layers = encoder_parts(model)
            std = getattr(model.config, "initializer_range", 0.02)
            for part in [*layers[len(layers) - options.reinit_top_layers :], getattr(model.base_model, "pooler", None)]:
                if part is not None:
                    reinitialise(part, std)
        return model

    def learning_rates(self, model: nn.Module, options: FullOptions, learning_rate: float) -> list[dict] | None:
        # Layer-wise learning-rate decay (ELECTRA, Clark et al. 2020; Zhang et al. 2021 on few-sample BERT
        # fine-tuning): the lower layers hold general features a small task set should move least. On CoLA it
        # raised full fine-tuning's mean MCC but not its worst seed (benchmarks/sweeps/README.md), so no recipe
        # uses it; it is here for people to try against selective's frozen lower layers.
        if options.layer_decay == 1.0:
            return None  # the Trainer's own optimizer: one group, one rate
        _, embeddings, layers = encoder_parts(model)
        depth = {id(p): 0 for p in embeddings.parameters()}
        for index, layer in enumerate(layers):
            depth.update({id(p): index + 1 for p in layer.parameters()})
        top = len(layers) + 1  # the pooler and the head learn at the run's rate
        groups: dict[int, list[nn.Parameter]] = {}
        for param in model.parameters():
            if param.requires_grad:
                groups.setdefault(depth.get(id(param), top), []).append(param)
        return [
            {"params": params, "lr": learning_rate * options.layer_decay ** (top - level)}
            for level, params in sorted(groups.items())
        ]

    def save(self, model, folder: Path) -> None:
        model.save_pretrained(folder, safe_serialization=True)

    def saved_problem(self, folder: Path, options: FullOptions, weights: dict[str, dict]) -> str | None:
        # transformers builds the model config.json describes before it reads a weight: its parameters must be
        # the ones stored, or a crafted config (a million layers) allocates without bound.
        from transformers import AutoConfig

        from ..run_files import small_json

        described = small_json(Path(folder) / "config.json")
        if not isinstance(described, dict) or not isinstance(described.get("model_type"), str):
            return "config.json does not describe a classifier"
        stored = {name: t["shape"] for name, t in weights["model.safetensors"].items()}
        # Even on the meta device, building a layer costs time: a config of 100,000 layers took two minutes to
        # refuse. Each layer holds at least one stored tensor, so more layers than tensors cannot be these weights.
        layer_counts = [v for k, v in described.items() if k in LAYER_COUNT_KEYS and isinstance(v, int)]
        if any(count > min(len(stored), MAX_LAYERS) for count in layer_counts):
            return "model.safetensors does not hold the weights config.json describes"
        try:
            config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
            with torch.device("meta"):
                model = AutoModelForSequenceClassification.from_config(config)
        except (ValueError, TypeError, KeyError, OSError) as e:
            return f"config.json cannot describe a classifier ({type(e).__name__})"
        expected = {name: list(p.shape) for name, p in model.state_dict().items()}
        missing = [n for n, shape in expected.items() if stored.get(n) != shape and not n.endswith("position_ids")]
        if missing or len(stored) > len(expected):
            return "model.safetensors does not hold the weights config.json describes"
        return None

    def load(self, base, folder: Path, options):
        return AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=False, use_safetensors=True)


# The names transformers' configs give their depth (BERT-likes, DistilBERT, GPT-2, T5, ALBERT).
LAYER_COUNT_KEYS = frozenset({"num_hidden_layers", "n_layers", "n_layer", "num_layers", "num_hidden_groups"})
# The deepest encoder a saved full run may describe (bert-large: 24): 20,000 layers of empty tensors would otherwise
# pass the count above and take minutes to build, even on the meta device.
MAX_LAYERS = 96


@torch.no_grad()
def reinitialise(module: nn.Module, std: float) -> None:
    """BERT's own initialisation (normal(0, std) linear weights, zero biases, unit layer norms), drawn afresh:
    transformers' `_init_weights` skips weights loaded from a checkpoint."""
    for part in module.modules():
        if isinstance(part, nn.Linear):
            part.weight.normal_(0.0, std)
            if part.bias is not None:
                part.bias.zero_()
        elif isinstance(part, nn.LayerNorm):
            part.weight.fill_(1.0)
            part.bias.zero_()
