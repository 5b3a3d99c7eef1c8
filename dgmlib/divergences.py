"""How far apart are two distributions: KL, JSD and the Wasserstein (earth mover's) distance.

Notation of the lectures: ``pi`` is the data distribution, ``p`` the model.

- :func:`kl` and :func:`jsd` take two *discrete* distributions, or two densities tabulated on the
  same grid with cell volume ``dx`` (then the sums are Riemann sums of the integrals).
- :func:`wasserstein_1d` is the exact W1 between two 1-D samples (sorting, no optimization).
- :func:`emd` is the exact optimal transport cost between two point clouds (a linear program),
  differentiable in the points.
- :func:`histograms` bins two samples on a common grid, for sample estimates of KL and JSD.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["kl", "jsd", "wasserstein_1d", "emd", "histograms"]


def _check_pair(pi, p, names=("pi", "p")):
    for value, name in zip((pi, p), names):
        if not torch.is_tensor(value):
            raise TypeError(f"{name} must be a tensor, got {type(value).__name__}")
        if value.numel() == 0:
            raise ValueError(f"{name} must not be empty, got shape {tuple(value.shape)}")
    if pi.shape != p.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape (the same grid or support), "
                         f"got {tuple(pi.shape)} and {tuple(p.shape)}")
    for value, name in zip((pi, p), names):
        if bool((value < 0).any()):
            raise ValueError(f"{name} must be non-negative (probabilities or density values)")


def _check_dx(dx) -> float:
    if isinstance(dx, bool) or not isinstance(dx, (int, float)) or not dx > 0:
        raise ValueError(f"dx must be a positive number (the grid's cell volume), got {dx!r}")
    return float(dx)


def kl(pi: torch.Tensor, p: torch.Tensor, dx: float = 1.0) -> torch.Tensor:
    """KL(pi || p) = sum_x pi(x) log(pi(x) / p(x)) * dx, a scalar tensor.

    ``pi``, ``p``: probabilities of a discrete distribution, or density values on a grid with cell
    volume ``dx`` (any common shape; every element is summed). Conventions: ``0 log 0 = 0``, and
    ``+inf`` where ``pi > 0`` but ``p = 0`` (pi puts mass where p has none).
    """
    _check_pair(pi, p)
    dx = _check_dx(dx)
    return (torch.xlogy(pi, pi) - torch.xlogy(pi, p)).sum() * dx


def jsd(pi: torch.Tensor, p: torch.Tensor, dx: float = 1.0) -> torch.Tensor:
    """JSD(pi || p) = 1/2 KL(pi || m) + 1/2 KL(p || m) with m = (pi + p) / 2, a scalar tensor.

    Same inputs as :func:`kl`. Always finite: between 0 (pi = p) and log 2 (disjoint supports).
    """
    _check_pair(pi, p)
    dx = _check_dx(dx)
    # log m = logaddexp(log pi, log p) - log 2 stays finite where pi + p underflows to 0
    log_m = torch.logaddexp(torch.log(pi), torch.log(p)) - math.log(2.0)
    zero = torch.zeros((), dtype=pi.dtype, device=pi.device)
    kl_pi = torch.where(pi > 0, pi * (torch.log(pi) - log_m), zero).sum()
    kl_p = torch.where(p > 0, p * (torch.log(p) - log_m), zero).sum()
    return 0.5 * (kl_pi + kl_p) * dx


def _as_sample_1d(x, name) -> torch.Tensor:
    if not torch.is_tensor(x):
        raise TypeError(f"{name} must be a tensor, got {type(x).__name__}")
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sample of shape (n,) or (n, 1), got {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} must hold at least one sample, got an empty tensor")
    return x


def wasserstein_1d(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exact W1 between the empirical distributions of two 1-D samples, a scalar tensor.

    In 1-D the optimal plan is monotone, so W1 = int |F_x(t) - F_y(t)| dt with the empirical CDFs
    F_x, F_y; for equal sizes this is mean_i |x_(i) - y_(i)| of the sorted samples. Works for
    unequal sizes ``x: (n,)``, ``y: (m,)`` and is differentiable in the sample values.
    """
    x = _as_sample_1d(x, "x")
    y = _as_sample_1d(y, "y")
    if x.device != y.device:
        raise ValueError(f"x and y must be on the same device, got {x.device} and {y.device}")
    dtype = torch.promote_types(x.dtype, y.dtype)
    x, y = x.to(dtype), y.to(dtype)
    xs, _ = torch.sort(x)
    ys, _ = torch.sort(y)
    z, _ = torch.sort(torch.cat([x, y]))
    widths = z[1:] - z[:-1]  # (n + m - 1,)
    left = z[:-1].detach()
    f_x = torch.searchsorted(xs.detach(), left, right=True).to(dtype) / len(x)
    f_y = torch.searchsorted(ys.detach(), left, right=True).to(dtype) / len(y)
    return ((f_x - f_y).abs() * widths).sum()


def _check_cloud(x, name) -> torch.Tensor:
    if not torch.is_tensor(x):
        raise TypeError(f"{name} must be a tensor, got {type(x).__name__}")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d), got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape {tuple(x.shape)}")
    return x


def _check_masses(a, n, name, dtype):
    if a is None:
        return np.full(n, 1.0 / n)
    a = np.asarray(a.detach().cpu() if torch.is_tensor(a) else a, dtype=np.float64)
    if a.shape != (n,):
        raise ValueError(f"{name} must hold one mass per point, shape ({n},), got {a.shape}")
    if (a < 0).any() or not a.sum() > 0:
        raise ValueError(f"{name} must be non-negative with a positive total")
    return a


def _lp_plan(a: np.ndarray, b: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Solve min <gamma, C> s.t. gamma 1 = a, gamma^T 1 = b, gamma >= 0 (HiGHS simplex)."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix, vstack

    n, m = cost.shape
    rows = np.repeat(np.arange(n), m)
    cols = np.arange(n * m)
    row_sums = coo_matrix((np.ones(n * m), (rows, cols)), shape=(n, n * m))
    col_sums = coo_matrix((np.ones(n * m), (np.tile(np.arange(m), n), cols)), shape=(m, n * m))
    res = linprog(cost.ravel(), A_eq=vstack([row_sums, col_sums]).tocsr(), b_eq=np.concatenate([a, b]),
                  bounds=(0, None), method="highs-ds")
    if res.status != 0:
        raise RuntimeError(f"the transport linear program failed: {res.message}")
    return res.x.reshape(n, m)


def emd(x: torch.Tensor, y: torch.Tensor, a=None, b=None, *, return_plan: bool = False):
    """Exact optimal transport cost W1 = min_gamma sum_ij gamma_ij ||x_i - y_j|| (earth mover's distance).

    The minimum is over plans gamma >= 0 with row sums ``a`` and column sums ``b``: the discrete
    form of W(pi, p) = inf_gamma E_gamma ||x - y||.

    Args:
        x: ``(n, d)`` points of pi (``(n,)`` means d = 1); y: ``(m, d)`` points of p.
        a, b: masses ``(n,)`` and ``(m,)`` with equal totals (default: uniform, 1/n and 1/m).
        return_plan: also return the optimal plan gamma, ``(n, m)``.

    Returns:
        The cost, a scalar tensor on ``x``'s device, differentiable in ``x`` and ``y`` (the plan
        is held fixed, which gives the exact gradient wherever the optimal plan is unique).
        With ``return_plan``: ``(cost, plan)``.

    Equal sizes with uniform masses are solved as an assignment problem (an optimal plan is a
    permutation, Birkhoff's theorem); anything else as a linear program.
    """
    x = _check_cloud(x, "x")
    y = _check_cloud(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got x: {tuple(x.shape)} and y: {tuple(y.shape)}")
    if x.device != y.device:
        raise ValueError(f"x and y must be on the same device, got {x.device} and {y.device}")
    dtype = torch.promote_types(x.dtype, y.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float32
    x, y = x.to(dtype), y.to(dtype)
    n, m = len(x), len(y)
    a_np = _check_masses(a, n, "a", dtype)
    b_np = _check_masses(b, m, "b", dtype)
    if not math.isclose(a_np.sum(), b_np.sum(), rel_tol=1e-6):
        raise ValueError(f"a and b must have the same total mass, got {a_np.sum():.6g} and {b_np.sum():.6g}")
    cost = torch.cdist(x.detach().double().cpu(), y.detach().double().cpu()).numpy()

    if a is None and b is None and n == m:
        from scipy.optimize import linear_sum_assignment

        i, j = linear_sum_assignment(cost)
        mass = np.full(n, 1.0 / n)
    else:
        plan_np = _lp_plan(a_np, b_np, cost)
        i, j = np.nonzero(plan_np > 1e-12)
        mass = plan_np[i, j]
    i_t = torch.as_tensor(i, device=x.device)
    j_t = torch.as_tensor(j, device=x.device)
    mass_t = torch.as_tensor(mass, dtype=dtype, device=x.device)
    # only the pairs the plan moves mass between: no sqrt(0) in the gradient of unused pairs
    distance = torch.linalg.vector_norm(x[i_t] - y[j_t], dim=1)
    value = (mass_t * distance).sum()
    if not return_plan:
        return value
    plan = torch.zeros(n, m, dtype=dtype, device=x.device)
    plan[i_t, j_t] = mass_t
    return value, plan


def histograms(x: torch.Tensor, y: torch.Tensor, bins: int = 20, bounds=None):
    """Bin two samples of the same dimension on one common grid: ``(pi_hat, p_hat)`` probabilities.

    ``x: (n, d)``, ``y: (m, d)``; ``bounds``: ``[(low, high)] * d`` (default: the joint range).
    Returns two tensors of shape ``(bins,) * d`` that each sum to 1, for :func:`kl` and :func:`jsd`.
    """
    x = _check_cloud(x, "x")
    y = _check_cloud(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got x: {tuple(x.shape)} and y: {tuple(y.shape)}")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive int, got {bins!r}")
    both = torch.cat([x.detach(), y.detach()]).double().cpu()
    if bounds is None:
        low, high = both.min(0).values, both.max(0).values
        pad = 1e-9 + 1e-6 * (high - low)
        bounds = list(zip((low - pad).tolist(), (high + pad).tolist()))
    flat = [float(v) for pair in bounds for v in pair]
    if len(flat) != 2 * x.shape[1]:
        raise ValueError(f"bounds must give (low, high) for each of the {x.shape[1]} dimensions")
    h_x = torch.histogramdd(x.detach().double().cpu(), bins=bins, range=flat).hist
    h_y = torch.histogramdd(y.detach().double().cpu(), bins=bins, range=flat).hist
    return (h_x / h_x.sum()).to(x.device), (h_y / h_y.sum()).to(x.device)
