"""Training one (task, method) run, top to bottom.

config  -> validated, defaults filled from the method
data    -> GLUE train/dev, tokenized without padding (the collator pads per batch)
model   -> the encoder with a fresh head, prepared by the method (frozen parts, adapters)
train   -> transformers' Trainer (the same code runs on CPU, CUDA and under accelerate launch),
           emitting events and evaluating on the dev set several times
save    -> the method's compact weights + run.json, committed atomically under checkpoints/
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import transformers
from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainingArguments, set_seed

from . import checkpoints
from .data import load_glue, task_files, tokenize
from .events import EventLog, Listener, TrainingEvents, fan_out
from .methods import get_method
from .methods.base import TrainingSetup
from .metrics import majority_baseline, trainer_metrics
from .models import ModelSource, load_classifier, load_tokenizer, resolve_model
from .params import count_parameters
from .tasks import get_task

ALL = 0  # max_train_samples=ALL trains on the whole training set


class ConfigError(ValueError):
    """Hyperparameters or sources that cannot make a run; raised before anything is written."""


@dataclass
class RunConfig:
    task: str
    method: str
    model: str | None = None  # None: bert-base-uncased online, the packaged encoder offline
    data_dir: str | None = None  # None: $GLUE_DIR, else the Hub
    max_train_samples: int | None = None  # None: the method's classroom default; ALL: everything
    max_eval_samples: int | None = None  # None: the whole dev set
    epochs: float | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    seed: int = 42
    max_seq_length: int = 128
    evaluations: int = 3  # dev evaluations spread over the run (the last one at the end)
    method_options: dict = field(default_factory=dict)


def classroom_configs(task: str, **common) -> list[RunConfig]:
    """One config per method with its classroom defaults: what "train all four" runs."""
    from .methods import METHODS

    return [RunConfig(task=task, method=name, **common) for name in METHODS]


@dataclass
class RunResult:
    status: str  # "complete" | "cancelled"
    run: checkpoints.RunRecord | None
    metrics: dict | None
    model: torch.nn.Module | None = None  # the trained model, still in memory


def _positive(name: str, value, integer: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be > 0, got {value}")
    if integer and int(value) != value:
        raise ConfigError(f"{name} must be a whole number, got {value}")


def classroom_defaults(task_name: str, method_name: str) -> dict:
    """The hyperparameters a (task, method) run uses when none are given: the method's, with as many
    passes over the training set as the task needs (see Task.classroom_epochs)."""
    defaults, task = get_method(method_name).defaults, get_task(task_name)
    return {
        "epochs": defaults.epochs * task.classroom_epochs,
        "learning_rate": defaults.learning_rate,
        "batch_size": defaults.batch_size,
        "max_train_samples": defaults.max_train_samples,
    }


def resolve_config(config: RunConfig) -> tuple[RunConfig, ModelSource]:
    """Check everything that can be checked cheaply and fill in the method's defaults.
    Raises ConfigError with a one-line reason; nothing is downloaded or written."""
    try:
        task = get_task(config.task)
        method = get_method(config.method)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    _positive("learning rate", config.learning_rate)
    _positive("epochs", config.epochs)
    _positive("batch size", config.batch_size, integer=True)
    _positive("max sequence length", config.max_seq_length, integer=True)
    _positive("evaluations", config.evaluations, integer=True)
    if config.max_train_samples not in (None, ALL):
        _positive("max train samples", config.max_train_samples, integer=True)
    if config.max_eval_samples is not None:
        _positive("max eval samples", config.max_eval_samples, integer=True)
    if config.data_dir:
        try:
            task_files(task, config.data_dir)
        except ValueError as e:
            raise ConfigError(str(e)) from None
    try:
        source = resolve_model(config.model)
        model_config = transformers.AutoConfig.from_pretrained(source.path, trust_remote_code=False)
        options = method.resolve(method.options(**config.method_options), model_config)
        method.validate(options, model_config)
    except (ValueError, TypeError, OSError) as e:
        raise ConfigError(str(e)) from None
    limit = getattr(model_config, "max_position_embeddings", 512)
    if config.max_seq_length > limit:
        raise ConfigError(f"max sequence length {config.max_seq_length} exceeds the model's limit {limit}")
    defaults = classroom_defaults(task.name, method.name)
    resolved = dataclasses.replace(
        config,
        model=source.name,
        max_train_samples=defaults["max_train_samples"]
        if config.max_train_samples is None
        else config.max_train_samples,
        epochs=config.epochs or defaults["epochs"],
        learning_rate=config.learning_rate or defaults["learning_rate"],
        batch_size=int(config.batch_size or defaults["batch_size"]),
        method_options=dataclasses.asdict(options),
    )
    return resolved, source


def train(
    config: RunConfig,
    listeners: list[Listener] | tuple[Listener, ...] = (),
    cancel: threading.Event | None = None,
    root: Path | None = None,
    progress_bar: bool = False,
) -> RunResult:
    """Train, evaluate and save one run. Cancelling (`cancel.set()` from any thread) stops at the
    next step and saves nothing, leaving earlier runs untouched."""
    config, source = resolve_config(config)
    task, method = get_task(config.task), get_method(config.method)
    cancel = cancel or threading.Event()
    root = Path(root or checkpoints.checkpoints_root())
    checkpoints.sweep_stale_staging(root)
    run_id = checkpoints.new_run_id()
    staging = checkpoints.staging_dir(root, run_id)
    event_log = EventLog(staging / checkpoints.EVENTS_FILE)
    emit = fan_out([event_log, *listeners])
    started = time.time()
    try:
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
        options = method.options(**config.method_options)
        model = load_classifier(source, task)
        full_total = count_parameters(model).total  # what full fine-tuning would train
        model = method.prepare(model, options, source)
        params = count_parameters(model)

        max_steps = math.ceil(math.ceil(len(encoded["train"]) / config.batch_size) * config.epochs)
        emit(
            {
                "type": "start",
                "run_id": run_id,
                "task": task.name,
                "method": method.name,
                "model": source.name,
                "train_samples": len(encoded["train"]),
                "eval_samples": len(encoded["validation"]),
                "max_steps": max_steps,
                "params": {**params.to_dict(), "full_total": full_total},
                "config": dataclasses.asdict(config),
            }
        )

        callback = TrainingEvents(emit, cancel, config.batch_size)
        trainer = build_trainer(
            config, model, tokenizer, encoded, staging / "trainer", callbacks=[callback], progress_bar=progress_bar
        )
        train_output = trainer.train()
        if callback.cancelled:
            emit(
                {
                    "type": "end",
                    "status": "cancelled",
                    "reason": "stopped by the user",
                    "step": trainer.state.global_step,
                }
            )
            event_log.close()
            checkpoints.discard(staging)
            return RunResult(status="cancelled", run=None, metrics=None)
        if callback.last_eval_step != trainer.state.global_step:
            trainer.evaluate()
        metrics = {k: callback.last_eval[k] for k in ("accuracy", "f1", "mcc", "headline")}
        if not trainer.is_world_process_zero():  # under `accelerate launch`, only the main process saves
            event_log.close()
            checkpoints.discard(staging)
            return RunResult(status="complete", run=None, metrics=metrics, model=model)

        # The Trainer's clock starts after its data loader is built, i.e. after selective's cache.
        train_seconds = train_output.metrics["train_runtime"] + getattr(trainer.train_dataset, "compute_seconds", 0.0)

        # Save: compact weights first, run.json last, then one atomic rename.
        checkpoints.discard(staging / "trainer")
        model_dir = staging / checkpoints.MODEL_DIR
        method.save(model, model_dir)
        tokenizer.save_pretrained(model_dir / "tokenizer")
        info = {
            "run_id": run_id,
            "task": task.name,
            "method": method.name,
            "model": source.name,
            "model_kind": source.kind,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "config": dataclasses.asdict(config),
            "metrics": metrics,
            "majority_baseline": majority_baseline(data["validation"]["label"], task),
            "params": {**params.to_dict(), "full_total": full_total},
            "size_bytes": checkpoints.folder_size(model_dir) - checkpoints.folder_size(model_dir / "tokenizer"),
            "train_seconds": round(train_seconds, 2),
            "train_samples": len(encoded["train"]),
            "eval_samples": len(encoded["validation"]),
            "train_samples_per_s": round(len(encoded["train"]) * config.epochs / train_seconds, 2),
            "versions": {
                "torch": _version("torch"),
                "transformers": transformers.__version__,
                "peft": _version("peft"),
            },
        }
        emit(
            {
                "type": "end",
                "status": "complete",
                "metrics": metrics,
                "size_bytes": info["size_bytes"],
                "train_seconds": info["train_seconds"],
            }
        )
        event_log.close()
        run = checkpoints.commit_run(staging, root, info)
        return RunResult(status="complete", run=run, metrics=metrics, model=model)
    except BaseException as e:
        emit({"type": "end", "status": "failed", "reason": f"{type(e).__name__}: {e}"})
        event_log.close()
        checkpoints.discard(staging)
        raise


def build_trainer(
    config: RunConfig,
    model,
    tokenizer,
    encoded,
    output_dir: Path,
    callbacks=(),
    progress_bar: bool = False,
    optimized: bool = True,
) -> Trainer:
    """The Trainer for a resolved config: dynamic padding, length-grouped batches, the method's own
    training setup (selective caches its frozen layers), several dev evaluations. `optimized=False`
    gives plain run_glue behaviour (random batches, the model as is) for the benchmark's baseline."""
    method, task = get_method(config.method), get_task(config.task)
    max_steps = math.ceil(math.ceil(len(encoded["train"]) / config.batch_size) * config.epochs)
    args = TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=config.epochs,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=max(64, config.batch_size),
        weight_decay=method.defaults.weight_decay,
        warmup_steps=method.defaults.warmup_ratio,  # < 1: a fraction of the total steps
        lr_scheduler_type="linear",
        eval_strategy="steps",
        eval_steps=max(1, math.ceil(max_steps / config.evaluations)),
        logging_steps=max(1, max_steps // 50),
        save_strategy="no",  # a run is saved once, atomically, by train()
        report_to="none",
        seed=config.seed,
        # similar lengths per batch: little padding
        train_sampling_strategy="group_by_length" if optimized else "random",
        remove_unused_columns=False,
        disable_tqdm=not progress_bar,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    collator = DataCollatorWithPadding(tokenizer)  # pads each batch to its own longest example
    options = method.options(**config.method_options)
    setup = (
        method.training_setup(model, options, encoded, collator)
        if optimized
        else TrainingSetup(model, encoded["train"], encoded["validation"], collator)
    )
    trainer = Trainer(
        model=setup.model,
        args=args,
        train_dataset=setup.train_dataset,
        eval_dataset=setup.eval_dataset,
        data_collator=setup.data_collator,
        processing_class=tokenizer,
        compute_metrics=trainer_metrics(task),
        callbacks=list(callbacks),
    )
    trainer.remove_callback(PrinterCallback)  # events are the log
    return trainer


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)
