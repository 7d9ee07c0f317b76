"""How long a run will take on this machine, said before it starts.

From the encoder's FLOPs per token (core/models.py), the task's size and typical length (the task
table), the method's compute shape (each method's file), and a quick measurement of this machine's
matrix-multiply speed in the precision training will use. Calibrated against the measured classroom runs
on SST-2 (2-core CPU, packaged encoder): in fp32 each method's estimate within about ±16% of its wall time;
in bf16 within -12%..+25% (prompt tuning over-estimated the most).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import transformers

from ..core.methods import get_method
from ..core.models import forward_flops_per_token
from ..core.precision import matmul_flops, resolve_precision
from ..core.tasks import get_task
from .config import RunConfig, resolve_config

# The share of the measured matmul speed (in the run's precision) that work achieves, fitted to the four
# classroom runs on SST-2 (packaged encoder, 2-core CPU). fp32: training steps 40-55% (optimizer, dropout,
# norms and small matrices cost the rest), forward-only passes (dev evaluations, selective's cache) about
# 80%. bf16 (AVX512-BF16, BENCHMARKS.md): its matmuls run ~2.2x faster but the rest of a step does not, so
# a smaller share is achieved (fitted: 35% training, 65% forward-only). fp16 (older GPUs only) is not
# calibrated and borrows fp32's shares.
TRAINING_EFFICIENCY = {"fp32": 0.45, "bf16": 0.35, "fp16": 0.45}
INFERENCE_EFFICIENCY = {"fp32": 0.8, "bf16": 0.65, "fp16": 0.8}
RUN_OVERHEAD_S = 6.0  # loading data, tokenizing, building the model and the Trainer, saving
LONG_S = 10 * 60  # longer than this is flagged as long for a class


@functools.cache
def machine_flops(precision: str = "fp32") -> float:
    """Matmul FLOP/s of this machine in a concrete precision ('fp32', 'bf16', 'fp16'), measured once per
    process and precision (~0.2 s)."""
    return matmul_flops(precision, n=1024)


@dataclass(frozen=True)
class Estimate:
    seconds: float
    flops: float

    @property
    def long(self) -> bool:
        return self.seconds > LONG_S


def estimate(config: RunConfig) -> Estimate:
    """The estimated wall time of a run (raises ConfigError for a config that cannot run)."""
    config, source = resolve_config(config)
    task, method = get_task(config.task), get_method(config.method)
    model_config = transformers.AutoConfig.from_pretrained(source.path, trust_remote_code=False)
    shape = method.compute_shape(method.options(**config.method_options), model_config)
    train_n = min(config.max_train_samples or task.train_size, task.train_size)
    dev_n = min(config.max_eval_samples or task.dev_size, task.dev_size)
    train_len, dev_len = (min(t + shape.extra_tokens, config.max_seq_length) for t in task.mean_tokens)
    epochs = config.epochs or 1.0
    train_flops = forward_flops_per_token(model_config, train_len) * train_n * train_len
    dev_flops = forward_flops_per_token(model_config, dev_len) * dev_n * dev_len
    training = train_flops * shape.train * epochs
    forward_only = dev_flops * shape.evaluate * config.evaluations + (train_flops + dev_flops) * shape.once
    precision = resolve_precision(config.precision)
    speed = machine_flops(precision)
    seconds = training / (speed * TRAINING_EFFICIENCY[precision]) + forward_only / (
        speed * INFERENCE_EFFICIENCY[precision]
    )
    return Estimate(seconds=seconds + RUN_OVERHEAD_S, flops=training + forward_only)


def duration_text(seconds: float) -> str:
    """Seconds as people say them: 45 s, 3 min 20 s, 1 h 5 min."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
