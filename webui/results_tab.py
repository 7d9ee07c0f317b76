"""Results tab: every saved run, the study's picture (headline metric vs trainable parameters), CSV, and
moving runs (bundles, Hub push: webui/sharing.py)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from finetune.core.checkpoints import ZERO_SHOT, list_runs, results_dir, runs_table, scan_runs
from finetune.core.methods import METHODS, method_title
from finetune.core.tasks import TASKS

from . import differences, sharing
from .common import (
    CHART_X_LIM,
    COLUMN_TITLES,
    MAJORITY,
    TASK_CHOICES,
    ZERO_SHOT_COLOR,
    headline_frame,
    runs_frame,
    with_every_category,
)
from .deployment import Deployment
from .locales import localized, say, t

# Every category the chart can show, in its colour (the zero-shot LM's runs and the majority line included).
CHART_COLORS = {
    **{m.title: m.color for m in METHODS.values()},
    method_title(ZERO_SHOT): ZERO_SHOT_COLOR,
    MAJORITY: "#9ca3af",
}

TABLE_COLUMNS = [
    "task", "method", "model", "accuracy", "f1", "mcc", "trainable_params", "trainable_percent",
    "size_mb", "train_seconds", "train_samples", "created", "run_id",
]  # fmt: skip


@dataclass
class ResultsTab:
    refresh: callable
    outputs: list
    inputs: list
    differ: differences.DifferencesView


def build(checkpoints_dir: Path | None, deployment: Deployment) -> ResultsTab:
    # The CSV is rewritten on every refresh; the folder goes away with the app (TemporaryDirectory's finalizer).
    exports = tempfile.TemporaryDirectory(prefix="glue-tune-lab-results-")
    study_file = results_dir(checkpoints_dir) / "table.md"

    with gr.Row():
        task = gr.Radio(TASK_CHOICES, value="sst2", label=t("Task for the chart"))
        refresh_btn = gr.Button(t("Refresh"), scale=0, elem_id="results-refresh")
        download = gr.DownloadButton(t("Download CSV"), scale=0, elem_id="download-csv")
    plot = gr.ScatterPlot(
        x="log10_trainable_params",
        y="Accuracy",
        color="method",
        color_map=CHART_COLORS,
        x_title=t("trainable parameters, log10 (4 = 10K, 6 = 1M)"),
        x_lim=CHART_X_LIM,
        title=t("Headline metric vs trainable parameters"),
        tooltip=["method", "run_id", "trainable_params"],
        elem_id="results-plot",
    )
    notice = gr.Markdown(elem_id="results-notice")
    differ = differences.build(checkpoints_dir, task)
    table = gr.Dataframe(headers=[COLUMN_TITLES[c] for c in TABLE_COLUMNS], interactive=False, wrap=True,
                         elem_id="results-table")  # fmt: skip
    with gr.Accordion(t("The study's table over seeds (python -m finetune reproduce)"), open=False):
        study = gr.Markdown(elem_id="study-table")
    moving = sharing.build(checkpoints_dir, deployment)

    @localized
    def refresh(task_name: str, curve: str = "headline", right: str = "", wrong: str = "", disagreements: bool = True):
        """Every saved run (a table and CSV), the chosen task's runs as points on the chart, its curves and
        where its methods differ."""
        scan = scan_runs(checkpoints_dir)
        frame = runs_frame(scan.runs)
        csv_path = Path(exports.name) / "glue-tune-lab-runs.csv"
        frame[TABLE_COLUMNS].to_csv(csv_path, index=False)
        metric = TASKS[task_name].headline_title
        newest = next((r for r in reversed(scan.runs) if r.task == task_name), None)
        majority = newest.info["majority_baseline"]["headline"] if newest else None
        points = headline_frame(frame, task_name, majority)
        points = with_every_category(points, "method", list(CHART_COLORS))  # all of them from the first draw
        study_table = (
            study_file.read_text()
            if study_file.is_file()
            else say(
                "No study table yet. Run `python -m finetune reproduce` (classroom budget: under an hour on 2 CPU "
                "cores); it writes results/table.md, shown here."
            )
        )
        return (
            say("**Skipped:** {summary}", summary=scan.summary()) if scan.broken else "",
            frame[TABLE_COLUMNS].rename(columns={c: say(title) for c, title in COLUMN_TITLES.items()}),
            study_table,
            gr.ScatterPlot(
                value=points,
                y=metric,
                y_lim=_padded(points[metric].dropna()) if points[metric].notna().any() else None,
                title=say("{task}: {metric} vs trainable parameters", task=TASKS[task_name].title, metric=metric),
            ),
            gr.DownloadButton(value=str(csv_path)),
            gr.update(choices=sharing.run_choices(scan.runs)),
            *differ.refresh(task_name, curve, right, wrong, disagreements),
        )

    inputs = [task, *differ.inputs[1:]]
    outputs = [notice, table, study, plot, download, moving.push_run, *differ.outputs]
    refresh_btn.click(refresh, inputs, outputs, api_visibility="private")
    task.change(refresh, inputs, outputs, api_visibility="private")
    moving.imported.success(refresh, inputs, outputs, api_visibility="private")  # imported runs show at once

    def runs_api() -> list[dict]:
        """Every saved run: task, method, model, metrics, trainable parameters, size, training time."""
        return runs_table(list_runs(checkpoints_dir))

    gr.api(runs_api, api_name="runs")
    return ResultsTab(refresh=refresh, outputs=outputs, inputs=inputs, differ=differ)


def _padded(values) -> list[float]:
    """The y range of the chart: the points and the majority line with a margin, so that close scores
    stay apart without making a 0.002 difference look like a chasm."""
    low, high = float(values.min()), float(values.max())
    margin = max(0.05, (high - low) * 0.1)
    return [round(low - margin, 2), round(min(1.0, high + margin), 2)]
