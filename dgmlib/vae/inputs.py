"""What every model of the family checks on a batch ``x`` before it computes: type, shape, dtype, range.

A wrong width or dtype would otherwise surface as a matmul error inside the encoder, and a
pixel outside [0, 1] (or a NaN) as a silently wrong Bernoulli log-likelihood.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .. import checks

__all__ = ["check_x"]

BERNOULLI_HINT = "; rescale the data or use likelihood='gaussian'"


def check_x(x, *, shape: Sequence[int] | None = None, dtype: torch.dtype | None = None,
            bernoulli: bool = False, name: str = "x") -> torch.Tensor:
    """``x`` if it is a tensor of shape ``(B, *shape)`` and dtype ``dtype`` (each when given), with
    values in [0, 1] and no NaN when ``bernoulli``; else a ``TypeError``/``ValueError`` naming ``x``."""
    checks.tensor(x, name)
    if shape is not None and (x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape)):
        raise ValueError(f"{name} must have shape (B, {', '.join(map(str, shape))}) for this model, "
                         f"got {tuple(x.shape)}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name} has dtype {x.dtype} but the model computes in {dtype}: convert the data "
                        f"({name}.to({dtype})) or the model (model.to({dtype}))")
    if bernoulli:
        checks.in_unit_interval(x, f"Bernoulli targets {name}", BERNOULLI_HINT)
    return x
