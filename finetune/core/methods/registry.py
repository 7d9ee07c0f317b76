"""The method registry: each method module registers its class explicitly; a name is taken once.

Like peft's ``register_peft_method``: registration is a visible line in the method's own file, and a
second method claiming a taken name is an error, not a silent replacement.
"""

from __future__ import annotations

from typing import TypeVar

from .base import Method

_REGISTRY: dict[str, Method] = {}

M = TypeVar("M", bound=type[Method])


class DuplicateMethodError(ValueError):
    """Two methods claimed the same name."""


def register_method[M: type[Method]](cls: M) -> M:
    """Class decorator: make `cls` (a Method subclass) available under its `name`."""
    name = cls.name
    if not name.isidentifier() or name != name.lower():
        raise ValueError(f"method name {name!r} must be a lower-case identifier (it becomes a CLI flag prefix)")
    if name in _REGISTRY:
        other = type(_REGISTRY[name])
        raise DuplicateMethodError(
            f"method name {name!r} is already registered by {other.__module__}.{other.__qualname__}"
        )
    _REGISTRY[name] = cls()
    return cls


def registered() -> dict[str, Method]:
    """Every registered method, in display order."""
    return dict(sorted(_REGISTRY.items(), key=lambda item: (item[1].order, item[0])))
