"""What the peft-based methods share: saving an adapter, and loading one from safetensors only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from peft import PeftConfig, PeftModel
from torch import nn

from .base import ComputeShape, Method

ADAPTER_WEIGHTS = "adapter_model.safetensors"


class PeftMethod(Method):
    """A method whose trained part is a peft adapter on the frozen encoder (saved as adapter_config.json
    + adapter_model.safetensors)."""

    saved_files = ("adapter_config.json", ADAPTER_WEIGHTS)
    card_library = "peft"

    def loading_lines(self, base_model: str, num_labels: int) -> str | None:
        return f"""from peft import PeftModel
base = AutoModelForSequenceClassification.from_pretrained({base_model!r}, num_labels={num_labels})
model = PeftModel.from_pretrained(base, "model").eval()"""

    def compute_shape(self, options: Any, model_config: Any) -> ComputeShape:
        # The frozen encoder still passes gradients back to the adapter (one more forward's worth), but
        # computes no weight gradients of its own.
        return ComputeShape(train=2.0)

    def train_layer(self, layer: nn.Module, options: Any) -> nn.Module:
        return layer.requires_grad_(False)  # the encoder's own weights stay as they are; gradients pass through

    def save(self, model: nn.Module, folder: Path) -> None:
        model.save_pretrained(folder, safe_serialization=True)  # type: ignore[operator]  # a PeftModel

    def merged(self, model: nn.Module) -> nn.Module:
        return model.merge_and_unload()  # type: ignore[operator]  # adapter weights folded into the encoder's

    def saved_problem(self, folder: Path, options: Any, weights: dict[str, dict]) -> str | None:
        from ..run_files import small_json

        config = small_json(Path(folder) / "adapter_config.json")
        if not isinstance(config, dict):
            return "adapter_config.json is not an adapter's configuration"
        return self.adapter_problem(config, options, weights[ADAPTER_WEIGHTS])

    def adapter_problem(self, config: dict, options: Any, tensors: dict[str, dict]) -> str | None:
        """Why an adapter's configuration disagrees with its run's options or its stored tensors, or None."""
        return None

    def adapter_config(self, folder: Path, options: Any) -> Any:
        """The saved adapter's config (of a run with `options`); a method may adjust what loading must not redo, or
        build it from the options alone."""
        return PeftConfig.from_pretrained(str(folder))

    def load(self, base: nn.Module, folder: Path, options: Any) -> nn.Module:
        # peft would fall back to a pickled adapter_model.bin (torch.load): refuse anything but safetensors.
        if not (Path(folder) / ADAPTER_WEIGHTS).is_file():
            raise FileNotFoundError(f"the run has no {ADAPTER_WEIGHTS} (adapters load from safetensors only)")
        return PeftModel.from_pretrained(base, folder, config=self.adapter_config(folder, options))
