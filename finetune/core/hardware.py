"""Where this lab trains: the CPU, a GPU of its own, or ZeroGPU (Spaces' free hardware, a GPU lent per call).

On ZeroGPU (https://huggingface.co/docs/hub/spaces-zerogpu) a GPU exists only inside functions decorated with
`@spaces.GPU`, each call running in a worker process forked from the app; in the app's own process the `spaces`
package *emulates* CUDA (spaces/zero/torch/patching.py makes `torch.cuda.is_available()` answer True there). So
the app's process never asks torch where it trains: it asks this module, which reads the environment Spaces sets
(SPACES_ZERO_GPU, as spaces/config.py does) and, off ZeroGPU, what torch says without initialising CUDA.

LAB_ZEROGPU_EMULATE=1 makes the lab behave as on ZeroGPU on any machine (webui/zerogpu.py's stand-in: forked
workers, pickled arguments, the duration enforced, a quota per visitor), training on that machine's CPU or GPU.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache

ZEROGPU_ENV = "SPACES_ZERO_GPU"  # set by Spaces on ZeroGPU hardware
EMULATE_ENV = "LAB_ZEROGPU_EMULATE"  # the lab's ZeroGPU stand-in (tests, rehearsing a deployment)


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "t", "yes")


def on_zerogpu() -> bool:
    """A real ZeroGPU Space (the `spaces` package is then active)."""
    return _flag(ZEROGPU_ENV)


def zerogpu_emulated() -> bool:
    """The ZeroGPU stand-in is on (and no real ZeroGPU: the real one wins)."""
    return _flag(EMULATE_ENV) and not on_zerogpu()


@dataclass(frozen=True)
class Hardware:
    kind: str  # "cpu" | "gpu" (a GPU of the lab's own) | "zerogpu"
    device: str  # what trains: "AMD EPYC 9B14", "NVIDIA H100 80GB HBM3", ...
    cores: int  # the app machine's CPU cores (the Playground predicts on them, whatever trains)
    emulated: bool = False  # the ZeroGPU stand-in


def training_hardware() -> Hardware:
    """What this process's runs train on, read without initialising CUDA (which, in a ZeroGPU app's process,
    would make every later GPU call fail)."""
    cores = os.cpu_count() or 1
    if on_zerogpu():
        # ZEROGPU_CUDA_DEVICE_NAME: what the spaces package reports as the lent GPU (spaces/config.py)
        return Hardware("zerogpu", os.environ.get("ZEROGPU_CUDA_DEVICE_NAME") or "a GPU lent per call", cores)
    gpu = gpu_name()
    if zerogpu_emulated():
        return Hardware("zerogpu", gpu or cpu_model(), cores, emulated=True)
    if gpu:
        return Hardware("gpu", gpu, cores)
    return Hardware("cpu", cpu_model(), cores)


@cache
def gpu_name() -> str | None:
    """The first CUDA GPU's name, or None without one. torch.cuda.is_available() asks the driver (NVML) without
    creating a CUDA context; the name comes from nvidia-smi, so that the app's process holds no GPU memory."""
    import torch

    if not torch.cuda.is_available():
        return None
    if smi := shutil.which("nvidia-smi"):
        try:
            out = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True,
                                 timeout=10).stdout  # fmt: skip
            if out.strip():
                return out.strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError):
            pass
    return "a CUDA GPU"


@cache
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def this_process_device() -> dict:
    """run.json's record of where a run trained, read inside the process that trains it: the device torch really
    computes on, and its thread count (a run's outcome can depend on it: the order of the arithmetic)."""
    import torch

    on_gpu = torch.cuda.is_available()
    return {
        "device": torch.cuda.get_device_name(0) if on_gpu else cpu_model(),
        "threads": torch.get_num_threads(),
    }
