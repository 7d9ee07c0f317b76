"""The benchmark's Markdown table (BENCHMARKS.md) from its JSON report, and the machine it ran on."""

from __future__ import annotations


def markdown(report: dict) -> str:
    """BENCHMARKS.md from a benchmark report (latest.json): one section per part the run measured."""
    lines = _machine_and_throughput(report)
    for part, section in (("selective_cache", _selective_cache), ("efficiency", _efficiency),
                          ("inference", _prediction), ("classroom", _classroom)):  # fmt: skip
        if part in report:
            lines += section(report)
    return "\n".join(lines) + "\n"


def _machine_and_throughput(report: dict) -> list[str]:
    """The machine, the command, and training throughput per method."""
    machine = report["machine"]
    bf16 = ", ".join(machine.get("cpu_bf16_flags") or []) or "no native bf16"
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {machine['cpu']} ({bf16}; torch CPU capability {machine['cpu_capability']}), "
        f"{machine['cpu_threads']} torch threads, torch {machine['torch']}"
        + (f", GPU {machine['gpu']}" if machine.get("gpu") else "")
        + f"; `auto` precision here = **{machine['auto_precision']}**. Command: `{report['command']}`",
        f"Model: `{report['config']['model']}`; data: real SST-2; batch size {report['config']['batch_size']}; "
        f"throughput over {report['config']['throughput_samples']} training examples, median of "
        f"{report['config']['repeats']} interleaved repeats.",
        "",
        "## Training throughput: auto precision vs fp32, and vs the run_glue-style baseline",
        "",
        "Baseline: run_glue's defaults (pad every example to 128 tokens, random batches, fp32).",
        "",
        "| method | auto samples/s | fp32 samples/s | auto vs fp32 | baseline samples/s | auto vs baseline |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in report["methods"].items():
        lines.append(
            f"| {name} | {r['samples_per_s']} ({r['precision']}) | {r['fp32_samples_per_s']} | {r['auto_vs_fp32']}x | "
            f"{r['baseline_samples_per_s']} | {r['speedup']}x |"
        )
    return lines


def _selective_cache(report: dict) -> list[str]:
    """Selective layers with their frozen layers cached vs recomputed."""
    c = report["selective_cache"]
    lines = [
        "",
        f"## Selective layers: frozen layers cached vs recomputed ({c['epochs']} epochs)",
        "",
        f"{c['cached_samples_per_s']} samples/s with the frozen layers' outputs computed once and cached "
        f"(the engine's default) vs {c['recomputed_samples_per_s']} recomputing them every step "
        f"(the plain setup): **{c['speedup']}x**. Both include computing the cache.",
    ]
    return lines


def _efficiency(report: dict) -> list[str]:
    """Full fine-tuning's achieved FLOP/s against each precision's matmul peak."""
    e = report["efficiency"]
    lines = [
        "",
        "## Hardware efficiency (full fine-tuning), against the matmul peak of the precision used",
        "",
        "| precision | measured matmul peak GFLOP/s | achieved GFLOP/s | share of peak |",
        "|---|---|---|---|",
        *[
            f"| {p} | {r['matmul_peak_gflops']} | {r['full_ft_achieved_gflops']} | {100 * r['fraction_of_peak']:.1f}% |"
            for p, r in e["precisions"].items()
        ],
        "",
        f"({e['note']}; {e['avg_tokens_per_example']} tokens per example on average.)",
    ]
    return lines


def _prediction(report: dict) -> list[str]:
    """Four-way prediction: latency, throughput, memory, and one pass over the dev set."""
    i, m = report["inference"], report["memory"]
    lines = [
        "",
        "## Side-by-side prediction (four methods)",
        "",
        '| p50 latency | p95 latency | batch of 64, sentences/s | "Why?" (four methods\' attributions), p50 |',
        "|---|---|---|---|",
        f"| {i['four_way_latency_p50_ms']} ms | {i['four_way_latency_p95_ms']} ms | "
        f"{i['four_way_batch64_sentences_per_s']} | {i.get('four_way_explain_p50_ms', 'n/a')} ms |",
        "",
        "| memory | one model | four loaded as the Playground holds them (shared base) | four independent copies |",
        "|---|---|---|---|",
        f"| weights in memory (distinct tensors) | {m['one_model_tensor_mb']} MB | {m['four_shared_tensor_mb']} MB "
        f"({m['shared_vs_one_model_tensors']}x) | {m['four_independent_tensor_mb']} MB "
        f"({m['independent_vs_one_model_tensors']}x) |",
        f"| resident memory added (RSS) | {m['one_model_mb']} MB | {m['four_shared_mb']} MB "
        f"({m['shared_vs_one_model']}x) | {m['four_independent_mb']} MB ({m['independent_vs_one_model']}x) |",
        "",
        "RSS counts only the pages touched: the memory-mapped word-embedding rows a forward pass never reads "
        "stay out of it, so weights-in-memory is the exact comparison. The Playground holds each run's fp32 model "
        "(explanations run it) and, for runs trained in bf16 or fp16, its linear weights cast once to that "
        "precision (predictions run them: autocast would recast them at every sentence); the independent copies "
        "are fp32 models only.",
        "",
        "## Evaluation pass (whole SST-2 dev set)",
        "",
        "| method | seconds | accuracy |",
        "|---|---|---|",
        *[f"| {n} | {r['seconds']} | {r['accuracy']} |" for n, r in report["evaluation"].items()],
    ]
    return lines


def _classroom(report: dict) -> list[str]:
    """Train all four with the classroom defaults, per task and precision."""
    lines = [
        "",
        '## Classroom defaults: "Train all four" per task and precision',
        "",
        "| task | precision | method | train examples | wall s | estimated s | accuracy | F1 | MCC | trainable % |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in report["classroom"]:
        precision = f"{c['precision']} ({c['resolved_precision']})"
        lines += [
            f"| {c['task']} | {precision} | {n} | {r['train_samples']} | {r['wall_seconds']} | "
            f"{r.get('estimated_seconds', '')} | {r['accuracy']} | {r['f1']} | {r['mcc']} | "
            f"{r['trainable_percent']} |"
            for n, r in c["methods"].items()
        ]
        estimated = sum(r.get("estimated_seconds", 0) for r in c["methods"].values())
        lines.append(f"| {c['task']} | {precision} | **all four** | | **{c['total_wall_seconds']}** | "
                     f"{round(estimated, 1) or ''} | | | | |")  # fmt: skip
    lines += ["", "Estimated: what the Train tab says before a run starts (finetune/engine/estimate.py)."]
    caps = {c["samples_cap"] for c in report["classroom"] if c.get("samples_cap")}
    if caps:
        lines.append(f"Capped at {min(caps)} training and dev examples a run (`--classroom-samples`): a check of the "
                     "benchmark itself, not the classroom's figures.")  # fmt: skip
    return lines
