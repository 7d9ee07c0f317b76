"""How long a run will take on this machine, said before it starts.

From the encoder's FLOPs per token (core/models.py), the task's size and typical length (the task
table), the method's compute shape (each method's file), and a measurement of this machine doing the run's
own kind of work: one encoder layer of the run's width, at the run's batch shape and precision, trained for a
few steps (forward, backward, gradient clipping, the fused AdamW step the Trainer takes) and run forward-only.
Nearly all of a run's time goes through its layers, so what a layer achieves carries over to the run, whatever
the CPU (AMX, AVX512-BF16, neither) or GPU. A matmul peak does not: at n = 1,024 a 2-core Intel Xeon's
AMX-BF16 reaches 2 TFLOP/s and an AMD EPYC's AVX512-BF16 0.4, while full fine-tuning achieved 8% and 25% of
them (the benchmark), so estimates fitted to the peak on one machine were 3.5x short on the other.
"""

from __future__ import annotations

import functools
import statistics
from dataclasses import dataclass

import torch
import transformers
from peft import LoraConfig, inject_adapter_in_model
from transformers.models.bert.modeling_bert import BertLayer

from ..core.methods import get_method
from ..core.models import forward_flops_per_token, layer_flops_per_token
from ..core.precision import autocast, device_type, resolve_precision, step_seconds
from ..core.tasks import TASKS, get_task
from .config import RunConfig, classroom_configs, resolve_config

# A run takes longer than its layers alone: the embeddings (full fine-tuning updates their 11.7M weights every
# step), the head, batches of uneven length, the Trainer's bookkeeping per step. The median of (measured /
# layers alone) over the classroom runs of every task and method (benchmarks/reproduce/: 2-core Intel Xeon with
# AMX-BF16, bf16), 1.33-1.53 over three measuring processes. Estimated / measured then runs from about 0.7 (CoLA
# full and LoRA: 1,600-2,000 short steps, where per-step costs weigh most) to 1.35 (SST-2 selective), where the
# n = 1,024 matmul peak's estimates were 0.28-0.47 of SST-2's runs on that machine. Refit with
# `python -m finetune.bench.estimates` on a quiet machine.
REST = 1.4
RUN_OVERHEAD_S = 6.0  # loading data, tokenizing, building the model and the Trainer, saving
LONG_S = 10 * 60  # longer than this is flagged as long for a class


LAYER_MODES = {"train": 3, "backprop": 2, "forward": 1}  # forward passes' worth of FLOPs a step of each mode does
# Tokens a measured step holds at most: beyond a few thousand a layer's FLOP/s no longer grow, and a visitor typing
# an absurd batch size must not make the form wait on a huge measurement.
MEASURED_TOKENS = 2048


@functools.cache
def layer_speed(hidden: int, intermediate: int, heads: int, batch: int, tokens: int, precision: str, mode: str,
                adapted: tuple[str, ...] = (), rank: int = 0) -> float:  # fmt: skip
    """The FLOP/s one encoder layer of this width achieves on this machine at batches of `batch` x `tokens` (at most
    MEASURED_TOKENS a step) in `precision`: the median of a few timed steps after warm-ups (step_seconds),
    measured once per process and shape (about 0.3 s for the packaged encoder). `mode`: 'train' (forward, backward,
    gradient clipping and the fused AdamW step the Trainer takes), 'backprop' (frozen weights, gradients passing
    through to what trains: prompt tuning, LoRA, with rank-`rank` adapters on the `adapted` linear layers) or
    'forward' (dev evaluations, cached layers)."""
    batch = max(1, min(batch, MEASURED_TOKENS // tokens))
    config = transformers.BertConfig(hidden_size=hidden, intermediate_size=intermediate, num_attention_heads=heads)
    config._attn_implementation = "sdpa"  # what the encoders load with
    device = device_type()
    layer: torch.nn.Module = BertLayer(config)
    if adapted:
        layer = inject_adapter_in_model(LoraConfig(r=rank, target_modules=list(adapted)), layer)
    layer = layer.to(device).train(mode != "forward")
    for name, param in layer.named_parameters():
        param.requires_grad_(mode == "train" or "lora_" in name)
    parameters = [p for p in layer.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=1e-5, fused=True) if parameters else None
    inputs = torch.randn(batch, tokens, hidden, device=device, requires_grad=mode != "forward")  # gradients flow on

    def step() -> None:
        if mode == "forward":
            with torch.no_grad(), autocast(precision):
                layer(inputs)
            return
        with autocast(precision):
            out = layer(inputs)
        out.float().sum().backward()
        inputs.grad = None
        if optimizer is not None:
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    times = step_seconds(step, repeats=5, min_seconds=0.25)  # a quarter of a second at least: tiny steps are noisy
    forward_flops = layer_flops_per_token(config, tokens) * batch * tokens
    return LAYER_MODES[mode] * forward_flops / statistics.median(times)


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
    dims = (model_config.hidden_size, model_config.intermediate_size, model_config.num_attention_heads)
    assert config.batch_size is not None  # resolve_config fills it in
    train_speed = layer_speed(*dims, config.batch_size, max(1, round(train_len)), precision,
                              "train" if shape.layer_weights_train else "backprop", shape.adapted_layers,
                              shape.adapter_rank)  # fmt: skip
    dev_batch = max(64, config.batch_size)  # train.py's evaluation batch
    dev_speed = layer_speed(*dims, dev_batch, max(1, round(dev_len)), precision, "forward")
    seconds = (training / train_speed + forward_only / dev_speed) * REST
    return Estimate(seconds=seconds + RUN_OVERHEAD_S, flops=training + forward_only)


def measure_classroom_shapes() -> None:
    """Measure the shapes of every task's classroom runs now (about 5 s on 2 cores), so that the estimates a class
    sees are measured while the machine is quiet rather than while somebody's run shares the cores."""
    for task in TASKS:
        for config in classroom_configs(task):
            try:
                estimate(config)
            except Exception:  # an estimate is a courtesy: an encoder that cannot load is reported elsewhere
                return


def duration_text(seconds: float) -> str:
    """Seconds as people say them: 45 s, 3 min 20 s, 1 h 5 min."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
