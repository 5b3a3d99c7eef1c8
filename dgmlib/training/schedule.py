"""Learning-rate schedules of the course's loops."""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["linear_decay"]


def linear_decay(optimizers: Sequence[torch.optim.Optimizer], base_lrs: Sequence[float], step: int,
                 total_steps: int) -> None:
    """lr_t = lr_0 max(0, 1 - t / T) for each optimizer (WGAN-GP's code does this): the last updates refine.

    Call it before update ``t`` (counting from 0) of a run of ``T = total_steps`` updates;
    ``base_lrs`` are the lr_0 of ``optimizers``, in the same order.
    """
    scale = max(0.0, 1.0 - step / total_steps)
    for optimizer, lr in zip(optimizers, base_lrs):
        for group in optimizer.param_groups:
            group["lr"] = lr * scale
