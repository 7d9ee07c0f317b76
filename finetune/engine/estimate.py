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

import contextvars
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil
import torch
import transformers
from transformers.models.bert.modeling_bert import BertLayer

from ..core.fields import compute_values
from ..core.hardware import gpu_name, training_hardware
from ..core.methods import get_method
from ..core.models import forward_flops_per_token, layer_flops_per_token
from ..core.precision import autocast, device_type, resolve_precision, step_seconds
from ..core.tasks import TASKS, get_task
from .config import RunConfig, classroom_configs, resolve_config, steps_for

log = logging.getLogger(__name__)

# A run takes longer than its layers alone: the embeddings (full fine-tuning updates their 11.7M weights every
# step), the head, batches of uneven length, the Trainer's bookkeeping per step. REST is the median of (measured /
# layers alone) over the classroom runs of every task and method; short steps weigh per-step costs most, so the
# estimate reads a little short for CoLA's 1,600-2,000 short steps and long for SST-2 selective. Refit with
# `python -m finetune.bench.estimates` on a quiet machine (docs/benchmarks.md has its last figures).
REST = 1.4
RUN_OVERHEAD_S = 6.0  # loading data, tokenizing, building the model and the Trainer, saving
LONG_S = 10 * 60  # longer than this is flagged as long for a class


# Tokens a measured step holds at most: beyond a few thousand a layer's FLOP/s no longer grow, and a visitor typing
# an absurd batch size must not make the form wait on a huge measurement.
MEASURED_TOKENS = 2048


class MeasuredSpeeds:
    """Each layer shape's speed on this machine, measured once and then kept at the best ever seen.

    A Space's CPU is shared: a measurement taken while another process runs can be several times too slow, and
    an estimate built on it stays wrong for the app's life. The fastest of a few timed steps is the machine's
    own speed whenever the disturbance comes and goes; `remeasure` (run while the lab trains nothing) raises
    any shape measured during a busy spell to what the quiet machine does. A load that stays is what the real
    runs' correction (SpeedCorrection) is for.

    Asked from a visitor's request (ASKER set: the app's serving threads), a shape nobody measured yet is never
    measured in that thread: the answer comes at once from the nearest measured shape, and the shape is measured
    later by one thread of its own, a visitor's shapes in turn with everyone else's, at most MEASURE_SHARE of a core
    in all, a few waiting per visitor. Each landed measurement bumps `version`, so a page redraws its estimate. Asked
    from anywhere else (the CLI, the benchmark, the app's start), a shape is measured in place."""

    def __init__(self):
        self._speeds: dict[tuple, float] = {}
        self._lock = threading.RLock()
        self.measured_at = 0.0  # time.monotonic() of the last measurement pass
        self.disturbed = False  # another process had the cores while a shape was last measured
        self.generation = 0  # bumped by every remeasure: what was estimated before may read differently now
        self.version = 0  # bumped by every new shape measured in the background
        self._waiting: dict[str, list[tuple]] = {}  # asker -> shapes to measure in the background
        self._wake = threading.Condition(self._lock)
        self._measurer: threading.Thread | None = None

    def __call__(self, *shape) -> float:
        with self._lock:
            if shape in self._speeds:
                return self._speeds[shape]
            if (asker := ASKER.get()) is not None and self._speeds:
                self._ask(shape, asker)
                return self._nearest(shape)
        return self._measure(shape)

    def _measure(self, shape: tuple) -> float:
        with OthersLoad() as others:
            speed = _measure_layer(*shape)
        with self._lock:
            self._speeds[shape] = max(speed, self._speeds.get(shape, 0.0))
            self.measured_at = time.monotonic()
            self.disturbed |= others.cores > BUSY_CORES
            return self._speeds[shape]

    # -- in the background (asked from a request) -----------------------------------------------------------------
    def _ask(self, shape: tuple, asker: str) -> None:
        """Put `shape` in `asker`'s turn to be measured (the caller holds the lock)."""
        if self._measurer is None:
            self._measurer = threading.Thread(target=self._measure_waiting, name="measuring-shapes", daemon=True)
            self._measurer.start()
        if any(shape in shapes for shapes in self._waiting.values()):
            return
        mine = self._waiting.pop(asker, [])  # and to the back of the turn: askers take turns
        self._waiting[asker] = [*mine, shape][-WAITING_PER_ASKER:]  # a visitor's newest shapes
        while len(self._waiting) > MAX_ASKERS:
            del self._waiting[next(iter(self._waiting))]
        self._wake.notify()

    def pending(self) -> int:
        with self._lock:
            return sum(len(shapes) for shapes in self._waiting.values())

    def _measure_waiting(self) -> None:
        while True:
            with self._lock:
                while not self._waiting:
                    self._wake.wait()
                asker = next(iter(self._waiting))
                shape, *rest = self._waiting.pop(asker)
                if rest:
                    self._waiting[asker] = rest  # back of the turn
            started = time.monotonic()
            try:
                self._measure(shape)
            except Exception:  # an estimate is a courtesy: a shape that cannot be measured keeps its nearest's speed
                log.warning("measuring a layer shape failed", exc_info=True)
            took = time.monotonic() - started
            with self._lock:
                self.version += 1
            time.sleep(max(MEASURE_PAUSE_S, took * (1 / MEASURE_SHARE - 1)))

    def _nearest(self, shape: tuple) -> float:
        """The speed of the measured shape most like `shape` (the caller holds the lock): the same width, precision
        and method first, then the closest batch and length, then the same options."""

        def distance(known: tuple) -> float:
            width = sum(a != b for a, b in zip(known[:3], shape[:3], strict=True)) * 100.0
            kind = (known[5] != shape[5]) * 50.0 + (known[6:7] != shape[6:7]) * 20.0
            size = abs(math.log(known[3] * known[4] / (shape[3] * shape[4])))
            return width + kind + size + (known[7:] != shape[7:]) * 1.0

        return self._speeds[min(self._speeds, key=distance)]

    # -- measured again --------------------------------------------------------------------------------------------
    def remeasure(self) -> None:
        """Measure every known shape again, keeping the faster of the two measurements."""
        with self._lock:
            shapes = list(self._speeds)
        with OthersLoad() as others:
            for shape in shapes:
                speed = _measure_layer(*shape)
                with self._lock:
                    self._speeds[shape] = max(speed, self._speeds.get(shape, 0.0))
        self.measured_at = time.monotonic()
        self.disturbed = others.cores > BUSY_CORES
        self.generation += 1

    def __len__(self) -> int:
        return len(self._speeds)

    def cache_clear(self) -> None:
        with self._lock:
            self._speeds.clear()


# Who asks for an estimate: set per request by the app (webui/language.localized), None elsewhere. Shapes asked for
# from a request are measured in the background, the askers' in turn.
ASKER: contextvars.ContextVar[str | None] = contextvars.ContextVar("estimate_asker", default=None)
WAITING_PER_ASKER = 3  # a visitor's newest shapes to measure; older ones are answered from the nearest for good
MAX_ASKERS = 64
MEASURE_SHARE = 0.25  # of one core, at most, for measuring shapes in the background
MEASURE_PAUSE_S = 1.0


BUSY_CORES = 0.5  # other processes using more than half a core: a measurement taken then is not the machine's own


class OthersLoad:
    """How many cores' worth of CPU processes other than this one used while the block ran (`cores`; 0 when the
    machine does not tell): a measurement is the machine's own only when that stayed low."""

    def __enter__(self) -> OthersLoad:
        self.cores = 0.0
        self._start = self._sample()
        return self

    def __exit__(self, *exc) -> None:
        end = self._sample()
        if self._start is not None and end is not None and end[0] > self._start[0]:
            seconds, busy, own = (after - before for after, before in zip(end, self._start, strict=True))
            self.cores = max(0.0, busy - own) / seconds

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            machine, mine = psutil.cpu_times(), psutil.Process().cpu_times()
        except (psutil.Error, OSError):
            return None
        return time.monotonic(), machine.user + machine.system + machine.nice, mine.user + mine.system


def other_processes_load(interval: float = 0.2) -> float:
    """Cores' worth of CPU that processes other than this one use now (over `interval` seconds)."""
    with OthersLoad() as others:
        time.sleep(interval)
    return others.cores


def _measure_layer(hidden: int, intermediate: int, heads: int, batch: int, tokens: int, precision: str,
                   method: str | None = None, method_options: tuple = ()) -> float:  # fmt: skip
    """The FLOP/s one encoder layer of this width achieves on this machine at batches of `batch` x `tokens` (at most
    MEASURED_TOKENS a step) in `precision`: the fastest of a few timed steps after warm-ups (step_seconds), about
    0.3 s for the packaged encoder. With a `method` (and its options, as sorted (name, value) pairs) the layer trains
    as that method trains the encoder's (Method.train_layer): forward, backward, gradient clipping and the fused AdamW
    step the Trainer takes. Without one it runs forward only (dev evaluations, cached layers)."""
    batch = max(1, min(batch, MEASURED_TOKENS // tokens))
    config = transformers.BertConfig(hidden_size=hidden, intermediate_size=intermediate, num_attention_heads=heads)
    config._attn_implementation = "sdpa"  # what the encoders load with
    device = device_type()
    layer: torch.nn.Module = BertLayer(config)
    own_weights = {name for name, _ in layer.named_parameters()}
    if method is not None:
        trainer = get_method(method)
        layer = trainer.train_layer(layer, trainer.options(**dict(method_options)))
    layer = layer.to(device).train(method is not None)
    parameters = [p for p in layer.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=1e-5, fused=True) if parameters and method else None
    inputs = torch.randn(batch, tokens, hidden, device=device, requires_grad=method is not None)  # gradients flow on

    def step() -> None:
        if method is None:
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
    # Forward passes' worth of FLOPs a step does: a backward pass to the inputs costs one more, the layer's own
    # weight gradients one more again (adapters' few FLOPs are left out: their cost shows in the time).
    weights_train = any(p.requires_grad for name, p in layer.named_parameters() if name in own_weights)
    passes = 1 if method is None else 3 if weights_train else 2
    return passes * layer_flops_per_token(config, tokens) * batch * tokens / SPEED_STATISTIC(times)


# Which of the timed steps stands for the machine: the fastest, since another process only ever slows a step (the
# benchmark, finetune/bench/busy_estimates.py, compares it with the median this module took before).
SPEED_STATISTIC: Callable[[list[float]], float] = min


layer_speed = MeasuredSpeeds()


class SpeedCorrection:
    """How the real runs on this machine compare with their estimates: real seconds / estimated seconds, the
    latest run's, updated while it trains. Estimates are multiplied by it, and so are the waiting line's ETAs,
    so that a machine busier (or quieter) than when it was measured is told as it is after a run's first steps."""

    MIN_STEPS, MIN_SECONDS = 10, 5.0  # before this a run's pace is its warm-up's (tokenizer, first kernels)
    BOUNDS = (0.1, 10.0)  # beyond these a pace says more about the run (a stall, a tiny run) than the machine

    def __init__(self):
        self.factor = 1.0
        self.observed = 0  # updates taken from real runs

    def reset(self) -> None:
        self.factor, self.observed = 1.0, 0

    def observe(self, estimated_s: float, real_s: float) -> None:
        if estimated_s > 0 and real_s > 0:
            low, high = self.BOUNDS
            self.factor = min(high, max(low, real_s / estimated_s))
            self.observed += 1

    def listener(self, config: RunConfig) -> Callable[[dict], None]:
        """An event listener for one run of `config` that corrects the factor from its pace: the seconds its
        steps so far project for the whole run against what the (uncorrected) estimate says for its training."""
        planned: list[float] = []

        def on_event(event: dict) -> None:
            if event.get("type") not in ("progress", "log") or event.get("elapsed_s") is None:
                return
            step, total, elapsed = event["step"], event["max_steps"], event["elapsed_s"]
            if step < self.MIN_STEPS or elapsed < self.MIN_SECONDS or not total:
                return
            if not planned:
                try:
                    planned.append(estimate(config, corrected=False).seconds - RUN_OVERHEAD_S)
                except Exception:  # an estimate is a courtesy: without one there is nothing to correct
                    planned.append(0.0)
            self.observe(planned[0], elapsed / step * total)

        return on_event


speed_correction = SpeedCorrection()


@dataclass(frozen=True)
class Estimate:
    seconds: float
    flops: float

    @property
    def long(self) -> bool:
        return self.seconds > LONG_S


def estimate(config: RunConfig, corrected: bool = True) -> Estimate:
    """The estimated wall time of a run where this lab trains it (raises ConfigError for a config that cannot run);
    `corrected`: as the real runs on this machine have corrected it so far (speed_correction). Measured on this
    machine (measured_estimate), except where runs train on a GPU the app's process must not touch: ZeroGPU's,
    lent per call (gpu_estimate)."""
    if lent_gpu():
        return gpu_estimate(config)
    return measured_estimate(config, corrected)


def run_size(config: RunConfig, extra_tokens: int = 0) -> tuple[int, int, float, float, float]:
    """A resolved run's (training examples, dev examples, mean training and dev tokens, epochs), from the task table;
    `extra_tokens`: what the method adds to every sequence (prompt tuning's virtual tokens)."""
    task = get_task(config.task)
    train_n = min(config.max_train_samples or task.train_size, task.train_size)
    dev_n = min(config.max_eval_samples or task.dev_size, task.dev_size)
    train_len, dev_len = (min(t + extra_tokens, config.max_seq_length) for t in task.mean_tokens)
    return train_n, dev_n, train_len, dev_len, config.epochs or 1.0


def lent_gpu() -> bool:
    """Runs train on a GPU lent per call (ZeroGPU, or its stand-in on a machine with a GPU): the app's process
    measures nothing on it."""
    hardware = training_hardware()
    return hardware.kind == "zerogpu" and (not hardware.emulated or gpu_name() is not None)


def measured_estimate(config: RunConfig, corrected: bool = True) -> Estimate:
    """The estimate from this machine's measured layer speed (the module's docstring)."""
    config, source = resolve_config(config)
    method = get_method(config.method)
    model_config = transformers.AutoConfig.from_pretrained(source.path, trust_remote_code=False)
    shape = method.compute_shape(method.options(**config.method_options), model_config)
    train_n, dev_n, train_len, dev_len, epochs = run_size(config, shape.extra_tokens)
    train_flops = forward_flops_per_token(model_config, train_len) * train_n * train_len
    dev_flops = forward_flops_per_token(model_config, dev_len) * dev_n * dev_len
    training = train_flops * shape.train * epochs
    forward_only = dev_flops * shape.evaluate * config.evaluations + (train_flops + dev_flops) * shape.once
    precision = resolve_precision(config.precision)
    dims = (model_config.hidden_size, model_config.intermediate_size, model_config.num_attention_heads)
    assert config.batch_size is not None  # resolve_config fills it in
    # Only what changes the compute tells measurements apart (not LoRA's alpha, a dropout's value, an init text).
    options = compute_values(method.options(**config.method_options))
    train_speed = layer_speed(*dims, config.batch_size, max(1, round(train_len)), precision, config.method, options)
    dev_batch = max(64, config.batch_size)  # train.py's evaluation batch
    dev_speed = layer_speed(*dims, dev_batch, max(1, round(dev_len)), precision)
    seconds = (training / train_speed + forward_only / dev_speed) * REST
    if corrected:
        seconds *= speed_correction.factor
    return Estimate(seconds=seconds + RUN_OVERHEAD_S, flops=training + forward_only)


# A GPU lent per call cannot be measured from the app's process. Until a GPU machine measures the lab's runs
# (finetune/bench/zerogpu_device.py, which prints estimated / real GPU seconds per call), these are deliberately
# generous round figures: a step of a small batch on a GPU is bound by kernel launches rather than FLOPs, and a
# forked worker first initialises CUDA, loads the encoder and tokenizes the data. Not fitted on a GPU here.
GPU_FLOPS = 30e12  # what a bert-base-sized step achieves in bf16 on half an RTX Pro 6000 / an H200 slice (assumed)
GPU_MIN_STEP_S = 0.03  # a training step's floor (kernel launches, the optimizer step)
GPU_START_S = 25.0  # CUDA in the forked worker, the encoder and data loaded, the Trainer built, the run saved


def gpu_estimate(config: RunConfig) -> Estimate:
    """A run's seconds on a GPU lent per call, from its FLOPs and steps (the constants above)."""
    config, source = resolve_config(config)
    model_config = transformers.AutoConfig.from_pretrained(source.path, trust_remote_code=False)
    train_n, dev_n, train_len, dev_len, epochs = run_size(config)
    assert config.batch_size is not None  # resolve_config fills it in
    steps = steps_for(train_n, config.batch_size, epochs)
    training = forward_flops_per_token(model_config, train_len) * train_n * train_len * 3 * epochs
    evaluating = forward_flops_per_token(model_config, dev_len) * dev_n * dev_len * config.evaluations
    seconds = max(training / GPU_FLOPS, steps * GPU_MIN_STEP_S) + evaluating / GPU_FLOPS + GPU_START_S
    return Estimate(seconds=seconds, flops=training + evaluating)


def measure_classroom_shapes() -> None:
    """Measure the shapes of every task's classroom runs now (about 5 s on 2 cores), so that the estimates a class
    sees are measured while the machine is quiet rather than while somebody's run shares the cores."""
    if lent_gpu():
        return  # nothing to measure in the app's process
    for task in TASKS:
        for config in classroom_configs(task):
            try:
                measured_estimate(config)
            except Exception:  # an estimate is a courtesy: an encoder that cannot load is reported elsewhere
                return


REMEASURE_AFTER_S = 10 * 60
FAR_OFF = 2.0  # a real run this many times faster or slower than its estimate: the measurement is not this machine's


def remeasure_when_idle() -> bool:
    """Measure the known shapes again while the lab trains nothing (the runner calls this when its line empties,
    the app every minute): when the last measurement is older than REMEASURE_AFTER_S, was taken while other
    processes had the cores, or a real run showed it FAR_OFF; not while other processes have them now. The
    correction then starts afresh. True when it measured."""
    if lent_gpu():
        return False
    stale = time.monotonic() - layer_speed.measured_at > REMEASURE_AFTER_S
    far_off = speed_correction.observed and not 1 / FAR_OFF <= speed_correction.factor <= FAR_OFF
    if not layer_speed or not (stale or far_off or layer_speed.disturbed):
        return False
    if other_processes_load() > BUSY_CORES:
        return False  # the machine is busy now too: try again later
    layer_speed.remeasure()
    speed_correction.reset()
    return True


def duration_text(seconds: float) -> str:
    """Seconds as people say them: 45 s, 3 min 20 s, 1 h 5 min."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
