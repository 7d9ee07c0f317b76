"""Side-by-side prediction latency and throughput, the Playground's "why" (four-way word attributions),
and one evaluation pass over the SST-2 dev set."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from transformers import DataCollatorWithPadding

from ..core.checkpoints import latest_run
from ..core.data import load_glue, tokenize
from ..core.methods import METHODS
from ..core.methods.base import plain_setup
from ..core.precision import serving_precision
from ..core.tasks import get_task
from ..engine.config import RunConfig
from ..engine.predict import Predictor, classify, load_trained, run_tokenizer
from ..engine.train import build_trainer


def four_way_latency(checkpoints_dir: Path, data_dir: str, samples: int) -> dict:
    predictor = Predictor(checkpoints_dir)
    sentences = list(load_glue(get_task("sst2"), data_dir)["validation"]["sentence"])
    predictor.predict("sst2", sentences[0])  # load everything once
    latencies = []
    for sentence in sentences[:samples]:
        started = time.perf_counter()
        predictor.predict("sst2", sentence)
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    batch = sentences[:64]
    task = get_task("sst2")
    started = time.perf_counter()
    for name in METHODS:
        run = latest_run("sst2", name, checkpoints_dir)
        assert run is not None, f"no {name} run to time"
        _, tokenizer = predictor.model_for(run)
        precision = serving_precision(run.info.get("precision"))
        classify(predictor.predicting_model(run), tokenizer, task, batch, None, 128, precision)
    batch_seconds = time.perf_counter() - started
    # "Why?": every method's word attributions for one sentence, on request (engine/explain.py).
    predictor.explain("sst2", sentences[0])  # captum loaded, once
    explain_seconds = []
    for sentence in sentences[: max(3, samples // 10)]:
        started = time.perf_counter()
        predictor.explain("sst2", sentence)
        explain_seconds.append(time.perf_counter() - started)
    explain_seconds.sort()
    return {
        "four_way_explain_p50_ms": round(1000 * explain_seconds[len(explain_seconds) // 2], 1),
        "four_way_latency_p50_ms": round(1000 * latencies[len(latencies) // 2], 2),
        "four_way_latency_p95_ms": round(1000 * latencies[int(len(latencies) * 0.95) - 1], 2),
        "four_way_batch64_sentences_per_s": round(64 / batch_seconds, 1),
        "latency_samples": len(latencies),
    }


def evaluation_pass(checkpoints_dir: Path, data_dir: str) -> dict:
    """Seconds to score the whole SST-2 dev set with each method's saved run, through the Trainer."""
    task = get_task("sst2")
    data = load_glue(task, data_dir, max_train_samples=8)
    results = {}
    for name in METHODS:
        run = latest_run("sst2", name, checkpoints_dir)
        assert run is not None, f"no {name} run to evaluate"
        config = RunConfig(**run.info["config"])
        tokenizer = run_tokenizer(run)
        encoded = tokenize(data, tokenizer, task, config.max_seq_length)
        setup = plain_setup(load_trained(run), encoded, DataCollatorWithPadding(tokenizer))
        with tempfile.TemporaryDirectory() as out:
            trainer = build_trainer(config, setup, tokenizer, Path(out), max_steps=1)
            started = time.perf_counter()
            metrics = trainer.evaluate()
            seconds = time.perf_counter() - started
        results[name] = {"seconds": round(seconds, 2), "accuracy": round(metrics["eval_accuracy"], 4)}
    return results
