"""Tail averaging: the run keeps the mean of its trainable weights over the last fraction of its steps.

A fine-tuning run's last steps wander around a minimum; where they end is partly luck, and on a small dev set
(CoLA's 1,043 sentences) that luck is a few hundredths of MCC between seeds. The uniform mean of the weights
over the tail of training (Polyak averaging; SWA, Izmailov et al. 2018, without its cyclic schedule) sits
nearer the middle of that wandering. The mean is kept beside the model and swapped in at the last step, so the
final dev evaluation, the saved run and the Playground all see the averaged weights; the dev evaluations
before the end show the weights being trained.

No recipe uses it yet: on CoLA full fine-tuning, averaging the last quarter raised seeds 0-4 and lowered seeds
5-7 by about 0.01 MCC each (benchmarks/sweeps/README.md). It is here for people to try (``--average-tail``).

A resumable checkpoint inside the tail carries the mean so far (``tail_average.safetensors``), so a stopped
run resumes to the same weights as one that never stopped.
"""

from __future__ import annotations

import math
from pathlib import Path

import safetensors.torch
import torch
from transformers import TrainerCallback

from ..core.resumable import ResumeError

AVERAGE_FILE = "tail_average.safetensors"


def first_averaged_step(max_steps: int, fraction: float) -> int:
    """The first step (1-based) whose weights enter the mean: the last `fraction` of the steps, at least one."""
    return min(max_steps, math.floor(max_steps * (1 - fraction)) + 1)


class TailAverage(TrainerCallback):
    """Keeps the running mean of `model`'s trainable weights from `first_averaged_step` on, and copies it into
    the model at the last step (before the Trainer's last dev evaluation, which runs after on_step_end)."""

    def __init__(self, model: torch.nn.Module, max_steps: int, fraction: float):
        self.names, self.params = zip(*((n, p) for n, p in model.named_parameters() if p.requires_grad), strict=True)
        self.max_steps = max_steps
        self.first = first_averaged_step(max_steps, fraction)
        self.mean: list[torch.Tensor] | None = None
        self.count = 0

    # -- training ------------------------------------------------------------------------------------
    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step
        if step < self.first:
            return
        current = [p.detach() for p in self.params]
        self.count += 1
        if self.mean is None:
            self.mean = [t.clone() for t in current]
        else:  # mean_n = mean_(n-1) + (w_n - mean_(n-1)) / n
            torch._foreach_lerp_(self.mean, current, 1.0 / self.count)
        if step >= self.max_steps:
            with torch.no_grad():
                torch._foreach_copy_(list(self.params), self.mean)

    # -- resumable checkpoints ------------------------------------------------------------------------
    def on_save(self, args, state, control, **kwargs):
        # Runs before ResumableCheckpoints marks the checkpoint (it is later in the callback list), so a marked
        # checkpoint inside the tail always has its mean.
        if self.mean is not None and state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            tensors = {name: t.contiguous() for name, t in zip(self.names, self.mean, strict=True)}
            safetensors.torch.save_file(tensors, folder / AVERAGE_FILE, metadata={"count": str(self.count)})

    def restore(self, checkpoint: Path, step: int) -> None:
        """The mean saved with a resumable checkpoint at `step` (nothing to restore before the tail)."""
        if step < self.first:
            return
        path = checkpoint / AVERAGE_FILE
        try:
            with safetensors.safe_open(str(path), "pt") as saved:
                count = int((saved.metadata() or {})["count"])
                mean = [saved.get_tensor(name) for name in self.names]
        except Exception:  # missing, damaged, or another model's: the state cannot give the same weights
            raise ResumeError(
                f"the saved state at step {step} lacks its weight average; start the run again", damaged=True
            ) from None
        if count != step - self.first + 1 or any(m.shape != p.shape for m, p in zip(mean, self.params, strict=True)):
            raise ResumeError(f"the saved weight average at step {step} does not match the run", damaged=True)
        self.mean, self.count = [m.to(p.device, p.dtype) for m, p in zip(mean, self.params, strict=True)], count
