"""The fine-tuning methods. Each lives in one module of this package and registers itself with
``@register_method``; importing the package imports every module in it, so a new method is one new file.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Method, TrainingDefaults
from .registry import DuplicateMethodError, register_method, registered

_HELPERS = {"base", "registry", "peft_common"}  # modules of this package that define no method

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _HELPERS:
        importlib.import_module(f"{__name__}.{_module.name}")

METHODS: dict[str, Method] = registered()


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose one of: {', '.join(METHODS)}") from None


__all__ = [
    "METHODS", "DuplicateMethodError", "Method", "TrainingDefaults", "get_method", "register_method",
]  # fmt: skip
