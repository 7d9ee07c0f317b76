"""Benchmark: training and side-by-side inference, measured against a run_glue-style baseline.

    python -m finetune.bench [--data-dir DIR] [--model M] [--repeats 3] [--out benchmarks/latest.json]

Everything runs in one process (memory in child processes), interleaved (ours, baseline, ours, ...)
on the same model, data, batch size and threads, and reports medians; ratios from one run are what
to compare (absolute numbers drift with the machine's load). Writes JSON and a Markdown table.

The baseline is what a user would otherwise run: transformers' Trainer configured like
``examples/pytorch/text-classification/run_glue.py`` defaults — every example padded to 128
tokens, random batches (no length grouping) — with the same method applied to the same model.

Modules: ``throughput`` (training samples/s, selective's cache), ``efficiency`` (FLOP/s against the
matmul peak), ``inference`` (four-way latency, evaluation pass), ``memory`` (+ ``memory_probe``, the
child program), ``classroom`` ("train all" at the defaults), ``report`` (Markdown), ``run`` (the CLI).
"""
