"""The input checks the divergences share: two tables of probabilities, a cloud of points."""

from __future__ import annotations

import torch

from .. import checks


def distribution_pair(pi: torch.Tensor, p: torch.Tensor, names=("pi", "p")) -> None:
    """``pi`` and ``p``: tensors of one shape (the same grid or support), not empty, >= 0, no NaN."""
    checks.same_shape(**{names[0]: pi, names[1]: p})
    for value, name in zip((pi, p), names):
        if value.numel() == 0:
            raise ValueError(f"{name} must not be empty, got shape {tuple(value.shape)}")
        if bool(torch.isnan(value).any()):
            raise ValueError(f"{name} must not contain NaN (probabilities or density values)")
        if bool((value < 0).any()):
            raise ValueError(f"{name} must be non-negative (probabilities or density values)")


def point_cloud(x, name: str) -> torch.Tensor:
    """``x`` as a finite real ``(n, d)`` tensor with n >= 1 (``(n,)`` is read as d = 1; integers cast)."""
    x = checks.finite_tensor(x, name)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d), got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape {tuple(x.shape)}")
    return x


def same_dimension(x: torch.Tensor, y: torch.Tensor) -> None:
    """Two point clouds ``(n, d)`` and ``(m, d)`` of one dimension d."""
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got x: {tuple(x.shape)} and y: {tuple(y.shape)}")
