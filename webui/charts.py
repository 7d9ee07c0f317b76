"""The lab's charts as Vega-Lite specs (Altair), drawn by gr.Plot in the browser.

Gradio's own LinePlot / ScatterPlot draw one evaluation as nothing (a line needs two points), cannot put a
mark on each point, a label beside it, a rule for a baseline or a log axis, and show an empty box before
there is data. Every chart here draws its points from the first one, uses whole numbers on step axes, says
in words what will appear while it is empty, and takes its titles in the visitor's language (say()).
"""

from __future__ import annotations

import math
import textwrap

import altair as alt
import pandas as pd

from .language import say

HEIGHT = 180  # two charts side by side under the buttons fit a 1366x768 projector (tests/test_browser.py)
# gr.Plot sizes an Altair chart by the chart's own width (a "container" width collapses to nothing), so each
# chart has one that fits where it is shown: two side by side in the Train tab's right column, one across Results.
WIDTH, WIDE = 290, 880
POINT_SIZE = 60


def empty_chart(message: str, height: int = HEIGHT, width: int = WIDTH) -> alt.Chart:
    """A chart-sized box that says, in its middle, what will appear in it."""
    lines = textwrap.wrap(message, 44) or [""]
    frame = pd.DataFrame({"x": [0.5], "y": [0.5], "message": [lines]})
    hidden = alt.Scale(domain=[0, 1])
    return (
        alt.Chart(frame)
        .mark_text(fontSize=14, color="#6b7280", lineHeight=20)
        .encode(x=alt.X("x:Q", scale=hidden, axis=None), y=alt.Y("y:Q", scale=hidden, axis=None), text="message")
        .properties(height=height, width=width)
        .configure_view(strokeWidth=0)
    )


def _step_axis(title: str) -> alt.X:
    return alt.X("step:Q", title=title, axis=alt.Axis(format="d", tickMinStep=1), scale=alt.Scale(zero=False))


def loss_chart(frame: pd.DataFrame) -> alt.Chart:
    """Training loss against the step: a line with a mark on every logged point."""
    if frame.empty:
        return empty_chart(say("The training loss appears here after the first steps."))
    title = say("Training loss")
    data = frame.assign(step=frame["step"].astype(int))
    return (
        alt.Chart(data, title=title)
        .mark_line(point=alt.OverlayMarkDef(size=POINT_SIZE), color="#2563eb")
        .encode(
            x=_step_axis(say("step")),
            y=alt.Y("loss:Q", title=say("loss"), scale=alt.Scale(zero=False)),
            tooltip=[alt.Tooltip("step:Q", title=say("step"), format=","), alt.Tooltip("loss:Q", format=".4f")],
        )
        .properties(height=HEIGHT, width=WIDTH)
    )


def metric_chart(frame: pd.DataFrame) -> alt.Chart:
    """Dev Accuracy / F1 / MCC against the step: points from the first evaluation, lines from the second."""
    if frame.empty:
        return empty_chart(say("Dev Accuracy, F1 and MCC appear here after the first dev evaluation."))
    data = frame.assign(step=frame["step"].astype(int))
    metric = say("metric")
    return (
        alt.Chart(data, title=say("Dev metrics"))
        .mark_line(point=alt.OverlayMarkDef(size=POINT_SIZE))
        .encode(
            x=_step_axis(say("step")),
            y=alt.Y("value:Q", title=say("value"), scale=alt.Scale(domain=[min(-0.1, data["value"].min()), 1.0])),
            color=alt.Color("metric:N", title=metric, legend=alt.Legend(orient="bottom")),
            tooltip=[
                alt.Tooltip("metric:N", title=metric),
                alt.Tooltip("step:Q", title=say("step"), format=","),
                alt.Tooltip("value:Q", title=say("value"), format=".4f"),
            ],
        )
        .properties(height=HEIGHT, width=WIDTH)
    )


def padded(values: pd.Series, least: float = 0.02) -> list[float]:
    """A y range around every value with a margin, so that one flat line still has an axis to read against."""
    low, high = float(values.min()), float(values.max())
    margin = max(least, (high - low) * 0.1)
    return [round(low - margin, 3), round(high + margin, 3)]


def curves_chart(
    frame: pd.DataFrame,
    y_title: str,
    colors: dict[str, str],
    width: int = WIDE,
    height: int = 260,
    legend: bool = True,
) -> alt.Chart:
    """Each method's curve against training examples seen, in the method's colour (Results, and a race's view at
    the live view's `width`, whose table is the legend)."""
    data = frame.dropna(subset=["value"])
    if data.empty:
        return empty_chart(say("Each method's curve appears here once it has a saved run on this task."), height, width)
    methods = [m for m in colors if m in set(data["method"])]
    return (
        alt.Chart(data)
        .mark_line(point=alt.OverlayMarkDef(size=POINT_SIZE))
        .encode(
            x=alt.X("examples seen:Q", title=say("training examples seen"), axis=alt.Axis(format=",d")),
            y=alt.Y(
                "value:Q", title=y_title, scale=alt.Scale(domain=padded(data["value"])), axis=alt.Axis(format=".3~f")
            ),
            color=alt.Color(
                "method:N",
                title=say("Method"),
                scale=alt.Scale(domain=methods, range=[colors[m] for m in methods]),
                legend=alt.Legend(orient="bottom", labelFontSize=13, symbolSize=120, columns=2 if width < WIDE else 0)
                if legend
                else None,
            ),
            tooltip=["method:N", alt.Tooltip("examples seen:Q", format=","), alt.Tooltip("value:Q", format=".4f")],
        )
        .properties(height=height, width=width)
    )


# What the Results chart's x axis can measure: (column in the runs table, axis title, axis format, log scale).
MEASURES: dict[str, tuple[str, str, str, bool]] = {
    "params": ("trainable_params", "Trainable parameters (log scale)", "~s", True),
    "seconds": ("train_seconds", "Training seconds", ",.0f", False),
    "size": ("size_mb", "Size on disk, MB (log scale)", "~g", True),
}


def pareto_front(points: pd.DataFrame, x: str, y: str) -> pd.Series:
    """True for each run that no other run beats on both counts (at most the cost, at least the score, and
    strictly better on one): the best trade-offs, cheapest first."""
    front = pd.Series(False, index=points.index)
    for i, row in points.iterrows():
        beaten = ((points[x] <= row[x]) & (points[y] >= row[y]) & ((points[x] < row[x]) | (points[y] > row[y]))).any()
        front[i] = not beaten
    return front


def headline_chart(
    runs: pd.DataFrame, metric: str, majority: float | None, measure: str, colors: dict[str, str]
) -> alt.LayerChart | alt.Chart:
    """Results: each run of one task as a labelled point (its headline metric against what it cost), the
    majority-class score as one line, and the best trade-offs (the Pareto front) ringed and joined."""
    column, x_title, x_format, log = MEASURES[measure]
    data = runs.dropna(subset=[column, "headline"]).copy()
    if log:
        data = data[data[column] > 0]
    if data.empty:
        return empty_chart(say("Each trained run appears here as a point: train one in the Train tab."), 320, WIDE)
    data["front"] = pareto_front(data, column, "headline")
    low, high = data["headline"].min(), data["headline"].max()
    if majority is not None:
        low, high = min(low, majority), max(high, majority)
    margin = max(0.05, (high - low) * 0.1)
    y_scale = alt.Scale(domain=[round(low - margin, 2), round(min(1.0, high + margin), 2)])
    if log:
        lo, hi = data[column].min(), data[column].max()
        x_scale = alt.Scale(type="log", domain=[10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))])
    else:
        x_scale = alt.Scale(zero=True, nice=True)
    methods = [m for m in colors if m in set(data["method"])]
    x = alt.X(f"{column}:Q", title=say(x_title), scale=x_scale, axis=alt.Axis(format=x_format, labelFontSize=13))
    y = alt.Y("headline:Q", title=metric, scale=y_scale, axis=alt.Axis(labelFontSize=13))
    color = alt.Color(
        "method:N",
        title=say("Method"),
        scale=alt.Scale(domain=methods, range=[colors[m] for m in methods]),
        legend=alt.Legend(orient="bottom", labelFontSize=14, symbolSize=160, titleFontSize=13),
    )
    base = alt.Chart(data).encode(x=x, y=y)
    layers: list[alt.Chart] = []
    front = data[data["front"]].sort_values(column)
    if len(front) > 1:
        layers.append(alt.Chart(front).mark_line(strokeDash=[6, 4], color="#111827", strokeWidth=1.5).encode(x=x, y=y))
    layers.append(base.transform_filter("datum.front").mark_point(size=420, color="#111827", strokeWidth=2))
    layers.append(
        base.mark_circle(size=160, opacity=0.9).encode(
            color=color,
            tooltip=[
                alt.Tooltip("method:N", title=say("Method")),
                alt.Tooltip("headline:Q", title=metric, format=".4f"),
                alt.Tooltip(f"{column}:Q", title=say(x_title), format=","),
                alt.Tooltip("run_id:N", title=say("Run")),
            ],
        )
    )
    layers.append(base.mark_text(align="left", dx=12, dy=-8, fontSize=13).encode(text="method:N", color=color))
    if majority is not None:
        rule = pd.DataFrame({"majority": [majority], "label": [say("Majority class {score}", score=f"{majority:.3f}")]})
        line = alt.Chart(rule).encode(y=alt.Y("majority:Q", scale=y_scale))
        layers.append(line.mark_rule(color="#6b7280", strokeDash=[2, 3], strokeWidth=2))
        layers.append(
            line.mark_text(align="left", baseline="bottom", dy=-3, x=4, color="#4b5563", fontSize=12).encode(
                text="label:N"
            )
        )
    return alt.layer(*layers).properties(height=320, width=WIDE)
