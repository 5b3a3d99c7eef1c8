"""How far apart are two distributions: KL, JSD and the Wasserstein (earth mover's) distance.

Notation of the lectures: ``pi`` is the data distribution, ``p`` the model.

- :func:`kl` and :func:`jsd` take two *discrete* distributions, or two densities tabulated on the
  same grid with cell volume ``dx`` (then the sums are Riemann sums of the integrals).
- :func:`wasserstein_1d` is the exact W1 between two 1-D samples (sorting, no optimization).
- :func:`emd` is the exact optimal transport cost between two point clouds (a linear program),
  differentiable in the points.
- :func:`histograms` bins two samples on a common grid, for sample estimates of KL and JSD.
- :data:`f_divergences`: the f-GAN table (generator f, Fenchel conjugate f*, output activation) of
  six f-divergences, and :func:`train_f_critic`, which estimates one by its variational lower bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["kl", "jsd", "wasserstein_1d", "emd", "histograms", "FDivergence", "f_divergences", "f_divergence",
           "train_f_critic"]


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


def _sort(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(sorted values, order)`` of a 1-D tensor, differentiable in the values like ``torch.sort``.

    On the CPU the order comes from numpy's vectorized sort, 10 to 30x faster there than
    ``torch.sort`` for 10^5 to 10^6 floats; elsewhere (a GPU) from ``torch.sort``.
    """
    if v.device.type != "cpu" or v.dtype not in (torch.float32, torch.float64):
        values, order = torch.sort(v)
        return values, order
    order = torch.from_numpy(np.argsort(v.detach().numpy()))
    # index_select, not v[order]: advanced indexing splits even 10^4 elements across threads and
    # stalls for milliseconds when another library's threads (BLAS) still hold the other core
    return torch.index_select(v, 0, order), order


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
    n, m = len(x), len(y)
    if n == m:  # the monotone plan pairs the i-th smallest x with the i-th smallest y
        return torch.nn.functional.l1_loss(_sort(x)[0], _sort(y)[0])  # mean_i |x_(i) - y_(i)|
    # one sort of the pooled sample; F_x, F_y at each pooled point count the x's and y's up to it
    z, order = _sort(torch.cat([x, y]))
    from_x = (order < n).to(dtype)
    f_x = torch.cumsum(from_x, 0)[:-1] / n
    f_y = torch.cumsum(1 - from_x, 0)[:-1] / m
    return ((f_x - f_y).abs() * (z[1:] - z[:-1])).sum()  # sum over the n + m - 1 gaps


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


_EMD_MAX_ITER = 10**9  # the network simplex's pivot limit: far above what n, m <= 10^4 need


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

    The linear program is solved exactly by POT's network simplex (``ot.emd``; Bonneel et al.
    2011), the fastest exact solver we know of for dense costs: an optimal vertex has at most
    n + m - 1 non-zero entries, and for equal sizes with uniform masses it is a permutation
    (Birkhoff's theorem), so the cost is an average over matched pairs.
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
    import ot
    from scipy.spatial.distance import cdist

    # the solver runs on the CPU in float64; the direct formula sqrt(sum_k (x_ik - y_jk)^2) is exact
    # to round-off, with zeros for identical points (the matrix-product form loses digits)
    cost = cdist(x.detach().double().cpu().numpy(), y.detach().double().cpu().numpy())
    # check_marginals: done above; center_dual: we do not use the dual potentials
    plan_np, log = ot.emd(a_np, b_np, cost, numItermax=_EMD_MAX_ITER, log=True, check_marginals=False,
                          center_dual=False)
    if log["result_code"] != 1:  # 1 = OPTIMAL in POT's network simplex
        raise RuntimeError(f"the exact transport solver did not reach the optimum: {log['warning']}")
    if not (return_plan or x.requires_grad or y.requires_grad):
        return torch.tensor(log["cost"], dtype=dtype, device=x.device)  # sum_ij gamma_ij C_ij, from the solver
    i, j = np.nonzero(plan_np > 0)
    mass = plan_np[i, j]
    i_t = torch.as_tensor(i, device=x.device)
    j_t = torch.as_tensor(j, device=x.device)
    mass_t = torch.as_tensor(mass, dtype=dtype, device=x.device)
    # only the pairs the plan moves mass between: no sqrt(0) in the gradient of unused pairs
    distance = torch.linalg.vector_norm(torch.index_select(x, 0, i_t) - torch.index_select(y, 0, j_t), dim=1)
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


# ---------------------------------------------------------------------------------------------
# f-divergences and their variational (f-GAN) lower bound
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FDivergence:
    """One f-divergence D_f(pi || p) = E_p f(pi(x) / p(x)), with what f-GAN needs to estimate it.

    For any function T, Fenchel's inequality f(u) >= u t - f*(t) gives the variational lower bound

        D_f(pi || p) >= sup_T  E_pi T(x) - E_p f*(T(x)),

    tight at T(x) = f'(pi(x) / p(x)). f-GAN writes T = g(V(x)) with an unconstrained network V and
    an output ``activation`` g that maps the real line into the domain of f*.

    Fields: ``f(u)`` the generator (convex, f(1) = 0; u > 0); ``conjugate(t)`` f*(t) =
    sup_u (u t - f(u)) (``inf`` outside its domain); ``activation(v)`` g(v);
    ``conjugate_of_activation(v)`` f*(g(v)) in a form that does not overflow; ``formulas``: LaTeX
    of f, f*, g and the domain of f*, for the lecture's table. All act elementwise on tensors.
    """

    name: str
    f: Callable
    conjugate: Callable
    activation: Callable
    conjugate_of_activation: Callable
    formulas: dict

    def divergence(self, pi: torch.Tensor, p: torch.Tensor, dx: float = 1.0) -> torch.Tensor:
        """D_f(pi || p) = sum_x p(x) f(pi(x) / p(x)) dx for densities tabulated on one grid (p > 0)."""
        _check_pair(pi, p)
        dx = _check_dx(dx)
        if bool((p <= 0).any()):
            raise ValueError("p must be positive on the whole grid (D_f divides by p)")
        return (p * self.f(pi / p)).sum() * dx

    def bound(self, v_pi: torch.Tensor, v_p: torch.Tensor) -> torch.Tensor:
        """E_pi g(V) - E_p f*(g(V)): the variational lower bound from raw outputs V on pi's and p's samples."""
        return self.activation(v_pi).mean() - self.conjugate_of_activation(v_p).mean()


def _outside(t, inside):
    return torch.where(inside, t, torch.full_like(t, math.inf))


def _js_f(u):
    return 0.5 * (torch.xlogy(u, u) - (u + 1) * torch.log((u + 1) / 2))


f_divergences: dict[str, FDivergence] = {
    "kl": FDivergence(
        "Kullback-Leibler KL(pi || p)",
        f=lambda u: torch.xlogy(u, u),
        conjugate=lambda t: torch.exp(t - 1),
        activation=lambda v: v,
        conjugate_of_activation=lambda v: torch.exp(v - 1),
        formulas={"f": r"u \log u", "f*": r"e^{t - 1}", "g": r"v", "dom f*": r"\mathbb{R}"},
    ),
    "reverse_kl": FDivergence(
        "reverse KL(p || pi)",
        f=lambda u: -torch.log(u),
        conjugate=lambda t: _outside(-1 - torch.log(-t.clamp_max(0)), t < 0),
        activation=lambda v: -torch.exp(-v),
        conjugate_of_activation=lambda v: v - 1,
        formulas={"f": r"-\log u", "f*": r"-1 - \log(-t)", "g": r"-e^{-v}", "dom f*": r"t < 0"},
    ),
    "jensen_shannon": FDivergence(
        "Jensen-Shannon JSD(pi || p)",
        f=_js_f,
        conjugate=lambda t: _outside(-0.5 * torch.log((2 - torch.exp(2 * t)).clamp_min(0)), t < 0.5 * math.log(2)),
        activation=lambda v: 0.5 * (math.log(2) - F.softplus(-v)),
        conjugate_of_activation=lambda v: 0.5 * (F.softplus(v) - math.log(2)),
        formulas={"f": r"\tfrac12\left[u \log u - (u + 1) \log \tfrac{u + 1}{2}\right]",
                  "f*": r"-\tfrac12 \log\left(2 - e^{2t}\right)",
                  "g": r"\tfrac12\left(\log 2 - \log(1 + e^{-v})\right)", "dom f*": r"t < \tfrac12 \log 2"},
    ),
    "pearson": FDivergence(
        "Pearson chi^2(pi || p)",
        f=lambda u: (u - 1) ** 2,
        conjugate=lambda t: t ** 2 / 4 + t,
        activation=lambda v: v,
        conjugate_of_activation=lambda v: v ** 2 / 4 + v,
        formulas={"f": r"(u - 1)^2", "f*": r"\tfrac14 t^2 + t", "g": r"v", "dom f*": r"\mathbb{R}"},
    ),
    "squared_hellinger": FDivergence(
        "squared Hellinger H^2(pi, p)",
        f=lambda u: (torch.sqrt(u) - 1) ** 2,
        conjugate=lambda t: _outside(t / (1 - t), t < 1),
        activation=lambda v: 1 - torch.exp(-v),
        conjugate_of_activation=lambda v: torch.expm1(v),
        formulas={"f": r"(\sqrt{u} - 1)^2", "f*": r"\frac{t}{1 - t}", "g": r"1 - e^{-v}", "dom f*": r"t < 1"},
    ),
    "total_variation": FDivergence(
        "total variation TV(pi, p)",
        f=lambda u: 0.5 * (u - 1).abs(),
        conjugate=lambda t: _outside(t, t.abs() <= 0.5),
        activation=lambda v: 0.5 * torch.tanh(v),
        conjugate_of_activation=lambda v: 0.5 * torch.tanh(v),
        formulas={"f": r"\tfrac12 \lvert u - 1 \rvert", "f*": r"t", "g": r"\tfrac12 \tanh v", "dom f*": r"\lvert t \rvert \le \tfrac12"},
    ),
}
"""The f-GAN table (Nowozin et al., 2016), keyed ``kl``, ``reverse_kl``, ``jensen_shannon``,
``pearson``, ``squared_hellinger``, ``total_variation``. The Jensen-Shannon row is scaled by 1/2
so that D_f equals :func:`jsd` (f-GAN's paper uses twice that generator); squared Hellinger is
int (sqrt(pi) - sqrt(p))^2 dx, without a factor 1/2."""


def f_divergence(name: str) -> FDivergence:
    """The row ``name`` of :data:`f_divergences`; a ``ValueError`` lists the names when it is unknown."""
    if name not in f_divergences:
        raise ValueError(f"unknown f-divergence {name!r}; valid names: {', '.join(f_divergences)}")
    return f_divergences[name]


def train_f_critic(critic: torch.nn.Module, x_pi: torch.Tensor, x_p: torch.Tensor, divergence: str = "kl", *,
                   steps: int, lr: float = 1e-3, progress: bool | None = None):
    """Maximize the f-GAN lower bound E_pi g(V(x)) - E_p f*(g(V(x))) over the critic V (full-batch Adam).

    ``critic``: a network ``(n, ...) -> (n,)`` (or ``(n, 1)``), trained in place for ``steps`` steps
    on the fixed samples ``x_pi: (n, ...)`` and ``x_p: (m, ...)``. Returns ``(value, history)``: the
    bound on those samples after training, a scalar tensor, and the :class:`dgmlib.training.History`
    of the bound per step (key ``bound``). Evaluate ``FDivergence.bound`` on fresh samples for an
    estimate that is not biased upwards by fitting the training samples.
    """
    from .training import fit

    div = f_divergence(divergence)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not (torch.is_tensor(x_pi) and torch.is_tensor(x_p)) or x_pi.ndim < 2 or x_p.ndim < 2 \
            or x_pi.shape[1:] != x_p.shape[1:]:
        raise ValueError("x_pi and x_p must be (n, ...) tensors of samples of the same dimension, got "
                         f"{tuple(getattr(x_pi, 'shape', ()))} and {tuple(getattr(x_p, 'shape', ()))}")
    opt = torch.optim.Adam(critic.parameters(), lr=lr)

    def value():
        return div.bound(critic(x_pi).reshape(len(x_pi)), critic(x_p).reshape(len(x_p)))

    def step(_):
        bound = value()
        opt.zero_grad(set_to_none=True)
        (-bound).backward()
        opt.step()
        return {"bound": bound.detach()}

    ticks = torch.zeros(1, 1, device=x_pi.device)  # one "epoch" per step: fit's NaN guard and history
    history = fit(critic, ticks, epochs=steps, batch_size=1, step=step, progress=progress)
    with torch.no_grad():
        return value(), history
