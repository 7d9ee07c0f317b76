"""Hardware efficiency: full fine-tuning's achieved matmul FLOP/s against the machine's measured peak."""

from __future__ import annotations

import time

import torch
import transformers

from ..core.data import load_glue
from ..core.models import ModelSource, forward_flops_per_token
from ..core.precision import autocast, device_type
from ..core.tasks import get_task


def matmul_peak_flops(precision: str = "fp32", n: int = 2048, repeats: int = 10) -> float:
    """The machine's matmul FLOP/s in `precision` (bf16/fp16 through the same autocast training uses)."""
    device = device_type()
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    with autocast(precision):
        return _best_matmul(a, b, n, repeats)


def _best_matmul(a: torch.Tensor, b: torch.Tensor, n: int, repeats: int) -> float:
    (a @ b).sum().item()  # warm-up (.item() waits for a GPU)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        (a @ b).sum().item()
        times.append(time.perf_counter() - started)
    return 2 * n**3 / min(times)


def training_flops_per_token(model_config, avg_len: float) -> float:
    """Matmul FLOPs per token for one full fine-tuning step: forward + backward = 3x the forward pass."""
    return 3 * forward_flops_per_token(model_config, avg_len)


def hardware_efficiency(
    tokens_per_s: dict[str, float], source: ModelSource, tokenizer, data_dir: str, samples: int
) -> dict:
    """Full fine-tuning's achieved matmul FLOP/s in each precision measured ({precision: tokens/s}) against
    the machine's peak in that same precision."""
    config = transformers.AutoConfig.from_pretrained(source.path)
    data = load_glue(get_task("sst2"), data_dir, max_train_samples=samples, seed=0)
    lengths = [
        len(ids) for ids in tokenizer(list(data["train"]["sentence"]), truncation=True, max_length=128)["input_ids"]
    ]
    avg_len = sum(lengths) / len(lengths)
    per_precision = {}
    for precision, speed in tokens_per_s.items():
        peak = matmul_peak_flops(precision)
        achieved = training_flops_per_token(config, avg_len) * speed
        per_precision[precision] = {
            "matmul_peak_gflops": round(peak / 1e9, 1),
            "full_ft_achieved_gflops": round(achieved / 1e9, 1),
            "fraction_of_peak": round(achieved / peak, 5),
        }
    return {
        "precisions": per_precision,
        "avg_tokens_per_example": round(avg_len, 1),
        "note": "achieved counts only real (unpadded) tokens' matmul FLOPs, forward + backward",
    }
