"""The fine-tuning methods, found automatically: every ``Method`` subclass defined in a module of
this package is registered under its ``name`` (so adding a method touches one file)."""

from __future__ import annotations

import importlib
import pkgutil

from .base import Method, TrainingDefaults


def _discover() -> dict[str, Method]:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    found = [cls() for cls in Method.__subclasses__()]
    return {method.name: method for method in sorted(found, key=lambda m: m.order)}


METHODS: dict[str, Method] = _discover()


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose one of: {', '.join(METHODS)}") from None


def method_title(name: str) -> str:
    """Display name of a method, or of the untrained zero-shot baseline that sits next to them."""
    return METHODS[name].title if name in METHODS else {"zeroshot": "Zero-shot LM"}.get(name, name)


__all__ = ["METHODS", "Method", "TrainingDefaults", "get_method", "method_title"]
