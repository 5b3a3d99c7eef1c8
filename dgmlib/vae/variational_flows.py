"""Variational inference with normalizing flows: the 2-D test energies, a flow posterior, reverse-KL fitting,
and the IAF step that refines a VAE's q(z|x).

    z_0 ~ q_0 = N(mu, diag sigma^2),   z_K = f_K o ... o f_1(z_0),
    log q_K(z_K) = log q_0(z_0) - sum_k log|det df_k/dz_{k-1}|

The flow layers themselves (planar, radial, masked autoregressive) live in :mod:`dgmlib.flows`;
:class:`dgmlib.flows.Compose` chains them and sums their log-determinants.

References: Rezende & Mohamed, *Variational Inference with Normalizing Flows*, ICML 2015 (the
energies U1-U4 of Table 1, Fig. 3); Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling,
*Improved Variational Inference with Inverse Autoregressive Flow*, NeurIPS 2016.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from .. import checks
from ..flows import Compose, MaskedAutoregressive
from ..gaussian import log_normal, reparameterize

__all__ = ["ENERGIES", "energy", "FlowPosterior", "fit_reverse_kl", "IAFStep"]

ENERGIES = ("U1", "U2", "U3", "U4")


def energy(name: str, z: torch.Tensor) -> torch.Tensor:
    """The 2-D test energies U1-U4 of Rezende & Mohamed (2015), target p(z) ∝ exp(-U(z)).

    With w1 = sin(2 pi z1 / 4), w2 = 3 exp(-((z1 - 1) / 0.6)^2 / 2), w3 = 3 sigmoid((z1 - 1) / 0.3):

        U1 = ((|z| - 2) / 0.4)^2 / 2 - log(exp(-((z1 - 2) / 0.6)^2 / 2) + exp(-((z1 + 2) / 0.6)^2 / 2))
        U2 = ((z2 - w1) / 0.4)^2 / 2
        U3 = -log(exp(-((z2 - w1) / 0.35)^2 / 2) + exp(-((z2 - w1 + w2) / 0.35)^2 / 2))
        U4 = -log(exp(-((z2 - w1) / 0.4)^2 / 2) + exp(-((z2 - w1 + w3) / 0.35)^2 / 2))

    U2-U4 do not depend on z1 far out, so exp(-U) is not normalizable on R^2; the paper shows them on
    the square [-4, 4]^2. We add the same soft wall to all three, ``(z1 / 3.5)^8 / 2`` (below 0.02
    for |z1| < 2, a factor e^-1.4 at |z1| = 4), which makes them proper densities with that look,
    so that KL(q || p) is finite and log Z can be computed. ``z: (..., 2)`` -> ``(...)``.

    Example:
        >>> log_target = lambda z: -energy("U1", z)           # an unnormalized log-density for fit_reverse_kl
    """
    checks.one_of(name, "name", ENERGIES)
    checks.tensor(z, "z")
    if z.shape[-1] != 2:
        raise ValueError(f"z must have shape (..., 2), got {tuple(z.shape)}")
    z1, z2 = z[..., 0], z[..., 1]
    w1 = torch.sin(2 * math.pi * z1 / 4)

    def lse2(a, b):  # -log(exp(-a) + exp(-b)) for a, b the two quadratic terms
        return -torch.logaddexp(-a, -b)

    if name == "U1":
        return 0.5 * ((z.norm(dim=-1) - 2) / 0.4) ** 2 + lse2(0.5 * ((z1 - 2) / 0.6) ** 2, 0.5 * ((z1 + 2) / 0.6) ** 2)
    wall = 0.5 * (z1 / 3.5) ** 8
    if name == "U2":
        return 0.5 * ((z2 - w1) / 0.4) ** 2 + wall
    if name == "U3":
        w2 = 3 * torch.exp(-0.5 * ((z1 - 1) / 0.6) ** 2)
        return lse2(0.5 * ((z2 - w1) / 0.35) ** 2, 0.5 * ((z2 - w1 + w2) / 0.35) ** 2) + wall
    w3 = 3 * torch.sigmoid((z1 - 1) / 0.3)
    return lse2(0.5 * ((z2 - w1) / 0.4) ** 2, 0.5 * ((z2 - w1 + w3) / 0.35) ** 2) + wall


class FlowPosterior(nn.Module):
    """q_K: z_0 ~ N(m, diag exp(logvar)) (learned), z_K = f_K o ... o f_1(z_0),

        log q_K(z_K) = log q_0(z_0) - sum_k log|det df_k/dz_{k-1}|.

    ``layers``: flow layers with ``forward(z) -> (z, log_det)`` (``dgmlib.flows.Planar``,
    ``Radial``, ...), chained by :class:`dgmlib.flows.Compose`; an empty list is a plain diagonal
    Gaussian.

    Example:
        >>> q = FlowPosterior([Planar(2) for _ in range(8)])
        >>> losses = fit_reverse_kl(q, lambda z: -energy("U2", z), steps=500, anneal=150)
        >>> z, log_q = q.rsample(1000)                        # (1000, 2), (1000,)
    """

    def __init__(self, layers: Sequence[nn.Module], dim: int = 2):
        super().__init__()
        self.dim = checks.positive_int(dim, "dim")
        self.flow = Compose(layers)
        self.mu = nn.Parameter(torch.zeros(dim))
        self.logvar = nn.Parameter(torch.zeros(dim))

    def rsample(self, n: int):
        """n reparameterized samples and their log-density: ``(z: (n, dim), log_q: (n,))``."""
        n = checks.positive_int(n, "n")
        z0 = reparameterize(self.mu.expand(n, -1), self.logvar.expand(n, -1))
        z, log_det = self.flow(z0)
        return z, log_normal(z0, self.mu, self.logvar) - log_det

    def reverse_kl(self, log_target: Callable, n: int) -> torch.Tensor:
        """Monte Carlo KL(q || p) - log Z = E_q[log q(z) - log p~(z)] with n samples (a scalar);
        ``log_target(z: (n, dim)) -> (n,)`` is the unnormalized log-density (``-U``)."""
        z, log_q = self.rsample(n)
        return (log_q - log_target(z)).mean()


def fit_reverse_kl(posterior: FlowPosterior, log_target: Callable, steps: int, n: int = 256, lr: float = 1e-2,
                   anneal: int = 0) -> list[float]:
    """Minimise E_q[log q(z) - beta_t log p~(z)] by Adam for ``steps`` steps of ``n`` samples.

    ``anneal``: the first ``anneal`` steps raise the inverse temperature beta_t linearly from
    0.01 to 1 (as Rezende & Mohamed do), which keeps q from collapsing onto one mode early.
    Returns the per-step loss (at beta = 1 it is KL(q || p) - log Z).
    """
    steps = checks.positive_int(steps, "steps")
    n = checks.positive_int(n, "n")
    anneal = checks.int_at_least(anneal, "anneal", 0)
    opt = torch.optim.Adam(posterior.parameters(), lr=checks.positive_number(lr, "lr"))
    losses = []
    for t in range(steps):
        beta = min(1.0, 0.01 + t / anneal) if anneal else 1.0
        z, log_q = posterior.rsample(n)
        loss = (log_q - beta * log_target(z)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


class IAFStep(nn.Module):
    """One inverse autoregressive flow step of a posterior (Kingma et al., 2016):

        z_t = mu_t + sigma_t * z_{t-1},   (mu_t, log sigma_t)_i = MADE(z_{t-1, <i}, h),
        log|det dz_t/dz_{t-1}| = sum_i log sigma_{t,i}

    one network pass per step. It is the cheap (one-pass) direction of
    ``dgmlib.flows.MaskedAutoregressive(direction="iaf")``, i.e. that layer's ``inverse``, which
    starts as the identity; ``inverse`` is the other direction (``dim`` passes).
    ``z: (B, dim)``, ``context h: (B, context_features)`` -> ``(z, log_det: (B,))``.

    Example:
        >>> flows = [IAFStep(20, (128,), context_features=20), Reverse(), IAFStep(20, (128,), context_features=20)]
        >>> vae = make_vae(20, flows=flows, context_features=20)
    """

    def __init__(self, dim: int, hidden=(64,), context_features: int | None = None):
        super().__init__()
        self.layer = MaskedAutoregressive(dim, hidden, direction="iaf", context_features=context_features)
        self.conditional = self.layer.conditional  # Compose passes context= only to conditional layers

    def forward(self, z, context=None):
        return self.layer.inverse(z, context=context)

    def inverse(self, z, context=None):
        return self.layer(z, context=context)
