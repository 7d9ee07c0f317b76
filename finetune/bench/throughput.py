"""Training throughput: the engine's setup against a run_glue-style baseline, and selective's cache."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from transformers import DataCollatorWithPadding, TrainerCallback

from ..core.data import load_glue, tokenize
from ..core.methods import get_method
from ..core.methods.base import TrainingSetup, plain_setup
from ..core.models import ModelSource, load_classifier
from ..core.precision import autocast, resolve_precision
from ..core.tasks import get_task
from ..engine.config import RunConfig, resolve_config, steps_for
from ..engine.train import build_trainer


class TrainingLoopClock(TrainerCallback):
    """Times the training loop (every step), not the Trainer's one-off set-up before it (data loader,
    optimizer, accelerate), which a real run of hundreds of steps amortises."""

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_train_end(self, args, state, control, **kwargs):
        self.seconds = time.perf_counter() - self.started


def train_once(config: RunConfig, source: ModelSource, tokenizer, data, setup_kind: str) -> dict:
    """Train `config` once over `data["train"]` with evaluation off; return samples/s and tokens/s.
    setup_kind: "engine" (the method's own setup, length-grouped batches), "plain" (the model itself,
    length-grouped batches: selective without its cache) or "baseline" (run_glue: padded to 128,
    random batches)."""
    task, method = get_task(config.task), get_method(config.method)
    if setup_kind == "baseline":  # run_glue defaults: pad_to_max_length=True, max_seq_length=128
        encoded = data.map(
            lambda b: tokenizer(*[b[k] for k in task.text_keys], padding="max_length", max_length=128, truncation=True),
            batched=True,
            remove_columns=list(task.text_keys),
        )
    else:
        encoded = tokenize(data, tokenizer, task, config.max_seq_length)
    real_tokens = sum(sum(mask) for mask in encoded["train"]["attention_mask"])
    torch.manual_seed(config.seed)
    options = method.options(**config.method_options)
    model = method.prepare(load_classifier(source, task), options, source)
    collator = DataCollatorWithPadding(tokenizer)
    with autocast(resolve_precision(config.precision)):  # as train.fit builds it
        setup: TrainingSetup = (
            method.training_setup(model, options, encoded, collator)
            if setup_kind == "engine"
            else plain_setup(model, encoded, collator)
        )
    assert config.batch_size is not None and config.epochs is not None
    clock = TrainingLoopClock()
    with tempfile.TemporaryDirectory() as out:
        max_steps = steps_for(len(encoded["train"]), config.batch_size, config.epochs)
        trainer = build_trainer(config, setup, tokenizer, Path(out), max_steps, callbacks=[clock])
        trainer.args.eval_strategy = "no"
        trainer.args.save_strategy = "no"  # no resumable checkpoints: only the steps are timed
        if setup_kind == "baseline":
            trainer.args.train_sampling_strategy = "random"
        trainer.train()
    # Selective's cache is computed while the Trainer builds its data loader; its cost counts in full.
    seconds = clock.seconds + setup.extra_seconds()
    return {
        "seconds": seconds,
        "samples_per_s": len(encoded["train"]) * config.epochs / seconds,
        "tokens_per_s": real_tokens * config.epochs / seconds,
    }


def training_throughput(
    methods: list[str], source: ModelSource, tokenizer, data_dir: str, samples: int, batch_size: int, repeats: int
) -> dict:
    """Per method: the engine in the lab's default precision (auto) and in fp32, and the run_glue-style
    baseline (fp32, as run_glue trains by default), interleaved so drift hits all three alike."""
    data = load_glue(get_task("sst2"), data_dir, max_train_samples=samples, max_eval_samples=8, seed=0)
    results = {}
    for name in methods:
        common: dict[str, Any] = dict(task="sst2", method=name, model=source.name, batch_size=batch_size, epochs=1)
        auto, _ = resolve_config(RunConfig(**common, precision="auto"))
        fp32, _ = resolve_config(RunConfig(**common, precision="fp32"))
        ours, ours_fp32, base = [], [], []
        for _ in range(repeats):
            ours.append(train_once(auto, source, tokenizer, data, "engine"))
            ours_fp32.append(train_once(fp32, source, tokenizer, data, "engine"))
            base.append(train_once(fp32, source, tokenizer, data, "baseline"))
        med = {key: statistics.median(r[key] for r in ours) for key in ("samples_per_s", "tokens_per_s")}
        med_fp32 = {key: statistics.median(r[key] for r in ours_fp32) for key in ("samples_per_s", "tokens_per_s")}
        med_base = {key: statistics.median(r[key] for r in base) for key in ("samples_per_s", "tokens_per_s")}
        results[name] = {
            "precision": resolve_precision("auto"),
            "samples_per_s": round(med["samples_per_s"], 2),
            "tokens_per_s": round(med["tokens_per_s"], 1),
            "fp32_samples_per_s": round(med_fp32["samples_per_s"], 2),
            "fp32_tokens_per_s": round(med_fp32["tokens_per_s"], 1),
            "auto_vs_fp32": round(med["samples_per_s"] / med_fp32["samples_per_s"], 2),
            "baseline_samples_per_s": round(med_base["samples_per_s"], 2),
            "baseline_tokens_per_s": round(med_base["tokens_per_s"], 1),
            "speedup": round(med["samples_per_s"] / med_base["samples_per_s"], 2),
        }
        print(f"[train] {name}: {results[name]}", file=sys.stderr, flush=True)
    return results


def selective_cache_gain(
    source: ModelSource, tokenizer, data_dir: str, samples: int, batch_size: int, repeats: int, epochs: int = 3
) -> dict:
    """Selective tuning over several epochs with the frozen layers' outputs cached (the engine's
    setup) vs recomputed every step (the plain setup), interleaved."""
    data = load_glue(get_task("sst2"), data_dir, max_train_samples=samples, seed=0)
    config, _ = resolve_config(
        RunConfig(task="sst2", method="selective", model=source.name, batch_size=batch_size, epochs=epochs)
    )
    cached, recomputed = [], []
    for _ in range(repeats):
        cached.append(train_once(config, source, tokenizer, data, "engine")["samples_per_s"])
        recomputed.append(train_once(config, source, tokenizer, data, "plain")["samples_per_s"])
    cached_median, recomputed_median = statistics.median(cached), statistics.median(recomputed)
    result = {
        "epochs": epochs,
        "cached_samples_per_s": round(cached_median, 2),
        "recomputed_samples_per_s": round(recomputed_median, 2),
        "speedup": round(cached_median / recomputed_median, 2),  # from the unrounded medians
    }
    print(f"[selective cache] {result}", file=sys.stderr, flush=True)
    return result
