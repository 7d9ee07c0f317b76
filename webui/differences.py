"""Results tab, "where the methods differ": a confusion matrix per method, the dev examples a chosen method
gets wrong (and another right), the examples on which they disagree, and each method's loss and dev
curves overlaid by training examples seen. A row clicked goes to the Playground."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from finetune.core.checkpoints import latest_run
from finetune.core.methods import METHODS
from finetune.core.tasks import get_task
from finetune.engine.compare import Comparison, compare, score_run
from finetune.engine.events import run_curves

from . import charts
from .deployment import user_error
from .error_words import say_error
from .language import localized, say
from .locales import t

log = logging.getLogger(__name__)

ANY = "any method"
MAX_ROWS = 200  # a class reads a few dozen; the count above the table says how many matched
# Colour-blind-safe pair (blue / orange) for right and wrong answers.
RIGHT_BG, WRONG_BG = "#dbeafe", "#fed7aa"


@dataclass
class DifferencesView:
    refresh: Callable
    inputs: list
    outputs: list
    table: gr.Dataframe


def method_choices() -> list[tuple[str, str]]:
    return [(say(ANY), "")] + [(m.title, m.name) for m in METHODS.values()]


def matrices_html(comparison: Comparison) -> str:
    """One 2x2 (gold x predicted) table per method with its dev accuracy; right cells blue, wrong orange."""
    if not comparison.columns:
        return f"<p class='diff-empty'>{say('No trained run with dev predictions for this task yet.')}</p>"
    task = get_task(comparison.task)
    cards = []
    for column in comparison.columns:
        counts = column.predictions.confusion(task.num_labels)
        method = METHODS[column.method]
        head = "".join(f"<th>{html.escape(name)}</th>" for name in task.label_names)
        body = ""
        for gold, row in enumerate(counts):
            cells = "".join(
                f"<td style='background:{RIGHT_BG if gold == guess else WRONG_BG}'>{n}</td>"
                for guess, n in enumerate(row)
            )
            body += f"<tr><th>{html.escape(task.label_names[gold])}</th>{cells}</tr>"
        right = sum(counts[i][i] for i in range(task.num_labels))
        total = sum(map(sum, counts))
        corner = say("gold \\ said")
        score = say("{right} of {total} right ({share})", right=right, total=total, share=f"{right / total:.1%}")
        cards.append(
            f"<div class='matrix' data-method='{column.method}' style='--c:{method.color}'>"
            f"<h4>{html.escape(method.title)}</h4><table><tr><th>{corner}</th>{head}</tr>{body}</table>"
            f"<p>{score}</p></div>"
        )
    return f"<div class='matrices'>{''.join(cards)}</div>"


PAIR_TITLES, SINGLE_TITLES = ["First sentence", "Second sentence"], ["Sentence"]


def example_texts(row: pd.Series, task_name: str) -> list[str]:
    """The text(s) of one row of the examples table (in whatever language its headings are), in the task's
    order: the columns after the example's number."""
    return [str(text) for text in row.iloc[1 : 1 + len(get_task(task_name).text_keys)]]


def examples_frame(comparison: Comparison, indices: list[int]) -> pd.DataFrame:
    """The chosen dev examples: text(s), gold label, and each method's label and confidence (✓ / ✗)."""
    task = get_task(comparison.task)
    text_titles = [say(title) for title in (PAIR_TITLES if task.is_pair else SINGLE_TITLES)]
    gold_title = say("Gold")
    rows = []
    for i in indices[:MAX_ROWS]:
        row = {"#": i, **dict(zip(text_titles, comparison.texts[i], strict=True))}
        row[gold_title] = task.label_names[comparison.labels[i]]
        for column in comparison.columns:
            p = column.predictions
            guess = p.predicted[i]
            mark = "✓" if guess == comparison.labels[i] else "✗"
            row[METHODS[column.method].title] = f"{mark} {task.label_names[guess]} {p.confidence[i]:.2f}"
        rows.append(row)
    columns = ["#", *text_titles, gold_title, *(METHODS[c.method].title for c in comparison.columns)]
    return pd.DataFrame(rows, columns=columns)


def column_widths(frame: pd.DataFrame, texts: int) -> list[str]:
    """Room for the `texts` text columns; the gold label and each method's answer stay readable beside them."""
    answers = len(frame.columns) - texts - 1
    text_share = max(30, 100 - 5 - 13 * answers)
    return [f"{share}%" for share in [5, *[text_share // texts] * texts, *[(95 - text_share) // answers] * answers]]


def describe(comparison: Comparison, matched: int, right: str, wrong: str, disagreements: bool) -> str:
    if not comparison.columns:
        notes = ""
    else:
        what = []
        if right:
            what.append(say("{method} right", method=METHODS[right].title))
        if wrong:
            what.append(say("{method} wrong", method=METHODS[wrong].title))
        if disagreements:
            what.append(say("the methods disagree"))
        condition = ", ".join(what) or say("all examples")
        absent = [METHODS[m].title for m in (right, wrong) if m and m not in comparison.methods]
        if absent:
            return say("**{methods}: no run with dev predictions on this task yet.** Train it first.",
                       methods=", ".join(absent))  # fmt: skip
        shown = say(" (the first {count} shown)", count=MAX_ROWS) if matched > MAX_ROWS else ""
        notes = say(
            "**{condition}: {matched} of {total} dev examples**{shown}. Click a row to try it in the Playground.",
            condition=condition, matched=matched, total=len(comparison.labels), shown=shown,
        )  # fmt: skip
    if comparison.missing:
        titles = ", ".join(METHODS[m].title for m in comparison.missing)
        notes += "\n\n" + say(
            "No stored dev predictions for {methods} (trained before they were kept): **Score older runs**.",
            methods=titles,
        )
    for problem in comparison.problems:
        notes += f"\n\n{say_error(problem)}"
    return notes


def curves_frame(task_name: str, checkpoints_dir: Path | None, curve: str) -> pd.DataFrame:
    """Each method's newest run: training loss or the dev headline metric against training examples seen."""
    rows = []
    for method in METHODS.values():
        run = latest_run(task_name, method.name, checkpoints_dir)
        if run is None:
            continue
        for point in run_curves(run.path, run.info["config"]):
            if point["curve"] == curve:
                rows.append({"examples seen": point["examples"], "value": point["value"], "method": method.title})
    return pd.DataFrame(rows, columns=["examples seen", "value", "method"])


def curve_choices(task_name: str) -> list[tuple[str, str]]:
    metric = get_task(task_name).headline_title
    return [
        (say("Training loss"), "loss"),
        (say("Dev {metric}", metric=metric), "headline"),
        (say("Dev loss"), "eval_loss"),
    ]


def build(checkpoints_dir: Path | None, task: gr.Radio) -> DifferencesView:
    curve, curves, refresh_curves = build_curves(checkpoints_dir, task)
    filters, shown, refresh_differences = build_differences(checkpoints_dir, task)
    right, wrong = filters[1], filters[2]

    def refresh(task_name: str, curve_name: str, right_name: str, wrong_name: str, only_disagreements: bool):
        """Everything this view shows, the filters' choices included (in the visitor's language)."""
        choices = method_choices()
        return (*refresh_curves(task_name, curve_name), *refresh_differences(task_name, right_name, wrong_name,
                only_disagreements), gr.Dropdown(choices=choices), gr.Dropdown(choices=choices))  # fmt: skip

    return DifferencesView(refresh, [task, curve, *filters[1:]], [curve, curves, *shown, right, wrong], shown[2])


def build_curves(checkpoints_dir: Path | None, task: gr.Radio) -> tuple[gr.Radio, gr.Plot, Callable]:
    """The chosen curve of each method's newest run, on one chart; returns its controls and its refresh."""
    with gr.Accordion(t("Curves side by side (newest run of each method)"), open=True):
        curve = gr.Radio(curve_choices("sst2"), value="headline", label=t("Curve"), elem_id="curve-choice")
        curves = gr.Plot(show_label=False, elem_id="curves-plot")

    @localized
    def refresh_curves(task_name: str, curve_name: str):
        metric = dict((value, label) for label, value in curve_choices(task_name))
        chosen = curve_name if curve_name in metric else "headline"
        frame = curves_frame(task_name, checkpoints_dir, chosen)
        return (
            gr.Radio(choices=curve_choices(task_name), value=chosen),
            charts.curves_chart(frame, metric[chosen], {m.title: m.color for m in METHODS.values()}),
        )

    curve.change(refresh_curves, [task, curve], [curve, curves], api_visibility="private")
    return curve, curves, refresh_curves


def build_differences(checkpoints_dir: Path | None, task: gr.Radio) -> tuple[list, list, Callable]:
    """Confusion matrices and the dev examples the methods get right or wrong, filtered; returns the filters (task
    first), what they show (matrices, summary, table) and its refresh."""
    with gr.Accordion(t("Where the methods differ (dev set)"), open=True):
        matrices = gr.HTML(elem_id="confusion-matrices")
        with gr.Row():
            right = gr.Dropdown(method_choices(), value="", label=t("Right"), elem_id="filter-right")
            wrong = gr.Dropdown(method_choices(), value="", label=t("Wrong"), elem_id="filter-wrong")
            disagreements = gr.Checkbox(True, label=t("Only where the methods disagree"), elem_id="filter-disagree")
            score = gr.Button(t("Score older runs"), scale=0, elem_id="score-older")
        summary = gr.Markdown(elem_id="differences-summary")
        table = gr.Dataframe(interactive=False, wrap=True, elem_id="differences-table", max_height=480)

    @localized
    def refresh_differences(task_name: str, right_name: str, wrong_name: str, only_disagreements: bool):
        comparison = compare(task_name, checkpoints_dir)
        indices = comparison.rows(right_name or None, wrong_name or None, bool(only_disagreements))
        if not comparison.columns:
            indices = []
        frame = examples_frame(comparison, indices)
        return (
            matrices_html(comparison),
            describe(comparison, len(indices), right_name, wrong_name, bool(only_disagreements)),
            gr.Dataframe(value=frame, column_widths=column_widths(frame, len(get_task(task_name).text_keys))),
        )

    @localized
    def score_older(task_name: str, right_name: str, wrong_name: str, only_disagreements: bool,
                    progress=gr.Progress()):  # noqa: B008 - how Gradio asks for a bar  # fmt: skip
        score_missing(task_name, checkpoints_dir, progress)
        return refresh_differences(task_name, right_name, wrong_name, only_disagreements)

    filters = [task, right, wrong, disagreements]
    shown = [matrices, summary, table]
    for control in (right, wrong, disagreements):
        control.change(refresh_differences, filters, shown, api_visibility="private")
    score.click(score_older, filters, shown, api_visibility="private", concurrency_limit=1,
                concurrency_id="score")  # fmt: skip
    return filters, shown, refresh_differences


def score_missing(task_name: str, checkpoints_dir: Path | None, progress: Callable) -> None:
    """Score, once, the newest run of each method that has no stored dev predictions."""
    comparison = compare(task_name, checkpoints_dir)
    if not comparison.missing:
        gr.Info(say("Every method's newest run already has its dev predictions."))
    for i, method in enumerate(comparison.missing):
        progress(i / len(comparison.missing), desc=say("Scoring {method} on the dev set", method=METHODS[method].title))
        run = latest_run(task_name, method, checkpoints_dir)
        if run is None:
            continue
        try:
            score_run(run)
        except Exception as e:  # a run that no longer loads, or dev data out of reach: say which, not where
            log.warning("scoring run %s failed: %r", run.run_id, e)
            raise user_error(say(
                "{method}'s run {run_id} could not be scored on the dev set ({error}): its files or the task's "
                "dev data are out of reach; train it again",
                method=METHODS[method].title, run_id=run.run_id, error=type(e).__name__,
            )) from None  # fmt: skip
