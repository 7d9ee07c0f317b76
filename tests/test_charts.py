"""The lab's charts as the browser receives them (Vega-Lite specs): points from the first evaluation, whole steps,
empty states that say what will appear, Korean titles, and Results' baseline line, labels and best trade-offs."""

from __future__ import annotations

import json

import pandas as pd

from webui import charts
from webui.language import speaking

COLORS = {"Full fine-tuning": "#111111", "LoRA": "#222222", "Selective layers": "#333333"}


def spec(chart) -> dict:
    return json.loads(chart.to_json())


def marks(node: dict) -> list[dict]:
    """Every mark of a (possibly layered) spec, as {type, ...}."""
    found = []
    if "mark" in node:
        mark = node["mark"]
        found.append(mark if isinstance(mark, dict) else {"type": mark})
    for layer in node.get("layer", []):
        found.extend(marks(layer))
    return found


def data_of(chart_spec: dict) -> list[dict]:
    return [row for rows in chart_spec.get("datasets", {}).values() for row in rows]


def test_one_dev_evaluation_already_draws_points_on_whole_steps():
    one = pd.DataFrame({"step": [250, 250, 250], "value": [0.8, 0.79, 0.6], "metric": ["Accuracy", "F1", "MCC"]})
    s = spec(charts.metric_chart(one))
    assert s["mark"]["type"] == "line" and s["mark"]["point"]  # a mark on every point: one evaluation is visible
    assert s["encoding"]["x"]["axis"]["format"] == "d"  # 250, not 250.000000
    assert {row["step"] for row in data_of(s)} == {250}
    assert s["encoding"]["y"]["scale"]["domain"][1] == 1.0


def test_charts_without_data_say_what_will_appear_in_the_visitors_language():
    empty_loss = pd.DataFrame(columns=["step", "loss"])
    english = data_of(spec(charts.loss_chart(empty_loss)))[0]["message"]
    assert " ".join(english) == "The training loss appears here after the first steps."
    with speaking("ko"):
        korean = data_of(spec(charts.loss_chart(empty_loss)))[0]["message"]
        titled = spec(charts.loss_chart(pd.DataFrame({"step": [10, 20], "loss": [0.7, 0.6]})))
    assert "학습 손실" in " ".join(korean)
    assert titled["encoding"]["x"]["title"] == "스텝" and titled["encoding"]["y"]["title"] == "손실"
    assert titled["title"] == "학습 손실"


def test_the_best_trade_offs_are_the_runs_no_other_run_beats_on_both_counts():
    runs = pd.DataFrame({"cost": [10, 100, 1000, 100, 5], "score": [0.80, 0.90, 0.85, 0.90, 0.50]})
    # 1000 / 0.85 costs more than 100 / 0.90 for less; the two 100 / 0.90 runs tie (neither beats the other).
    assert charts.pareto_front(runs, "cost", "score").tolist() == [True, True, False, True, True]


def runs_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "method": ["Full fine-tuning", "LoRA", "Selective layers"],
            "headline": [0.88, 0.51, 0.86],
            "trainable_params": [22_713_986, 74_498, 7_000_000],
            "train_seconds": [80.0, 40.0, 30.0],
            "size_mb": [91.0, 0.3, 28.0],
            "run_id": ["a", "b", "c"],
        }
    )


def test_results_chart_draws_the_majority_as_one_line_and_labels_every_point():
    s = spec(charts.headline_chart(runs_frame(), "Accuracy", 0.509, "params", COLORS))
    layers = {marks(layer)[0]["type"]: layer for layer in reversed(s["layer"])}  # the first layer of each kind
    assert [m["type"] for m in marks(s)].count("rule") == 1  # one line for the baseline, not a row of dots
    assert s["datasets"][layers["rule"]["data"]["name"]] == [{"majority": 0.509, "label": "Majority class 0.509"}]
    assert layers["text"]["encoding"]["text"]["field"] == "method"  # every run's point says its method
    x = layers["circle"]["encoding"]["x"]
    assert x["scale"]["type"] == "log" and x["axis"]["format"] == "~s"  # 10k, 1M, 10M: not log10 units
    assert x["scale"]["domain"] == [10_000, 100_000_000]


def test_results_chart_measures_what_the_visitor_picks_and_rings_the_front():
    frame = runs_frame()
    for measure, column in (("params", "trainable_params"), ("seconds", "train_seconds"), ("size", "size_mb")):
        s = spec(charts.headline_chart(frame, "Accuracy", None, measure, COLORS))
        fields = {layer["encoding"]["x"]["field"] for layer in s["layer"] if "x" in layer.get("encoding", {})}
        assert fields == {column}
        front = {row["method"] for row in data_of(s) if row.get("front")}
        expected = set(frame["method"][charts.pareto_front(frame, column, "headline")])
        assert front == expected
    # By training seconds selective (30 s, 0.86) and full (80 s, 0.88) are the trade-offs; LoRA costs more than
    # selective for less.
    s = spec(charts.headline_chart(frame, "Accuracy", None, "seconds", COLORS))
    assert {row["method"] for row in data_of(s) if row.get("front")} == {"Selective layers", "Full fine-tuning"}


def test_results_chart_without_runs_says_how_to_get_one():
    empty = runs_frame().iloc[0:0]
    message = " ".join(data_of(spec(charts.headline_chart(empty, "Accuracy", 0.5, "params", COLORS)))[0]["message"])
    assert "Train tab" in message
