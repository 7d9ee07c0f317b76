"""Full fine-tuning: every weight trains; the whole model is saved."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transformers import AutoModelForSequenceClassification

from .base import Method, TrainingDefaults
from .registry import register_method


@dataclass
class FullOptions:
    pass


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

    def prepare(self, model, options, source):
        return model

    def save(self, model, folder: Path) -> None:
        model.save_pretrained(folder, safe_serialization=True)

    def load(self, base, folder: Path, options):
        return AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=False, use_safetensors=True)
