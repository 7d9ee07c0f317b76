"""Numeric precision: what this machine can do fast, and the one autocast every forward pass goes through.

``auto`` picks bf16 autocast where the hardware computes bf16 natively — CUDA GPUs that support it, and
CPUs with AVX512-BF16 or AMX-BF16 (read from the CPU's flags at run time, never assumed) — fp16 with loss
scaling on older GPUs, and fp32 otherwise. Training (the Trainer's own autocast, dev evaluations
included) and ``predict`` use the same precision, recorded in each run's ``run.json``, so the dev metrics in
Results and the Playground's answers come from the same arithmetic.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterator

import torch

from .hardware import cpu_model, on_zerogpu

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # x86 CPU flags of native bf16 arithmetic


class PrecisionError(ValueError):
    """A precision this machine cannot train in; the message says which ones it can."""


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere, which means 'assume nothing')."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_native_bf16() -> bool:
    return any(flag in cpu_flags() for flag in NATIVE_BF16_FLAGS)


def device_type() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_precision(asked: str, device: str | None = None) -> str:
    """The concrete precision ('fp32', 'bf16' or 'fp16') a run asking for `asked` trains in on this machine
    (on `device`, 'cpu' or 'cuda': default this machine's). Raises PrecisionError for one the machine cannot do
    (fp16 on a CPU; bf16 on a GPU without it)."""
    if asked not in PRECISIONS:
        raise PrecisionError(f"unknown precision {asked!r}; choose one of: {', '.join(PRECISIONS)}")
    on_gpu = (device or device_type()) == "cuda"
    gpu_bf16 = on_gpu and _gpu_has_bf16()
    if asked == "auto":
        if on_gpu:
            return "bf16" if gpu_bf16 else "fp16"
        return "bf16" if cpu_has_native_bf16() else "fp32"
    if asked == "fp16" and not on_gpu:
        raise PrecisionError("fp16 needs a CUDA GPU; on a CPU use bf16 or fp32 (or auto)")
    if asked == "bf16" and on_gpu and not gpu_bf16:
        raise PrecisionError("this GPU has no bf16; use fp16 or fp32 (or auto)")
    return asked


def _gpu_has_bf16() -> bool:
    # In a ZeroGPU app's process CUDA is only emulated (core/hardware.py): asking would initialise it. Every GPU
    # ZeroGPU lends (H200 slices, RTX Pro 6000 Blackwell halves) computes in bf16.
    return True if on_zerogpu() and not torch.cuda.is_initialized() else torch.cuda.is_bf16_supported()


def serving_precision(trained: str | None) -> str:
    """The precision to predict with for a run trained in `trained` (older runs: fp32). Predictions run on the app's
    CPU whatever the run trained on (engine/predict.py); a CPU cannot run fp16 autocast well, so an fp16 GPU run
    answers in fp32; bf16 runs answer in bf16, as they were scored."""
    if trained not in ("bf16", "fp16"):
        return "fp32"
    return "fp32" if trained == "fp16" else trained


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The dtype autocast computes matmuls in for `precision` (None: plain fp32)."""
    return _DTYPES.get(precision)


@contextlib.contextmanager
def autocast(precision: str, device: str | None = None) -> Iterator[None]:
    """torch.autocast in `precision` ('fp32': plain fp32) on `device` (default: this machine's)."""
    if precision not in _DTYPES:
        yield
        return
    with torch.autocast(device_type=device or device_type(), dtype=_DTYPES[precision]):
        yield


def step_seconds(step: Callable[[], object], repeats: int, min_seconds: float = 0.0) -> list[float]:
    """Wall seconds of `step` (waited for on a GPU), at least `repeats` times and `min_seconds` in all, after 3
    warm-ups (thread pools; bf16's kernels are compiled on first use)."""

    def timed() -> float:
        started = time.perf_counter()
        step()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter() - started

    for _ in range(3):
        timed()
    times: list[float] = []
    while len(times) < repeats or sum(times) < min_seconds:
        times.append(timed())
    return times


def matmul_flops(precision: str, n: int = 1024, repeats: int = 12) -> float:
    """This machine's matmul FLOP/s for n x n matrices in `precision`, through the autocast training uses:
    the best of `repeats` (step_seconds)."""
    a, b = torch.randn(n, n, device=device_type()), torch.randn(n, n, device=device_type())
    with autocast(precision):
        return 2 * n**3 / min(step_seconds(lambda: a @ b, repeats))


def machine_capabilities() -> dict:
    """What the benchmark reports about the machine it measured."""
    facts = {
        "cpu": cpu_model(),
        "cpu_threads": torch.get_num_threads(),
        "cpu_cores": os.cpu_count(),
        "cpu_native_bf16": cpu_has_native_bf16(),
        "cpu_bf16_flags": sorted(f for f in cpu_flags() if "bf16" in f or f.startswith("amx")),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "auto_precision": resolve_precision("auto"),
        "torch": torch.__version__,
    }
    if torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name(0)
        facts["gpu_bf16"] = torch.cuda.is_bf16_supported()
    return facts
