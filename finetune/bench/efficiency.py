"""Hardware efficiency: full fine-tuning's achieved matmul FLOP/s against the machine's measured peak."""

from __future__ import annotations

import time

import torch
import transformers

from ..core.data import load_glue
from ..core.models import ModelSource, forward_flops_per_token
from ..core.tasks import get_task


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
    """Matmul FLOPs per token for one full fine-tuning step: forward + backward = 3x the forward pass."""
    return 3 * forward_flops_per_token(model_config, avg_len)


def hardware_efficiency(full_tokens_per_s: float, source: ModelSource, tokenizer, data_dir: str, samples: int) -> dict:
    config = transformers.AutoConfig.from_pretrained(source.path)
    data = load_glue(get_task("sst2"), data_dir, max_train_samples=samples, seed=0)
    lengths = [
        len(ids) for ids in tokenizer(list(data["train"]["sentence"]), truncation=True, max_length=128)["input_ids"]
    ]
    avg_len = sum(lengths) / len(lengths)
    peak = matmul_peak_flops()
    achieved = training_flops_per_token(config, avg_len) * full_tokens_per_s
    return {
        "matmul_peak_gflops": round(peak / 1e9, 1),
        "full_ft_achieved_gflops": round(achieved / 1e9, 1),
        "fraction_of_peak": round(achieved / peak, 5),
        "avg_tokens_per_example": round(avg_len, 1),
        "note": "achieved counts only real (unpadded) tokens' matmul FLOPs, forward + backward",
    }
