"""How the lab is deployed, from the environment: who may train, and what a public Space may choose.

- ``SPACE_ID`` (set by Hugging Face Spaces) or ``LAB_PUBLIC=1``: a public deployment. The encoder is
  chosen from an allow-list (the packaged encoder, bert-base-uncased, plus ``LAB_ENCODERS``, comma-
  separated Hub ids) and the local-GLUE-directory field is hidden: visitors name no server paths.
- ``LAB_INSTRUCTOR_TOKEN``: when set, Train / Train all / Stop (UI and API) need it; everyone else has
  Results and the Playground.
- ``LAB_TRAINING=off``: a Playground-only lab (e.g. runs imported by the teacher).
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass

import gradio as gr

from finetune.core.models import PACKAGED_MODEL, STUDY_MODEL

from .locales import say_error

_TRUTHY = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Deployment:
    public: bool
    training: bool
    instructor_token: str | None
    encoders: tuple[str, ...]  # what a public deployment may train

    @classmethod
    def from_env(cls) -> Deployment:
        extra = [e.strip() for e in os.environ.get("LAB_ENCODERS", "").split(",") if e.strip()]
        return cls(
            public=bool(os.environ.get("SPACE_ID")) or os.environ.get("LAB_PUBLIC", "").lower() in _TRUTHY,
            training=os.environ.get("LAB_TRAINING", "on").strip().lower() not in {"off", "0", "false", "no"},
            instructor_token=os.environ.get("LAB_INSTRUCTOR_TOKEN") or None,
            encoders=tuple(dict.fromkeys([PACKAGED_MODEL, STUDY_MODEL, *extra])),
        )

    def is_instructor(self, token: object) -> bool:
        return (
            self.instructor_token is not None
            and isinstance(token, str)
            and hmac.compare_digest(token.encode(), self.instructor_token.encode())
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


def user_error(message: str) -> gr.Error:
    """An error popup in the visitor's language whose text is shown as text: a visitor's input inside it can
    open no HTML tag (every "<" is escaped), while "must be > 0" reads the same in the browser and the API."""
    return gr.Error(say_error(message).replace("<", "&lt;"))
