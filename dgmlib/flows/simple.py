"""Flows with an O(D) determinant from a determinant identity: planar and radial (Rezende & Mohamed, 2015).

Both are one-unit residual maps f(z) = z + (a rank-one or radial term), so the matrix
determinant lemma det(I + u v^T) = 1 + v^T u gives log|det J| in O(D) instead of O(D^3). Neither
has an inverse in closed form: they are used where only the forward map is needed, as the
steps z_k = f_k(z_{k-1}) of a flow posterior in variational inference (log q_K(z_K) =
log q_0(z_0) - sum_k log_det_k), or as the density direction of a ``Flow``
(which then cannot ``sample``).

References: Rezende & Mohamed, *Variational Inference with Normalizing Flows*, ICML 2015, Sec. 4.1.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .. import checks
from .base import check_vectors

__all__ = ["Planar", "Radial"]

_SHIFT = math.log(math.e - 1)  # softplus(_SHIFT) = 1


class Planar(nn.Module):
    """Planar flow  f(z) = z + u_hat tanh(w^T z + b),  log|det J| = log|1 + u_hat^T psi(z)|,
    psi(z) = tanh'(w^T z + b) w  (Rezende & Mohamed 2015, eq. 10-12).

    f is invertible iff w^T u_hat >= -1; the free parameter u is mapped to
    u_hat = u + (m(w^T u) - w^T u) w / ||w||^2 with m(a) = -1 + softplus(a + log(e - 1)), so it
    always is (the shift log(e - 1) makes m(0) = 0: a layer with w^T u = 0 is left as it is).
    x: (B, dim) -> (y: (B, dim), log_det: (B,)). No analytic inverse (see ``inverse``).

    Example:
        >>> q = Compose([Planar(2) for _ in range(8)])           # a flow posterior
        >>> z, log_det = q(torch.randn(100, 2))                 # log q_K(z) = log q_0(z_0) - log_det
    """

    def __init__(self, dim: int, init_scale: float = 0.1):
        super().__init__()
        self.dim = checks.positive_int(dim, "dim")
        init_scale = checks.non_negative_number(init_scale, "init_scale")
        self.u = nn.Parameter(init_scale * torch.randn(dim))
        self.w = nn.Parameter(init_scale * torch.randn(dim))
        self.b = nn.Parameter(torch.zeros(()))

    def u_hat(self) -> torch.Tensor:
        """The constrained u, with w^T u_hat = -1 + softplus(w^T u + log(e - 1)) > -1."""
        wu = self.w @ self.u
        return self.u + (-1 + F.softplus(wu + _SHIFT) - wu) * self.w / (self.w @ self.w + 1e-12)

    def forward(self, x):
        check_vectors(x, self.dim)
        u = self.u_hat()
        a = x @ self.w + self.b  # (B,)
        h = torch.tanh(a)
        y = x + h.unsqueeze(1) * u
        psi_u = (1 - h.pow(2)) * (self.w @ u)  # u^T psi(z), (B,)
        return y, torch.log(torch.abs(1 + psi_u) + 1e-12)

    def inverse(self, y):
        raise NotImplementedError(
            "Planar has no analytic inverse: solving y = z + u tanh(w^T z + b) for z needs a 1-D root "
            "search along w. Use planar layers where only the forward map is needed (a VI posterior, "
            "or a Flow's log_prob); for sampling choose a layer with an analytic inverse."
        )


class Radial(nn.Module):
    """Radial flow  f(z) = z + beta h(alpha, r) (z - z_0),  h = 1 / (alpha + r),  r = ||z - z_0||;

    log|det J| = (D - 1) log(1 + beta h) + log(1 + beta h + beta h'(alpha, r) r),
    h' = -1 / (alpha + r)^2  (Rezende & Mohamed 2015, eq. 14). Invertible iff beta >= -alpha: we
    use alpha = softplus(a) > 0 and beta = -alpha + softplus(b).
    x: (B, dim) -> (y: (B, dim), log_det: (B,)). No analytic inverse (see ``inverse``).
    """

    def __init__(self, dim: int, init_scale: float = 0.1):
        super().__init__()
        self.dim = checks.positive_int(dim, "dim")
        init_scale = checks.non_negative_number(init_scale, "init_scale")
        self.z0 = nn.Parameter(init_scale * torch.randn(dim))
        self.a = nn.Parameter(torch.zeros(()))
        self.b = nn.Parameter(torch.zeros(()))

    def alpha_beta(self):
        alpha = F.softplus(self.a)
        return alpha, -alpha + F.softplus(self.b)

    def forward(self, x):
        check_vectors(x, self.dim)
        alpha, beta = self.alpha_beta()
        diff = x - self.z0
        r = diff.norm(dim=1)  # (B,)
        h = 1 / (alpha + r)
        y = x + (beta * h).unsqueeze(1) * diff
        bh = beta * h
        log_det = (self.dim - 1) * torch.log1p(bh) + torch.log1p(bh - beta * r * h.pow(2))
        return y, log_det

    def inverse(self, y):
        raise NotImplementedError(
            "Radial has no analytic inverse: undoing y = z + beta (z - z_0) / (alpha + r) needs solving "
            "for the radius r first (a scalar equation). Use radial layers where only the forward map is "
            "needed (a VI posterior, or a Flow's log_prob); for sampling choose a layer with an analytic inverse."
        )
