"""1-D marginals ``p_i(z_i)`` with a CDF ``g_i`` and an inverse CDF ``g_i^{-1}``: the pieces of the
entangling map ``f = g^{-1} o h^{-1} o A o h o g`` (see :mod:`dgmlib.disentanglement.entangling`).

Example:
    >>> m = kumaraswamy(2.0, 5.0)
    >>> z = m.sample(1000)                 # inverse-CDF sampling, float64
    >>> u = m.cdf(z)                       # ~ U(0, 1)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .. import checks

__all__ = ["Marginal", "exponential", "kumaraswamy", "gaussian_mixture"]


@dataclass(frozen=True)
class Marginal:
    """A 1-D distribution given by its CDF, inverse CDF, log density and sampler (elementwise)."""

    name: str
    cdf: Callable[[torch.Tensor], torch.Tensor]
    icdf: Callable[[torch.Tensor], torch.Tensor]
    log_prob: Callable[[torch.Tensor], torch.Tensor]

    def sample(self, n: int, generator: torch.Generator | None = None, dtype=torch.float64) -> torch.Tensor:
        """Inverse-CDF sampling: ``z = F^{-1}(u)``, ``u ~ U(0, 1)``; returns ``(n,)``."""
        n = checks.positive_int(n, "n")
        u = torch.rand(n, generator=generator, dtype=dtype)
        return self.icdf(u.clamp(1e-12, 1 - 1e-12))


def exponential(rate: float = 1.0) -> Marginal:
    """Exp(rate) on (0, inf): ``F(z) = 1 - exp(-rate z)``, ``F^{-1}(u) = -log(1 - u) / rate``."""
    rate = checks.positive_number(rate, "rate")
    return Marginal(
        f"Exponential({rate:g})",
        cdf=lambda z: -torch.expm1(-rate * z),
        icdf=lambda u: -torch.log1p(-u) / rate,
        log_prob=lambda z: math.log(rate) - rate * z,
    )


def kumaraswamy(a: float, b: float) -> Marginal:
    """Kumaraswamy(a, b) on (0, 1), a Beta look-alike with closed forms:
    ``F(z) = 1 - (1 - z^a)^b``, ``F^{-1}(u) = (1 - (1 - u)^{1/b})^{1/a}``.

    References: Kumaraswamy, *A generalized probability density function for double-bounded
    random processes*, Journal of Hydrology, 1980.
    """
    a, b = checks.positive_number(a, "a"), checks.positive_number(b, "b")
    return Marginal(
        f"Kumaraswamy({a:g}, {b:g})",
        cdf=lambda z: 1 - (1 - z.pow(a)).pow(b),
        icdf=lambda u: (1 - (1 - u).pow(1 / b)).pow(1 / a),
        log_prob=lambda z: math.log(a * b) + (a - 1) * torch.log(z) + (b - 1) * torch.log1p(-z.pow(a)),
    )


def _mixture_parameters(weights, means, stds):
    w = torch.as_tensor(weights, dtype=torch.float64)
    mu = torch.as_tensor(means, dtype=torch.float64)
    s = torch.as_tensor(stds, dtype=torch.float64)
    if not (w.ndim == mu.ndim == s.ndim == 1 and len(w) == len(mu) == len(s) and len(w) > 0):
        raise ValueError("weights, means and stds must be 1-D sequences of the same, non-zero length")
    if (w <= 0).any() or abs(w.sum().item() - 1) > 1e-8:
        raise ValueError(f"weights must be positive and sum to 1, got {w.tolist()}")
    if (s <= 0).any():
        raise ValueError(f"stds must be positive, got {s.tolist()}")
    return w, mu, s


def gaussian_mixture(weights: Sequence[float], means: Sequence[float], stds: Sequence[float]) -> Marginal:
    """A 1-D mixture ``sum_k w_k N(mu_k, s_k^2)``: ``F(z) = sum_k w_k Phi((z - mu_k) / s_k)``.

    ``F^{-1}`` has no closed form: it is found by bisection (60 halvings) and then one Newton step
    ``z <- z - (F(z) - u) / p(z)`` through which gradients flow, so ``dz/du = 1 / p(z)`` as the
    inverse function theorem demands.
    """
    w, mu, s = _mixture_parameters(weights, means, stds)
    normal = torch.distributions.Normal(0.0, 1.0)

    def cdf(z):
        return (w.to(z) * normal.cdf((z.unsqueeze(-1) - mu.to(z)) / s.to(z))).sum(-1)

    def log_prob(z):
        s_ = s.to(z)
        comp = torch.log(w.to(z)) + normal.log_prob((z.unsqueeze(-1) - mu.to(z)) / s_) - torch.log(s_)
        return torch.logsumexp(comp, dim=-1)

    def icdf(u):
        lo = torch.full_like(u, (mu - 12 * s).min().item()).detach()
        hi = torch.full_like(u, (mu + 12 * s).max().item()).detach()
        target = u.detach()
        with torch.no_grad():
            for _ in range(60):  # halvings of an interval, not a loop over samples
                mid = (lo + hi) / 2
                below = cdf(mid) < target
                lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
        z0 = (lo + hi) / 2
        return z0 - (cdf(z0) - u) / log_prob(z0).exp()  # one Newton step carries the gradient

    label = " + ".join(f"{wk:g} N({mk:g}, {sk:g}^2)" for wk, mk, sk in zip(w.tolist(), mu.tolist(), s.tolist()))
    return Marginal(label, cdf=cdf, icdf=icdf, log_prob=log_prob)
