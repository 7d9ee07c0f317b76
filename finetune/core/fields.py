"""Settings that describe themselves: label, help text, bounds — one source of truth for every front end.

A setting is a dataclass field made with ``setting(...)``. The CLI's flags, the Train tab's inputs, the
``/train`` API and the command preview are all generated from such fields (a run's ``RunConfig`` and each
method's ``Options``), and ``parse`` is the one place where a raw value — CLI text, a number from the UI,
an API value of any type — becomes a checked value or a one-line, human reason why not.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

_KEY = "glue_tune_lab.setting"


class SettingError(ValueError):
    """A value a setting cannot take; the message names the setting and the accepted range."""


@dataclass(frozen=True)
class Spec:
    label: str  # what a person reads: the UI label, and the subject of error messages
    help: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False  # "> minimum" (e.g. a learning rate) instead of ">= minimum"
    max_length: int | None = None  # text settings
    words: Mapping[str, Any] = field(default_factory=dict)  # text that stands for a value: {"all": 0}
    choices: Callable[[], list[str]] | None = None  # the accepted values of a text setting
    flag: str | None = None  # the CLI flag when not derived from the name
    form: str | None = "main"  # where the Train tab shows it: "main", "model", "advanced"; None: not shown
    # What of its value changes a run's compute (the estimate measures each compute once): True, the value itself;
    # False, nothing (a scale, an initialisation, a learning rate); or a function giving a value of the same compute.
    compute: bool | Callable[[Any], Any] = True


def zero_or_not(value: Any) -> float:
    """A rate whose compute depends only on whether it is zero (a dropout of 0 is skipped, any other costs the same)."""
    return 0.5 if value else 0.0


def compute_values(settings: Any) -> tuple[tuple[str, Any], ...]:
    """The (name, value) pairs of a settings dataclass that change a run's compute (Spec.compute), sorted by name;
    the rest left out, so that they take their defaults where the compute is built again."""
    values = []
    for item in settings_of(type(settings)):
        rule, value = item.spec.compute, getattr(settings, item.name)
        if rule is True:
            values.append((item.name, value))
        elif callable(rule):
            values.append((item.name, rule(value)))
    return tuple(sorted(values))


def setting(default: Any = dataclasses.MISSING, **spec: Any) -> Any:
    """A dataclass field carrying its own Spec (label, help, bounds...)."""
    return field(default=default, metadata={_KEY: Spec(**spec)})


@dataclass(frozen=True)
class Setting:
    """One described field of a settings dataclass, with its value type read from the annotation."""

    name: str
    spec: Spec
    kind: type  # int, float, str or bool
    default: Any  # dataclasses.MISSING for a required setting

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING

    @property
    def label(self) -> str:
        return self.spec.label


def settings_of(cls: type) -> Iterator[Setting]:
    """The described fields of a settings dataclass, in declaration order."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if _KEY not in f.metadata:
            continue
        kinds = [t for t in typing.get_args(hints[f.name]) if t is not type(None)] or [hints[f.name]]
        yield Setting(name=f.name, spec=f.metadata[_KEY], kind=kinds[0], default=f.default)


def setting_named(cls: type, name: str) -> Setting:
    """The described field `name` of a settings dataclass."""
    return next(item for item in settings_of(cls) if item.name == name)


def _number_text(value: float) -> str:
    """1,024 and 0.0003 as people write them; absurd magnitudes (1e+30) without thirty digits."""
    whole_and_readable = abs(value) < 10**15 if isinstance(value, int) else value.is_integer() and abs(value) < 1e6
    return f"{int(value):,}" if whole_and_readable else f"{float(value):g}"


def _type_name(value: Any) -> str:
    return {list: "a list", dict: "a mapping", tuple: "a list", bool: "true/false"}.get(
        type(value), type(value).__name__
    )


def bounds_text(spec: Spec) -> str:
    """The accepted range in words, e.g. "> 0 and at most 20" or "between 1 and 512"."""
    low, high = spec.minimum, spec.maximum
    if low is not None and spec.exclusive_minimum:
        return f"> {_number_text(low)}" + (f" and at most {_number_text(high)}" if high is not None else "")
    if low is not None and high is not None:
        return f"between {_number_text(low)} and {_number_text(high)}"
    if low is not None:
        return f"at least {_number_text(low)}"
    return f"at most {_number_text(high)}" if high is not None else "any number"


def parse(item: Setting, value: Any) -> Any:
    """`value` checked and converted to the setting's type. None means "not given" (the default applies):
    an empty or blank entry of an optional setting parses to None. Raises SettingError."""
    spec, label = item.spec, item.label
    if value is None or (isinstance(value, str) and not value.strip()):
        if item.required:
            raise SettingError(f"{label} is empty: choose a value")
        return None
    if isinstance(value, str) and value.strip().lower() in spec.words:
        return spec.words[value.strip().lower()]
    if item.kind is str:
        return _parse_text(spec, value)
    if item.kind is bool:
        return _parse_flag(label, value)
    return _parse_number(item, value)


def _parse_text(spec: Spec, value: Any) -> str:
    if not isinstance(value, str):
        raise SettingError(f"{spec.label} must be text, got {_type_name(value)}")
    text = value.strip()
    if spec.max_length is not None and len(text) > spec.max_length:
        raise SettingError(f"{spec.label} is {len(text):,} characters long; the limit is {spec.max_length:,}")
    if spec.choices is not None and text not in (choices := spec.choices()):
        raise SettingError(f"unknown {spec.label.lower()} {text!r}; choose one of: {', '.join(choices)}")
    return text


def _parse_flag(label: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "yes", "1", "false", "no", "0"}:
        return value.strip().lower() in {"true", "yes", "1"}
    raise SettingError(f"{label} must be true or false, got {value!r}")


def _parse_number(item: Setting, value: Any) -> int | float:
    spec, label = item.spec, item.label
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SettingError(f"{label} must be a number, got {_type_name(value)}")
    if isinstance(value, str):
        try:
            number: int | float = int(value) if value.strip().lstrip("+-").isdigit() else float(value)
        except ValueError:
            words = " or ".join(repr(w) for w in spec.words)
            raise SettingError(f"{label} must be a number{' or ' + words if words else ''}, got {value!r}") from None
    else:
        number = value
    if not math.isfinite(number):
        raise SettingError(f"{label} must be a finite number, got {value!r}")
    if item.kind is int:
        if number != int(number):
            raise SettingError(f"{label} must be a whole number, got {value!r}")
        number = int(number)
    else:
        number = float(number)
    low, high = spec.minimum, spec.maximum
    too_low = low is not None and (number <= low if spec.exclusive_minimum else number < low)
    if too_low or (high is not None and number > high):
        raise SettingError(f"{label} must be {bounds_text(spec)}, got {_number_text(number)}")
    return number


def parse_all(cls: type, values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every described field of `cls` present in `values` (keys `prefix + name`), parsed; None dropped."""
    parsed = {}
    for item in settings_of(cls):
        key = prefix + item.name
        if key in values and (value := parse(item, values[key])) is not None:
            parsed[item.name] = value
    return parsed


def cli_flag(item: Setting, prefix: str = "") -> str:
    """--name-with-dashes, or the setting's own flag; `prefix` scopes a method's options (--lora-r)."""
    return item.spec.flag or "--" + (prefix + item.name).replace("_", "-")


def help_text(item: Setting) -> str:
    """The help text with the accepted values appended (shown by --help and as the UI's info line)."""
    extra = []
    if item.kind in (int, float) and (item.spec.minimum is not None or item.spec.maximum is not None):
        extra.append(bounds_text(item.spec))
    if item.spec.words:
        extra.append(" or ".join(repr(w) for w in item.spec.words))
    return item.spec.help + (f"; {'; '.join(extra)}" if extra else "")
