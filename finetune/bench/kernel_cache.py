"""``python -m finetune.bench.kernel_cache``: how much slower short (CoLA-length) bf16 matmuls get in one process
after it has computed many other shapes (MRPC lengths, dev and Playground batches), with oneDNN's default kernel
cache and with the lab's (core/environment.KERNEL_CACHE_CAPACITY). Each capacity runs in a process of its own,
since oneDNN reads it on first use."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import torch

from ..core.environment import KERNEL_CACHE_CAPACITY, KERNEL_CACHE_VARIABLE
from ..core.precision import autocast

HIDDEN, INTERMEDIATE = 384, 1536  # the packaged encoder's widths
SHORT = range(5, 30)  # tokens per sentence of a CoLA batch
LONG = range(30, 128)  # and of an MRPC one


def layer_step(weights: list[torch.Tensor], tokens: int, batch: int = 16) -> None:
    """An encoder layer's linear layers and a LoRA-sized pair, forward and backward, in bf16 autocast."""
    with autocast("bf16", device="cpu"):
        out = torch.randn(batch * tokens, HIDDEN)
        for weight in weights:
            out = torch.nn.functional.linear(out, weight)
        out.float().sum().backward()


def short_batch_ms(weights: list[torch.Tensor], repeats: int = 3) -> float:
    # Its own loop, not core/precision.step_seconds: that one warms up first, and what the process does to short
    # batches right after many other shapes is the measurement.
    started = time.perf_counter()
    for _ in range(repeats):
        for tokens in SHORT:
            layer_step(weights, tokens)
    return (time.perf_counter() - started) / repeats / len(SHORT) * 1000


def measure() -> tuple[float, float]:
    """(ms per short batch in a fresh process, after many long and wide batches)."""
    torch.manual_seed(0)
    shapes = [(HIDDEN, HIDDEN), (HIDDEN, INTERMEDIATE), (INTERMEDIATE, HIDDEN), (HIDDEN, 8), (8, HIDDEN)]
    weights = [torch.randn(o, i, requires_grad=True) for i, o in shapes]
    short_batch_ms(weights, repeats=2)  # compiled once
    fresh = short_batch_ms(weights)
    for tokens in LONG:
        layer_step(weights, tokens)
        for batch in (1, 64):  # a Playground sentence, a dev-evaluation batch
            layer_step(weights, tokens, batch)
    return fresh, short_batch_ms(weights)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        fresh, later = measure()
        print(f"{os.environ[KERNEL_CACHE_VARIABLE]}\t{fresh:.2f}\t{later:.2f}")
        return
    print("kernel cache capacity | short bf16 batch, fresh process (ms) | after many other shapes (ms)")
    for capacity in (1024, KERNEL_CACHE_CAPACITY):
        env = {**os.environ, KERNEL_CACHE_VARIABLE: str(capacity)}
        line = subprocess.run(
            [sys.executable, "-m", "finetune.bench.kernel_cache", "--measure"],
            env=env, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        print(" | ".join(line.split("\t")))


if __name__ == "__main__":
    main()
