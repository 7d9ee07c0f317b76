"""Baselines: what the dev sets score with no fine-tuning at all, shown beside the trained methods (Results' table and
chart, `reproduce`'s table, the Playground's cards). A baseline's run is stored as a method's is, under
checkpoints/<task>/<name>/<run id>/run.json, but holds its scores only: nothing trains, saves or loads a model for it.

Anything that reads the run store asks `run_kind` what made a run, and a method and a baseline answer alike with
their title, colour and saved files, so no module needs to know a baseline by its name."""

from __future__ import annotations

from dataclasses import dataclass

from .methods import METHODS, Method


@dataclass(frozen=True)
class Baseline:
    name: str  # its folder in the run store, and the `method` its run.json names
    title: str
    color: str  # its colour in every chart and card, next to the methods'
    saved_files: tuple[str, ...] = ()  # a baseline's run holds its scores, no model


# An instruction-tuned LM asked each dev question (engine/zeroshot.py): what a model does with the task untrained.
ZERO_SHOT_LM = Baseline(name="zeroshot", title="Zero-shot LM", color="#7c3aed")

BASELINES: dict[str, Baseline] = {baseline.name: baseline for baseline in (ZERO_SHOT_LM,)}


def run_kind(name: str) -> Method | Baseline | None:
    """What made a stored run of this name: a fine-tuning method or a baseline (None: neither is part of this lab)."""
    return METHODS.get(name) or BASELINES.get(name)


def run_title(name: str) -> str:
    """The display name of a method or a baseline (an unknown name as it is)."""
    kind = run_kind(name)
    return kind.title if kind is not None else name
