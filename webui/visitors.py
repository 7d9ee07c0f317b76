"""Who a visitor is, wherever that decides something: who pays for a GPU call (webui/zerogpu.py), whose estimates
are measured in turn (engine/estimate.ASKER), one job a visitor on a public lab.

Only what the platform sets is trusted, never a header a browser can send:
- a logged-in Hugging Face name (Gradio's OAuth session: a browser cannot make one up);
- on a Hugging Face Space (SPACE_ID set), the `X-IP-Token` header: Spaces' proxy sets it per visitor on every request
  it forwards, in place of any a browser sent (it is what ZeroGPU itself charges by). Off a Space nobody sets it, so
  it is ignored, unless the lab's operator says a proxy in front of it sets one per visitor: LAB_VISITOR_HEADER names
  that header (the tests' stand-in for Spaces' proxy does so);
- else the address the connection came from. Off a Space that is the socket's own peer: `trust_only_the_socket`
  makes Gradio's server (uvicorn) ignore `X-Forwarded-For` and `X-Real-IP`, which it would otherwise take from any
  client on 127.0.0.1. On a Space uvicorn's rule stands (set FORWARDED_ALLOW_IPS to name another trusted proxy).

A classroom behind one school address is one visitor unless its students log in: what one visitor may hold is
bounded per address (webui/deployment.py), and logging in gives each student their own.
"""

from __future__ import annotations

import os

import gradio as gr

FORWARDED_ALLOW_IPS = "FORWARDED_ALLOW_IPS"  # uvicorn's setting: which peers may say who the client is


def on_a_space() -> bool:
    return bool(os.environ.get("SPACE_ID"))


def trusted_visitor_header() -> str | None:
    """The header a proxy in front of the lab sets per visitor: Spaces' X-IP-Token on a Space, else the one
    LAB_VISITOR_HEADER names (None: none is trusted)."""
    named = os.environ.get("LAB_VISITOR_HEADER", "").strip().lower()
    return named or ("x-ip-token" if on_a_space() else None)


def trust_only_the_socket() -> None:
    """Off a Space, Gradio's server takes no client address from a header (an explicit FORWARDED_ALLOW_IPS wins)."""
    if not on_a_space():
        os.environ.setdefault(FORWARDED_ALLOW_IPS, "")


def visitor_of(request: gr.Request | None) -> str:
    """The visitor a request comes from (the module's docstring); "the Space" for a call made by the app itself."""
    if request is None:
        return "the Space"
    if name := getattr(request, "username", None):
        return f"user:{name}"
    if header := trusted_visitor_header():
        headers = getattr(request, "headers", None) or {}
        if token := headers.get(header):
            return f"token:{token}"
    client = getattr(request, "client", None)
    return f"ip:{getattr(client, 'host', None) or 'unknown'}"
