"""The benchmark's Markdown table (BENCHMARKS.md) from its JSON report, and the machine it ran on."""

from __future__ import annotations

import platform
from pathlib import Path


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
            f"(the plain setup): **{c['speedup']}x**. Both include computing the cache.",
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
