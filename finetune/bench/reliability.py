"""Probes of a public lab as a hostile visitor and a careless class would send them: each probe, what the lab
answered, and whether that held; then /predict's latency while a run trains and other visitors hammer /explain
and /export_bundle.

    python -m finetune.bench.reliability [--data-dir DIR] [--clients 4] [--predictions 40]

Starts the lab in this process as a public Space runs it (LAB_PUBLIC, no instructor token), on a store of its
own with two short runs of the packaged encoder, and talks to it through gradio_client like any visitor.
Writes benchmarks/reliability.json and .md; exits 1 when a probe did not hold.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from ..core import checkpoints
from ..core.environment import settle
from ..core.models import PACKAGED_MODEL
from ..engine import worker
from ..engine.bundle import BundleError, export_runs, import_bundle
from ..engine.config import RunConfig
from ..engine.predict import Predictor
from ..engine.train import train

REPO = Path(__file__).resolve().parents[2]
GENERIC = ("There was an error", "Traceback", "Error(", "Exception")  # what a visitor must never read


def refusal(call: Callable[[], object]) -> str:
    """The message a call was refused with ('' when it was answered)."""
    from gradio_client.exceptions import AppError

    try:
        call()
    except AppError as e:
        return str(e)
    return ""


class Probes:
    def __init__(self):
        self.rows: list[dict] = []

    def check(self, name: str, held: bool, answer: str) -> None:
        self.rows.append({"probe": name, "held": bool(held), "answer": answer[:200]})
        print(f"[{'held' if held else 'FAILED'}] {name}: {answer[:120]}", file=sys.stderr, flush=True)

    def refused_in_words(self, name: str, call: Callable[[], object], words: str) -> None:
        message = refusal(call)
        plain = bool(message) and not any(g in message for g in GENERIC) and "/tmp" not in message
        self.check(name, plain and words in message, message or "(answered, not refused)")


def short_runs(store: Path, data_dir: str) -> None:
    for method in ("lora", "full"):
        train(RunConfig(task="sst2", method=method, model=PACKAGED_MODEL, data_dir=data_dir, max_train_samples=400,
                        max_eval_samples=200, evaluations=1), checkpoints_dir=store)  # fmt: skip


def crafted_adapter_probes(probes: Probes, store: Path, scratch: Path) -> None:
    """H1: an adapter whose config says r=999999, as a bundle and as a folder already in the store."""
    plain, crafted = scratch / "plain.zip", scratch / "crafted.zip"
    export_runs(plain, "sst2", ["lora"], checkpoints_dir=store)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(crafted, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            if name.endswith("adapter_config.json"):
                content = json.dumps({**json.loads(content), "r": 999999}).encode()
            target.writestr(name, content)
    try:
        import_bundle(crafted, scratch / "other-store")
        probes.check("crafted adapter bundle (r=999999)", False, "imported")
    except BundleError as e:
        probes.check("crafted adapter bundle (r=999999)", "rank 999999" in str(e), str(e))
    copy = scratch / "store-copy"
    shutil.copytree(store, copy)
    [lora] = checkpoints.list_runs(copy, "sst2", "lora")
    config = lora.model_dir / "adapter_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "r": 999999}))
    answers = {p.method: p.status for p in Predictor(copy).predict("sst2", "x")}
    probes.check("crafted adapter in the store: the first prediction", answers.get("lora") == "not_trained",
                 f"LoRA card: {answers.get('lora')}; broken: {checkpoints.scan_runs(copy).summary()}")  # fmt: skip


def api_probes(probes: Probes, url: str) -> None:
    from gradio_client import Client

    student, other = Client(url, verbose=False), Client(url, verbose=False)
    for name, args, words in [
        ("empty text", ("sst2", ""), "is empty"),
        ("invisible-only text", ("sst2", "\u200b\u200b \t"), "no visible characters"),
        ("huge text", ("sst2", "good " * 3000), "the limit is"),
        ("a number for text", ("sst2", 123), "must be text"),
        ("an unknown task", ("qnli", "a film"), "unknown task"),
        ("a list for the task", (["sst2"], "a film"), "task"),
        ("a pair for a single-sentence task", ("sst2", "a", "b"), "classifies a single sentence"),
    ]:

        def ask(arguments: tuple = args) -> object:
            return student.predict(*arguments, api_name="/predict")

        probes.refused_in_words(f"/predict: {name}", ask, words)
    probes.refused_in_words("/explain: a dict for the task",
                            lambda: student.predict({"t": 1}, "a film", api_name="/explain"), "task")  # fmt: skip
    hostage = {"epochs": 20, "max_train_samples": 0, "batch_size": 14}  # the finding: 96,220 steps, ~20 hours
    probes.refused_in_words("/train: 20 epochs over all of SST-2 (H2)", lambda: student.predict(
        "sst2", "full", **hostage, api_name="/train"), "this lab allows")  # fmt: skip
    probes.refused_in_words("/train: batch size 0", lambda: student.predict("sst2", "lora", batch_size=0,
                            api_name="/train"), "Batch size must be")  # fmt: skip
    probes.refused_in_words("/train: a server folder for the data", lambda: student.predict(
        "sst2", "lora", data_dir="/etc", api_name="/train"), "server folder")  # fmt: skip
    probes.refused_in_words("/resume: a 1 MB run id", lambda: student.predict("x" * 1_000_000, api_name="/resume"),
                            "run id")  # fmt: skip
    probes.refused_in_words("/resume: a number", lambda: student.predict(7, api_name="/resume"), "run id")
    probes.refused_in_words("/export_bundle: no task (L3)", lambda: student.predict(None, api_name="/export_bundle"),
                            "choose a task")  # fmt: skip
    probes.refused_in_words("/import_bundle on a public lab without a token", lambda: other.predict(
        None, None, api_name="/import_bundle"), "public lab")  # fmt: skip
    started = time.perf_counter()
    first = student.predict("sst2", api_name="/export_bundle")
    made = time.perf_counter() - started
    started = time.perf_counter()
    again = student.predict("sst2", api_name="/export_bundle")
    probes.check("/export_bundle twice: one bundle, made once (M2)", Path(first).name == Path(again).name,
                 f"first {made:.2f} s, again {time.perf_counter() - started:.2f} s")  # fmt: skip


def latency_under_load(url: str, clients: int, predictions: int) -> dict:
    """/predict's latency while a run trains and `clients` visitors loop on /explain (a long input) and
    /export_bundle; a second /train of the training visitor is refused meanwhile (one job each)."""
    from gradio_client import Client

    trainer = Client(url, verbose=False)
    training = trainer.submit("sst2", "lora", max_train_samples=3000, api_name="/train")
    time.sleep(3.0)
    second = refusal(lambda: trainer.predict("sst2", "full", api_name="/train"))
    stop = threading.Event()

    def hammer(i: int) -> None:
        client = Client(url, verbose=False)
        while not stop.is_set():
            try:
                if i % 2:
                    client.predict("sst2", "good " * 1000, api_name="/explain")
                else:
                    client.predict("sst2", api_name="/export_bundle")
            except Exception:
                pass

    threads = [threading.Thread(target=hammer, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)
    visitor, seconds = Client(url, verbose=False), []
    for _ in range(predictions):
        started = time.perf_counter()
        visitor.predict("sst2", "a gorgeous, witty, seductive movie.", api_name="/predict")
        seconds.append(time.perf_counter() - started)
    stop.set()
    for thread in threads:
        thread.join(120)
    trainer.predict(api_name="/stop")
    with contextlib.suppress(Exception):  # a stopped run answers with an error: it is the stop that counts
        training.result(timeout=120)
    seconds.sort()
    return {
        "predictions": len(seconds),
        "p50_s": round(statistics.median(seconds), 3),
        "p95_s": round(seconds[int(0.95 * (len(seconds) - 1))], 3),
        "max_s": round(seconds[-1], 3),
        "hammering_clients": clients,
        "second_job_refused": second,
    }


def visitors_predicting(url: str, visitors: int, each: int) -> dict:
    """/predict's latency when `visitors` visitors predict at once (each `each` times, one after the other) while a run
    trains: a class in the Playground during the teacher's run. The visitors' clients run in a process of their own
    at the lowest CPU priority (a class's browsers are not on the server: here they must share its cores, and they
    must not share the app's interpreter lock, as threads of this process would)."""
    import subprocess

    from gradio_client import Client

    trainer = Client(url, verbose=False)
    training = trainer.submit("sst2", "full", max_train_samples=6000, api_name="/train")
    time.sleep(8.0)  # its worker started and training
    crowd = subprocess.run([sys.executable, "-m", "finetune.bench.reliability", "--crowd-of", url, str(visitors),
                            str(each)], capture_output=True, text=True, timeout=900,
                           env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    trainer.predict(api_name="/stop")
    with contextlib.suppress(Exception):
        training.result(timeout=120)
    seconds = sorted(json.loads(crowd.stdout.strip().splitlines()[-1]))
    return {
        "visitors": visitors,
        "predictions": len(seconds),
        "p50_s": round(statistics.median(seconds), 3),
        "p95_s": round(seconds[int(0.95 * (len(seconds) - 1))], 3),
        "max_s": round(seconds[-1], 3),
    }


def crowd_of(url: str, visitors: int, each: int) -> list[float]:
    """In the crowd's own process (`--crowd-of`): `visitors` clients predicting `each` times; their latencies."""
    from gradio_client import Client

    with contextlib.suppress(OSError):
        os.nice(19)
    seconds: list[float] = []
    lock = threading.Lock()

    def visitor(i: int) -> None:
        client = Client(url, verbose=False)
        for k in range(each):
            started = time.perf_counter()
            client.predict("sst2", f"visitor {i} finds this movie {'good' if k % 2 else 'dull'}", api_name="/predict")
            with lock:
                seconds.append(time.perf_counter() - started)

    threads = [threading.Thread(target=visitor, args=(i,), daemon=True) for i in range(visitors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    return seconds


def markdown(result: dict) -> str:
    held = sum(r["held"] for r in result["probes"])
    lines = [
        "# Reliability probes of a public lab",
        "",
        f"`{result['command'].strip()}`: {held} of {len(result['probes'])} probes held.",
        "",
        "| probe | held | the lab's answer |",
        "|---|---|---|",
        *[
            f"| {r['probe']} | {'yes' if r['held'] else '**no**'} | {r['answer'].replace('|', '/')} |"
            for r in result["probes"]
        ],
        "",
        f"/predict while a run trains and {result['latency']['hammering_clients']} visitors loop on /explain and "
        f"/export_bundle: p50 {result['latency']['p50_s']} s, p95 {result['latency']['p95_s']} s, max "
        f"{result['latency']['max_s']} s over {result['latency']['predictions']} predictions (goal: p95 at most 2 s).",
    ]
    if crowd := result.get("crowd"):
        visitors = crowd["niceness"][0]["visitors"]
        lines += ["", f"{visitors} visitors predicting at once while a run trains (the training worker's CPU "
                  "priority, LAB_WORKER_NICENESS; the same lab, one after the other):", "",
                  "| worker niceness | predictions | p50 s | p95 s | max s |", "|---|---|---|---|---|",
                  *[f"| {r['worker_niceness']} | {r['predictions']} | {r['p50_s']} | {r['p95_s']} | {r['max_s']} |"
                    for r in crowd["niceness"]]]  # fmt: skip
    lines += ["", f"Machine: {result.get('machine', 'unknown')}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    settle()  # an entry point: before the libraries that read the environment start
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--crowd-of"]:  # the crowd's own process (visitors_predicting)
        print(json.dumps(crowd_of(argv[1], int(argv[2]), int(argv[3]))))
        return 0
    parser = argparse.ArgumentParser(prog="python -m finetune.bench.reliability", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("GLUE_DIR"), help="local GLUE directory ($GLUE_DIR)")
    parser.add_argument("--clients", type=int, default=4, help="visitors hammering /explain and /export_bundle")
    parser.add_argument("--predictions", type=int, default=40, help="/predict calls timed under that load")
    parser.add_argument("--visitors", type=int, default=20, help="visitors predicting at once while a run trains")
    parser.add_argument("--each", type=int, default=5, help="/predict calls of each of those visitors")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "reliability.json")
    args = parser.parse_args(argv)
    if not args.data_dir:
        parser.error("set GLUE_DIR or --data-dir to a local GLUE directory")
    os.environ["GLUE_DIR"] = args.data_dir  # the public lab reads the server's data, named by no visitor
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

    # The lab's front end, imported by name: the engine (and its type checks) never depend on the UI.
    lab = importlib.import_module("app")
    deployment = importlib.import_module("webui.deployment")

    probes = Probes()
    with tempfile.TemporaryDirectory(prefix="glue-tune-lab-reliability-") as folder:
        store = Path(folder) / "checkpoints"
        short_runs(store, args.data_dir)
        crafted_adapter_probes(probes, store, Path(folder))
        public = deployment.Deployment(public=True, training=True, instructor_token=None, encoders=(PACKAGED_MODEL,),
                            max_run_s=15 * 60)  # fmt: skip
        demo = lab.create_app(store, public)
        demo.queue(default_concurrency_limit=2, max_size=lab.MAX_QUEUE).launch(
            server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True
        )
        try:
            url = demo.local_url
            api_probes(probes, url)
            latency = latency_under_load(url, args.clients, args.predictions)
            crowd = []
            for niceness in ("0", str(worker.NICENESS)):  # the worker at the app's priority, then standing back
                os.environ["LAB_WORKER_NICENESS"] = niceness
                crowd.append({"worker_niceness": int(niceness), **visitors_predicting(url, args.visitors, args.each)})
            os.environ.pop("LAB_WORKER_NICENESS")
        finally:
            demo.runner.stop(override=True)
            demo.runner.wait(60)
            demo.close()
    probes.check("a second job of a visitor whose run trains (H2)", "one at a time" in latency["second_job_refused"],
                 latency["second_job_refused"] or "(accepted)")  # fmt: skip
    probes.check("/predict p95 at most 2 s under that load (M1)", latency["p95_s"] <= 2.0, f"p95 {latency['p95_s']} s")
    ours = crowd[-1]
    probes.check(f"/predict p95 at most 2 s with {args.visitors} visitors predicting while a run trains",
                 ours["p95_s"] <= 2.0, f"p95 {ours['p95_s']} s")  # fmt: skip
    result = {"command": "python -m finetune.bench.reliability " + " ".join(sys.argv[1:]), "probes": probes.rows,
              "latency": latency, "crowd": {"niceness": crowd}, "machine": machine_words()}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0 if all(r["held"] for r in probes.rows) else 1


def machine_words() -> str:
    from ..core.hardware import this_process_device

    device = this_process_device()
    return f"{device.get('device', 'CPU')}, {os.cpu_count()} cores"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
