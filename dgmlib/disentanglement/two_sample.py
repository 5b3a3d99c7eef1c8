"""A two-sample test on the joint distribution: are ``f(z)`` and ``z`` the same distribution?

    E(X, Y) = 2 E|X - Y| - E|X - X'| - E|Y - Y'|   (energy distance; zero iff X and Y agree)

References: Szekely & Rizzo, *Energy statistics: A class of statistics based on distances*,
Journal of Statistical Planning and Inference, 2013.
"""

from __future__ import annotations

import torch

from .. import checks

__all__ = ["energy_distance", "energy_test"]


def energy_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Energy distance (Szekely & Rizzo) between samples ``x (n, d)`` and ``y (m, d)``:
    ``E = 2 E|X - Y| - E|X - X'| - E|Y - Y'|`` (V-statistic), zero iff the distributions agree."""
    checks.tensor(x, "x")
    checks.tensor(y, "y")
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must be (n, d) and (m, d) with the same d, got {tuple(x.shape)} and {tuple(y.shape)}")
    return 2 * torch.cdist(x, y).mean() - torch.cdist(x, x).mean() - torch.cdist(y, y).mean()


def energy_test(x: torch.Tensor, y: torch.Tensor, n_permutations: int = 200, seed: int = 0) -> tuple[float, float]:
    """Permutation test of ``x ~ y`` with the energy distance: ``(statistic, p_value)``.

    The p-value is ``(1 + #{permuted statistic >= observed}) / (1 + n_permutations)``; all
    permutations reuse one pairwise-distance matrix of the pooled sample.

    Example:
        >>> x, y = torch.randn(300, 2), torch.randn(300, 2) + 0.4
        >>> statistic, p_value = energy_test(x, y)      # p_value < 0.01: the shift is seen
    """
    n_permutations = checks.positive_int(n_permutations, "n_permutations")
    energy_distance(x[:2], y[:2])  # shape checks
    pooled = torch.cat([x, y]).double()
    dist = torch.cdist(pooled, pooled)
    n, total = len(x), len(pooled)
    gen = torch.Generator().manual_seed(seed)
    perms = torch.stack([torch.arange(total)] + [torch.randperm(total, generator=gen) for _ in range(n_permutations)])
    x_ind = torch.zeros(len(perms), total, dtype=dist.dtype)
    x_ind.scatter_(1, perms[:, :n], 1.0)  # row r: indicator of the first group under permutation r
    m = total - n
    # with indicator x and distances D: x'Dx, x'D(1-x) = x'D1 - x'Dx, (1-x)'D(1-x) = 1'D1 - 2x'D1 + x'Dx
    quad = ((x_ind @ dist) * x_ind).sum(1)
    lin = x_ind @ dist.sum(1)
    cross = (lin - quad) / (n * m)
    within_x = quad / (n * n)
    within_y = (dist.sum() - 2 * lin + quad) / (m * m)
    stats = 2 * cross - within_x - within_y
    observed = stats[0]
    p_value = (1 + (stats[1:] >= observed).sum().item()) / (1 + n_permutations)
    return float(observed), float(p_value)
