"""A VAE with two levels of latents (z2 on top of z1), both directions sampled top-down."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .. import checks
from ..gaussian import kl_normal, kl_normal_std, log_normal, log_normal_std, reparameterize
from ..nets import mlp
from .evaluation import importance_log_prob
from .inputs import check_x
from .likelihoods import log_bernoulli

__all__ = ["HierarchicalVAE"]


class HierarchicalVAE(nn.Module):
    """Two levels of latents, sampled top-down in both directions (MLPs, Bernoulli pixels).

        p(x, z1, z2) = p(z2) p(z1|z2) p(x|z1),        q(z1, z2|x) = q(z2|x) q(z1|x, z2)

        ELBO = E_q[log p(x|z1)] - E_{q(z2|x)}[KL(q(z1|x, z2) || p(z1|z2))] - KL(q(z2|x) || p(z2))

    the reconstruction and one KL per level; all conditionals are diagonal Gaussians, so both KLs
    are closed forms given ``z2``. ``loss(x)`` returns ``{"loss", "elbo", "recon", "kl_z1", "kl_z2"}``
    (``recon = -E_q log p(x|z1)``, so ``loss = recon + kl_z1 + kl_z2``); ``sample(n, mean=False)``
    draws binary images (``mean=True``: the pixel probabilities); ``log_prob(x, k=1000)``
    estimates log p(x) by importance sampling.

    Example:
        >>> hvae = HierarchicalVAE(784, z1=16, z2=4, hidden=256)
        >>> history = fit(hvae, x_train, epochs=15)            # history["kl_z1"], history["kl_z2"]
        >>> images = hvae.sample(32, mean=True)                # (32, 1, 28, 28)

    References: Sonderby, Raiko, Maaloe, Sonderby & Winther, *Ladder Variational Autoencoders*,
    NeurIPS 2016 (the top-down inference path); Burda et al., ICLR 2016 (two-layer IWAE).
    """

    def __init__(self, in_features: int = 784, z1: int = 16, z2: int = 4, hidden: int = 256,
                 x_shape: Sequence[int] = (1, 28, 28)):
        super().__init__()
        self.z1, self.z2 = checks.positive_int(z1, "z1"), checks.positive_int(z2, "z2")
        in_features, hidden = checks.positive_int(in_features, "in_features"), checks.int_at_least(hidden, "hidden", 2)
        self.x_shape = tuple(x_shape)
        if math.prod(self.x_shape) != in_features:
            raise ValueError(f"x_shape {self.x_shape} must hold in_features = {in_features} values")
        self.enc_x = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU())
        self.q_z2 = nn.Linear(hidden, 2 * z2)                                     # q(z2|x)
        self.q_z1 = mlp(hidden + z2, 2 * z1, (hidden // 2,), nn.ReLU)             # q(z1|x, z2)
        self.p_z1 = mlp(z2, 2 * z1, (hidden // 2,), nn.ReLU)                      # p(z1|z2)
        self.p_x = mlp(z1, in_features, (hidden,), nn.ReLU)                       # p(x|z1)

    def _check_x(self, x):
        check_x(x, shape=self.x_shape, dtype=self.q_z2.weight.dtype, bernoulli=True)

    def _terms(self, x):
        """One top-down pass with one (z2, z1) per row of x: (B, ...) -> dict of (B,) terms."""
        h = self.enc_x(x.flatten(1))
        mu2, logvar2 = self.q_z2(h).chunk(2, -1)
        z2 = reparameterize(mu2, logvar2)
        mu1, logvar1 = self.q_z1(torch.cat([h, z2], -1)).chunk(2, -1)
        z1 = reparameterize(mu1, logvar1)
        mu1_p, logvar1_p = self.p_z1(z2).chunk(2, -1)
        log_px = log_bernoulli(x.flatten(1), self.p_x(z1))
        log_w = (log_px + log_normal(z1, mu1_p, logvar1_p) + log_normal_std(z2)
                 - log_normal(z1, mu1, logvar1) - log_normal(z2, mu2, logvar2))
        return {"log_px": log_px, "kl_z1": kl_normal(mu1, logvar1, mu1_p, logvar1_p),
                "kl_z2": kl_normal_std(mu2, logvar2), "log_w": log_w}

    def elbo(self, x) -> dict[str, torch.Tensor]:
        """Per-sample ``{"elbo", "recon", "kl_z1", "kl_z2"}``, each ``(B,)``; elbo = -recon - kl_z1 - kl_z2."""
        self._check_x(x)
        t = self._terms(x)
        return {"elbo": t["log_px"] - t["kl_z1"] - t["kl_z2"], "recon": -t["log_px"],
                "kl_z1": t["kl_z1"], "kl_z2": t["kl_z2"]}

    def log_weights(self, x, k: int) -> torch.Tensor:
        """log w = log p(x, z1, z2) - log q(z1, z2|x), k draws per x:  (B, ...) -> (k, B).

        Its mean over draws is a Monte Carlo ELBO (no closed-form KLs); F_k and log p(x) follow
        with :func:`dgmlib.gaussian.log_mean_exp`.
        """
        self._check_x(x)
        k = checks.int_at_least(k, "k", 1)
        xs = x.unsqueeze(0).expand(k, *x.shape).reshape(k * len(x), *x.shape[1:])
        return self._terms(xs)["log_w"].view(k, len(x))

    @torch.no_grad()
    def log_prob(self, x, k: int = 1000, chunk: int | None = None) -> torch.Tensor:
        """Importance-sampled log p(x) ~ F_k(x) (see :func:`dgmlib.vae.importance_log_prob`):  (B, ...) -> (B,)."""
        checks.int_at_least(k, "k", 1)
        self._check_x(x)
        return importance_log_prob(self.log_weights, x, k, chunk)

    def loss(self, x) -> dict[str, torch.Tensor]:
        """-ELBO averaged over the batch, and its terms (detached batch means)."""
        t = self.elbo(x)
        return {"loss": -t["elbo"].mean(), "elbo": t["elbo"].mean().detach(),
                "recon": t["recon"].mean().detach(), "kl_z1": t["kl_z1"].mean().detach(),
                "kl_z2": t["kl_z2"].mean().detach()}

    @torch.no_grad()
    def sample(self, n: int, mean: bool = False) -> torch.Tensor:
        """z2 ~ N(0, I), z1 ~ p(z1|z2), x ~ p(x|z1) (``mean=True``: pixel probabilities). -> (n, *x_shape)."""
        n = checks.positive_int(n, "n")
        w = self.q_z2.weight
        z2 = torch.randn(n, self.z2, dtype=w.dtype, device=w.device)
        z1 = reparameterize(*self.p_z1(z2).chunk(2, -1))
        probs = torch.sigmoid(self.p_x(z1)).view(n, *self.x_shape)
        return probs if checks.flag(mean, "mean") else torch.bernoulli(probs)
