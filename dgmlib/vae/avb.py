"""Adversarial Variational Bayes: a VAE whose posterior is implicit, its KL term learned by a critic.

The encoder draws z = g_phi(x, eps), eps ~ N(0, I): a q(z|x) that can be sampled but whose density
is unknown. The ELBO needs that density only through log q(z|x) - log p(z), and a critic T(x, z)
trained as a classifier of pairs,

    max_T  E_pi E_q(z|x) log sigmoid(T(x, z)) + E_pi E_p(z) log(1 - sigmoid(T(x, z))),

has the optimum T*(x, z) = log q(z|x) - log p(z) (the density-ratio trick of lecture 05). The
encoder and decoder then maximize the ELBO with the KL replaced by T:

    max_{phi, theta}  E_pi E_q(z|x) [ log p_theta(x|z) - T(x, z) ].

The decoder is Gaussian, p(x|z) = N(x; f_theta(z), sigma^2 I) with a fixed sigma. It fits the
adversarial contract (``d_loss``, ``g_loss``, trained by :func:`dgmlib.gan.train_gan`): the critic
is the "discriminator", encoder and decoder the "generator".

Reference: Mescheder, Nowozin and Geiger, Adversarial Variational Bayes, ICML 2017.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .. import checks
from ..gan.losses import discriminator_loss
from ..gaussian import log_normal
from ..nets import mlp
from ..runtime import module_device

__all__ = ["AVB"]


class AVB(nn.Module):
    """An implicit-posterior VAE on vectors ``x: (B, data_dim)`` (MLP encoder, decoder and critic).

    ``noise_dim``: the size of eps (default ``latent_dim``); ``sigma``: the decoder's fixed noise
    level; ``decoder``: a module z -> the mean of p(x|z) to use instead of an MLP (a fixed one, e.g.
    ``nn.Identity()``, gives a model whose exact posterior is known).

    Example:
        >>> avb = AVB(1, 1, sigma=0.5, decoder=nn.Identity())     # p(x|z) = N(x; z, 0.25)
        >>> history = train_gan(avb, x, epochs=30, lr_g=1e-3, lr_d=1e-3)
        >>> avb.posterior_sample(x[:1].expand(1000, 1))           # ~ the exact N(0.8 x, 0.2)
    """

    def __init__(self, data_dim: int, latent_dim: int, *, hidden: Sequence[int] = (64, 64),
                 noise_dim: int | None = None, sigma: float = 1.0, decoder: nn.Module | None = None):
        super().__init__()
        self.data_dim = checks.positive_int(data_dim, "data_dim")
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.noise_dim = self.latent_dim if noise_dim is None else checks.positive_int(noise_dim, "noise_dim")
        self.sigma = checks.positive_number(sigma, "sigma")
        if decoder is not None and not isinstance(decoder, nn.Module):
            raise TypeError(f"decoder must be a torch.nn.Module (z -> mean of x), got {type(decoder).__name__}")
        self.encoder = mlp(self.data_dim + self.noise_dim, self.latent_dim, hidden)
        self.decoder = mlp(self.latent_dim, self.data_dim, hidden) if decoder is None else decoder
        self.critic = mlp(self.data_dim + self.latent_dim, 1, hidden)

    def _check(self, x, name: str = "x") -> torch.Tensor:
        x = checks.finite_tensor(checks.floating_tensor(x, name), name)
        if x.ndim != 2 or x.shape[1] != self.data_dim:
            raise ValueError(f"{name} must have shape (B, {self.data_dim}), got {tuple(x.shape)}")
        return x

    def prior(self, n: int) -> torch.Tensor:
        """z ~ p(z) = N(0, I): ``(n, latent_dim)`` on the model's device."""
        return torch.randn(checks.positive_int(n, "n"), self.latent_dim, device=module_device(self))

    def posterior_sample(self, x: torch.Tensor) -> torch.Tensor:
        """z = g(x, eps), one draw of the implicit q(z|x) per row of ``x``: ``(B, latent_dim)``."""
        x = self._check(x)
        eps = torch.randn(len(x), self.noise_dim, device=x.device, dtype=x.dtype)
        return self.encoder(torch.cat([x, eps], dim=1))

    def log_ratio(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The critic's logit T(x, z), the estimate of log q(z|x) - log p(z): ``(B,)``."""
        return self.critic(torch.cat([x, z], dim=1)).squeeze(1)

    def log_px_given_z(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log N(x; f(z), sigma^2 I) summed over the data dimensions: ``(B,)``."""
        return log_normal(x, self.decoder(z), 2 * math.log(self.sigma))

    def generator_parameters(self):
        """Encoder and decoder: the players that maximize the ELBO."""
        return [*self.encoder.parameters(), *self.decoder.parameters()]

    def discriminator_parameters(self):
        return list(self.critic.parameters())

    def d_loss(self, x: torch.Tensor) -> dict:
        """``{"loss", "real", "fake"}``: the critic's cross-entropy, pairs (x, z ~ q) labelled 1, (x, z ~ p) 0."""
        x = self._check(x)
        with torch.no_grad():
            z_q = self.posterior_sample(x)
        t_q, t_p = self.log_ratio(x, z_q), self.log_ratio(x, self.prior(len(x)))
        return {"loss": discriminator_loss(t_q, t_p), "real": t_q.detach().mean(), "fake": t_p.detach().mean()}

    def g_loss(self, x: torch.Tensor) -> dict:
        """``{"loss", "recon", "kl"}``: -E_q[log p(x|z) - T(x, z)], its two parts (KL estimated by T)."""
        x = self._check(x)
        z = self.posterior_sample(x)
        recon = -self.log_px_given_z(x, z).mean()
        kl = self.log_ratio(x, z).mean()
        return {"loss": recon + kl, "recon": recon.detach(), "kl": kl.detach()}

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """``n`` draws x = f(z) + sigma eps, z ~ p(z), without gradients: ``(n, data_dim)``."""
        mean = self.decoder(self.prior(n))
        return mean + self.sigma * torch.randn_like(mean)
