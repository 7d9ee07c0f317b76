"""Exact parameter accounting: trainable vs total, and where in the network they sit."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import asdict, dataclass, field

from torch import nn

_LAYER = re.compile(r"\.layer\.(\d+)\.")


@dataclass
class ParameterCount:
    trainable: int
    total: int
    # part -> [trainable, total]; parts are embeddings, layer.0 .. layer.N-1, pooler, head, prompt
    by_part: dict[str, list[int]] = field(default_factory=dict)

    @property
    def trainable_percent(self) -> float:
        return 100.0 * self.trainable / self.total if self.total else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "trainable_percent": self.trainable_percent}


def part_of(name: str) -> str:
    """Which part of the network a parameter belongs to, from its qualified name."""
    if "prompt_encoder" in name:
        return "prompt"
    if match := _LAYER.search(name):
        return f"layer.{match.group(1)}"
    if "embeddings" in name:
        return "embeddings"
    if "pooler" in name:
        return "pooler"
    return "head"


def count_parameters(model: nn.Module) -> ParameterCount:
    """Count what the model computes with. peft keeps an unused copy of each module it trains as
    a whole (``original_module`` of a modules_to_save wrapper); that copy is not part of the
    trained model, so it is not counted."""
    parts: dict[str, list[int]] = OrderedDict()
    trainable = total = 0
    for name, param in model.named_parameters():
        if ".original_module." in name:
            continue
        n = param.numel()
        slot = parts.setdefault(part_of(name), [0, 0])
        slot[1] += n
        total += n
        if param.requires_grad:
            slot[0] += n
            trainable += n
    return ParameterCount(trainable=trainable, total=total, by_part=_ordered(parts))


def _ordered(parts: dict[str, list[int]]) -> dict[str, list[int]]:
    def key(part: str) -> tuple[int, int]:
        if part.startswith("layer."):
            return (2, int(part.split(".")[1]))
        return ({"prompt": 0, "embeddings": 1, "pooler": 3, "head": 4}[part], 0)

    return {part: parts[part] for part in sorted(parts, key=key)}
