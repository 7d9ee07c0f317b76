"""Worker processes, measured: a run trained in the app against the same run from the CLI, however many runs came
before it; the app's memory after each run; and the Playground's four-way prediction with four bert-base-sized runs
against the packaged encoder's.

    python -m finetune.bench.workers [--data-dir DIR] [--runs 8] [--latency-samples 100]

The app is started as a person starts it (``python app.py``, a store of its own) and driven through
gradio_client; the CLI runs as ``python -m finetune train``. The measured run is timed in the order CLI, app
(first run after the start), app (after --runs other runs of every task and method), CLI, so that a drift of the
machine shows as a difference between the two CLI runs. No bert-base-uncased weights reach this machine: its runs
are a randomly initialised encoder of its shape (BertConfig's defaults are bert-base's), which times prediction
but says nothing of quality. Writes benchmarks/workers.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..core.checkpoints import list_runs
from ..core.environment import settle
from ..core.methods import METHODS
from ..core.models import PACKAGED_MODEL, resolve_model
from ..core.precision import machine_capabilities
from ..engine.config import RunConfig
from ..engine.train import train
from . import inference, memory
from .zerogpu_device import random_bert_base

REPO = Path(__file__).resolve().parents[2]
# The run timed in both places: SST-2 LoRA at its classroom settings on fewer examples (about half a minute).
MEASURED = {"task": "sst2", "method": "lora", "max_train_samples": 4000, "evaluations": 1, "seed": 0}
# The runs between: every task and method, short, as a class would leave them in a long-lived app.
BETWEEN = [
    {"task": "mrpc", "method": "full", "max_train_samples": 600},
    {"task": "cola", "method": "lora", "max_train_samples": 1200},
    {"task": "sst2", "method": "selective", "max_train_samples": 1500},
    {"task": "mrpc", "method": "prompt", "max_train_samples": 600},
    {"task": "cola", "method": "full", "max_train_samples": 1200},
    {"task": "sst2", "method": "prompt", "max_train_samples": 1500},
    {"task": "mrpc", "method": "lora", "max_train_samples": 600},
    {"task": "cola", "method": "selective", "max_train_samples": 1200},
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(store: Path, data_dir: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "GLUE_DIR": data_dir, "FINETUNE_CHECKPOINTS": str(store),
            "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", **extra}  # fmt: skip


def cli_train(args: list[str], data_dir: str, scratch: Path) -> tuple[float, Path]:
    """`python -m finetune train ARGS` from the terminal, in a fresh process on a store of its own under `scratch`:
    (its wall seconds, the store)."""
    store = Path(tempfile.mkdtemp(dir=scratch))
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "finetune", "train", *args, "--data-dir", data_dir,
                    "--checkpoints-dir", str(store)], check=True, cwd=REPO, env=child_env(store, data_dir),
                   capture_output=True)  # fmt: skip
    return round(time.perf_counter() - started, 1), store


def flags(settings: dict) -> list[str]:
    """Run settings as the CLI's flags (`max_train_samples` -> `--max-train-samples=...`)."""
    return [f"--{k.replace('_', '-')}={v}" for k, v in settings.items()]


def cli_run(data_dir: str, scratch: Path) -> dict:
    """The measured run from the terminal, in a fresh process: its wall time and the run's own training seconds."""
    wall, store = cli_train(flags(MEASURED), data_dir, scratch)
    [run] = list_runs(store)
    return {"where": "CLI", "wall_seconds": wall, "train_seconds": run.info["train_seconds"],
            "accuracy": round(run.info["metrics"]["accuracy"], 4)}  # fmt: skip


class App:
    """`python app.py` on a store of its own, reached through gradio_client as a visitor reaches it."""

    def __init__(self, data_dir: str, store: Path):
        import psutil
        from gradio_client import Client

        port = free_port()
        env = child_env(store, data_dir, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1")
        self.process = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)  # fmt: skip
        self.store = store
        self.url = url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 300
        while True:
            try:
                self.client = Client(url, verbose=False)
                break
            except Exception:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the app did not start") from None
                time.sleep(1)
        self.psutil = psutil.Process(self.process.pid)

    def resident_mb(self) -> float:
        """The app's own process only: the training workers are processes of their own, gone after each run."""
        return round(self.psutil.memory_info().rss / 1e6, 1)

    def train(self, settings: dict) -> dict:
        before = {r.run_id for r in list_runs(self.store)}
        started = time.perf_counter()
        self.client.predict(**settings, api_name="/train")
        wall = time.perf_counter() - started
        [run] = [r for r in list_runs(self.store) if r.run_id not in before]
        return {"wall_seconds": round(wall, 1), "train_seconds": run.info["train_seconds"],
                "metrics": run.info["metrics"]}  # fmt: skip

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def app_against_cli(data_dir: str, between: list[dict], scratch: Path) -> dict:
    rows, memory_after = [cli_run(data_dir, scratch)], []
    app = App(data_dir, scratch / "app-store")
    try:
        memory_after.append({"after_runs": 0, "app_mb": app.resident_mb()})

        def measured(label: str) -> None:
            run = app.train(MEASURED)
            rows.append({"where": label, "wall_seconds": run["wall_seconds"], "train_seconds": run["train_seconds"],
                         "accuracy": round(run["metrics"]["accuracy"], 4)})  # fmt: skip
            memory_after.append({"after_runs": len(memory_after), "app_mb": app.resident_mb()})

        measured("app, first run after its start")
        for settings in between:
            app.train({**settings, "evaluations": 1, "seed": 0})
            memory_after.append({"after_runs": len(memory_after), "app_mb": app.resident_mb()})
            print(f"[workers] {settings}: app {memory_after[-1]['app_mb']} MB", file=sys.stderr, flush=True)
        measured(f"app, after {len(between) + 1} runs")
    finally:
        app.close()
    rows.append(cli_run(data_dir, scratch))
    return {"measured_run": MEASURED, "runs": rows, "app_memory": memory_after}


def four_way(model: str, data_dir: str, samples: int, scratch: Path) -> dict:
    """Four SST-2 runs of `model` (a few steps each: prediction time does not depend on how long they trained),
    then the Playground's four-way prediction and its resident memory with the four loaded."""
    store = Path(tempfile.mkdtemp(dir=scratch))
    for method in METHODS:
        config = RunConfig(task="sst2", method=method, model=model, data_dir=data_dir, max_train_samples=32,
                           batch_size=16, epochs=1, max_eval_samples=16, evaluations=1)  # fmt: skip
        train(config, checkpoints_dir=store)
    latency = inference.four_way_latency(store, data_dir, samples)
    return {**latency, **memory.resident_memory(store)}


def main(argv: list[str] | None = None) -> int:
    settle()  # an entry point: before the libraries that read the environment start
    import torch

    parser = argparse.ArgumentParser(prog="python -m finetune.bench.workers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("GLUE_DIR"), help="local GLUE directory ($GLUE_DIR)")
    parser.add_argument("--runs", type=int, default=len(BETWEEN), help="runs trained between the two measured ones")
    parser.add_argument("--latency-samples", type=int, default=100)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "workers.json")
    args = parser.parse_args(argv)
    if not args.data_dir:
        parser.error("set GLUE_DIR or --data-dir to a local GLUE directory")
    between = [BETWEEN[i % len(BETWEEN)] for i in range(args.runs)]
    result: dict = {"command": "python -m finetune.bench.workers " + " ".join(argv or sys.argv[1:]),
                    "machine": machine_capabilities(), "torch_threads": torch.get_num_threads()}  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        result["app_vs_cli"] = app_against_cli(args.data_dir, between, Path(scratch))
        bert_base = random_bert_base(Path(scratch) / "bert-base-shape", resolve_model(PACKAGED_MODEL).path)
        encoders = {PACKAGED_MODEL: PACKAGED_MODEL, "bert-base-uncased shape (random weights)": bert_base}
        result["four_way_prediction"] = {
            name: four_way(model, args.data_dir, args.latency_samples, Path(scratch))
            for name, model in encoders.items()
        }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


def markdown(result: dict) -> str:
    machine = result["machine"]
    part = result["app_vs_cli"]
    lines = [
        "# Worker processes: the app against the CLI, its memory, four-way prediction",
        "",
        f"`{result['command']}` on {machine['cpu']}, {machine['cpu_cores']} cores, "
        f"torch threads {result['torch_threads']}. Generated from `benchmarks/workers.json`.",
        "",
        "## The same run in the app and from the CLI ("
        + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in part["measured_run"].items())
        + ")",
        "",
        "| where | wall s | training s | accuracy |",
        "|---|---|---|---|",
        *[f"| {r['where']} | {r['wall_seconds']} | {r['train_seconds']} | {r['accuracy']} |" for r in part["runs"]],
        "",
        "Wall: from the command (CLI) or the `/train` call (app) to the saved run; training: the run's own "
        "`train_seconds` in `run.json`.",
        "",
        "## The app's resident memory after each run (its own process; each run's worker is gone)",
        "",
        "| runs trained | app MB |",
        "|---|---|",
        *[f"| {m['after_runs']} | {m['app_mb']} |" for m in part["app_memory"]],
        "",
        "## The Playground's four-way prediction (SST-2, one sentence at a time, on the CPU)",
        "",
        "| encoder of the four runs | p50 ms | p95 ms | explain p50 ms | four loaded, MB resident |",
        "|---|---|---|---|---|",
        *[
            f"| {name} | {r['four_way_latency_p50_ms']} | {r['four_way_latency_p95_ms']} | "
            f"{r['four_way_explain_p50_ms']} | {r['four_shared_mb']} |"
            for name, r in result["four_way_prediction"].items()
        ],
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
