"""What a lab process puts in its environment before the libraries that read it start. Each entry point (app.py,
``python -m finetune``, the benchmarks, a training worker) calls ``settle()`` first; importing the lab changes
nothing, so a notebook or another program that imports it keeps its own environment."""

from __future__ import annotations

import os

from .storage import use_persistent_cache

# oneDNN, which computes bf16 matmuls on a CPU, keeps 1,024 compiled kernels by default, one per matrix shape and
# pass; batches of every length (length-grouped training, three tasks, dev evaluations, the Playground's single
# sentences) outgrow that in one long-lived process such as the app, and past it short bf16 batches run several
# times slower than in a fresh process (python -m finetune.bench.kernel_cache measures it). 16,384 holds 16 times
# as many, for ~50 KB a kernel. oneDNN reads it on first use.
KERNEL_CACHE_VARIABLE = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"
KERNEL_CACHE_CAPACITY = 16_384


def settle() -> None:
    """Before torch computes and before huggingface_hub is imported (it reads HF_HOME once, then): the Hugging Face
    cache on persistent storage when there is some, and oneDNN's larger kernel cache. A value already in the
    environment wins."""
    use_persistent_cache()
    os.environ.setdefault(KERNEL_CACHE_VARIABLE, str(KERNEL_CACHE_CAPACITY))
