"""Training one (task, method) run, top to bottom.

resolve  -> the config checked once (engine/config.py), the method's classroom defaults filled in
prepare  -> GLUE train/dev tokenized without padding; the encoder with a fresh head, prepared by the
            method (frozen parts, adapters); parameter counts
fit      -> transformers' Trainer (the same code runs on CPU, CUDA and under accelerate launch) on the
            method's training setup, emitting events and evaluating on the dev set several times; with
            --average-tail, the weights averaged over the last steps replace the last step's (averaging.py)
save     -> the method's compact weights + run.json, committed atomically under the checkpoints folder

One abort path: a cancelled or failed run emits its end event and saves no run; what it trained up to
its last dev evaluation is kept as a resumable state (core/resumable.py), and `train(resume=...)` goes on
from there with the same settings, data, optimizer, schedule and random state.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import SequentialSampler
from transformers import (
    DataCollatorWithPadding,
    PrinterCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_pt_utils import safe_globals

from ..core import checkpoints, dev_predictions, phases, resumable, storage
from ..core.data import load_glue, tokenize
from ..core.dev_predictions import DevPredictions
from ..core.hardware import this_process_device, training_hardware
from ..core.methods import Method, get_method
from ..core.methods.base import TrainingSetup
from ..core.metrics import majority_baseline, trainer_metrics
from ..core.model_card import base_model_id, write_model_card
from ..core.models import ModelSource, load_classifier, load_tokenizer
from ..core.params import count_parameters
from ..core.precision import autocast, resolve_precision
from ..core.tasks import Task, get_task, use_store
from .averaging import TailAverage
from .config import ConfigError, RunConfig, cli_command, resolve_config, setting_differences, steps_for
from .events import EventLog, Listener, TrainingEvents, fan_out, read_events

# Which training loop trained a run (run.json's `training_revision`): raised when the same settings and
# seed train other weights than before, so that logged sweeps rerun instead of counting as done.
# 2: dev evaluations no longer draw from the training's random stream (LabTrainer.evaluate).
TRAINING_REVISION = 2


@dataclass
class RunResult:
    status: str  # "complete" | "cancelled"
    run: checkpoints.RunRecord | None
    metrics: dict | None
    model: torch.nn.Module | None = None  # the trained model, still in memory
    resumable_from: int | None = None  # a stopped run: the step it can resume from (None: nothing to resume)


class RunCancelled(Exception):
    """Raised inside a run when the user asked it to stop; train() turns it into a cancelled result."""

    def __init__(self, step: int):
        super().__init__("stopped by the user")
        self.step = step


@dataclass
class Prepared:
    """Everything a run trains with, made before the Trainer exists."""

    task: Task
    method: Method
    source: ModelSource
    tokenizer: Any
    data: Any  # the raw GLUE splits (labels for the majority baseline)
    encoded: Any  # tokenized splits
    model: torch.nn.Module
    params: dict  # trainable/total/by_part, plus full_total: what full fine-tuning would train
    max_steps: int


@dataclass
class Fitted:
    trainer: Trainer
    metrics: dict
    train_seconds: float
    dev_probabilities: np.ndarray  # the last dev evaluation's, per example and label (in the dev set's order)


def train(
    config: RunConfig | None,
    listeners: Sequence[Listener] = (),
    cancel: threading.Event | None = None,
    checkpoints_dir: Path | None = None,
    progress_bar: bool = False,
    resume: str | None = None,
    hardware: dict | None = None,
    save_on_stop: threading.Event | None = None,
) -> RunResult:
    """Train, evaluate and save one run. Cancelling (`cancel.set()` from any thread) stops at the
    next step and saves no run, leaving earlier runs untouched; a run stopped (or crashed) after a dev
    evaluation stays resumable: `resume` = its run id or "last" trains only the remaining steps, with
    `config` None (its saved settings) or the same settings (anything else raises ResumeError). `hardware`: where
    it trains, for run.json (default: this process's, core/hardware.py). `save_on_stop`, set before `cancel`: the
    run stops resumable at the step it reached rather than at its last dev evaluation (a GPU call running out)."""
    checkpoints_dir = Path(checkpoints_dir or storage.default_checkpoints_dir())
    use_store(checkpoints_dir)  # a task made from a file is kept in the store it trains into
    main_process, _ = process_layout()
    config, state = what_to_train(config, resume, checkpoints_dir)
    config, source = resolve_config(config)
    run_id = state.run_id if state else checkpoints.new_run_id()
    staging = staging_folder(checkpoints_dir, run_id, main_process)
    earlier: list[dict] = []
    if state is not None:
        state = resumable.claim(state, staging)
        earlier = events_before(staging / checkpoints.EVENTS_FILE, state.step)
    event_log = EventLog(staging / checkpoints.EVENTS_FILE, earlier)
    emit = fan_out([event_log, *listeners])
    try:
        prepared = prepare(config, source)
        if state is None:
            emit(start_event(run_id, config, prepared))
        else:
            check_resumable(state, prepared)
            replay(earlier or [start_event(run_id, config, prepared)], listeners)
            emit({"type": "resume", "step": state.step, "max_steps": state.max_steps})
        fitted = fit(config, prepared, staging, run_id, emit, cancel or threading.Event(), progress_bar, state,
                     save_on_stop)  # fmt: skip
        if not fitted.trainer.is_world_process_zero():  # under `accelerate launch`, only the main process saves
            return RunResult(status="complete", run=None, metrics=fitted.metrics, model=prepared.model)
        info = save(run_id, config, prepared, fitted, staging, hardware or local_hardware())
        emit({"type": "end", "status": "complete", "metrics": fitted.metrics,
              "size_bytes": info["size_bytes"], "train_seconds": info["train_seconds"]})  # fmt: skip
        event_log.close()
        run = checkpoints.commit_run(staging, checkpoints_dir, info)
        return RunResult(status="complete", run=run, metrics=fitted.metrics, model=prepared.model)
    except BaseException as e:
        saved = end_unfinished(e, staging, checkpoints_dir, main_process, emit, event_log)
        if isinstance(e, RunCancelled):
            return RunResult(status="cancelled", run=None, metrics=None, resumable_from=saved)
        raise
    finally:
        event_log.close()
        checkpoints.discard(staging)  # gone already once committed or kept for resuming


def staging_folder(checkpoints_dir: Path, run_id: str, main_process: bool) -> Path:
    """Where the run is built. Under `accelerate launch`, only the main process writes into the store; the others
    work in a folder of their own that goes away with them."""
    if main_process:
        return checkpoints.staging_dir(checkpoints_dir, run_id)
    return Path(tempfile.mkdtemp(prefix="glue-tune-lab-worker-"))


def end_unfinished(error: BaseException, staging: Path, checkpoints_dir: Path, main_process: bool, emit: Listener,
                   event_log: EventLog) -> int | None:  # fmt: skip
    """A run stopped, cancelled or crashed: its end said, and what it trained kept for resuming where possible.
    Returns the step it can resume from (None: none)."""
    saved = resumable_step(staging) if main_process else None
    end = {"type": "end", "status": "failed", "reason": f"{type(error).__name__}: {error}", "resumable_from": saved}
    if isinstance(error, RunCancelled):
        end |= {"status": "cancelled", "reason": str(error), "step": error.step}
    emit(end)
    event_log.close()
    if not main_process or (isinstance(error, resumable.ResumeError) and error.damaged):
        checkpoints.discard(staging)
    else:  # Stop, Ctrl-C and crashes keep the last evaluated step; resuming trains only the rest
        resumable.keep_for_resume(staging, checkpoints_dir, reason=str(error) or type(error).__name__)
    return saved


def what_to_train(config: RunConfig | None, resume: str | None, checkpoints_dir: Path
                  ) -> tuple[RunConfig, resumable.ResumableState | None]:  # fmt: skip
    """The run's settings, and the stopped run's state it goes on from (None for a new run); sweeps the staging
    folders that dead processes left (the main process only)."""
    main_process, processes = process_layout()
    if resume and processes > 1:
        raise resumable.ResumeError("a stopped run resumes in one process: run it without accelerate launch")
    if main_process:
        resumable.sweep_stale_staging(checkpoints_dir)
    state = resumable.find_state(checkpoints_dir, resume) if resume else None
    if state is not None:
        config = settings_to_resume(state, config)
    assert config is not None, "train() needs a config or a run to resume"
    return config, state


def process_layout() -> tuple[bool, int]:
    """(is this the main process, how many processes train together): (True, 1) unless under
    `accelerate launch --num_processes N` (or torchrun)."""
    from accelerate import PartialState

    state = PartialState()
    return state.is_main_process, state.num_processes


# -- prepare -------------------------------------------------------------------------------------------
def prepare(config: RunConfig, source: ModelSource) -> Prepared:
    task, method = get_task(config.task), get_method(config.method)
    # Data: the whole dev set unless asked otherwise, so metrics are the GLUE dev metrics.
    tokenizer = load_tokenizer(source)
    data = load_glue(
        task,
        config.data_dir,
        max_train_samples=config.max_train_samples or None,
        max_eval_samples=config.max_eval_samples,
        seed=config.seed,
    )
    encoded = tokenize(data, tokenizer, task, config.max_seq_length)

    # Model: seeded so the fresh head (and LoRA / prompt init) is reproducible.
    set_seed(config.seed)
    model = load_classifier(source, task)
    full_total = count_parameters(model).total
    model = method.prepare(model, method.options(**config.method_options), source)
    return Prepared(
        task=task,
        method=method,
        source=source,
        tokenizer=tokenizer,
        data=data,
        encoded=encoded,
        model=model,
        params={**count_parameters(model).to_dict(), "full_total": full_total},
        max_steps=steps_for(len(encoded["train"]), _batch_size(config), _epochs(config)),
    )


def start_event(run_id: str, config: RunConfig, prepared: Prepared) -> dict:
    return {
        "type": "start",
        "run_id": run_id,
        "task": prepared.task.name,
        "method": prepared.method.name,
        "model": prepared.source.name,
        "train_samples": len(prepared.encoded["train"]),
        "eval_samples": len(prepared.encoded["validation"]),
        "max_steps": prepared.max_steps,
        "params": prepared.params,
        "config": dataclasses.asdict(config),
    }


# -- resume --------------------------------------------------------------------------------------------
def settings_to_resume(state: resumable.ResumableState, asked: RunConfig | None) -> RunConfig:
    """The stopped run's own settings; settings asked for alongside must be the same ones."""
    saved = saved_settings(state)
    if asked is not None and (changed := setting_differences(saved, resolve_config(asked)[0])):
        raise resumable.ResumeError(
            f"run {state.run_id} was trained with other settings ({'; '.join(changed)}); resume it with its own "
            "settings, or start a new run"
        )
    return saved


def saved_settings(state: resumable.ResumableState) -> RunConfig:
    """The RunConfig a stopped run was trained with (refused in words if another version saved it)."""
    unknown = set(state.config) - {f.name for f in dataclasses.fields(RunConfig)}
    if unknown:
        raise resumable.ResumeError(f"run {state.run_id} was saved by another version of the lab ({sorted(unknown)})")
    return RunConfig(**state.config)


def check_resumable(state: resumable.ResumableState, prepared: Prepared) -> None:
    """The same data and steps as when the run stopped (data folders change; the checkpoint must fit)."""
    before, now = state.marker.get("train_samples"), len(prepared.encoded["train"])
    if before != now or state.max_steps != prepared.max_steps:
        raise resumable.ResumeError(
            f"run {state.run_id} was trained on {before:,} examples in {state.max_steps} steps; the same settings "
            f"now give {now:,} examples in {prepared.max_steps} steps (has the training data changed?)"
        )


def events_before(path: Path, step: int) -> list[dict]:
    """The stopped run's events up to its checkpoint: what the resumed run's curves start from."""
    try:
        events = read_events(path)
    except (OSError, ValueError):
        return []
    return [e for e in events if e["type"] not in ("end", "resume") and e.get("step", 0) <= step]


def replay(events: list[dict], listeners: Sequence[Listener]) -> None:
    for event in events:
        for listener in listeners:
            listener(event)


def resumable_step(staging: Path) -> int | None:
    try:
        return resumable.read_state(staging).step
    except resumable.ResumeError:
        return None


class ResumableCheckpoints(TrainerCallback):
    """Marks each checkpoint the Trainer saves (at each dev evaluation) as the state to resume from, and
    skips the Trainer's save at the last step, where the run itself is saved instead."""

    def __init__(self, staging: Path, run_id: str, config: RunConfig, train_samples: int, seconds_before: float):
        self.staging, self.run_id, self.config = staging, run_id, dataclasses.asdict(config)
        self.train_samples, self.seconds_before = train_samples, seconds_before
        self.started = time.monotonic()

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_save = False

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            name = f"checkpoint-{state.global_step}"
            resumable.mark(
                self.staging, self.run_id, self.config, name, state.global_step, state.max_steps,
                train_samples=self.train_samples, seconds=self.seconds(),
            )  # fmt: skip
            resumable.drop_other_checkpoints(self.staging, name)  # only the marked one is ever resumed

    def seconds(self) -> float:
        """Training seconds so far, over every resumed part of the run."""
        return self.seconds_before + time.monotonic() - self.started


class EpochOrder(TrainerCallback):
    """A resumed run draws each epoch's batch order as the run never stopped did. The Trainer shuffles an epoch from
    torch's global random stream as its data starts. Resumed inside an epoch, it puts the checkpoint's random state
    back only after that draw, when the stream stands where a fresh process leaves it; resumed at an epoch's end, it
    puts it back before the next epoch's draw. So every checkpoint carries the state its epoch's order was drawn
    from, and a run resumed inside an epoch draws from it; a run resumed at an epoch's end carries on the checkpoint's
    own state, the one its next epoch's order is drawn from, in case it stops again inside that epoch."""

    FILE = "epoch_rng_state.bin"  # 8 bytes: the step the epoch began at; then torch's CPU random state

    def __init__(self, resume_from: Path | None):
        self.resume_from = resume_from
        self.epoch_start, self.rng = 0, torch.get_rng_state()

    def on_epoch_begin(self, args, state, control, train_dataloader=None, **kwargs):
        step, checkpoint, self.resume_from = state.global_step, self.resume_from, None
        self.epoch_start, self.rng = step, torch.get_rng_state()
        if checkpoint is None or train_dataloader is None:
            return
        # The Trainer's own count of optimizer steps an epoch (trainer.py, set_initial_training_values).
        per_epoch = max(math.ceil(len(train_dataloader) / args.gradient_accumulation_steps), 1)
        if step % per_epoch == 0:
            if (checkpoint / "rng_state.pth").is_file():  # what the Trainer restores (trainer.py, _load_rng_state)
                with safe_globals():
                    self.rng = torch.load(checkpoint / "rng_state.pth", weights_only=True)["cpu"]
            return
        saved = (checkpoint / self.FILE).read_bytes() if (checkpoint / self.FILE).is_file() else b""
        start = int.from_bytes(saved[:8], "little") if saved else -1
        if step - step % per_epoch <= start <= step:  # saved in this very epoch
            self.epoch_start = step - step % per_epoch
            self.rng = torch.frombuffer(bytearray(saved[8:]), dtype=torch.uint8)
            torch.set_rng_state(self.rng)

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and folder.is_dir():
            (folder / self.FILE).write_bytes(self.epoch_start.to_bytes(8, "little") + self.rng.numpy().tobytes())


# -- fit -----------------------------------------------------------------------------------------------
def fit(
    config: RunConfig,
    prepared: Prepared,
    staging: Path,
    run_id: str,
    emit: Listener,
    cancel: threading.Event,
    progress_bar: bool,
    resume_from: resumable.ResumableState | None = None,
    save_on_stop: threading.Event | None = None,
) -> Fitted:
    collator = DataCollatorWithPadding(prepared.tokenizer)  # pads each batch to its own longest example
    options = prepared.method.options(**config.method_options)
    with autocast(resolve_precision(config.precision)):  # what the setup computes, in the run's arithmetic
        setup = prepared.method.training_setup(prepared.model, options, prepared.encoded, collator)
    seconds_before = resume_from.marker.get("seconds", 0.0) if resume_from else 0.0
    events = TrainingEvents(emit, cancel, _batch_size(config), seconds_before=seconds_before, save_on_stop=save_on_stop)
    marks = ResumableCheckpoints(staging, run_id, config, len(prepared.encoded["train"]), seconds_before)
    order = EpochOrder(resume_from.checkpoint if resume_from else None)
    # Before `marks`: a checkpoint is marked resumable only once the weight average is saved beside it.
    averaging = TailAverage(setup.model, prepared.max_steps, config.average_tail) if config.average_tail else None
    last_dev: dict[str, np.ndarray] = {}  # the latest evaluation's probabilities and gold labels
    trainer = build_trainer(
        config,
        setup,
        prepared.tokenizer,
        staging / resumable.TRAINER_DIR,
        prepared.max_steps,
        callbacks=[events, order, *([averaging] if averaging else []), marks],  # marks last: a checkpoint is complete
        progress_bar=progress_bar,
        on_predictions=lambda probabilities, labels: last_dev.update(probabilities=probabilities, labels=labels),
    )
    if resume_from is not None:
        resumable.verify_checkpoint(resume_from, setup.model)
        if averaging:
            averaging.restore(resume_from.checkpoint, resume_from.step)
    with phases.reporting(emit):  # a long quiet part (a selective run's cache) says what it does
        trainer.train(resume_from_checkpoint=str(resume_from.checkpoint) if resume_from else None)
    train_seconds = marks.seconds()
    if events.cancelled:
        raise RunCancelled(trainer.state.global_step)
    if events.last_eval is None or events.last_eval_step != trainer.state.global_step:
        trainer.evaluate()
    assert events.last_eval is not None
    metrics = {k: events.last_eval[k] for k in ("accuracy", "f1", "mcc", "headline")}
    # The dev set in its own order: the stored predictions must line up with its texts.
    if list(last_dev["labels"]) != list(prepared.data["validation"]["label"]):
        raise RuntimeError("the dev evaluation's examples are not in the dev set's order")
    # The callbacks' clock starts after the data loader is built; the setup reports what it spent before.
    return Fitted(trainer, metrics, train_seconds + setup.extra_seconds(), last_dev["probabilities"])


def training_arguments(config: RunConfig, output_dir: Path, max_steps: int, progress_bar: bool = False):
    """The Trainer's arguments for a resolved config: length-grouped batches, several dev evaluations,
    and a resumable checkpoint at each of them (ResumableCheckpoints keeps the latest; train() saves the run)."""
    method = get_method(config.method)
    batch_size = _batch_size(config)
    _, processes = process_layout()
    if batch_size % processes:
        raise ConfigError(f"Batch size {batch_size} does not split evenly over {processes} processes")
    evaluations = max(1, math.ceil(max_steps / config.evaluations))
    return TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=_epochs(config),
        learning_rate=config.learning_rate or method.defaults.learning_rate,
        # The batch size is per optimizer step, whatever the number of processes: the same settings give
        # the same training on one CPU or under `accelerate launch --num_processes N`.
        per_device_train_batch_size=batch_size // processes,
        per_device_eval_batch_size=max(64, batch_size),
        weight_decay=method.defaults.weight_decay,
        warmup_steps=method.defaults.warmup_ratio,  # < 1: a fraction of the total steps
        lr_scheduler_type="linear",
        eval_strategy="steps",
        eval_steps=evaluations,
        logging_steps=max(1, max_steps // 50),
        # A resumable state at each dev evaluation (one process only: see process_layout).
        save_strategy="steps" if processes == 1 else "no",
        save_steps=evaluations,
        report_to="none",
        seed=config.seed,
        train_sampling_strategy="group_by_length",  # similar lengths per batch: little padding
        remove_unused_columns=False,
        disable_tqdm=not progress_bar,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        use_cpu=not torch.cuda.is_available(),  # transformers asks for it before bf16 autocast on a CPU
        bf16=resolve_precision(config.precision) == "bf16",  # the Trainer's autocast, dev evaluations included
        fp16=resolve_precision(config.precision) == "fp16",
    )


class LabTrainer(Trainer):
    """The Trainer, scoring the dev set in its own order: length-grouped batches are for training only, so
    that each run's stored dev predictions line up with the dev examples (core/dev_predictions.py)."""

    def _get_eval_sampler(self, eval_dataset):
        if eval_dataset is None or self.args.world_size > 1:
            return None  # several processes: accelerate shards the dev set in order and gathers it back in order
        return SequentialSampler(eval_dataset)

    def evaluate(self, *args, **kwargs):
        # Scoring the dev set must not change what is trained: each pass over a DataLoader draws its base
        # seed from the global CPU random stream, which dropout (on a CPU) and the next epoch's batch order
        # also draw from. Without the fork, three evaluations (the Train tab) and one (`reproduce`) trained
        # different weights from the same settings and seed. CUDA's stream is not drawn from here.
        with torch.random.fork_rng(devices=[]):
            return super().evaluate(*args, **kwargs)


def build_trainer(
    config: RunConfig,
    setup: TrainingSetup,
    tokenizer,
    output_dir: Path,
    max_steps: int,
    callbacks: Sequence[Any] = (),
    progress_bar: bool = False,
    on_predictions: Callable[[np.ndarray, np.ndarray], None] | None = None,
) -> Trainer:
    """The Trainer for a resolved config on a method's training setup, scoring with the task's metrics."""
    args = training_arguments(config, output_dir, max_steps, progress_bar)
    method = get_method(config.method)
    trainer = LabTrainer(
        model=setup.model,
        args=args,
        train_dataset=setup.train_dataset,
        eval_dataset=setup.eval_dataset,
        data_collator=setup.data_collator,
        processing_class=tokenizer,
        compute_metrics=trainer_metrics(get_task(config.task), on_predictions),
        callbacks=list(callbacks),
    )
    groups = method.learning_rates(setup.model, method.options(**config.method_options), args.learning_rate)
    if groups:  # else the Trainer builds its own optimizer when training starts
        trainer.optimizer = grouped_optimizer(trainer, setup.model, groups)
    trainer.remove_callback(PrinterCallback)  # events are the log
    return trainer


def grouped_optimizer(trainer: Trainer, model: torch.nn.Module, groups: list[dict]) -> torch.optim.Optimizer:
    """The optimizer the Trainer would build (its AdamW, betas, eps and fused kernel, and its rule for which weights
    skip weight decay: biases and norms) over a method's parameter groups, each at its own learning rate; the
    schedule scales every group alike. A plain AdamW over a dozen groups steps five times slower on a CPU."""
    decays = set(trainer.get_decay_parameter_names(model))
    name_of = {id(param): name for name, param in model.named_parameters()}
    split = []
    for group in groups:
        for decayed in (True, False):
            params = [p for p in group["params"] if (name_of[id(p)] in decays) == decayed]
            if params:
                split.append({**group, "params": params, "weight_decay": trainer.args.weight_decay if decayed else 0.0})
    optimizer_class, optimizer_kwargs = trainer.get_optimizer_cls_and_kwargs(trainer.args)
    return optimizer_class(split, **optimizer_kwargs)


# -- save ----------------------------------------------------------------------------------------------
def local_hardware() -> dict:
    """Where a run trained in this very process trains: {"kind", "device", "threads"} (core/hardware.py)."""
    return {"kind": training_hardware().kind, **this_process_device()}


def save(run_id: str, config: RunConfig, prepared: Prepared, fitted: Fitted, staging: Path, hardware: dict) -> dict:
    """Compact weights, the tokenizer and the model card into the staging folder; returns run.json's content.
    The last resumable checkpoint stays until everything is written: a crash or kill -9 while saving leaves the run
    resumable from its last dev evaluation, where it ends exactly as it would have."""
    model_dir = staging / checkpoints.MODEL_DIR
    prepared.method.save(prepared.model, model_dir)
    name_encoder(model_dir, prepared.source)
    prepared.tokenizer.save_pretrained(model_dir / "tokenizer")
    train_samples = len(prepared.encoded["train"])
    info = checkpoints.run_info(
        run_id=run_id,
        task=prepared.task.name,
        method=prepared.method.name,
        model=prepared.source.name,
        model_kind=prepared.source.kind,
        config=dataclasses.asdict(config),
        metrics=fitted.metrics,
        majority_baseline=majority_baseline(prepared.data["validation"]["label"], prepared.task),
        params=prepared.params,
        size_bytes=checkpoints.folder_size(model_dir) - checkpoints.folder_size(model_dir / "tokenizer"),
        train_seconds=round(fitted.train_seconds, 2),
        train_samples=train_samples,
        eval_samples=len(prepared.encoded["validation"]),
        train_samples_per_s=round(train_samples * _epochs(config) / fitted.train_seconds, 2),
        precision=resolve_precision(config.precision),
        hardware=hardware,
        training_revision=TRAINING_REVISION,
    )
    scored = DevPredictions.of_split(prepared.data["validation"], prepared.task.text_keys, fitted.dev_probabilities)
    dev_predictions.write(staging, scored)
    write_model_card(staging, info, cli_command(config))  # the run folder is a Hub-ready model repository
    (staging / resumable.MARKER).unlink(missing_ok=True)  # saved: nothing to resume, and no checkpoint to keep
    checkpoints.discard(staging / resumable.TRAINER_DIR)
    return info


def name_encoder(model_dir: Path, source) -> None:
    """peft records the encoder's folder in adapter_config.json and its own model card; a packaged or local encoder
    is named there instead (what a reader elsewhere can look up), so no server path travels with the run."""
    if source.kind == "hub":
        return
    name = base_model_id({"model": source.name, "model_kind": source.kind}) or Path(source.path).name
    for path in (model_dir / "adapter_config.json", model_dir / "README.md"):
        if path.is_file():
            path.write_text(path.read_text(encoding="utf-8").replace(str(source.path), name), encoding="utf-8")


def _batch_size(config: RunConfig) -> int:
    assert config.batch_size is not None, "resolve_config fills the batch size"
    return config.batch_size


def _epochs(config: RunConfig) -> float:
    assert config.epochs is not None, "resolve_config fills the epochs"
    return config.epochs
