"""The line under the Train tab's buttons goes once the job it spoke of has started, ended or left the line, and
never before it could be read: checked against a real runner with two visitors, the second waiting."""

from __future__ import annotations

import re
import time

from finetune.engine.runner import TrainingRunner
from webui.action_line import READ_S, outdated, spoken

from .conftest import tiny_config, wait_for


def test_a_line_goes_when_its_job_moves_on_and_not_before_it_was_read(tiny_bert, glue_dir, checkpoints_dir):
    runner = TrainingRunner(checkpoints_dir, estimate=lambda config: 30.0)
    slow = tiny_config(tiny_bert, glue_dir, "sst2", "full", max_train_samples=2000)
    a = runner.submit([slow], owner="alice")
    wait_for(lambda: any(e["type"] == "progress" for e in runner.snapshot().events))
    alice_said = spoken("**Started:** full fine-tuning", runner.snapshot(), "alice")
    b = runner.submit([tiny_config(tiny_bert, glue_dir, "sst2", "lora", max_train_samples=400)], owner="bob")
    bob_said = spoken("**2nd in line**, starts in about 30 s", runner.snapshot(), "bob")
    # One wait on the page: the line under the buttons gives Bob's place, the status below (kept current) his wait.
    from webui.live_view import line_status
    from webui.train_tab import started_text

    assert started_text(runner, b, "bob") == "**In line: #1.** The status below keeps your wait up to date."
    assert re.search(r"#1 in line\*\* — it starts in about \d", line_status(runner.snapshot(), "bob"))
    carol_said = spoken("**Not stopped:** the run training now is another visitor's.", runner.snapshot(), "carol")
    assert alice_said["job"] == ("running", a) and bob_said["job"] == ("waiting", b) and carol_said["job"] is None
    assert spoken("", runner.snapshot(), "alice") is None

    later = time.monotonic() + READ_S
    snap = runner.snapshot()
    assert not any(outdated(said, snap, who, later) for said, who in [(alice_said, "alice"), (bob_said, "bob")])

    assert runner.stop(owner="alice")
    wait_for(lambda: runner.snapshot().state == "running" and runner.snapshot().owner == "bob")
    snap, now = runner.snapshot(), time.monotonic()
    # Alice's run ended and Bob's started: both lines spoke of what is gone, once they have been up READ_S.
    assert outdated(alice_said, snap, "alice", alice_said["at"] + READ_S) and outdated(bob_said, snap, "bob", later)
    assert not outdated(bob_said, snap, "bob", bob_said["at"] + READ_S - 0.5)  # still being read
    assert not outdated(carol_said, snap, "carol", now + 60)  # a line about no job stays until the next click
    # Bob's own "Started", written as his job ran, stays while it runs.
    bob_started = spoken("**Started:** LoRA", snap, "bob")
    assert bob_started["job"] == ("running", b) and not outdated(bob_started, runner.snapshot(), "bob", later + 60)
    assert runner.wait(120) and runner.outcome(b).state == "complete"
    assert outdated(bob_started, runner.snapshot(), "bob", bob_started["at"] + READ_S)
    assert runner.outcome(a).state == "cancelled"
