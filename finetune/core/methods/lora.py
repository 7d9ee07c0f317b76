"""LoRA (peft): low-rank updates on the attention query/value projections; the head trains fully."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from peft import LoraConfig, TaskType, get_peft_model, inject_adapter_in_model
from transformers import AutoModelForSequenceClassification

from ..fields import setting, zero_or_not
from .base import TrainingDefaults
from .peft_common import PeftMethod
from .registry import register_method


@dataclass
class LoraOptions:
    r: int = setting(8, label="LoRA rank r", help="rank of the update matrices (at most the hidden size)",
                     minimum=1, maximum=1024)  # fmt: skip
    alpha: float = setting(16.0, label="LoRA alpha", help="updates are scaled by alpha / r",
                           minimum=0, exclusive_minimum=True, maximum=4096, form="advanced", compute=False)  # fmt: skip
    dropout: float = setting(0.1, label="LoRA dropout", help="dropout on the LoRA path", minimum=0, maximum=0.9,
                             form="advanced", compute=zero_or_not)  # fmt: skip
    target_modules: str = setting(
        "query,value", label="Target modules", help="comma-separated names of the linear layers to adapt",
        max_length=200, form="advanced",
    )  # fmt: skip


@register_method
class LoRA(PeftMethod):
    name = "lora"
    title = "LoRA"
    order = 1
    summary = "Frozen encoder plus trainable low-rank updates to attention (query, value) and the head."
    color = "#ff7f0e"
    defaults = TrainingDefaults(learning_rate=1e-3, epochs=1, max_train_samples=8000, weight_decay=0.0)
    Options = LoraOptions

    def validate(self, options: LoraOptions, model_config, max_seq_length: int) -> None:
        if options.r > model_config.hidden_size:
            raise ValueError(f"LoRA rank r must be at most the hidden size {model_config.hidden_size}, got {options.r}")
        targets = _targets(options)
        if not targets:
            raise ValueError("LoRA needs at least one target module")
        with torch.device("meta"):  # the module names without allocating any weights
            names = {n.rsplit(".", 1)[-1] for n, _ in AutoModelForSequenceClassification.from_config(
                model_config).named_modules()}  # fmt: skip
        missing = [t for t in targets if t not in names]
        if missing:
            raise ValueError(f"LoRA target module {missing[0]!r} is not in this encoder (try query, key, value, dense)")

    def train_layer(self, layer, options: LoraOptions):
        # Low-rank adapters cost more on a CPU than their few FLOPs say (small matmuls, an extra path per target).
        layer = inject_adapter_in_model(self._lora_config(options), super().train_layer(layer, options))
        for name, param in layer.named_parameters():
            param.requires_grad_("lora_" in name)
        return layer

    def adapter_problem(self, config: dict, options: LoraOptions, tensors: dict[str, dict]) -> str | None:
        # peft builds every adapted layer's matrices from these numbers: they must be the run's own (its options
        # are within their bounds) and match the stored tensors, or a crafted file makes it allocate gigabytes.
        if config.get("peft_type") != "LORA" or config.get("r") != options.r:
            return f"adapter_config.json describes rank {config.get('r')!r}, not the run's LoRA rank {options.r}"
        if config.get("rank_pattern") or config.get("alpha_pattern") or config.get("use_dora"):
            return "adapter_config.json asks for per-layer ranks or DoRA, which this lab does not train"
        if not isinstance(config.get("target_modules"), list) or set(config["target_modules"]) != set(
            _targets(options)
        ):
            return "adapter_config.json adapts other layers than the run's target modules"
        for name, tensor in tensors.items():
            shape = tensor["shape"]
            if ("lora_A" in name and shape[:1] != [options.r]) or ("lora_B" in name and shape[-1:] != [options.r]):
                return f"adapter tensor {name} has shape {shape}, not rank {options.r}"
        return self._setting_not_the_labs(config, options)

    def adapter_config(self, folder: Path, options: LoraOptions):
        # Built from the run's own options, never from the file: a crafted one could replicate layers, rewrite the
        # frozen base the other methods share (PiSSA/OLoRA initialisations), or scale by 1e30.
        return self._lora_config(options, task_type=TaskType.SEQ_CLS)

    def prepare(self, model, options: LoraOptions, source):
        # TaskType.SEQ_CLS keeps the classifier head trainable (modules_to_save).
        return get_peft_model(model, self._lora_config(options, task_type=TaskType.SEQ_CLS))

    def _setting_not_the_labs(self, config: dict, options: LoraOptions) -> str | None:
        """A key of a saved adapter config set otherwise than a run with `options` sets it (an allow-list: every other
        key must read as the lab's LoraConfig writes it, or, unknown to this peft, as nothing at all), or None."""
        own = self._lora_config(options, task_type=TaskType.SEQ_CLS).to_dict()
        for key, value in config.items():
            if key in FREE_KEYS or (key in own and _same(value, own[key])) or (key not in own and not value):
                continue
            return f"adapter_config.json sets {key} to {str(value)[:40]!r}, which this lab's LoRA runs never do"
        if set(config.get("modules_to_save") or []) - {"classifier", "score"}:
            return "adapter_config.json trains more than the classifier head beside its adapters"
        return None

    @staticmethod
    def _lora_config(options: LoraOptions, **more) -> LoraConfig:
        return LoraConfig(
            r=options.r,
            lora_alpha=options.alpha,  # type: ignore[arg-type]  # peft annotates int; a float scale works
            lora_dropout=options.dropout,
            target_modules=_targets(options),
            **more,
        )


# Keys of a saved adapter_config.json that may differ from what the lab's own LoRA config says: where it was made
# (the encoder's name, peft's version), how it was last used, and the head peft keeps trainable for a classifier.
FREE_KEYS = frozenset({"base_model_name_or_path", "revision", "inference_mode", "peft_version", "modules_to_save",
                       "target_modules", "auto_mapping", "task_type", "megatron_core"})  # fmt: skip


def _same(saved, own) -> bool:
    if isinstance(own, float | int) and isinstance(saved, float | int) and not isinstance(saved, bool):
        return float(saved) == float(own)
    return saved == own


def _targets(options: LoraOptions) -> list[str]:
    return [name.strip() for name in options.target_modules.split(",") if name.strip()]
