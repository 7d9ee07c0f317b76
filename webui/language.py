"""Which language each visitor speaks, and the messages computed for them in it.

The frontend translates only the fixed texts the UI was built with. What a handler computes (a run's status,
an estimate, a card, an error) is put into the visitor's language here: the page reports the language it
shows (the browser's, or the one picked in Settings → Language) on load and on every switch
(REPORT_LANGUAGE_JS); a visitor not yet heard from, and every API caller, gets their Accept-Language header's.

"""

from __future__ import annotations

import functools
import inspect
import threading
import typing
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import gradio as gr

from .locales import KO, duration_ko

LANGUAGES = ("en", "ko")
MAX_VISITORS = 10_000  # session → language, oldest forgotten first (one class is a few dozen)
_visitors: OrderedDict[str, str] = OrderedDict()
_visitors_lock = threading.Lock()
_language: ContextVar[str] = ContextVar("visitor_language", default="en")

# Runs once the page is up: the page's language (svelte-i18n keeps <html lang> in step with the locale) goes
# into a hidden textbox whose change tells the server; a MutationObserver catches the Settings switch.
REPORT_LANGUAGE_JS = """
() => {
  const report = () => {
    const box = document.querySelector('#visitor-language textarea, #visitor-language input');
    if (!box) return false;
    const lang = (document.documentElement.lang || navigator.language || 'en').slice(0, 2).toLowerCase();
    if (box.value !== lang) {
      box.value = lang;
      box.dispatchEvent(new Event('input', { bubbles: true }));
    }
    return true;
  };
  new MutationObserver(report).observe(document.documentElement, { attributes: true, attributeFilter: ['lang'] });
  const waiting = setInterval(() => { if (report()) clearInterval(waiting); }, 250);
}
"""


def _supported(tag: str | None) -> str | None:
    primary = (tag or "").strip().split("-")[0].split("_")[0].lower()
    return primary if primary in LANGUAGES else None


def accepted_language(header: str | None) -> str:
    """The first supported language of an Accept-Language header ('ko-KR,ko;q=0.9,en;q=0.8' → 'ko')."""
    weighted = []
    for i, part in enumerate((header or "").split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if (language := _supported(tag)) and quality > 0:
            weighted.append((-quality, i, language))
    return min(weighted)[2] if weighted else "en"


def language_of(request: gr.Request | None) -> str:
    """'ko' or 'en' for the visitor behind `request` (English without one)."""
    if request is None:
        return "en"
    session = getattr(request, "session_hash", None)
    with _visitors_lock:
        reported = _visitors.get(session) if session else None
    if reported:
        return reported
    headers = getattr(request, "headers", None) or {}
    return accepted_language(headers.get("accept-language"))


def remember_language(reported: str, request: gr.Request) -> None:
    """The page says which language it shows; later messages to this visitor follow it."""
    language, session = _supported(reported), getattr(request, "session_hash", None)
    if not (language and session):
        return
    with _visitors_lock:
        _visitors[session] = language
        _visitors.move_to_end(session)
        while len(_visitors) > MAX_VISITORS:
            _visitors.popitem(last=False)


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """say() and say_error() answer in `language` inside the block (tests and direct callers)."""
    token = _language.set(language if language in LANGUAGES else "en")
    try:
        yield
    finally:
        _language.reset(token)


def current_language() -> str:
    return _language.get()


def localized(fn: Callable) -> Callable:
    """An event handler whose say()/say_error() (its messages, errors and popups) answer in the visitor's
    language. Gradio hands the wrapper the visitor's request as an extra first argument (added to the
    signature when `fn` has none; a first argument that is None is taken for that slot too); a direct Python
    call without one goes on in the caller's language (English at the top). A generator handler speaks the
    language at every step (each step may run on another worker thread)."""
    signature = inspect.signature(fn)
    hints = typing.get_type_hints(fn)
    takes_request = gr.Request in hints.values()

    def split(args: tuple, kwargs: dict) -> tuple[str, tuple]:
        """The language to answer in, and the handler's own arguments."""
        if takes_request:
            found = next((a for a in (*args, *kwargs.values()) if isinstance(a, gr.Request)), None)
            return (language_of(found) if found else current_language()), args
        if args and isinstance(args[0], gr.Request):
            return language_of(args[0]), args[1:]
        if args and args[0] is None:  # Gradio had no request to give (an internal call)
            return current_language(), args[1:]
        return current_language(), args  # called from Python (another handler, a test): its language goes on

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stepwise(*args, **kwargs):
            language, own = split(args, kwargs)
            with speaking(language):
                steps = fn(*own, **kwargs)
            try:
                while True:
                    with speaking(language), asking(args, kwargs):
                        try:
                            step = next(steps)
                        except StopIteration:
                            return
                    yield step
            finally:
                steps.close()  # a visitor who left: the handler's own clean-up runs now, not at garbage collection

        wrapper = stepwise
    else:

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            language, own = split(args, kwargs)
            with speaking(language), asking(args, kwargs):
                return fn(*own, **kwargs)

    if not takes_request:
        visitor = inspect.Parameter("visitor", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request)
        wrapper.__signature__ = signature.replace(parameters=[visitor, *signature.parameters.values()])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {**hints, "visitor": gr.Request}
    return wrapper


@contextmanager
def asking(args: tuple, kwargs: dict) -> Iterator[None]:
    """Inside a handler, the estimates it asks for are the visitor's (engine/estimate.ASKER: shapes nobody measured
    yet are measured in turn, visitor by visitor, off the request's thread)."""
    from finetune.engine.estimate import ASKER

    from .visitors import visitor_of

    request = next((a for a in (*args, *kwargs.values()) if isinstance(a, gr.Request)), None)
    token = ASKER.set(visitor_of(request) if request is not None else ASKER.get())
    try:
        yield
    finally:
        ASKER.reset(token)


def say(text: str, **values) -> str:
    """`text` (an English message, maybe with {placeholders}) in the current visitor's language."""
    template = KO.get(text, text) if _language.get() == "ko" else text
    return template.format(**values) if values else template


def duration(seconds: float) -> str:
    """engine.estimate.duration_text in the visitor's language ('3 min 20 s' → '3분 20초')."""
    from finetune.engine.estimate import duration_text

    text = duration_text(seconds)
    return duration_ko(text) if _language.get() == "ko" else text
