"""How the lab is deployed, from the environment: who may train, and what a public Space may choose.

- ``SPACE_ID`` (set by Hugging Face Spaces) or ``LAB_PUBLIC=1``: a public deployment. The encoder is
  chosen from an allow-list (the packaged encoder, bert-base-uncased, plus ``LAB_ENCODERS``, comma-
  separated Hub ids) and the local-GLUE-directory field is hidden: visitors name no server paths.
- ``LAB_INSTRUCTOR_TOKEN``: when set, Train / Train all / Stop (UI and API) need it; everyone else has
  Results and the Playground.
- ``LAB_TRAINING=off``: a Playground-only lab (e.g. runs imported by the teacher).
- ``LAB_MAX_RUN_MINUTES``: the longest run a visitor may start (refused beforehand when its estimate is longer,
  stopped when it runs past it, resumable); on a public lab without an instructor token 15 minutes unless set,
  elsewhere unbounded unless set ("off": unbounded). Visitors of a public lab have one job in line at a time.
  The instructor (by token) is bound by neither.
- ``LAB_JOBS_PER_ADDRESS``: on a public lab, the jobs one address may hold in line or training at once (default 4;
  a logged-in visitor holds one, and so does each browser session). Visitors are told apart by webui/visitors.py.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass

import gradio as gr

from finetune.core.models import PACKAGED_MODEL, STUDY_MODEL

from .error_words import say_error

_TRUTHY = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Deployment:
    public: bool
    training: bool
    instructor_token: str | None
    encoders: tuple[str, ...]  # what a public deployment may train
    max_run_s: float | None = None  # the longest run a visitor may start (None: no bound)
    jobs_per_address: int = 4  # jobs in line or training from one address at once, on a public lab

    @classmethod
    def from_env(cls) -> Deployment:
        extra = [e.strip() for e in os.environ.get("LAB_ENCODERS", "").split(",") if e.strip()]
        public = bool(os.environ.get("SPACE_ID")) or os.environ.get("LAB_PUBLIC", "").lower() in _TRUTHY
        token = instructor_token(os.environ.get("LAB_INSTRUCTOR_TOKEN"))
        return cls(
            public=public,
            training=os.environ.get("LAB_TRAINING", "on").strip().lower() not in {"off", "0", "false", "no"},
            instructor_token=token,
            encoders=tuple(dict.fromkeys([PACKAGED_MODEL, STUDY_MODEL, *extra])),
            max_run_s=max_run_seconds(os.environ.get("LAB_MAX_RUN_MINUTES"), open_to_all=public and token is None),
            jobs_per_address=jobs_per_address(os.environ.get("LAB_JOBS_PER_ADDRESS")),
        )

    def jobs_per_visitor(self, visitor: str) -> int:
        """How many jobs one visitor (webui/visitors.py) may hold in line or training at once on a public lab: one
        for a logged-in visitor (and one per browser session in any case); for an address, a classroom's few
        (LAB_JOBS_PER_ADDRESS, default 4), since a school's network shows its whole class as one address."""
        return 1 if visitor.startswith("user:") else self.jobs_per_address

    @property
    def one_job_per_visitor(self) -> bool:
        """A public lab's visitors each have one job in line or training at a time (the instructor any number)."""
        return self.public

    def may_resume_any_race(self, token: object = None) -> bool:
        """A private lab's stopped races are everyone's (a reload is a new browser session); on a public lab a
        visitor resumes their own, the instructor anyone's."""
        return not self.one_job_per_visitor or self.is_instructor(token)

    def run_budget(self, token: object) -> float | None:
        """The longest run this visitor may start, in seconds (None: no bound; the instructor has none)."""
        return None if self.is_instructor(token) else self.max_run_s

    def is_instructor(self, token: object) -> bool:
        return (
            self.instructor_token is not None
            and isinstance(token, str)
            and hmac.compare_digest(token.strip().encode(), self.instructor_token.encode())
        )

    def check_may_train(self, token: object) -> None:
        """gr.Error unless training is on and, with an instructor token set, `token` is it."""
        if not self.training:
            raise user_error("training is switched off in this lab: the Playground and Results still work")
        if self.instructor_token is not None and not self.is_instructor(token):
            raise user_error("only the instructor can train here: enter the instructor token (API: token=...)")

    def check_may_change_store(self, token: object) -> None:
        """gr.Error unless this visitor may add runs to the store or push them with the server's Hub token:
        the instructor (by token), or anyone on a private lab without an instructor token."""
        if self.is_instructor(token):
            return
        if self.instructor_token is not None:
            raise user_error("only the instructor can import or push runs here: enter the instructor token")
        if self.public:
            raise user_error("importing and pushing runs are off in a public lab without an instructor token "
                             "(the Space's owner sets LAB_INSTRUCTOR_TOKEN)")  # fmt: skip

    def check_sources(self, model: str | None, data_dir: str | None) -> None:
        """On a public deployment: an allow-listed encoder, and no server folders."""
        if not self.public:
            return
        if model and model not in self.encoders:
            raise user_error(f"this lab trains only these encoders: {', '.join(self.encoders)}")
        if data_dir:
            raise user_error("choosing a server folder for the data is off in a public lab")


def instructor_token(setting: str | None) -> str | None:
    """LAB_INSTRUCTOR_TOKEN as the instructor types it: without surrounding spaces or line ends (a secret pasted
    with its newline); unset, None. One that is blank once stripped is refused at start: it would make a space the
    instructor's password."""
    if setting is None or setting == "":
        return None
    token = setting.strip()
    if not token:
        raise SystemExit("LAB_INSTRUCTOR_TOKEN is set but blank (only spaces or line ends): set a token, or unset it")
    return token


def jobs_per_address(setting: str | None) -> int:
    """LAB_JOBS_PER_ADDRESS: a whole number from 1 to 20 (the waiting line's length); unset, 4, so that one address
    can never fill the line (20) and a class behind one school address still has a few runs going at once."""
    text = (setting or "").strip()
    if not text:
        return 4
    if not text.isdigit() or not 1 <= int(text) <= 20:
        raise SystemExit(f"LAB_JOBS_PER_ADDRESS must be a whole number from 1 to 20, got {setting!r}")
    return int(text)


DEFAULT_PUBLIC_RUN_MINUTES = 15.0  # a class period's share of one small machine


def max_run_seconds(setting: str | None, open_to_all: bool) -> float | None:
    """LAB_MAX_RUN_MINUTES in seconds: a positive number of minutes, "off" for no bound; unset, 15 minutes where
    anyone may train on a public lab, else no bound. A value that is neither is refused at start, in words."""
    text = (setting or "").strip().lower()
    if not text:
        return DEFAULT_PUBLIC_RUN_MINUTES * 60 if open_to_all else None
    if text in {"off", "0", "none", "no"}:
        return None
    try:
        minutes = float(text)
    except ValueError:
        raise SystemExit(f"LAB_MAX_RUN_MINUTES must be a number of minutes or 'off', got {setting!r}") from None
    if not 0 < minutes < 10_000:
        raise SystemExit(f"LAB_MAX_RUN_MINUTES must be between 0 and 10,000 minutes, got {setting!r}")
    return minutes * 60


SAFE_LESS_THAN = "\u2039"  # a single left-pointing angle quotation mark: reads like "<", opens no tag


def user_error(message: str) -> gr.Error:
    """An error popup in the visitor's language whose text is shown as text: a visitor's input inside it can open no
    HTML tag (every "<" becomes SAFE_LESS_THAN, which reads alike), and it reads the same in the browser and through
    the API, where an HTML entity would show as "&lt;"."""
    # print_exception=False: a refusal is the lab working, not a fault; the server log keeps no traceback of it
    return gr.Error(say_error(message).replace("<", SAFE_LESS_THAN), print_exception=False)
