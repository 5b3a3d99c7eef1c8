"""Invertible residual blocks (Behrmann et al. 2019) and the unbiased log-determinant of Residual Flows (Chen et al. 2019).

f(x) = x + g(x) is invertible when Lip(g) < 1 (Banach: x = y - g(x) has one fixed point), and

    log|det(I + J_g(x))| = sum_{k>=1} (-1)^{k+1} tr(J_g^k) / k        (converges for ||J_g|| < 1).

Each trace is estimated by Hutchinson's  tr(A) = E_v[v^T A v],  v ~ N(0, I): v^T J^k v needs k
vector-Jacobian products, no Jacobian. Truncating the series at n terms is biased; the Russian
roulette estimator draws the number of terms N at random and reweights term k by 1 / P(N >= k),
which makes it unbiased. Its variance is finite when the reweighted terms shrink,
roughly Lip(g)^2 < 1 - p for a geometric N with stopping probability p.

References: Behrmann et al., *Invertible Residual Networks*, ICML 2019, Theorem 1 and eq. 6-7;
Chen et al., *Residual Flows for Invertible Generative Modeling*, NeurIPS 2019, Theorem 1 (eq. 6).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .. import checks
from .base import check_vectors, sizes

__all__ = ["ResidualFlowBlock", "power_series_log_det"]

_MODES = ("exact", "series", "roulette")


def power_series_log_det(g, x, n_terms: int, *, roulette_p: float | None = None, n_exact_terms: int = 2,
                         create_graph: bool = False, generator: torch.Generator | None = None):
    """Stochastic estimate of log det(I + J_g(x)), per sample: x (B, D) -> (B,).

    Without ``roulette_p``: sum_{k=1}^{n_terms} (-1)^{k+1} v^T J^k v / k (Hutchinson, biased by
    truncation). With ``roulette_p``: N = n_exact_terms + G, G ~ Geometric(roulette_p) on
    {0, 1, ...}; term k is weighted by 1 / P(N >= k) = (1 - p)^{-(k - n_exact_terms)_+}; unbiased.
    ``n_terms`` then caps N (a safety bound; keep it large).

    Example:
        >>> a = 0.5 * torch.eye(3)                                    # g(x) = A x, Lip(g) = 0.5
        >>> power_series_log_det(lambda v: v @ a.T, torch.zeros(10_000, 3), 30).mean()   # ~ 3 log 1.5
    """
    n_terms = checks.positive_int(n_terms, "n_terms")
    if roulette_p is not None:
        roulette_p = checks.number_in(roulette_p, "roulette_p", 0, 1, closed="neither")
    n_exact_terms = checks.int_at_least(n_exact_terms, "n_exact_terms", 0)
    x = x if x.requires_grad else x.detach().requires_grad_(True)
    with torch.enable_grad():
        y = g(x)
        v = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device) if generator is not None else torch.randn_like(x)
        if roulette_p is None:
            n = n_terms
        else:
            u = torch.rand((), generator=generator, dtype=torch.float64).item() if generator is not None else torch.rand(()).item()
            n = min(n_exact_terms + int(math.floor(math.log(max(u, 1e-300)) / math.log(1 - roulette_p))), n_terms)
        w = v
        total = x.new_zeros(x.shape[0])
        for k in range(1, n + 1):
            (w,) = torch.autograd.grad(y, x, w, create_graph=create_graph, retain_graph=True)
            weight = 1.0 if roulette_p is None else (1 - roulette_p) ** (-max(k - n_exact_terms, 0))
            total = total + ((-1) ** (k + 1)) / k * weight * (w * v).flatten(1).sum(1)
    return total


class ResidualFlowBlock(nn.Module):
    """i-ResNet block  y = x + g(x),  g = c * (W_L o ELU o ... o ELU o W_1)  with every W_i spectrally
    normalized (W / ||W||_2, the exact largest singular value), so Lip(g) <= c = ``lipschitz`` < 1.

    - ``log_det="exact"``: log|det(I + J_g)| from the full Jacobian (torch.func, O(D^3); small D).
    - ``"series"``: the power series truncated at ``n_terms``, traces by Hutchinson (biased).
    - ``"roulette"``: the Russian-roulette series of Residual Flows (unbiased), geometric with
      stopping probability ``roulette_p`` after ``n_exact_terms`` terms (finite variance needs
      about Lip(g)^2 < 1 - roulette_p).
    ``inverse`` solves x = y - g(x) by fixed-point iteration to ``tol`` (at most ``max_iter``
    steps; the error shrinks like c^i). x: (B, dim) -> (y: (B, dim), log_det: (B,)).

    Example:
        >>> block = ResidualFlowBlock(2, hidden=(64, 64), lipschitz=0.9, log_det="roulette")
        >>> flow = Flow(StandardNormal(2), [block, ActNorm(2)])        # see residual_flow()
    """

    def __init__(self, dim: int, hidden=(64, 64), lipschitz: float = 0.9, log_det: str = "exact",
                 n_terms: int = 10, roulette_p: float = 0.2, n_exact_terms: int = 2,
                 tol: float = 1e-8, max_iter: int = 500):
        super().__init__()
        self.dim = checks.positive_int(dim, "dim")
        try:
            self.lipschitz = checks.number_in(lipschitz, "lipschitz", 0, 1, closed="neither")
        except ValueError:  # the same check, with the reason for it
            raise ValueError(
                f"lipschitz must be in (0, 1) for the residual block to be invertible (Lip(g) < 1), got {lipschitz!r}"
            ) from None
        self.log_det = checks.one_of(log_det, "log_det", _MODES)
        self.n_terms = checks.positive_int(n_terms, "n_terms")
        self.roulette_p = checks.number_in(roulette_p, "roulette_p", 0, 1, closed="neither")
        self.n_exact_terms = checks.int_at_least(n_exact_terms, "n_exact_terms", 0)
        self.tol = checks.positive_number(tol, "tol")
        self.max_iter = checks.positive_int(max_iter, "max_iter")
        widths = (dim,) + sizes(hidden, "hidden") + (dim,)
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))

    def _weights(self):
        return [lin.weight / torch.linalg.matrix_norm(lin.weight, ord=2) for lin in self.linears]

    def g(self, x, weights=None):
        """The residual branch g(x), Lip(g) <= lipschitz.  x: (B, dim) -> (B, dim)."""
        weights = self._weights() if weights is None else weights
        h = x
        for i, (w, lin) in enumerate(zip(weights, self.linears)):
            h = F.linear(h, w, lin.bias)
            if i < len(weights) - 1:
                h = F.elu(h)
        return self.lipschitz * h

    def exact_log_det(self, x, weights=None):
        """log|det(I + J_g(x))| from the Jacobian of every sample: (B, dim) -> (B,)."""
        weights = self._weights() if weights is None else weights
        jac = torch.func.vmap(torch.func.jacrev(lambda v: self.g(v.unsqueeze(0), weights).squeeze(0)))(x)
        eye = torch.eye(self.dim, device=x.device, dtype=x.dtype)
        return torch.linalg.slogdet(eye + jac)[1]

    def estimate_log_det(self, x, mode=None, n_terms=None, generator=None):
        """log|det(I + J_g(x))| by ``mode`` ("exact", "series", "roulette"; default: ``self.log_det``)."""
        mode = checks.one_of(self.log_det if mode is None else mode, "mode", _MODES)
        weights = self._weights()
        if mode == "exact":
            return self.exact_log_det(x, weights)
        n = self.n_terms if n_terms is None else n_terms
        p = self.roulette_p if mode == "roulette" else None
        cap = n if mode == "series" else max(n, 200)
        return power_series_log_det(lambda v: self.g(v, weights), x, cap, roulette_p=p,
                                    n_exact_terms=self.n_exact_terms, create_graph=torch.is_grad_enabled(),
                                    generator=generator)

    def forward(self, x):
        check_vectors(x, self.dim)
        return x + self.g(x), self.estimate_log_det(x)

    def inverse_iterates(self, y, n_iter: int):
        """The fixed-point iterates x_0 = y, x_{i+1} = y - g(x_i):  (n_iter + 1, B, dim)."""
        with torch.no_grad():
            weights = self._weights()
            xs = [y]
            for _ in range(n_iter):
                xs.append(y - self.g(xs[-1], weights))
        return torch.stack(xs)

    def inverse(self, y):
        check_vectors(y, self.dim, "y")
        with torch.no_grad():
            weights = self._weights()
            x = y
            for _ in range(self.max_iter):
                x_next = y - self.g(x, weights)
                done = (x_next - x).abs().max() <= self.tol
                x = x_next
                if done:
                    break
        return x, -self.estimate_log_det(x)
