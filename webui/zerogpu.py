"""Training on ZeroGPU from the app: the GPU call decorated by `spaces.GPU` (or its stand-in), made in the visitor's
own request, refusals caught as the gr.Error `spaces` raises. The mechanics — duration, launcher, refusals in words,
the stand-in — are Gradio-free in engine/zerogpu.py (its docstring says what they rely on in `spaces` 0.51.3).

The stand-in (LAB_ZEROGPU_EMULATE=1; engine/zerogpu.py says how it behaves) is `ZeroGpuStandIn` below: the engine's,
with visitors told apart by their request and refusals raised as gr.Error.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

import gradio as gr

from finetune.core.hardware import on_zerogpu, zerogpu_emulated
from finetune.engine import zerogpu as engine
from finetune.engine.worker import Launcher, WorkOrder
from finetune.engine.zerogpu import ANONYMOUS_QUOTA_S, GpuCall, call_seconds, max_call_seconds, refusal, train_on_gpu

from .visitors import visitor_of

__all__ = ["ZeroGpuStandIn", "call_seconds", "gpu_function", "gpu_launcher", "max_call_seconds", "refusal"]


def gpu_function(decorator: Callable | None = None) -> GpuCall:
    """The GPU call's body decorated for this hardware: by `spaces.GPU` on ZeroGPU (imported first by app.py), by
    the stand-in under LAB_ZEROGPU_EMULATE, and as it is elsewhere. Decorated when the app is built, before launch:
    the spaces package reports the decorated functions to the platform at launch."""
    if decorator is None:
        if on_zerogpu():
            import spaces

            decorator = spaces.GPU
        elif zerogpu_emulated():
            decorator = ZeroGpuStandIn.from_env().GPU
        else:
            return train_on_gpu
    return decorator(duration=lambda order, seconds: seconds)(train_on_gpu)


def gpu_launcher(gpu_call: GpuCall, estimate: Callable[[WorkOrder], float]) -> Launcher:
    """One GPU call per run (engine/zerogpu.py), its refusals caught as the gr.Error `spaces` raises."""
    return engine.gpu_launcher(gpu_call, estimate, refusals=(gr.Error,))


class ZeroGpuStandIn(engine.ZeroGpuStandIn):
    """The stand-in as the app runs it: the visitor who pays read from the Gradio request of the call (as spaces'
    `LocalContext.request`), refusals raised as gr.Error with ZeroGPU's titles."""

    @classmethod
    @functools.cache
    def from_env(cls) -> ZeroGpuStandIn:
        """The app's one stand-in: LAB_ZEROGPU_QUOTA_S a visitor a day, LAB_ZEROGPU_MAX_DURATION_S a call."""
        return cls(float(os.environ.get("LAB_ZEROGPU_QUOTA_S", ANONYMOUS_QUOTA_S)),
                   float(os.environ.get("LAB_ZEROGPU_MAX_DURATION_S", 300)))  # fmt: skip

    def current_visitor(self) -> str:
        return self.visitor(gr.context.LocalContext.request.get(None))

    def error(self, message: str, title: str) -> Exception:
        return gr.Error(message, title=title, print_exception=False)

    @staticmethod
    def visitor(request: gr.Request | None) -> str:
        """Who pays: a logged-in name, else the visitor header Spaces' proxy sets, else the address (webui/visitors.py:
        never a header a browser could send)."""
        return visitor_of(request)
