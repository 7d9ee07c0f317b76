"""Estimates against real runs on a quiet and on a busy machine: what the Train tab says before each run, and
after a run has corrected it, beside the run's wall time.

    python -m finetune.bench.busy_estimates [--data-dir DIR] [--hogs 1]

A Space's CPU is shared. Three situations, each from a clean slate (nothing measured, no correction):
- quiet: measured and trained with nothing else running (and the second run's estimate after the first's pace);
- busy start: the lab starts (measures) while `--hogs` processes spin on the CPU, which stop before training;
  the measurement by the median of the timed steps (as before) beside the fastest (now), the second run's
  estimate after the first run corrected it, and both measured again once the line is empty (as the lab does
  when a run showed its measurement far off);
- busy throughout: the hogs spin while the lab measures and while it trains; the first run's estimate comes
  from the measurement alone, the second's after the first run's pace has corrected it.
Writes benchmarks/busy-estimates.json and .md (the README quotes them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from ..core.environment import settle
from ..core.models import PACKAGED_MODEL
from ..core.precision import machine_capabilities
from ..engine import estimate as estimating
from ..engine.config import RunConfig, classroom_defaults
from ..engine.train import train

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def busy_cpu(hogs: int):
    """`hogs` processes that spin on the CPU while the block runs (another tenant of a shared machine)."""
    spinning = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(hogs)]
    try:
        time.sleep(1.0)  # scheduled and spinning before anything is measured
        yield
    finally:
        for process in spinning:
            process.kill()
            process.wait()


def fresh_start(statistic=min) -> estimating.SpeedCorrection:
    """As a freshly started lab: nothing measured, no correction; layers timed by `statistic`."""
    estimating.layer_speed.cache_clear()
    estimating.SPEED_STATISTIC = statistic
    estimating.speed_correction = estimating.SpeedCorrection()
    return estimating.speed_correction


def runs(model: str, data_dir: str) -> list[RunConfig]:
    """Two short classroom runs: LoRA on 800 SST-2 examples (the issue's case), selective at its classroom size."""
    lora = RunConfig(task="sst2", method="lora", model=model, data_dir=data_dir,
                     **{**classroom_defaults("sst2", "lora"), "max_train_samples": 800})  # fmt: skip
    selective = RunConfig(task="sst2", method="selective", model=model, data_dir=data_dir,
                          **classroom_defaults("sst2", "selective"))  # fmt: skip
    return [lora, selective]


def measure(configs: list[RunConfig]) -> list[float]:
    """What the Train tab says for each run now (measuring this machine's layers the first time)."""
    return [round(estimating.estimate(config).seconds, 1) for config in configs]


def trained(config: RunConfig, correction: estimating.SpeedCorrection, checkpoints_dir: Path) -> float:
    started = time.perf_counter()
    train(config, listeners=[correction.listener(config)], checkpoints_dir=checkpoints_dir)
    return round(time.perf_counter() - started, 1)


def row(situation: str, config: RunConfig, estimated: float, real: float, note: str) -> dict:
    return {"situation": situation, "run": f"{config.task} {config.method} {config.max_train_samples}",
            "estimated_s": estimated, "real_s": real, "ratio": round(estimated / real, 2), "note": note}  # fmt: skip


def benchmark(model: str, data_dir: str, hogs: int) -> dict:
    configs = runs(model, data_dir)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        checkpoints = Path(folder)

        correction = fresh_start()
        quiet = measure(configs)
        first = trained(configs[0], correction, checkpoints)
        corrected = measure(configs)[1]
        second = trained(configs[1], correction, checkpoints)
        rows.append(row("quiet", configs[0], quiet[0], first, "measured quiet"))
        rows.append(row("quiet", configs[1], quiet[1], second, "measured quiet"))
        rows.append(row("quiet", configs[1], corrected, second, "after the first run's correction"))

        fresh_start(statistics.median)
        with busy_cpu(hogs):
            by_median = measure(configs)
        correction = fresh_start(min)
        with busy_cpu(hogs):
            by_fastest = measure(configs)
        first = trained(configs[0], correction, checkpoints)
        corrected = measure(configs)[1]  # after the first run's pace corrected it
        second = trained(configs[1], correction, checkpoints)
        estimating.remeasure_when_idle()  # the line is empty: a measurement that far off is taken again
        remeasured = measure(configs)
        for config, median, fastest, seconds in zip(configs, by_median, by_fastest, (first, second), strict=True):
            rows.append(row("busy start", config, median, seconds, "measured busy, median of steps (before)"))
            rows.append(row("busy start", config, fastest, seconds, "measured busy, fastest step (now)"))
        rows.append(row("busy start", configs[1], corrected, second, "after the first run's correction"))
        for config, again, seconds in zip(configs, remeasured, (first, second), strict=True):
            rows.append(row("busy start", config, again, seconds, "measured again once the line was empty"))

        correction = fresh_start(min)
        with busy_cpu(hogs):
            first_estimate = measure(configs)[0]
            first_real = trained(configs[0], correction, checkpoints)
            second_estimate = measure(configs)[1]  # after the first run's pace corrected it
            second_real = trained(configs[1], correction, checkpoints)
        rows.append(row("busy throughout", configs[0], first_estimate, first_real, "first run: measurement only"))
        rows.append(row("busy throughout", configs[1], second_estimate, second_real,
                        f"after the first run's correction (x{correction.factor:.2f})"))  # fmt: skip
    return {
        "command": "python -m finetune.bench.busy_estimates " + " ".join(sys.argv[1:]),
        "machine": machine_capabilities(),
        "torch_threads": torch.get_num_threads(),
        "hogs": hogs,
        "rows": rows,
    }


def markdown(result: dict) -> str:
    lines = [
        "# Estimates on a quiet and a busy machine",
        "",
        f"`{result['command'].strip()}` on {result['machine'].get('cpu', 'this machine')}, "
        f"{result['torch_threads']} torch threads, {result['hogs']} spinning process(es) as the other tenant.",
        "",
        "| situation | run | estimated s | real s | estimated / real | how the estimate was made |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['situation']} | {r['run']} | {r['estimated_s']} | {r['real_s']} | {r['ratio']} | "
                     f"{r['note']} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    settle()  # an entry point: before the libraries that read the environment start
    parser = argparse.ArgumentParser(prog="python -m finetune.bench.busy_estimates", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("GLUE_DIR"), help="local GLUE directory ($GLUE_DIR)")
    parser.add_argument("--model", default=PACKAGED_MODEL)
    parser.add_argument("--hogs", type=int, default=1, help="processes spinning on the CPU while it is busy")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "busy-estimates.json")
    args = parser.parse_args(argv)
    if not args.data_dir:
        parser.error("set GLUE_DIR or --data-dir to a local GLUE directory")
    result = benchmark(args.model, args.data_dir, args.hogs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
