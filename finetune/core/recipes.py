"""Classroom recipes: what a (task, method) run trains with when nobody changes a setting, and the
quality each must reach on every seed.

A method's own ``defaults`` (its file in ``methods/``) with the task's ``classroom_epochs`` are the
starting point; ``RECIPES`` overrides them where a sweep over seeds found something better for the
time. Each entry names the sweep file and the candidate that became it (``chosen_by``):
``python -m finetune.bench.sweep`` writes every run (candidate, seed, time, metrics) to
``benchmarks/sweeps/<task>-<method>.jsonl`` and the summary to ``benchmarks/sweeps/README.md``; what the sweeps
found on the way to each recipe is in ``benchmarks/sweeps/HISTORY.md``. ``FLOORS`` are the targets every seed 0-4
must reach with the classroom defaults; the sweep reports each candidate's worst seed against them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STUDY_MODEL = "bert-base-uncased"  # core/models.py's name for it (imported there from here: no torch for a recipe)


@dataclass(frozen=True)
class Recipe:
    """Overrides of a method's defaults for one task (None: keep the method's)."""

    learning_rate: float | None = None
    epochs: float | None = None
    batch_size: int | None = None
    max_train_samples: int | None = None
    average_tail: float | None = None  # mean of the weights over this last fraction of the steps (engine/averaging.py)
    options: dict[str, Any] = field(default_factory=dict)  # the method's options, e.g. prompt init text
    chosen_by: str = ""  # "<sweep file>: <candidate>" in benchmarks/sweeps/, or the literature it comes from


RECIPES: dict[tuple[str, str], Recipe] = {
    ("sst2", "prompt"): Recipe(
        learning_rate=0.1,
        max_train_samples=12000,
        chosen_by="sst2-prompt.jsonl: 12000-examples",
    ),
    ("mrpc", "full"): Recipe(
        epochs=3.0,
        chosen_by="mrpc-full.jsonl: 3ep",
    ),
    ("mrpc", "lora"): Recipe(
        learning_rate=3e-4,
        options={"target_modules": "query,key,value,dense", "dropout": 0.0},
        chosen_by="mrpc-lora.jsonl: all-lr3e-4-drop0",
    ),
    ("mrpc", "prompt"): Recipe(
        learning_rate=0.1,
        options={"init_text": "Do these two sentences mean the same thing?"},
        chosen_by="mrpc-prompt.jsonl: words-lr1e-1",
    ),
    ("mrpc", "selective"): Recipe(
        learning_rate=1e-4,
        options={"top_k": 4},
        chosen_by="mrpc-selective.jsonl: top4-lr1e-4",
    ),
    ("cola", "full"): Recipe(
        learning_rate=7e-5,
        options={"reinit_top_layers": 1},
        chosen_by="cola-full.jsonl: reinit1",
    ),
    ("cola", "lora"): Recipe(
        learning_rate=5e-4,
        epochs=4.0,
        options={"target_modules": "query,key,value,dense", "dropout": 0.0},
        chosen_by="cola-lora.jsonl: all-lr5e-4-drop0-4ep",
    ),
    ("cola", "selective"): Recipe(
        learning_rate=1e-4,
        epochs=4.0,
        options={"top_k": 4},
        chosen_by="cola-selective.jsonl: top4-4ep",
    ),
}

# Dev-set floors every seed 0-4 must reach with the classroom defaults (the study's lab targets).
FLOORS: dict[tuple[str, str], dict[str, float]] = {
    ("sst2", "full"): {"accuracy": 0.85},
    ("sst2", "lora"): {"accuracy": 0.82},
    ("sst2", "selective"): {"accuracy": 0.82},
    ("sst2", "prompt"): {"accuracy": 0.72},
    ("mrpc", "full"): {"accuracy": 0.76, "f1": 0.84},
    ("mrpc", "lora"): {"accuracy": 0.76, "f1": 0.84},
    ("mrpc", "selective"): {"accuracy": 0.76, "f1": 0.84},
    ("mrpc", "prompt"): {"accuracy": 0.70},
    ("cola", "full"): {"mcc": 0.25},
    ("cola", "selective"): {"mcc": 0.25},
    ("cola", "lora"): {"mcc": 0.20},
}


# bert-base-uncased, the study's encoder and the default on a GPU: the rates and batch sizes come from the literature
# and are NOT validated here (no bert-base weights reach the machines this lab is built and tested on, so no floor is
# claimed for them); the number of examples and passes stay the classroom's, so a run fits a lesson and a ZeroGPU call.
LITERATURE: dict[str, str] = {
    "bert": "Devlin et al. 2019, BERT, sec. 4.1: GLUE fine-tuning at batch 32 for 3 epochs, the best of lr "
    "5e-5/4e-5/3e-5/2e-5 on dev; transformers' run_glue example: lr 2e-5, batch 32",
    "freezing": "Lee, Tang and Lin 2019, What Would Elsa Do? Freezing Layers During Transformer Fine-Tuning "
    "(arXiv:1911.03090): BERT with only its top layers trained, at BERT's own fine-tuning settings",
    "lora": "Hu et al. 2022, LoRA, table 9 (RoBERTa-base on GLUE): r 8, alpha 8 on query and value, batch 16, lr 5e-4 "
    "(SST-2) and 4e-4 (MRPC, CoLA)",
    "prompt": "Lester, Al-Rfou and Constant 2021, The Power of Scale for Parameter-Efficient Prompt Tuning: a prompt "
    "learns at rates far above fine-tuning's (0.3 with Adafactor, whose steps are relative to the weights); with "
    "AdamW the lab keeps the rate its sweeps chose on the packaged encoder",
}
NOT_VALIDATED = "from the literature, not validated here (no bert-base weights reach these machines): "
TASK_NAMES = ("sst2", "mrpc", "cola")
LORA_RATES = {"sst2": 5e-4, "mrpc": 4e-4, "cola": 4e-4}


def _literature(task: str, method: str) -> Recipe:
    if method in ("full", "selective"):
        source = LITERATURE["bert" if method == "full" else "freezing"]
        return Recipe(learning_rate=2e-5, batch_size=32, chosen_by=NOT_VALIDATED + source)
    if method == "lora":
        return Recipe(learning_rate=LORA_RATES[task], batch_size=16, chosen_by=NOT_VALIDATED + LITERATURE["lora"],
                      options={"r": 8, "alpha": 8.0, "target_modules": "query,value"})  # fmt: skip
    return Recipe(chosen_by=NOT_VALIDATED + LITERATURE["prompt"])


STUDY_RECIPES: dict[tuple[str, str], Recipe] = {
    (task, method): _literature(task, method)
    for task in TASK_NAMES
    for method in ("full", "lora", "prompt", "selective")
}


def recipe_for(task: str, method: str, model: str | None = None) -> Recipe:
    """The (task, method) recipe for `model`: the sweeps' (tuned on the packaged encoder) for any encoder, with the
    literature's rates, batch sizes and options over them for bert-base-uncased (STUDY_RECIPES)."""
    swept = RECIPES.get((task, method), Recipe())
    study = STUDY_RECIPES.get((task, method)) if model == STUDY_MODEL else None
    if study is None:
        return swept
    return Recipe(
        learning_rate=study.learning_rate or swept.learning_rate,
        epochs=swept.epochs,
        batch_size=study.batch_size or swept.batch_size,
        max_train_samples=swept.max_train_samples,
        average_tail=swept.average_tail,
        options={**swept.options, **study.options},
        chosen_by=study.chosen_by,
    )


def below_floor(task: str, method: str, metrics: dict[str, float]) -> list[str]:
    """The floors `metrics` misses, in words ('accuracy 0.70 < 0.72'); empty when it meets them all."""
    return [
        f"{name} {metrics[name]:.3f} < {floor}"
        for name, floor in FLOORS.get((task, method), {}).items()
        if metrics[name] < floor
    ]
