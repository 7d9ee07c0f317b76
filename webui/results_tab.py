"""Results tab: every saved run, the study's picture (headline metric vs trainable parameters), CSV, and
moving runs (bundles, Hub push: webui/sharing.py)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from finetune.core.baselines import BASELINES, run_title
from finetune.core.checkpoints import list_runs, scan_runs
from finetune.core.methods import METHODS
from finetune.core.metrics import at_majority_baseline
from finetune.core.runs_table import runs_table
from finetune.core.storage import results_dir
from finetune.core.tasks import TASKS

from . import charts, differences, sharing
from .common import TASK_CHOICES, runs_frame
from .deployment import Deployment
from .language import duration, localized, say
from .locales import t

# Every category the chart can show, in its colour (the zero-shot LM's runs and the majority line included).
CHART_COLORS = {
    **{m.title: m.color for m in METHODS.values()},
    **{b.title: b.color for b in BASELINES.values()},
}

TABLE_COLUMNS = [
    "task", "method", "model", "accuracy", "f1", "mcc", "trainable_params", "trainable_percent",
    "size_mb", "train_seconds", "train_samples", "created", "run_id",
]  # fmt: skip
# The table people read: short headings that fit their columns (the CSV keeps every field, by its name).
SHOWN_COLUMNS = {
    "task": "Task", "method": "Method", "model": "Encoder", "accuracy": "Acc.", "f1": "F1", "mcc": "MCC",
    "trainable_params": "Trained params", "trainable_percent": "Trained %", "size_mb": "MB", "train_seconds": "Time",
    "train_samples": "Examples", "created": "Created", "run_id": "Run", "note": "Note",
}  # fmt: skip
SHOWN_WIDTHS = ["6%", "9%", "9%", "6%", "6%", "6%", "8%", "8%", "5%", "7%", "7%", "9%", "7%", "7%"]
MEASURE_CHOICES = [("Trainable parameters", "params"), ("Training seconds", "seconds"), ("Size on disk", "size")]


def shown_table(frame: pd.DataFrame, records) -> pd.DataFrame:
    """The runs as people read them: method titles, thousands separators, whole dates, a mark on each run that
    scores no better than its task's majority class, newest first."""
    at_majority = {r.run_id: at_majority_baseline(r.info) for r in records}
    tasks = {name: task.title.split(" ")[0] for name, task in TASKS.items()}

    def number(value, digits: int) -> str:
        return "" if pd.isna(value) else f"{value:,.{digits}f}"

    shown = pd.DataFrame(
        {
            "task": frame["task"].map(lambda n: tasks.get(n, n)),
            "method": frame["method"].map(run_title),
            "model": frame["model"],
            "accuracy": frame["accuracy"].map(lambda v: number(v, 4)),
            "f1": frame["f1"].map(lambda v: number(v, 4)),
            "mcc": frame["mcc"].map(lambda v: number(v, 4)),
            "trainable_params": frame["trainable_params"].map(lambda v: number(v, 0)),
            "trainable_percent": frame["trainable_percent"].map(lambda v: number(v, 2)),
            "size_mb": frame["size_mb"].map(lambda v: number(v, 2 if v < 10 else 1)),
            "train_seconds": frame["train_seconds"].map(lambda v: "" if pd.isna(v) else duration(v)),
            "train_samples": frame["train_samples"].map(lambda v: number(v, 0)),
            "created": frame["created"].map(lambda v: str(v).replace("T", " ")[:16]),
            "run_id": frame["run_id"],
            "note": frame["run_id"].map(lambda i: "⚠ " + say("majority class") if at_majority.get(i) else ""),
        }
    )
    shown = shown.iloc[::-1].reset_index(drop=True)
    return shown.rename(columns={c: say(title) for c, title in SHOWN_COLUMNS.items()})


@dataclass
class ResultsTab:
    refresh: callable
    outputs: list
    inputs: list
    differ: differences.DifferencesView


def task_chart(task_name: str, frame: pd.DataFrame, runs: list, measured: str):
    """The task's runs as points against the chosen cost, with the majority-class line of its newest run."""
    newest = next((r for r in reversed(runs) if r.task == task_name), None)
    majority = newest.info["majority_baseline"]["headline"] if newest else None
    points = frame[frame["task"] == task_name].assign(method=lambda f: f["method"].map(run_title))
    measure = measured if measured in charts.MEASURES else "params"
    return charts.headline_chart(points, TASKS[task_name].headline_title, majority, measure, CHART_COLORS)


def study_text(checkpoints_dir: Path | None) -> str:
    """`reproduce`'s table over seeds, or how to make it."""
    study_file = results_dir(checkpoints_dir) / "table.md"
    if study_file.is_file():
        return study_file.read_text()
    return say(
        "No study table yet. Run `python -m finetune reproduce` (classroom budget: under an hour on 2 CPU "
        "cores); it writes results/table.md, shown here."
    )


def build(checkpoints_dir: Path | None, deployment: Deployment) -> ResultsTab:
    # The CSV is rewritten on every refresh; the folder goes away with the app (TemporaryDirectory's finalizer).
    exports = tempfile.TemporaryDirectory(prefix="glue-tune-lab-results-")

    with gr.Row():
        task = gr.Radio(TASK_CHOICES, value="sst2", label=t("Task for the chart"), scale=3, elem_id="results-task")
        measure = gr.Radio([(t(label), value) for label, value in MEASURE_CHOICES], value="params",
                           label=t("What the x axis measures"), elem_id="chart-measure", scale=3)  # fmt: skip
        refresh_btn = gr.Button(t("Refresh"), scale=0, elem_id="results-refresh", min_width=100)
    plot = gr.Plot(show_label=False, elem_id="results-plot")
    gr.Markdown(t("Each point is a saved run, labelled with its method. **Ringed** runs are the best trade-offs: no "
                  "other run scores higher for less. The dotted line is the majority class: always answering the "
                  "commonest label."), elem_id="results-caption")  # fmt: skip
    notice = gr.Markdown(elem_id="results-notice")
    differ = differences.build(checkpoints_dir, task)
    with gr.Row(equal_height=True):
        gr.Markdown(t("### Every saved run"), elem_id="runs-heading")
        download = gr.DownloadButton(t("Download CSV"), scale=0, elem_id="download-csv", min_width=140)
    table = gr.Dataframe(interactive=False, wrap=True, elem_id="results-table", max_height=420,
                         column_widths=SHOWN_WIDTHS)  # fmt: skip
    with gr.Accordion(t("The study's table over seeds (python -m finetune reproduce)"), open=False):
        study = gr.Markdown(elem_id="study-table")
    moving = sharing.build(checkpoints_dir, deployment)

    @localized
    def refresh(task_name: str, curve: str = "headline", right: str = "", wrong: str = "", disagreements: bool = True,
                measured: str = "params"):  # fmt: skip
        """Every saved run (a table and CSV), the chosen task's runs as points on the chart against the chosen
        cost, its curves and where its methods differ."""
        scan = scan_runs(checkpoints_dir)
        frame = runs_frame(scan.runs)
        csv_path = Path(exports.name) / "glue-tune-lab-runs.csv"
        frame[TABLE_COLUMNS].to_csv(csv_path, index=False)
        return (
            say("**Skipped:** {summary}", summary=scan.summary()) if scan.broken else "",
            shown_table(frame, scan.runs),
            study_text(checkpoints_dir),
            task_chart(task_name, frame, scan.runs, measured),
            gr.DownloadButton(value=str(csv_path)),
            gr.update(choices=sharing.run_choices(scan.runs)),
            *differ.refresh(task_name, curve, right, wrong, disagreements),
        )

    inputs = [task, *differ.inputs[1:], measure]
    outputs = [notice, table, study, plot, download, moving.push_run, *differ.outputs]
    refresh_btn.click(refresh, inputs, outputs, api_visibility="private")
    task.change(refresh, inputs, outputs, api_visibility="private")

    @localized
    def redraw(task_name: str, measured: str):
        """Only the chart, against the newly chosen cost: at once, its spinner showing while it is drawn (the
        table and the differences do not change with the x axis)."""
        scan = scan_runs(checkpoints_dir)
        return task_chart(task_name, runs_frame(scan.runs), scan.runs, measured)

    measure.change(redraw, [task, measure], plot, api_visibility="private", show_progress="full")
    moving.imported.success(refresh, inputs, outputs, api_visibility="private")  # imported runs show at once

    def runs_api() -> list[dict]:
        """Every saved run: task, method, model, metrics, trainable parameters, size, training time."""
        return runs_table(list_runs(checkpoints_dir))

    gr.api(runs_api, api_name="runs")
    return ResultsTab(refresh=refresh, outputs=outputs, inputs=inputs, differ=differ)
