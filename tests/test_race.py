""" "Train all" as a race (engine/race.py): the methods side by side in lanes of worker processes, each as it would
train alone with the same seed, settings and thread count; Stop of one method or of the whole race loses nothing."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import load_file

from finetune.core import checkpoints
from finetune.core.methods import METHODS
from finetune.core.resumable import ResumeError
from finetune.engine.race import Entry, Lanes, lanes_for, race_estimate_s, race_pace, remaining_s
from finetune.engine.runner import TrainingRunner
from finetune.engine.worker import WorkOrder, train_in_worker

from .conftest import never, tiny_config, wait_for


def test_lanes_share_the_cores_two_lanes_of_one_thread_on_two(monkeypatch):
    monkeypatch.delenv("LAB_LANES", raising=False)
    assert lanes_for(4, "cpu", cores=2) == Lanes(2, 1)
    assert lanes_for(4, "cpu", cores=1) == Lanes(1, 1)
    assert lanes_for(4, "cpu", cores=16) == Lanes(4, 4) and lanes_for(4, "cpu", cores=4) == Lanes(2, 2)
    assert lanes_for(4, "zerogpu", cores=2).lanes == 4  # one GPU call per method, issued together
    monkeypatch.setenv("LAB_LANES", "1")
    assert lanes_for(4, "cpu", cores=2) == Lanes(1, 2)


def test_a_races_time_is_its_work_over_its_lanes_and_never_less_than_its_longest_run(tiny_bert, glue_dir):
    lanes = Lanes(2, 1)
    assert race_estimate_s([100, 10, 10, 10], lanes) == pytest.approx(145)  # the longest, on one thread
    assert race_estimate_s([40, 40, 40, 40], lanes) == pytest.approx(116)  # 160 s of work on two lanes, 1.45x slower
    config = tiny_config(tiny_bert, glue_dir)
    running = Entry("full", config, 40, state="running", events=[{"type": "progress", "step": 5, "max_steps": 10,
                                                                  "eta_s": 30.0}])  # fmt: skip
    waiting = Entry("lora", config, 20)
    assert remaining_s([running, waiting, Entry("prompt", config, 5, state="complete")], lanes) == pytest.approx(30)


def test_the_races_time_left_agrees_with_its_lanes_on_a_busy_machine(tiny_bert, glue_dir):
    """The lab's correction read 10x (a busy spell), but the race's own lanes run at 1.5x their estimate: the time
    left follows the lanes, not the correction; a method at its last step has 0 s left, not its estimate again."""
    lanes = Lanes(2, 1)
    config = tiny_config(tiny_bert, glue_dir)

    def running(estimate_s: float, step: int, max_steps: int, elapsed_s: float, eta_s: float) -> Entry:
        progress = {"type": "progress", "step": step, "max_steps": max_steps, "elapsed_s": elapsed_s, "eta_s": eta_s}
        return Entry("full", config, estimate_s, state="running", events=[progress])

    pace = 1.5 * 1.45  # 1.5x the estimate on a lane's share (LANE_SLOWDOWN 1.45)
    a, b = running(100, 50, 100, 50 * pace, 50 * pace), running(200, 100, 200, 100 * pace, 100 * pace)
    waiting = Entry("lora", config, 60)
    left = remaining_s([a, b, waiting], lanes, correction=10.0)
    assert race_pace([a, b, waiting], lanes, 10.0) == pytest.approx(1.5)
    assert left == pytest.approx((50 * pace + 100 * pace + 60 * pace) / 2)  # nothing near 10x
    last_step = running(100, 100, 100, 100 * pace, 0.0)
    assert last_step.left_s(lanes, correction=10.0) == 0.0


def weights(run: checkpoints.Run) -> dict:
    return {name: tensor for path in sorted(run.model_dir.rglob("*.safetensors")) for name, tensor in
            load_file(path).items()}  # fmt: skip


@pytest.mark.slow
def test_a_race_trains_each_method_as_it_trains_alone_with_the_same_seed_and_threads(tiny_bert, glue_dir, tmp_path,
                                                                                     monkeypatch):  # fmt: skip
    monkeypatch.delenv("LAB_LANES", raising=False)
    configs = [tiny_config(tiny_bert, glue_dir, "sst2", m, seed=7) for m in METHODS]
    runner = TrainingRunner(tmp_path / "race")
    job = runner.submit(configs, race=True)
    assert runner.wait(600)
    outcome = runner.outcome(job)
    assert outcome is not None and outcome.state == "complete" and len(outcome.runs) == len(METHODS)
    snap = runner.snapshot()
    assert snap.lanes == lanes_for(len(METHODS)) and {e.state for e in snap.race} == {"complete"}
    lanes = snap.lanes
    raced = {run.method: run for run in checkpoints.list_runs(tmp_path / "race")}
    for config in configs:
        order = WorkOrder(config, checkpoints_dir=str(tmp_path / config.method), threads=lanes.threads)
        alone = train_in_worker(order, lambda event: None, never())
        (solo,) = checkpoints.list_runs(tmp_path / config.method)
        assert raced[config.method].info["hardware"]["threads"] == solo.info["hardware"]["threads"] == lanes.threads
        assert raced[config.method].info["hardware"]["lanes"] == lanes.lanes
        assert alone.run is not None and raced[config.method].info["metrics"] == alone.run["metrics"]
        ours, theirs = weights(raced[config.method]), weights(solo)
        assert ours.keys() == theirs.keys() and all(ours[k].equal(theirs[k]) for k in ours), config.method


@pytest.mark.slow
def test_stopping_one_method_or_the_whole_race_loses_nothing_and_resume_goes_on_with_all(
    tiny_bert, glue_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("LAB_LANES", "2")
    # Long enough to be stopped mid-way: many small steps, a dev evaluation every few.
    configs = [tiny_config(tiny_bert, glue_dir, "sst2", m, max_train_samples=1600, batch_size=8, evaluations=8)
               for m in METHODS]  # fmt: skip
    runner = TrainingRunner(tmp_path)
    runner.submit(configs, owner="teacher", race=True)

    def entry(method: str) -> Entry:
        return next(e for e in runner.snapshot().race if e.method == method)

    def evaluated(method: str) -> bool:
        return any(e["type"] == "eval" for e in entry(method).events)

    first = wait_for(lambda: next((e.method for e in runner.snapshot().race if e.state == "running"
                                   and evaluated(e.method)), None), timeout=300.0)  # fmt: skip
    assert not runner.stop("student", method=first)  # only the race's owner (or an instructor)
    assert runner.stop("teacher", method=first)
    wait_for(lambda: entry(first).state == "cancelled", timeout=300.0)
    others = [e.method for e in runner.snapshot().race if e.method != first]
    assert runner.snapshot().state == "running" and any(entry(m).state == "running" for m in others)
    assert runner.stop("teacher")  # the whole race, with a method still waiting for its lane
    assert runner.wait(600)
    snap = runner.snapshot()
    assert snap.state == "cancelled" and entry(first).resumable_from is not None
    left = runner.unfinished_race("teacher")
    unfinished = [e.method for e in snap.race if e.state != "complete"]
    assert sorted(c.method for c, _ in left) == sorted(unfinished) and len(unfinished) >= 2
    assert any(e.state == "waiting" for e in snap.race)  # never started: kept to start on resume
    resumed = {c.method: r for c, r in left}
    assert resumed[first] == entry(first).run_id  # the stopped one goes on where it was
    assert {s.run_id for s in runner.stopped_runs()}.isdisjoint(filter(None, resumed.values()))  # listed once: here

    # The lab restarts: the race is still there for its owner, and for anyone on a private lab (a new browser session
    # is a new owner), while its stopped run is listed on its own too, for a public lab's visitor who is not back.
    runner = TrainingRunner(tmp_path)
    assert [(c, r) for c, r in runner.unfinished_race("teacher")] == left
    assert runner.unfinished_race("new session") == [] and runner.unfinished_race("new session", anyone=True) == left
    assert resumed[first] in {s.run_id for s in runner.stopped_runs()}

    job = runner.resume_race("new session", anyone=True)
    assert runner.unfinished_race("teacher") == [] and TrainingRunner(tmp_path).unfinished_race("x", anyone=True) == []
    assert runner.wait(600)
    # The resumed race is the race it was: every method in it, those saved before it stopped with their curves.
    assert sorted(e.method for e in runner.snapshot().race) == sorted(METHODS)
    assert all(e.state == "complete" and any(ev["type"] == "eval" for ev in e.events) for e in runner.snapshot().race)
    outcome = runner.outcome(job)
    assert outcome is not None and outcome.state == "complete"
    assert sorted(r["method"] for r in outcome.runs) == sorted(unfinished)
    assert sorted(run.method for run in checkpoints.list_runs(tmp_path)) == sorted(METHODS)
    assert runner.unfinished_race("teacher") == [] and not (tmp_path / "unfinished-races.json").exists()


@pytest.mark.slow
def test_the_clis_train_all_races_every_method_and_reports_them(tiny_bert, glue_dir, tmp_path, capsys):
    from finetune.cli import main

    code = main(["train", "--task", "sst2", "--all", "--model", str(tiny_bert), "--data-dir", str(glue_dir),
                 "--max-train-samples", "96", "--max-eval-samples", "48", "--evaluations", "1", "--checkpoints-dir",
                 str(tmp_path)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert sorted(run.method for run in checkpoints.list_runs(tmp_path)) == sorted(METHODS)
    assert all(f"sst2 / {m}: Accuracy" in out for m in METHODS) and "all 4 methods in" in out
    assert {run.info["hardware"]["lanes"] for run in checkpoints.list_runs(tmp_path)} == {lanes_for(4).lanes}


def test_a_damaged_record_of_unfinished_races_loses_no_run(tmp_path, tiny_bert, glue_dir):
    """A race's record that cannot be read, or that another version of the lab wrote, is left out, not a crash."""
    from finetune.engine import unfinished

    config = tiny_config(tiny_bert, glue_dir, "sst2", "lora")
    unfinished.save(tmp_path, {"teacher": [(config, None)], "student": [(config, "run-1")]})
    assert TrainingRunner(tmp_path).unfinished_race("student") == [(config, "run-1")]
    record = json.loads((tmp_path / unfinished.FILE).read_text())
    record["student"]["left"][0]["config"]["from_the_future"] = 1
    (tmp_path / unfinished.FILE).write_text(json.dumps(record))
    runner = TrainingRunner(tmp_path)
    assert runner.unfinished_race("teacher") == [(config, None)] and runner.unfinished_race("student") == []
    (tmp_path / unfinished.FILE).write_text("{not json")
    assert TrainingRunner(tmp_path).unfinished_race("teacher", anyone=True) == []
    with pytest.raises(ResumeError, match="no stopped race"):
        TrainingRunner(tmp_path).resume_race("teacher")


def test_a_race_with_one_method_left_resumes_as_the_race_it_was(tiny_bert, glue_dir, tmp_path, monkeypatch):
    """Three methods saved, one stopped: Resume the race trains the one left, and the race shows all four (not one
    run at "step 0/1")."""
    monkeypatch.setenv("LAB_LANES", "2")
    long = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=16000, batch_size=8, evaluations=20)
    configs = [long] + [tiny_config(tiny_bert, glue_dir, "sst2", m) for m in METHODS if m != "full"]
    runner = TrainingRunner(tmp_path)
    runner.submit(configs, owner="teacher", race=True)

    def entry(method: str) -> Entry:
        return next(e for e in runner.snapshot().race if e.method == method)

    wait_for(lambda: len(runner.snapshot().race) == len(METHODS))
    wait_for(lambda: all(entry(m).state == "complete" for m in METHODS if m != "full"), timeout=300.0)
    wait_for(lambda: any(e["type"] == "eval" for e in entry("full").events), timeout=300.0)
    assert runner.stop("teacher", method="full") and runner.wait(300)
    assert [c.method for c, _ in runner.unfinished_race("teacher")] == ["full"]
    job = runner.resume_race("teacher")
    wait_for(lambda: runner.snapshot().job_id == job and runner.snapshot().state == "running", timeout=60.0)
    snap = runner.snapshot()
    assert snap.config is None and snap.lanes is not None  # a race, not a single run
    assert sorted(e.method for e in snap.race) == sorted(METHODS)
    assert [e.method for e in snap.race if e.state == "complete"] == [m for m in METHODS if m != "full"]
    assert runner.stop("teacher") and runner.wait(300)  # stopped again: still the same race, its saved runs with it
    assert [c.method for c, _ in runner.unfinished_race("teacher")] == ["full"]
    again = runner.resume_race("teacher")
    wait_for(lambda: runner.snapshot().job_id == again and len(runner.snapshot().race) == len(METHODS), timeout=60.0)
    runner.stop("teacher")
    assert runner.wait(300)
