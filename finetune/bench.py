"""Benchmark: training and side-by-side inference, measured against a run_glue-style baseline.

    python -m finetune.bench [--glue-dir DIR] [--model M] [--repeats 3] [--out benchmarks/latest.json]

Everything runs in this one process, interleaved (ours, baseline, ours, ...) on the same model,
data, batch size and threads, and reports medians; ratios from one run are what to compare
(absolute numbers drift with the machine's load). Writes JSON and a Markdown table.

The baseline is what a user would otherwise run: transformers' Trainer configured like
``examples/pytorch/text-classification/run_glue.py`` defaults — every example padded to 128
tokens, random batches (no length grouping) — with the same method applied to the same model.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import TrainerCallback

from .data import load_glue, tokenize
from .methods import METHODS, get_method
from .models import PACKAGED_MODEL, load_classifier, load_tokenizer, resolve_model
from .tasks import get_task
from .train import RunConfig, build_trainer, classroom_configs, resolve_config, train

REPO = Path(__file__).resolve().parent.parent


# -- 1. training throughput -----------------------------------------------------------------------
def _train_once(config: RunConfig, source, tokenizer, data, baseline: bool) -> dict:
    """Train `config` once over `data["train"]` with evaluation off; return samples/s and tokens/s."""
    task, method = get_task(config.task), get_method(config.method)
    if baseline:  # run_glue defaults: pad_to_max_length=True, max_seq_length=128
        encoded = data.map(
            lambda b: tokenizer(*[b[k] for k in task.text_keys], padding="max_length", max_length=128, truncation=True),
            batched=True,
            remove_columns=list(task.text_keys),
        )
    else:
        encoded = tokenize(data, tokenizer, task, config.max_seq_length)
    real_tokens = sum(sum(mask) for mask in encoded["train"]["attention_mask"])
    torch.manual_seed(config.seed)
    model = method.prepare(load_classifier(source, task), method.options(**config.method_options), source)
    clock = _TrainingLoopClock()
    with tempfile.TemporaryDirectory() as out:
        trainer = build_trainer(config, model, tokenizer, encoded, Path(out), callbacks=[clock], optimized=not baseline)
        trainer.args.eval_strategy = "no"
        trainer.train()
    # Selective's cache is computed while the Trainer builds its data loader; its cost counts in full.
    seconds = clock.seconds + getattr(trainer.train_dataset, "compute_seconds", 0.0)
    return {
        "seconds": seconds,
        "samples_per_s": len(encoded["train"]) * config.epochs / seconds,
        "tokens_per_s": real_tokens * config.epochs / seconds,
    }


class _TrainingLoopClock(TrainerCallback):
    """Times the training loop (every step), not the Trainer's one-off set-up before it (data loader,
    optimizer, accelerate), which a real run of hundreds of steps amortises."""

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_train_end(self, args, state, control, **kwargs):
        self.seconds = time.perf_counter() - self.started


def training_throughput(args, source, tokenizer) -> dict:
    task = get_task("sst2")
    data = load_glue(task, args.glue_dir, max_train_samples=args.throughput_samples, max_eval_samples=8, seed=0)
    results = {}
    for name in args.methods:
        config, _ = resolve_config(
            RunConfig(task="sst2", method=name, model=source.name, batch_size=args.batch_size, epochs=1)
        )
        ours, base = [], []
        for _ in range(args.repeats):  # interleaved, so drift hits both alike
            ours.append(_train_once(config, source, tokenizer, data, baseline=False))
            base.append(_train_once(config, source, tokenizer, data, baseline=True))
        med = {key: statistics.median(r[key] for r in ours) for key in ("samples_per_s", "tokens_per_s")}
        med_base = {key: statistics.median(r[key] for r in base) for key in ("samples_per_s", "tokens_per_s")}
        results[name] = {
            "samples_per_s": round(med["samples_per_s"], 2),
            "tokens_per_s": round(med["tokens_per_s"], 1),
            "baseline_samples_per_s": round(med_base["samples_per_s"], 2),
            "baseline_tokens_per_s": round(med_base["tokens_per_s"], 1),
            "speedup": round(med["samples_per_s"] / med_base["samples_per_s"], 2),
        }
        print(f"[train] {name}: {results[name]}", file=sys.stderr, flush=True)
    return results


def selective_cache_gain(args, source, tokenizer, epochs: int = 3) -> dict:
    """Selective tuning over several epochs with the frozen layers' outputs cached (the engine's
    default) vs recomputed every step (FINETUNE_SELECTIVE_CACHE=0), interleaved."""
    data = load_glue(get_task("sst2"), args.glue_dir, max_train_samples=args.throughput_samples, seed=0)
    config, _ = resolve_config(
        RunConfig(task="sst2", method="selective", model=source.name, batch_size=args.batch_size, epochs=epochs)
    )
    cached, recomputed = [], []
    for _ in range(args.repeats):
        cached.append(_train_once(config, source, tokenizer, data, baseline=False)["samples_per_s"])
        os.environ["FINETUNE_SELECTIVE_CACHE"] = "0"
        try:
            recomputed.append(_train_once(config, source, tokenizer, data, baseline=False)["samples_per_s"])
        finally:
            del os.environ["FINETUNE_SELECTIVE_CACHE"]
    result = {
        "epochs": epochs,
        "cached_samples_per_s": round(statistics.median(cached), 2),
        "recomputed_samples_per_s": round(statistics.median(recomputed), 2),
    }
    result["speedup"] = round(result["cached_samples_per_s"] / result["recomputed_samples_per_s"], 2)
    print(f"[selective cache] {result}", file=sys.stderr, flush=True)
    return result


# -- 2. hardware efficiency -----------------------------------------------------------------------
def matmul_peak_flops(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        torch.matmul(a, b)
        times.append(time.perf_counter() - started)
    return 2 * n**3 / min(times)


def training_flops_per_token(model_config, avg_len: float) -> float:
    """Matmul FLOPs per token for one training step (forward + backward = 3x forward):
    the dense layers (2 FLOPs per weight) plus attention scores and context (2 x 2 x len x hidden)."""
    h, layers, inter = model_config.hidden_size, model_config.num_hidden_layers, model_config.intermediate_size
    dense = layers * (4 * h * h + 2 * h * inter) + h * h  # attention projections, MLP, pooler
    attention = layers * 2 * avg_len * h
    return 3 * 2 * (dense + attention)


def hardware_efficiency(throughput: dict, source, tokenizer, args) -> dict:
    import transformers

    config = transformers.AutoConfig.from_pretrained(source.path)
    data = load_glue(get_task("sst2"), args.glue_dir, max_train_samples=args.throughput_samples, seed=0)
    lengths = [
        len(ids) for ids in tokenizer(list(data["train"]["sentence"]), truncation=True, max_length=128)["input_ids"]
    ]
    avg_len = sum(lengths) / len(lengths)
    peak = matmul_peak_flops()
    achieved = training_flops_per_token(config, avg_len) * throughput["full"]["tokens_per_s"]
    return {
        "matmul_peak_gflops": round(peak / 1e9, 1),
        "full_ft_achieved_gflops": round(achieved / 1e9, 1),
        "fraction_of_peak": round(achieved / peak, 5),
        "avg_tokens_per_example": round(avg_len, 1),
        "note": "achieved counts only real (unpadded) tokens' matmul FLOPs, forward + backward",
    }


# -- 3/4. side-by-side prediction, memory, evaluation pass ---------------------------------------
def inference(root: Path, args) -> dict:
    from .predict import Predictor, classify

    predictor = Predictor(root)
    sentences = list(load_glue(get_task("sst2"), args.glue_dir)["validation"]["sentence"])
    predictor.predict("sst2", sentences[0])  # load everything once
    latencies = []
    for sentence in sentences[: args.latency_samples]:
        started = time.perf_counter()
        predictor.predict("sst2", sentence)
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    batch = sentences[:64]
    task = get_task("sst2")
    started = time.perf_counter()
    for name in METHODS:
        from .checkpoints import latest_run

        run = latest_run("sst2", name, root)
        model, tokenizer = predictor.model_for(run)
        classify(model, tokenizer, task, batch, None, 128)
    batch_seconds = time.perf_counter() - started
    return {
        "four_way_latency_p50_ms": round(1000 * latencies[len(latencies) // 2], 2),
        "four_way_latency_p95_ms": round(1000 * latencies[int(len(latencies) * 0.95) - 1], 2),
        "four_way_batch64_sentences_per_s": round(64 / batch_seconds, 1),
        "latency_samples": len(latencies),
    }


MEMORY_SCRIPT = """
import gc, json, sys, psutil, torch
from pathlib import Path
from finetune.checkpoints import latest_run
from finetune.methods import METHODS
from finetune.predict import Predictor, load_trained
from finetune.models import load_classifier, resolve_model
from finetune.tasks import get_task
root, mode = Path(sys.argv[1]), sys.argv[2]
runs = [latest_run("sst2", m, root) for m in METHODS]
from finetune.predict import classify, run_tokenizer
task = get_task("sst2")
tokenizer = run_tokenizer(runs[0])
def touch(model):  # a forward pass, so every weight is really resident (safetensors are memory-mapped)
    classify(model, tokenizer, task, ["warm up"], None, 16)
touch(load_classifier(resolve_model(runs[0].info["model"]), task))  # allocator and kernels warmed up first
gc.collect(); before = psutil.Process().memory_info().rss
if mode == "one":
    keep = load_classifier(resolve_model(runs[0].info["model"]), task); touch(keep)
elif mode == "shared":
    keep = Predictor(root); [touch(keep.model_for(r)[0]) for r in runs]
else:
    keep = [load_trained(r) for r in runs]; [touch(m) for m in keep]
gc.collect(); print(json.dumps(psutil.Process().memory_info().rss - before))
"""


def unique_tensor_bytes(models) -> int:
    """Bytes of distinct tensor storage across models: shared tensors count once."""
    seen: dict[int, int] = {}
    for model in models:
        for t in [*model.parameters(), *model.buffers()]:
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    return sum(seen.values())


def tensor_memory(root: Path) -> dict:
    from .checkpoints import latest_run
    from .predict import Predictor, load_trained

    runs = [latest_run("sst2", m, root) for m in METHODS]
    shared = Predictor(root)
    shared_models = [shared.model_for(r)[0] for r in runs]
    independent = [load_trained(r) for r in runs]
    one = unique_tensor_bytes([independent[0]])
    return {
        "one_model_tensor_mb": round(one / 1e6, 1),
        "four_shared_tensor_mb": round(unique_tensor_bytes(shared_models) / 1e6, 1),
        "four_independent_tensor_mb": round(unique_tensor_bytes(independent) / 1e6, 1),
        "shared_vs_one_model_tensors": round(unique_tensor_bytes(shared_models) / one, 2),
        "independent_vs_one_model_tensors": round(unique_tensor_bytes(independent) / one, 2),
    }


def memory(root: Path) -> dict:
    def rss(mode: str) -> int:
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_SCRIPT, str(root), mode], capture_output=True, text=True, check=True,
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        return int(out.stdout.strip().splitlines()[-1])

    one, shared, independent = rss("one"), rss("shared"), rss("independent")
    return {
        "one_model_mb": round(one / 1e6, 1),
        "four_shared_mb": round(shared / 1e6, 1),
        "four_independent_mb": round(independent / 1e6, 1),
        "shared_vs_one_model": round(shared / one, 2),
        "independent_vs_one_model": round(independent / one, 2),
    }


def evaluation_pass(root: Path, args) -> dict:
    from .checkpoints import latest_run
    from .predict import load_trained, run_tokenizer

    task = get_task("sst2")
    data = load_glue(task, args.glue_dir, max_train_samples=8)
    results = {}
    for name in METHODS:
        run = latest_run("sst2", name, root)
        config = RunConfig(**run.info["config"])
        tokenizer = run_tokenizer(run)
        encoded = tokenize(data, tokenizer, task, config.max_seq_length)
        with tempfile.TemporaryDirectory() as out:
            trainer = build_trainer(config, load_trained(run), tokenizer, encoded, Path(out))
            started = time.perf_counter()
            metrics = trainer.evaluate()
            seconds = time.perf_counter() - started
        results[name] = {"seconds": round(seconds, 2), "accuracy": round(metrics["eval_accuracy"], 4)}
    return results


# -- 5. classroom budget ----------------------------------------------------------------------------
def classroom(root: Path, args) -> dict:
    started = time.perf_counter()
    per_method = {}
    for config in classroom_configs("sst2", model=args.model, data_dir=args.glue_dir):
        t0 = time.perf_counter()
        result = train(config, root=root)
        per_method[config.method] = {
            "wall_seconds": round(time.perf_counter() - t0, 1),
            "train_seconds": result.run.info["train_seconds"],
            "train_samples": result.run.info["train_samples"],
            "accuracy": round(result.metrics["accuracy"], 4),
            "f1": round(result.metrics["f1"], 4),
            "mcc": round(result.metrics["mcc"], 4),
            "trainable_percent": round(result.run.info["params"]["trainable_percent"], 3),
        }
        print(f"[classroom] {config.method}: {per_method[config.method]}", file=sys.stderr, flush=True)
    return {"total_wall_seconds": round(time.perf_counter() - started, 1), "methods": per_method}


# -- report ---------------------------------------------------------------------------------------------
def markdown(report: dict) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {report['machine']['cpu']}, {report['machine']['threads']} torch threads, "
        f"torch {report['machine']['torch']}. Command: `{report['command']}`",
        f"Model: `{report['config']['model']}`; data: real SST-2; batch size {report['config']['batch_size']}; "
        f"throughput over {report['config']['throughput_samples']} training examples, median of "
        f"{report['config']['repeats']} interleaved repeats.",
        "",
        "## Training throughput vs the run_glue-style baseline (pad to 128, random batches)",
        "",
        "| method | samples/s | tokens/s | baseline samples/s | speed-up | classroom dev accuracy |",
        "|---|---|---|---|---|---|",
    ]
    class_methods = report.get("classroom", {}).get("methods", {})
    for name, r in report["methods"].items():
        acc = class_methods.get(name, {}).get("accuracy", "")
        lines.append(
            f"| {name} | {r['samples_per_s']} | {r['tokens_per_s']} | {r['baseline_samples_per_s']} | "
            f"{r['speedup']}x | {acc} |"
        )
    if "selective_cache" in report:
        c = report["selective_cache"]
        lines += [
            "",
            f"## Selective layers: frozen layers cached vs recomputed ({c['epochs']} epochs)",
            "",
            f"{c['cached_samples_per_s']} samples/s with the frozen layers' outputs computed once and cached "
            f"(the engine's default) vs {c['recomputed_samples_per_s']} recomputing them every step "
            f"(`FINETUNE_SELECTIVE_CACHE=0`): **{c['speedup']}x**. Both include computing the cache.",
        ]
    if "efficiency" in report:
        e = report["efficiency"]
        lines += [
            "",
            "## Hardware efficiency (full fine-tuning)",
            "",
            f"Measured fp32 matmul peak {e['matmul_peak_gflops']} GFLOP/s; full fine-tuning achieves "
            f"{e['full_ft_achieved_gflops']} GFLOP/s = **{100 * e['fraction_of_peak']:.1f}% of peak** "
            f"({e['note']}; {e['avg_tokens_per_example']} tokens per example on average).",
        ]
    if "inference" in report:
        i, m = report["inference"], report["memory"]
        lines += [
            "",
            "## Side-by-side prediction (four methods)",
            "",
            "| p50 latency | p95 latency | batch of 64, sentences/s |",
            "|---|---|---|",
            f"| {i['four_way_latency_p50_ms']} ms | {i['four_way_latency_p95_ms']} ms | "
            f"{i['four_way_batch64_sentences_per_s']} |",
            "",
            "| memory | one model | four loaded, shared base | four independent copies |",
            "|---|---|---|---|",
            f"| weights in memory (distinct tensors) | {m['one_model_tensor_mb']} MB | {m['four_shared_tensor_mb']} MB "
            f"({m['shared_vs_one_model_tensors']}x) | {m['four_independent_tensor_mb']} MB "
            f"({m['independent_vs_one_model_tensors']}x) |",
            f"| resident memory added (RSS) | {m['one_model_mb']} MB | {m['four_shared_mb']} MB "
            f"({m['shared_vs_one_model']}x) | {m['four_independent_mb']} MB ({m['independent_vs_one_model']}x) |",
            "",
            "RSS counts only the pages touched: the memory-mapped word-embedding rows a forward pass never reads "
            "stay out of it, so weights-in-memory is the exact comparison.",
            "",
            "## Evaluation pass (whole SST-2 dev set)",
            "",
            "| method | seconds | accuracy |",
            "|---|---|---|",
            *[f"| {n} | {r['seconds']} | {r['accuracy']} |" for n, r in report["evaluation"].items()],
        ]
    if "classroom" in report:
        c = report["classroom"]
        lines += [
            "",
            f"## Classroom budget: train all four on SST-2 — {c['total_wall_seconds']} s in total",
            "",
            "| method | train examples | wall s | accuracy | F1 | MCC | trainable % |",
            "|---|---|---|---|---|---|---|",
            *[
                f"| {n} | {r['train_samples']} | {r['wall_seconds']} | {r['accuracy']} | {r['f1']} | {r['mcc']} | "
                f"{r['trainable_percent']} |"
                for n, r in c["methods"].items()
            ],
        ]
    return "\n".join(lines) + "\n"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finetune.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--glue-dir", default=os.environ.get("GLUE_DIR"))
    parser.add_argument("--model", default=PACKAGED_MODEL)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--throughput-samples", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--latency-samples", type=int, default=100)
    parser.add_argument("--skip-classroom", action="store_true", help="throughput and efficiency only")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "latest.json"))
    parser.add_argument("--markdown", default=str(REPO / "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    if not args.glue_dir:
        parser.error("set GLUE_DIR or --glue-dir to a local GLUE directory")

    source = resolve_model(args.model)
    tokenizer = load_tokenizer(source)
    report: dict = {
        "command": "python -m finetune.bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "cuda": torch.cuda.is_available(),
        },
        "config": {k: v for k, v in vars(args).items() if k not in ("out", "markdown")},
    }
    report["methods"] = training_throughput(args, source, tokenizer)
    if "selective" in report["methods"]:
        report["selective_cache"] = selective_cache_gain(args, source, tokenizer)
    if "full" in report["methods"]:
        report["efficiency"] = hardware_efficiency(report["methods"], source, tokenizer, args)
    if not args.skip_classroom:
        with tempfile.TemporaryDirectory() as root:
            report["classroom"] = classroom(Path(root), args)
            for name, r in report["classroom"]["methods"].items():
                if name in report["methods"]:
                    report["methods"][name]["classroom_dev_metrics"] = {k: r[k] for k in ("accuracy", "f1", "mcc")}
            report["inference"] = inference(Path(root), args)
            report["memory"] = {**memory(Path(root)), **tensor_memory(Path(root))}
            report["evaluation"] = evaluation_pass(Path(root), args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    Path(args.markdown).write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
