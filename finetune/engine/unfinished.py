"""A stopped race's methods still to train, kept beside the runs so that a restart of the lab keeps them: each
method's settings and the stopped run it goes on with (None: it starts afresh), and the runs the race already saved
(so that a resumed race shows every method it had). The runs themselves live in the store; this file only says which
of them make up an owner's race, newest race last."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from ..core import atomic_file
from .config import RunConfig

FILE = "unfinished-races.json"
MAX_RACES = 200  # one per visitor whose race stopped; the oldest go first
MAX_METHODS = 16  # a race's methods (the lab has four)
MAX_BYTES = 4 << 20  # what MAX_RACES races of MAX_METHODS take, with room: a larger file is not the lab's own

Race = list[tuple[RunConfig, str | None]]
log = logging.getLogger(__name__)


def load(root: Path) -> tuple[dict[str, Race], dict[str, list[str]]]:
    """The races `save` kept in `root`, oldest first, and the runs each had saved; a damaged file, or a race another
    version of the lab wrote, is left out (its stopped runs stay in the store, resumable one by one)."""
    path = Path(root) / FILE
    if not path.is_file():
        return {}, {}
    if (size := path.stat().st_size) > MAX_BYTES:  # read at every start: never megabytes of it
        log.warning("the unfinished races in %s take %d bytes, more than the lab writes; left out", FILE, size)
        return {}, {}
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        names = {f.name for f in dataclasses.fields(RunConfig)}
        races, saved = {}, {}
        for owner, race in list(kept.items())[-MAX_RACES:]:
            methods, done = (race, []) if isinstance(race, list) else (race["left"], race.get("saved", []))
            if len(methods) <= MAX_METHODS and all(isinstance(m, dict) and set(m.get("config", {})) <= names
                                                   for m in methods):  # fmt: skip
                races[str(owner)] = [(RunConfig(**m["config"]), m.get("resume")) for m in methods]
                saved[str(owner)] = [str(run) for run in done[:MAX_METHODS]]
        return races, saved
    except (OSError, ValueError, TypeError, AttributeError, KeyError) as e:
        log.warning("the unfinished races in %s could not be read (%s); their runs stay resumable one by one",
                    FILE, type(e).__name__)  # fmt: skip
        return {}, {}


def save(root: Path, races: dict[str, Race], saved: dict[str, list[str]] | None = None) -> None:
    """Write `races` (oldest first), each with the runs it saved (`saved`, by owner), atomically; no file when there
    is no race."""
    path = Path(root) / FILE
    if not races:
        path.unlink(missing_ok=True)
        return
    newest = dict(list(races.items())[-MAX_RACES:])
    record = {
        owner: {
            "left": [{"config": dataclasses.asdict(config), "resume": run} for config, run in race],
            "saved": (saved or {}).get(owner, []),
        }
        for owner, race in newest.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_file.write_text(path, json.dumps(record, indent=1))
