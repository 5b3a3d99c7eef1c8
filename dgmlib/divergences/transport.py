"""Optimal transport: the exact W1 between 1-D samples (sorting) and between point clouds (a linear program)."""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import checks
from ._inputs import point_cloud, same_dimension

__all__ = ["wasserstein_1d", "emd"]


def _sample_1d(x, name) -> torch.Tensor:
    """``x`` as a real ``(n,)`` tensor, n >= 1 (``(n, 1)`` accepted; integers cast to float)."""
    x = checks.floating_tensor(x, name)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sample of shape (n,) or (n, 1), got {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} must hold at least one sample, got an empty tensor")
    return x


def _sort(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(sorted values, order)`` of a 1-D tensor, differentiable in the values like ``torch.sort``.

    On the CPU the order comes from numpy's vectorized sort (``benchmarks/transport.py`` times
    ``wasserstein_1d``); elsewhere (a GPU) from ``torch.sort``.
    """
    if v.device.type != "cpu" or v.dtype not in (torch.float32, torch.float64):
        values, order = torch.sort(v)
        return values, order
    order = torch.from_numpy(np.argsort(v.detach().numpy()))
    # index_select, not v[order]: advanced indexing splits even 10^4 elements across threads and
    # stalls when another library's threads (BLAS) still hold the other core
    return torch.index_select(v, 0, order), order


def wasserstein_1d(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exact W1 between the empirical distributions of two 1-D samples, a scalar tensor.

    In 1-D the optimal plan is monotone, so W1 = int |F_x(t) - F_y(t)| dt with the empirical CDFs
    F_x, F_y; for equal sizes this is mean_i |x_(i) - y_(i)| of the sorted samples. Works for
    unequal sizes ``x: (n,)``, ``y: (m,)`` and is differentiable in the sample values. Integer
    samples are cast to the default float dtype.

    Example:
        >>> wasserstein_1d(torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 2.0, 3.0]))   # a shift by 1
        tensor(1.)

    References:
        Villani, "Optimal Transport: Old and New", Springer 2009; Peyré & Cuturi, "Computational
        Optimal Transport", Found. Trends Mach. Learn. 11, 2019 (arXiv:1803.00567), the 1-D case.
    """
    x = _sample_1d(x, "x")
    y = _sample_1d(y, "y")
    if x.device != y.device:
        raise ValueError(f"x and y must be on the same device, got {x.device} and {y.device}")
    dtype = torch.promote_types(x.dtype, y.dtype)
    x, y = x.to(dtype), y.to(dtype)
    n, m = len(x), len(y)
    if n == m:  # the monotone plan pairs the i-th smallest x with the i-th smallest y
        return torch.nn.functional.l1_loss(_sort(x)[0], _sort(y)[0])  # mean_i |x_(i) - y_(i)|
    # one sort of the pooled sample; F_x, F_y at each pooled point count the x's and y's up to it
    z, order = _sort(torch.cat([x, y]))  # (n + m,)
    from_x = (order < n).to(dtype)
    f_x = torch.cumsum(from_x, 0)[:-1] / n
    f_y = torch.cumsum(1 - from_x, 0)[:-1] / m
    return ((f_x - f_y).abs() * (z[1:] - z[:-1])).sum()  # sum over the n + m - 1 gaps


def _masses(a, n: int, name: str) -> np.ndarray:
    """The masses of n points as float64 numpy: uniform 1/n for ``None``; else finite, >= 0, total > 0."""
    if a is None:
        return np.full(n, 1.0 / n)
    a = np.asarray(a.detach().cpu() if torch.is_tensor(a) else a, dtype=np.float64)
    if a.shape != (n,):
        raise ValueError(f"{name} must hold one mass per point, shape ({n},), got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite, got {int((~np.isfinite(a)).sum())} NaN or infinite mass(es)")
    if (a < 0).any() or not a.sum() > 0:
        raise ValueError(f"{name} must be non-negative with a positive total")
    return a


_EMD_MAX_ITER = 10**9  # the network simplex's pivot limit: far above what n, m <= 10^4 need


def _solve(x: torch.Tensor, y: torch.Tensor, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """The optimal plan ``(n, m)`` and its cost for the Euclidean cost matrix, by POT's network simplex."""
    import ot
    from scipy.spatial.distance import cdist

    # the solver runs on the CPU in float64; the direct formula sqrt(sum_k (x_ik - y_jk)^2) is exact
    # to round-off, with zeros for identical points (the matrix-product form loses digits)
    cost = cdist(x.detach().double().cpu().numpy(), y.detach().double().cpu().numpy())
    # check_marginals: done by the caller; center_dual: we do not use the dual potentials
    plan, log = ot.emd(a, b, cost, numItermax=_EMD_MAX_ITER, log=True, check_marginals=False, center_dual=False)
    if log["result_code"] != 1:  # 1 = OPTIMAL in POT's network simplex
        raise RuntimeError(f"the exact transport solver did not reach the optimum: {log['warning']}")
    return plan, log["cost"]


def emd(x: torch.Tensor, y: torch.Tensor, a=None, b=None, *, return_plan: bool = False):
    """Exact optimal transport cost W1 = min_gamma sum_ij gamma_ij ||x_i - y_j|| (earth mover's distance).

    The minimum is over plans gamma >= 0 with row sums ``a`` and column sums ``b``: the discrete
    form of W(pi, p) = inf_gamma E_gamma ||x - y||.

    Args:
        x: ``(n, d)`` points of pi (``(n,)`` means d = 1); y: ``(m, d)`` points of p. Finite (a NaN
            or inf point is refused with a ``ValueError`` naming ``x`` or ``y``); integers are cast.
        a, b: masses ``(n,)`` and ``(m,)`` with equal totals (default: uniform, 1/n and 1/m).
        return_plan: also return the optimal plan gamma, ``(n, m)``.

    Returns:
        The cost, a scalar tensor on ``x``'s device, differentiable in ``x`` and ``y`` (the plan
        is held fixed, which gives the exact gradient wherever the optimal plan is unique).
        With ``return_plan``: ``(cost, plan)``.

    The linear program is solved exactly by POT's network simplex (``ot.emd``): an optimal vertex
    has at most n + m - 1 non-zero entries, and for equal sizes with uniform masses it is a
    permutation (Birkhoff's theorem), so the cost is an average over matched pairs.

    Example:
        >>> piles_p, piles_q = torch.tensor([3.0, 2.0, 1.0, 4.0]), torch.tensor([1.0, 2.0, 4.0, 3.0])
        >>> emd(torch.arange(1.0, 5.0), torch.arange(1.0, 5.0), piles_p, piles_q)   # the lecture's piles
        tensor(5.)

    References:
        Villani, "Optimal Transport: Old and New", Springer 2009; Peyré & Cuturi, "Computational
        Optimal Transport", Found. Trends Mach. Learn. 11, 2019 (arXiv:1803.00567), the network simplex;
        Bonneel et al., "Displacement interpolation using Lagrangian mass transport", SIGGRAPH Asia 2011.
    """
    x = point_cloud(x, "x")
    y = point_cloud(y, "y")
    same_dimension(x, y)
    if x.device != y.device:
        raise ValueError(f"x and y must be on the same device, got {x.device} and {y.device}")
    return_plan = checks.flag(return_plan, "return_plan")
    dtype = torch.promote_types(x.dtype, y.dtype)
    x, y = x.to(dtype), y.to(dtype)
    n, m = len(x), len(y)
    a_np, b_np = _masses(a, n, "a"), _masses(b, m, "b")
    if not math.isclose(a_np.sum(), b_np.sum(), rel_tol=1e-6):
        raise ValueError(f"a and b must have the same total mass, got {a_np.sum():.6g} and {b_np.sum():.6g}")
    plan_np, cost = _solve(x, y, a_np, b_np)
    if not (return_plan or x.requires_grad or y.requires_grad):
        return torch.tensor(cost, dtype=dtype, device=x.device)  # sum_ij gamma_ij C_ij, from the solver
    i, j = np.nonzero(plan_np > 0)
    i_t, j_t = torch.as_tensor(i, device=x.device), torch.as_tensor(j, device=x.device)
    mass_t = torch.as_tensor(plan_np[i, j], dtype=dtype, device=x.device)
    # only the pairs the plan moves mass between: no sqrt(0) in the gradient of unused pairs
    distance = torch.linalg.vector_norm(torch.index_select(x, 0, i_t) - torch.index_select(y, 0, j_t), dim=1)
    value = (mass_t * distance).sum()
    if not return_plan:
        return value
    plan = torch.zeros(n, m, dtype=dtype, device=x.device)
    plan[i_t, j_t] = mass_t
    return value, plan
