"""The terminal command that reproduces a run, built by the UI itself from the settings' flags
(like LLaMA-Factory's ``gen_cmd``): the UI never imports the CLI."""

from __future__ import annotations

import shlex

from finetune.core.fields import cli_flag, settings_of
from finetune.core.methods import get_method
from finetune.engine.config import ALL, RunConfig


def _text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else shlex.quote(str(value))


def gen_cmd(config: RunConfig) -> str:
    """`python -m finetune train ...` with every setting that differs from its default."""
    parts = ["python -m finetune train"]
    for item in settings_of(RunConfig):
        value = getattr(config, item.name)
        if value is None or (value == item.default and not item.required):
            continue
        if item.name == "max_train_samples" and value == ALL:
            value = "all"
        parts.append(f"{cli_flag(item)} {_text(value)}")
    method = get_method(config.method)
    for item in settings_of(method.Options):
        value = config.method_options.get(item.name)
        if value is not None and value != "" and value != item.default:
            parts.append(f"{cli_flag(item, prefix=f'{method.name}-')} {_text(value)}")
    return " ".join(parts)
