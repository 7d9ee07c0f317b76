"""Memory with the four methods loaded: exact bytes of distinct tensors, and resident memory (RSS)
measured in fresh child processes (``memory_probe``) so one measurement cannot inflate the next."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..core.checkpoints import latest_run
from ..core.methods import METHODS
from ..engine.predict import Predictor, load_trained

REPO = Path(__file__).resolve().parents[2]


def unique_tensor_bytes(models) -> int:
    """Bytes of distinct tensor storage across models: shared tensors count once."""
    seen: dict[int, int] = {}
    for model in models:
        for t in [*model.parameters(), *model.buffers()]:
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    return sum(seen.values())


def tensor_memory(checkpoints_dir: Path) -> dict:
    runs = [latest_run("sst2", m, checkpoints_dir) for m in METHODS]
    shared = Predictor(checkpoints_dir)
    shared_models = [model for r in runs if r is not None for model, _ in shared.held_models(r)]
    independent = [load_trained(r) for r in runs if r is not None]
    one = unique_tensor_bytes([independent[0]])
    return {
        "one_model_tensor_mb": round(one / 1e6, 1),
        "four_shared_tensor_mb": round(unique_tensor_bytes(shared_models) / 1e6, 1),
        "four_independent_tensor_mb": round(unique_tensor_bytes(independent) / 1e6, 1),
        "shared_vs_one_model_tensors": round(unique_tensor_bytes(shared_models) / one, 2),
        "independent_vs_one_model_tensors": round(unique_tensor_bytes(independent) / one, 2),
    }


def resident_memory(checkpoints_dir: Path) -> dict:
    def rss(mode: str) -> int:
        out = subprocess.run(
            [sys.executable, "-m", "finetune.bench.memory_probe", str(checkpoints_dir), mode],
            capture_output=True, text=True, check=True, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        return int(out.stdout.strip().splitlines()[-1])

    one, shared, independent = rss("one"), rss("shared"), rss("independent")
    return {
        "one_model_mb": round(one / 1e6, 1),
        "four_shared_mb": round(shared / 1e6, 1),
        "four_independent_mb": round(independent / 1e6, 1),
        "shared_vs_one_model": round(shared / one, 2),
        "independent_vs_one_model": round(independent / one, 2),
    }
