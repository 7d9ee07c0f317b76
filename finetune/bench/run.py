"""``python -m finetune.bench``: runs the benchmark's parts in order and writes the JSON and the table."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from ..core.checkpoints import list_runs
from ..core.methods import METHODS
from ..core.models import PACKAGED_MODEL, load_tokenizer, resolve_model
from ..core.precision import PRECISIONS, machine_capabilities
from ..core.tasks import TASKS
from . import classroom, efficiency, inference, memory, report, throughput

REPO = Path(__file__).resolve().parents[2]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m finetune.bench", description="Benchmark the lab's training "
                                     "and prediction against a run_glue-style baseline.")  # fmt: skip
    parser.add_argument("--data-dir", default=os.environ.get("GLUE_DIR"), help="local GLUE directory ($GLUE_DIR)")
    parser.add_argument("--model", default=PACKAGED_MODEL)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--throughput-samples", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--latency-samples", type=int, default=100)
    parser.add_argument("--skip-classroom", action="store_true", help="throughput and efficiency only")
    parser.add_argument("--classroom-tasks", nargs="+", default=list(TASKS), choices=list(TASKS),
                        help="tasks whose 'Train all' runs are timed (each in every --precisions)")  # fmt: skip
    parser.add_argument("--classroom-samples", type=int, default=None, metavar="N",
                        help="cap each classroom run at N training and N dev examples: a quick check of the "
                        "benchmark itself, not the classroom's figures (default: each recipe's own, the whole dev "
                        "set)")  # fmt: skip
    parser.add_argument("--precisions", nargs="+", default=["auto", "fp32"], choices=list(PRECISIONS),
                        help="precisions of the classroom runs, side by side")  # fmt: skip
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "latest.json")
    parser.add_argument("--markdown", type=Path, default=REPO / "BENCHMARKS.md")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.data_dir:
        parser.error("set GLUE_DIR or --data-dir to a local GLUE directory")

    source = resolve_model(args.model)
    tokenizer = load_tokenizer(source)
    result: dict = {
        "command": "python -m finetune.bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine_capabilities(),
        "config": {
            k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k not in ("out", "markdown")
        },
    }
    sizes = {"samples": args.throughput_samples, "batch_size": args.batch_size, "repeats": args.repeats}
    result["methods"] = throughput.training_throughput(args.methods, source, tokenizer, args.data_dir, **sizes)
    if "selective" in result["methods"]:
        result["selective_cache"] = throughput.selective_cache_gain(source, tokenizer, args.data_dir, **sizes)
    if "full" in result["methods"]:
        full = result["methods"]["full"]
        speeds = {full["precision"]: full["tokens_per_s"], "fp32": full["fp32_tokens_per_s"]}
        result["efficiency"] = efficiency.hardware_efficiency(
            speeds, source, tokenizer, args.data_dir, args.throughput_samples
        )
    if not args.skip_classroom:
        result["classroom"] = []
        with tempfile.TemporaryDirectory() as served:
            checkpoints_dir = Path(served)  # SST-2 in the lab's default precision: the runs predictions are timed on
            for task in args.classroom_tasks:
                for precision in args.precisions:
                    with tempfile.TemporaryDirectory() as other:
                        folder = checkpoints_dir if (task, precision) == ("sst2", "auto") else Path(other)
                        result["classroom"].append(classroom.train_all(
                            folder, args.model, args.data_dir, task, precision, args.classroom_samples
                        ))  # fmt: skip
            if not list_runs(checkpoints_dir):
                classroom.train_all(checkpoints_dir, args.model, args.data_dir, "sst2", samples=args.classroom_samples)
            result["inference"] = inference.four_way_latency(checkpoints_dir, args.data_dir, args.latency_samples)
            result["memory"] = {**memory.resident_memory(checkpoints_dir), **memory.tensor_memory(checkpoints_dir)}
            result["evaluation"] = inference.evaluation_pass(checkpoints_dir, args.data_dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    args.markdown.write_text(report.markdown(result))
    print(report.markdown(result))
    return 0
