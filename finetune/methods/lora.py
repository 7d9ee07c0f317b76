"""LoRA (peft): low-rank updates on the attention query/value projections; the head trains fully."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from peft import LoraConfig, PeftModel, TaskType, get_peft_model

from .base import Method, TrainingDefaults


@dataclass
class LoraOptions:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.1
    target_modules: str = "query,value"  # comma-separated module names


class LoRA(Method):
    name = "lora"
    title = "LoRA"
    order = 1
    summary = "Frozen encoder plus trainable low-rank updates to attention (query, value) and the head."
    defaults = TrainingDefaults(learning_rate=1e-3, epochs=1, max_train_samples=8000, weight_decay=0.0)
    Options = LoraOptions

    def validate(self, options: LoraOptions, model_config) -> None:
        if options.r < 1:
            raise ValueError(f"LoRA rank r must be >= 1, got {options.r}")
        if options.alpha <= 0:
            raise ValueError(f"LoRA alpha must be > 0, got {options.alpha}")
        if not 0 <= options.dropout < 1:
            raise ValueError(f"LoRA dropout must be in [0, 1), got {options.dropout}")
        if not _targets(options):
            raise ValueError("LoRA needs at least one target module")

    def prepare(self, model, options: LoraOptions, source):
        config = LoraConfig(
            task_type=TaskType.SEQ_CLS,  # keeps the classifier head trainable (modules_to_save)
            r=options.r,
            lora_alpha=options.alpha,
            lora_dropout=options.dropout,
            target_modules=_targets(options),
        )
        return get_peft_model(model, config)

    def save(self, model, folder: Path) -> None:
        model.save_pretrained(folder)

    def load(self, base, folder: Path, options):
        return PeftModel.from_pretrained(base, folder)


def _targets(options: LoraOptions) -> list[str]:
    return [name.strip() for name in options.target_modules.split(",") if name.strip()]
