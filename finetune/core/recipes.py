"""Classroom recipes: what a (task, method) run trains with when nobody changes a setting, and the
quality each must reach on every seed.

A method's own ``defaults`` (its file in ``methods/``) with the task's ``classroom_epochs`` are the
starting point; ``RECIPES`` overrides them where a sweep over seeds found something better for the
time. Each entry names the sweep that chose it: ``python -m finetune.bench.sweep`` writes every run
(candidate, seed, time, metrics) to ``benchmarks/sweeps/<task>-<method>.jsonl`` and the summary to
``benchmarks/sweeps/README.md``. ``FLOORS`` are the targets every seed 0-4 must reach with the classroom
defaults; the sweep reports each candidate's worst seed against them.
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
    chosen_by: str = ""  # which sweep chose it, and why


GPU_SWEEP = "swept on an NVIDIA H200 in bf16 (seeds 0-4; benchmarks/sweeps/README.md), checked on the 2-core CPU"

RECIPES: dict[tuple[str, str], Recipe] = {
    ("sst2", "prompt"): Recipe(
        learning_rate=0.1,
        max_train_samples=12000,
        chosen_by="benchmarks/sweeps/sst2-prompt.jsonl: lr 0.1 on 12,000 examples ends at 0.729-0.798 on the "
        "2-core CPU's seeds 0-4 (the training loop's revision 2), where 8,000 examples leave seed 2 at 0.67 (CPU) "
        "and seed 4 at 0.71 (GPU); a slower head "
        "learning rate, bigger batches or lr 0.3 were worse. On a 2-core Intel Xeon with AMX-BF16 seeds 0-4 end at "
        "0.752-0.796 (76-81 s a run). " + GPU_SWEEP,
    ),
    ("mrpc", "full"): Recipe(
        epochs=3.0,
        chosen_by="benchmarks/sweeps/mrpc-full.jsonl: three passes (the task's classroom default) end at accuracy "
        "0.784-0.797, F1 0.855-0.858 on the 2-core CPU's seeds 0-4 under the training loop's revision 2 "
        "(228-239 s a run; worst on the H200 0.792). Two passes held them under revision 1 (worst 0.770, F1 "
        "0.847) in two thirds of the time, but under revision 2 left the CPU's seed 4 at accuracy 0.728, F1 "
        "0.826; batch 32 at lr 1e-4 falls under them. On a 2-core Intel Xeon with AMX-BF16 seed 4 ends at accuracy "
        "0.779, F1 0.849 in 161 s. " + GPU_SWEEP,
    ),
    ("mrpc", "lora"): Recipe(
        learning_rate=3e-4,
        options={"target_modules": "query,key,value,dense", "dropout": 0.0},
        chosen_by="benchmarks/sweeps/mrpc-lora.jsonl: LoRA on every linear layer at lr 3e-4 without LoRA's dropout "
        "ends at accuracy 0.784-0.821, F1 0.850-0.874 on a 2-core Intel Xeon with AMX-BF16's seeds 0-4, the first "
        "run of a sweep process in 185 s where the recipe before (lr 5e-4, dropout 0.1: the dropout copies the input "
        "of 37 adapted layers every step) took 255 s; at lr 5e-4 without dropout seed 0 fell to accuracy 0.694. "
        "Later seeds in one sweep process ran slower (195-269 s), which the CoLA and prompt sweeps did not show. The "
        "recipe before held the floors on seeds 0-4 on the AMD EPYC (accuracy 0.787-0.809, F1 0.851-0.864; 314-393 s "
        "a run) and on the Xeon's seeds 3 and 1 (0.814, 0.787); query/value only at 1e-3 fell to the majority class "
        "on seeds 0 and 3. It trains 339K parameters, 1.5% of the encoder; not yet rerun on the EPYC. `reproduce`'s "
        "seed 43 ends at accuracy 0.752, F1 0.834 on the Xeon (benchmarks/reproduce/): the floors are not held "
        "beyond seeds 0-4.",
    ),
    ("mrpc", "prompt"): Recipe(
        learning_rate=0.1,
        options={"init_text": "Do these two sentences mean the same thing?"},
        chosen_by="benchmarks/sweeps/mrpc-prompt.jsonl: the prompt started as the task's question at lr 0.1 "
        "ends at accuracy >= 0.703 on seeds 0-4 (H200; its worst, seed 3, ends at 0.708 on the 2-core CPU in "
        "241 s) where a random start at lr 0.03 left seed 1 at 0.699; the question at lr 0.03 or four passes "
        "left a seed at 0.691-0.696. Under the training loop's revision 2 the CPU's seeds 0-4 end at 0.689-0.716 "
        "(seed 1 under the floor), seeds 42 (the Train tab's default) and 43 at 0.696; on a 2-core Intel Xeon with "
        "AMX-BF16 `reproduce`'s seeds 42-44 end at 0.716, 0.723, 0.689 (benchmarks/reproduce/): "
        "the floor, 1.6 points above the majority class, sits inside the spread between seeds; on that Xeon the "
        "sweep's seeds 0-4 end at 0.701-0.718 (150-164 s a run). 50 virtual tokens, or batch 32 "
        "at lr 0.2, were no surer on the H200 (worst 0.694, 0.654); averaging the weights over the last quarter of "
        "the steps ends the Intel CPU's seeds 0-4 at 0.703-0.721, within the same spread. " + GPU_SWEEP,
    ),
    ("mrpc", "selective"): Recipe(
        learning_rate=1e-4,
        options={"top_k": 4},
        chosen_by="benchmarks/sweeps/mrpc-selective.jsonl: the top 4 of 6 layers at lr 1e-4 hold the floors on "
        "the 2-core CPU's seeds 0-4 (accuracy 0.806-0.836, F1 0.862-0.885; 155-175 s a run) where the top 3 "
        "left seed 4's F1 at 0.836 (CPU) and 0.837 (H200), and the top 2 at 3e-4 seed 0 at accuracy 0.70 "
        "(H200). 32% of the encoder trains instead of 24%. Under the training loop's revision 2 the CPU's seeds "
        "0-4 end at accuracy 0.804-0.831, F1 0.861-0.880 (147-159 s a run).",
    ),
    ("cola", "full"): Recipe(
        learning_rate=7e-5,
        options={"reinit_top_layers": 1},
        chosen_by="benchmarks/sweeps/cola-full.jsonl: with its top layer and pooler started afresh (Zhang et al. "
        "2021) full fine-tuning at lr 7e-5 ends at MCC 0.244-0.318 (mean 0.282) on a 2-core Intel Xeon with "
        "AMX-BF16's seeds 0-9, 155-178 s a run alone, where every layer as pretrained ended at 0.203-0.296 (mean "
        "0.259), four seeds of ten under the 0.25 floor (0: 0.245, 4: 0.239, 5: 0.242, 9: 0.203). Seeds 0-4 now end "
        "at 0.262-0.318; seed 5 stays under the floor (0.244) as it does with every recipe tried. The packaged "
        "encoder's top layer was shaped for sentence similarity through mean pooling; a linear probe on its [CLS] "
        "features scores MCC 0.05. Before, as pretrained: lr 5e-5 left the H200's seed 3 at 0.249; four passes left "
        "the CPU's seed 0 at 0.246 in 281 s; lr 1e-4 left seed 2 at 0.192; two passes at batch 32 fell to 0.15; "
        "layer-wise learning-rate decay (0.8 or 0.9) raised the H200's mean over seeds 0-7 to 0.277-0.289 but left "
        "its seed 4 at 0.240-0.244; averaging the weights over the last quarter of the steps raised the Intel CPU's "
        "mean over seeds 0-7 from 0.262 to 0.266 and left seed 5 at 0.233. " + GPU_SWEEP,
    ),
    ("cola", "lora"): Recipe(
        learning_rate=5e-4,
        epochs=4.0,
        options={"target_modules": "query,key,value,dense", "dropout": 0.0},
        chosen_by="benchmarks/sweeps/cola-lora.jsonl: LoRA on every linear layer at lr 5e-4 without dropout over "
        "four passes ends at MCC 0.224-0.285 (mean 0.252) on the 2-core CPU's seeds 0-4 under the training loop's "
        "revision 2, 181-204 s a run, where three passes ended at 0.187-0.230 (mean 0.209; seeds 1 and 3 under "
        "the floor; 0.215-0.258 under revision 1). With LoRA's dropout 0.1 seed 4 stayed at 0.168 (CPU) and "
        "0.198 (H200), even over four passes (0.191, H200); lr 7e-4, rank 16, or rank 16 on every training "
        "example each left a seed at 0.169-0.194 (H200); query/value only at 1e-3 ended at 0.000-0.189 (H200). On a "
        "2-core Intel Xeon with AMX-BF16 seeds 0-4 end at 0.225-0.252 (139-170 s a run).",
    ),
    ("cola", "selective"): Recipe(
        learning_rate=1e-4,
        epochs=4.0,
        options={"top_k": 4},
        chosen_by="benchmarks/sweeps/cola-selective.jsonl: the top 4 of 6 layers at lr 1e-4 over four passes end at "
        "MCC 0.276-0.304 (mean 0.287) on the 2-core CPU's seeds 0-4, 143-191 s a run, where three passes left seed "
        "0 at 0.245 (0.244 at lr 1.5e-4); every top-3 recipe tried (lr 7e-5 to 2e-4, three or four passes) left a "
        "seed at 0.20-0.234. 32% of the encoder trains instead of 24%, as on MRPC. Seed 43 ends at 0.238 on an AMD "
        "EPYC and 0.248 on an Intel Xeon (benchmarks/reproduce/): the floor is not yet held beyond seeds 0-4. "
        "Under the training loop's revision 2 "
        "the CPU's seeds 0-4 end at 0.266-0.311 (mean 0.292; 138-158 s a run); on a 2-core Intel Xeon with AMX-BF16 "
        "seeds 0 and 4 end at 0.309 and 0.295 (104-106 s a run).",
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
