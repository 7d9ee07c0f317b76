"""The study's table: several seeds per (task, method), mean ± std, claims in words, and resuming."""

from __future__ import annotations

import csv

from finetune import checkpoints, reproduce


def test_table_over_seeds_resumes_without_retraining(tiny_bert, glue_dir, ckpt_root, tmp_path):
    common = dict(model=str(tiny_bert), data_dir=str(glue_dir), max_train_samples=48, max_eval_samples=32,
                  epochs=1, batch_size=16, evaluations=1, max_seq_length=64)  # fmt: skip
    configs = reproduce.plan(["sst2", "cola"], ["full", "selective"], seeds=2, **common)
    assert len(configs) == 8 and {c.seed for c in configs} == {42, 43}
    runs = reproduce.run_all(configs, ckpt_root, log=lambda _: None)
    assert len(checkpoints.list_runs(ckpt_root)) == 8

    messages = []
    again = reproduce.run_all(configs, ckpt_root, log=messages.append)  # resume: nothing new
    assert [r.run_id for r in again] == [r.run_id for r in runs]
    assert len(checkpoints.list_runs(ckpt_root)) == 8 and all("already done" in m for m in messages)

    table = reproduce.write_results(runs, tmp_path / "results")
    text = table.read_text()
    assert "SST-2 (sentiment) — headline: Accuracy" in text and "CoLA (grammaticality) — headline: MCC" in text
    assert text.count(" ± ") >= 2 * 2 * 4  # every cell of both tasks' rows is mean ± std
    assert "is full fine-tuning best?" in text and "fewer trainable parameters" in text
    assert "stability across seeds" in text
    with (tmp_path / "results" / "runs.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 8

    summary = reproduce.summarize(runs)
    accs = [r.info["metrics"]["accuracy"] for r in runs if r.task == "sst2" and r.method == "full"]
    assert summary["sst2"]["full"]["accuracy"][0] == sum(accs) / 2
