"""Hardware efficiency: full fine-tuning's achieved matmul FLOP/s against the machine's measured peak."""

from __future__ import annotations

import transformers

from ..core.data import load_glue
from ..core.models import ModelSource, forward_flops_per_token
from ..core.precision import matmul_flops, resolve_precision
from ..core.tasks import get_task


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
        peak = matmul_flops(resolve_precision(precision), n=2048, repeats=10)
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
