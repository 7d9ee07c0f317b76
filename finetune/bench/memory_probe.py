"""Child program of the memory benchmark: resident memory added by loading one model, the four methods
through the Predictor (shared base), or four independent copies. Prints the bytes as JSON.

    python -m finetune.bench.memory_probe CHECKPOINTS_DIR {one,shared,independent}
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

import psutil

from ..core.checkpoints import latest_run
from ..core.methods import METHODS
from ..core.models import load_classifier, resolve_model
from ..core.tasks import get_task
from ..engine.predict import Predictor, classify, load_trained, run_tokenizer


def main(checkpoints_dir: Path, mode: str) -> int:
    runs = [run for m in METHODS if (run := latest_run("sst2", m, checkpoints_dir)) is not None]
    assert len(runs) == len(METHODS), "every method needs an SST-2 run"
    task = get_task("sst2")
    tokenizer = run_tokenizer(runs[0])

    def touch(model, precision: str = "fp32") -> None:  # a forward pass: every weight really resident (memory-mapped)
        classify(model, tokenizer, task, ["warm up"], None, 16, precision)

    touch(load_classifier(resolve_model(runs[0].info["model"]), task))  # allocator and kernels warmed up first
    gc.collect()
    before = psutil.Process().memory_info().rss
    if mode == "one":
        keep = [(load_classifier(resolve_model(runs[0].info["model"]), task), "fp32")]
    elif mode == "shared":
        predictor = Predictor(checkpoints_dir)
        keep = [held for r in runs for held in predictor.held_models(r)]
    else:
        keep = [(load_trained(r), "fp32") for r in runs]
    for model, precision in keep:
        touch(model, precision)
    gc.collect()
    print(json.dumps(psutil.Process().memory_info().rss - before))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2]))
