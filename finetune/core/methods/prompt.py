"""Prompt tuning (peft): trainable virtual-token embeddings prepended to a frozen encoder; the head trains."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from peft import PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model

from ..fields import setting
from .base import ComputeShape, TrainingDefaults
from .peft_common import PeftMethod
from .registry import register_method

RANDOM = "random"  # init text that asks for a random start, where the task's recipe would give words


MAX_TOKEN_DIM = 8192  # the widest encoder a prompt may be stored for (bert-base: 768, bert-large: 1024)


@dataclass
class PromptOptions:
    num_virtual_tokens: int = setting(20, label="Virtual tokens", help="trainable prompt tokens prepended to "
                                      "every input", minimum=1, maximum=128)  # fmt: skip
    init_text: str = setting("", label="Init text", help="start the prompt as these words' embeddings "
                             "(empty: the task's recipe; 'random': random embeddings)", max_length=200,
                             form="advanced", compute=False)  # fmt: skip
    head_learning_rate: float | None = setting(
        None, label="Head learning rate", help="learning rate of the classification head, which starts "
        "random (empty: the task's recipe, else the run's learning rate)", minimum=0, exclusive_minimum=True,
        maximum=1, form="advanced", compute=False,
    )  # fmt: skip


@register_method
class PromptTuning(PeftMethod):
    name = "prompt"
    title = "Prompt tuning"
    order = 2
    summary = "Frozen encoder; only a few virtual-token embeddings and the head train."
    color = "#2ca02c"
    defaults = TrainingDefaults(learning_rate=3e-2, epochs=1, max_train_samples=4000, weight_decay=0.0)
    Options = PromptOptions

    def validate(self, options: PromptOptions, model_config, max_seq_length: int) -> None:
        # The virtual tokens take positions too: prompt + input must fit the encoder's position table.
        limit = getattr(model_config, "max_position_embeddings", 512) - max_seq_length
        if options.num_virtual_tokens > limit:
            raise ValueError(
                f"Virtual tokens: at most {max(limit, 0)} fit next to {max_seq_length}-token inputs in this "
                f"encoder, got {options.num_virtual_tokens}"
            )

    def compute_shape(self, options: PromptOptions, model_config) -> ComputeShape:
        shape = super().compute_shape(options, model_config)
        return dataclasses.replace(shape, extra_tokens=options.num_virtual_tokens)  # every input carries the prompt

    def adapter_problem(self, config: dict, options: PromptOptions, tensors: dict[str, dict]) -> str | None:
        # peft sizes the prompt's embedding from these numbers: the run's own, and the stored tensor's shape.
        tokens, width, layers = (
            config.get(k) for k in ("num_virtual_tokens", "token_dim", "num_transformer_submodules")
        )
        if config.get("peft_type") != "PROMPT_TUNING" or tokens != options.num_virtual_tokens:
            return (
                f"adapter_config.json describes {tokens!r} virtual tokens, not the run's {options.num_virtual_tokens}"
            )
        if not (isinstance(width, int) and 0 < width <= MAX_TOKEN_DIM) or layers not in (None, 1):
            return f"adapter_config.json describes prompt embeddings of width {width!r}"
        prompt = tensors.get("prompt_embeddings")
        if prompt is None or prompt["shape"] != [tokens, width]:
            return f"the stored prompt does not hold {tokens} embeddings of width {width}"
        return None

    def prepare(self, model, options: PromptOptions, source):
        text = options.init_text.strip()
        text = "" if text.lower() == RANDOM else text
        config = PromptTuningConfig(
            task_type=TaskType.SEQ_CLS,
            num_virtual_tokens=options.num_virtual_tokens,
            prompt_tuning_init=PromptTuningInit.TEXT if text else PromptTuningInit.RANDOM,
            prompt_tuning_init_text=text or None,
            tokenizer_name_or_path=source.path if text else None,
        )
        return get_peft_model(model, config)

    def learning_rates(self, model, options: PromptOptions, learning_rate: float) -> list[dict] | None:
        # The prompt needs a large step (its embeddings must travel far from their start); the same step
        # on the freshly initialised head makes it overshoot, and the run then depends on the seed.
        if options.head_learning_rate is None:
            return None
        trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
        head = [p for name, p in trainable if "prompt_encoder" not in name]
        prompt = [p for name, p in trainable if "prompt_encoder" in name]
        return [{"params": prompt, "lr": learning_rate}, {"params": head, "lr": options.head_learning_rate}]

    def merged(self, model):
        raise ValueError(
            "prompt tuning cannot be merged into the encoder (its virtual tokens are extra inputs); "
            "its adapter loads with plain peft, as its model card shows"
        )

    def adapter_config(self, folder: Path, options: PromptOptions):
        # The saved prompt replaces any initialisation, so skip re-reading the init text's tokenizer
        # (its path may not exist on this machine).
        config = super().adapter_config(folder, options)
        config.prompt_tuning_init = PromptTuningInit.RANDOM
        config.prompt_tuning_init_text = None
        config.tokenizer_name_or_path = None
        return config
