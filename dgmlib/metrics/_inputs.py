"""The input check the sample-based scores share: a finite ``(N, D)`` matrix of features (or two)."""

from __future__ import annotations

import torch

from .. import checks


def feature_matrix(x, name: str, min_samples: int = 2) -> torch.Tensor:
    """``x`` (a tensor or an array) as a detached real ``(N, D)`` tensor without NaN or inf.

    Integer features are cast to the default float dtype; complex ones are refused (a ``TypeError``),
    so is a NaN or inf (a ``ValueError`` that names ``name``): a score of broken features would be a
    normal-looking number.
    """
    if not torch.is_tensor(x):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{name} must be a tensor or an array of shape (N, D), got {type(x).__name__}") from err
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D), got {tuple(x.shape)}")
    if x.shape[0] < min_samples or x.shape[1] < 1:
        raise ValueError(f"{name} must hold at least {min_samples} samples of dimension >= 1, got {tuple(x.shape)}")
    return checks.finite_tensor(x.detach(), name)


def feature_pair(a, b, name_a: str, name_b: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Two feature matrices (:func:`feature_matrix`) of one feature dimension: ``(N, D)`` and ``(M, D)``."""
    a, b = feature_matrix(a, name_a), feature_matrix(b, name_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{name_a} and {name_b} must have the same feature dimension, got {a.shape[1]} and {b.shape[1]}")
    return a, b


def float64_device(x: torch.Tensor) -> torch.device:
    """Where float64 linear algebra on ``x`` runs: its own device, the CPU for MPS (no float64 there)."""
    return torch.device("cpu") if x.device.type == "mps" else x.device
