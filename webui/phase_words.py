"""What a run's long quiet part (core/phases.py) is doing, in the visitor's language, for the live view and the race's
cards."""

from __future__ import annotations

from finetune.core.phases import CACHING

from .language import say


def doing_now(events: list[dict]) -> dict | None:
    """The long quiet part the run is in now (core/phases.py), if it reported one since its last step."""
    for event in reversed(events):
        if event["type"] == "phase":
            return event if event["done"] < event["total"] else None
        if event["type"] in ("progress", "log", "eval", "end"):
            return None
    return None


def phase_words(phase: dict) -> str:
    """ "caching the frozen layers' outputs: 40% (once per run; then each step is quick)" in the visitor's language."""
    share = f"{100 * phase['done'] / max(phase['total'], 1):.0f}%"
    if phase["phase"] == CACHING:
        return say("caching the frozen layers' outputs: {share} (once per run; then each step is quick)", share=share)
    return say("preparing: {share}", share=share)
