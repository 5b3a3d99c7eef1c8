"""What every metric on ``(codes, factors)`` checks first, and the held-out split of the
predictor-based scores (SAP, DCI).

``codes``: ``(N, K)``, finite numbers (a tensor or an array); ``factors``: ``(N, F)``, discrete
ground-truth factors as integer indices, none of them constant.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import checks


def _as_numpy_2d(x, name) -> np.ndarray:
    if torch.is_tensor(x):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"{name} must be a 2-D array (N, columns) with N > 0, got shape {x.shape}")
    return x


def check_codes_factors(codes, factors) -> tuple[np.ndarray, np.ndarray]:
    """``(codes float64 (N, K), factors int64 (N, F))`` as NumPy arrays, or a ValueError that says what is wrong."""
    codes = _as_numpy_2d(codes, "codes").astype(np.float64)
    factors = _as_numpy_2d(factors, "factors")
    if len(codes) != len(factors):
        raise ValueError(f"codes and factors must have the same length, got {len(codes)} and {len(factors)}")
    if not np.issubdtype(factors.dtype, np.integer):
        if not np.all(np.equal(np.mod(factors, 1), 0)):
            raise ValueError("factors must be discrete (integer indices)")
        factors = factors.astype(np.int64)
    constant = [j for j in range(factors.shape[1]) if np.unique(factors[:, j]).size < 2]
    if constant:
        raise ValueError(f"factor(s) {constant} are constant: a metric cannot measure what a code says about them")
    if not np.isfinite(codes).all():
        raise ValueError("codes contain NaN or inf")
    return codes, factors


def train_test_split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A random split of ``range(n)`` into ``(train, test)`` indices, ``round(n * test_fraction)``
    (at least 1) of them held out; both parts must be non-empty."""
    test_fraction = checks.number_in(test_fraction, "test_fraction", 0, 1, closed="neither")
    n_test = max(1, int(round(n * test_fraction)))
    if n_test >= n:
        raise ValueError(f"test_fraction={test_fraction:g} of {n} points leaves no point to train on")
    order = np.random.default_rng(seed).permutation(n)
    return order[n_test:], order[:n_test]
