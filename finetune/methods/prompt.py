"""Prompt tuning (peft): trainable virtual-token embeddings prepended to a frozen encoder; the head trains."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from peft import PeftConfig, PeftModel, PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model

from .base import Method, TrainingDefaults


@dataclass
class PromptOptions:
    num_virtual_tokens: int = 20
    init_text: str = ""  # empty: random init; else the prompt starts as these words' embeddings


class PromptTuning(Method):
    name = "prompt"
    title = "Prompt tuning"
    order = 2
    summary = "Frozen encoder; only a few virtual-token embeddings and the head train."
    defaults = TrainingDefaults(learning_rate=3e-2, epochs=1, max_train_samples=4000, weight_decay=0.0)
    Options = PromptOptions

    def validate(self, options: PromptOptions, model_config) -> None:
        limit = getattr(model_config, "max_position_embeddings", 512) - 2
        if not 1 <= options.num_virtual_tokens <= limit:
            raise ValueError(f"number of virtual tokens must be in [1, {limit}], got {options.num_virtual_tokens}")

    def prepare(self, model, options: PromptOptions, source):
        text = options.init_text.strip()
        config = PromptTuningConfig(
            task_type=TaskType.SEQ_CLS,
            num_virtual_tokens=options.num_virtual_tokens,
            prompt_tuning_init=PromptTuningInit.TEXT if text else PromptTuningInit.RANDOM,
            prompt_tuning_init_text=text or None,
            tokenizer_name_or_path=source.path if text else None,
        )
        return get_peft_model(model, config)

    def save(self, model, folder: Path) -> None:
        model.save_pretrained(folder)

    def load(self, base, folder: Path, options):
        # The saved prompt replaces any initialisation, so skip re-reading the init text's tokenizer
        # (its path may not exist on this machine).
        config = PeftConfig.from_pretrained(folder)
        config.prompt_tuning_init = PromptTuningInit.RANDOM
        config.prompt_tuning_init_text = None
        config.tokenizer_name_or_path = None
        return PeftModel.from_pretrained(base, folder, config=config)
