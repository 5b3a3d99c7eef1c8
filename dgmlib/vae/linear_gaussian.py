"""The tractable latent model (probabilistic PCA): every quantity the VAE approximates, in closed form."""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import checks
from ..gaussian import kl_normal_std, log_mean_exp, log_normal, log_normal_std, reparameterize

__all__ = ["LinearGaussian"]


class LinearGaussian(nn.Module):
    """The tractable latent model (probabilistic PCA):  z ~ N(0, I_d),  x | z ~ N(W z + b, sigma^2 I_D).

    Everything is exact: ``log p(x) = log N(x; b, W W^T + sigma^2 I)`` and the posterior
    ``p(z|x) = N(S W^T (x - b) / sigma^2, S)`` with ``S = (I + W^T W / sigma^2)^{-1}``.

    Args:
        W: ``(D, d)`` loadings; b: ``(D,)`` offset (default 0); sigma: the noise scale (> 0).

    The contract: ``log_prob(x)`` exact, ``sample(n)``, ``loss(x) = {"loss": -mean log p(x)}``
    (W and b are buffers: the model is fixed, the loss is there to evaluate it). Inputs must have
    W's dtype (float64 from :meth:`random`).

    Example:
        >>> model = LinearGaussian.random(data_dim=8, latent_dim=3)
        >>> x = model.sample(5)                                  # (5, 8)
        >>> mean, cov = model.posterior(x)
        >>> model.elbo(x, mean, torch.log(torch.diagonal(cov)).expand_as(mean)) <= model.log_prob(x)

    References: Tipping & Bishop, *Probabilistic Principal Component Analysis*, JRSS B 1999;
    Bishop, *Pattern Recognition and Machine Learning*, 2006, Sec. 12.2.
    """

    def __init__(self, W: torch.Tensor, b: torch.Tensor | None = None, sigma: float = 1.0):
        super().__init__()
        checks.tensor(W, "W")
        if W.dim() != 2:
            raise ValueError(f"W must have shape (D, d), got {tuple(W.shape)}")
        if b is None:
            b = torch.zeros(W.shape[0], dtype=W.dtype, device=W.device)
        checks.tensor(b, "b")
        if b.shape != (W.shape[0],):
            raise ValueError(f"b must have shape (D,) = ({W.shape[0]},), got {tuple(b.shape)}")
        if b.dtype != W.dtype:
            raise TypeError(f"b must have W's dtype {W.dtype}, got {b.dtype}")
        self.register_buffer("W", W)
        self.register_buffer("b", b)
        self.sigma = checks.positive_number(sigma, "sigma")

    @classmethod
    def random(cls, data_dim: int, latent_dim: int, sigma: float = 0.5, seed: int = 0, dtype=torch.float64):
        """A random model: W with N(0, 1) entries, b with N(0, 1) entries (float64 by default)."""
        g = torch.Generator().manual_seed(seed)
        data_dim, latent_dim = checks.positive_int(data_dim, "data_dim"), checks.positive_int(latent_dim, "latent_dim")
        return cls(torch.randn(data_dim, latent_dim, generator=g, dtype=dtype),
                   torch.randn(data_dim, generator=g, dtype=dtype), sigma)

    @property
    def data_dim(self) -> int:
        return self.W.shape[0]

    @property
    def latent_dim(self) -> int:
        return self.W.shape[1]

    # -- input checks: the width and dtype a matmul would otherwise complain about -------------

    def _check(self, t, name, width, leading=None):
        checks.tensor(t, name)
        if t.dim() < 2 or t.shape[-1] != width or (leading is not None and t.shape[-2] != leading):
            b = "B" if leading is None else leading
            raise ValueError(f"{name} must have shape ({'..., ' if name == 'z' else ''}{b}, {width}), "
                             f"got {tuple(t.shape)}")
        if name == "x" and t.dim() != 2:
            raise ValueError(f"x must have shape (B, {width}), got {tuple(t.shape)}")
        if t.dtype != self.W.dtype:
            raise TypeError(f"{name} has dtype {t.dtype} but the model computes in {self.W.dtype}: "
                            f"convert it with {name}.to({self.W.dtype})")
        return t

    def _check_x(self, x):
        return self._check(x, "x", self.data_dim)

    def _check_q(self, x, mu, logvar):
        """x: (B, D); mu, logvar: (B, d), the proposal q(z|x) = N(mu, diag exp(logvar))."""
        self._check_x(x)
        checks.same_shape(mu=mu, logvar=logvar)
        self._check(mu, "mu", self.latent_dim, x.shape[0])
        self._check(logvar, "logvar", self.latent_dim, x.shape[0])

    # -- exact quantities ----------------------------------------------------------------------

    def marginal(self) -> torch.distributions.MultivariateNormal:
        """p(x) = N(b, W W^T + sigma^2 I)."""
        cov = self.W @ self.W.T + self.sigma**2 * torch.eye(self.data_dim, dtype=self.W.dtype, device=self.W.device)
        return torch.distributions.MultivariateNormal(self.b, covariance_matrix=cov)

    def log_prob(self, x) -> torch.Tensor:
        """Exact log p(x):  (B, D) -> (B,)."""
        self._check_x(x)
        return self.marginal().log_prob(x)

    def loss(self, x) -> dict[str, torch.Tensor]:
        """``{"loss": -mean log p(x)}`` (exact, nats): the contract's loss of a fixed model."""
        return {"loss": -self.log_prob(x).mean()}

    def posterior(self, x):
        """The exact p(z|x) = N(mean, cov): ``mean: (B, d)``, ``cov: (d, d)`` (the same for every x)."""
        self._check_x(x)
        eye = torch.eye(self.latent_dim, dtype=self.W.dtype, device=self.W.device)
        cov = torch.linalg.inv(eye + self.W.T @ self.W / self.sigma**2)
        mean = (x - self.b) @ self.W @ cov / self.sigma**2
        return mean, cov

    def log_px_given_z(self, x, z) -> torch.Tensor:
        """log N(x; W z + b, sigma^2 I):  x: (B, D), z: (..., B, d) -> (..., B)."""
        self._check_x(x)
        self._check(z, "z", self.latent_dim)
        return log_normal(x, z @ self.W.T + self.b, 2 * math.log(self.sigma))

    def log_joint(self, x, z) -> torch.Tensor:
        """log p(x, z) = log p(x|z) + log p(z):  (..., B)."""
        return self.log_px_given_z(x, z) + log_normal_std(z)

    # -- bounds with a proposal q(z|x) = N(mu, diag exp(logvar)) --------------------------------

    def elbo(self, x, mu, logvar) -> torch.Tensor:
        """The exact ELBO of q(z|x) = N(mu, diag exp(logvar)), in closed form:  (B,).

        E_q log p(x|z) = log N(x; W mu + b, sigma^2 I) - tr(W^T W diag(s^2)) / (2 sigma^2), minus
        KL(q || N(0, I)).
        """
        self._check_q(x, mu, logvar)
        expected = (log_normal(x, mu @ self.W.T + self.b, 2 * math.log(self.sigma))
                    - 0.5 * (torch.exp(logvar) * (self.W**2).sum(0)).sum(-1) / self.sigma**2)
        return expected - kl_normal_std(mu, logvar)

    def log_weights(self, x, mu, logvar, k: int) -> torch.Tensor:
        """log p(x, z_i) - log q(z_i|x), z_i ~ N(mu, diag exp(logvar)):  (k, B)."""
        self._check_q(x, mu, logvar)
        z = reparameterize(mu, logvar, checks.int_at_least(k, "k", 1))
        return self.log_joint(x, z) - log_normal(z, mu, logvar)

    def iwae_bound(self, x, mu, logvar, k: int) -> torch.Tensor:
        """One draw of F_k(x) = log (1/k) sum_i w_i with the proposal q = N(mu, diag exp(logvar)):  (B,)."""
        return log_mean_exp(self.log_weights(x, mu, logvar, k), 0)

    def prior_mc_log_prob(self, x, n: int) -> torch.Tensor:
        """Naive Monte Carlo over the prior: log (1/n) sum_i p(x | z_i), z_i ~ p(z):  (B,)."""
        self._check_x(x)
        z = torch.randn(checks.int_at_least(n, "n", 1), x.shape[0], self.latent_dim, dtype=x.dtype, device=x.device)
        return log_mean_exp(self.log_px_given_z(x, z), 0)

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """x ~ p(x):  (n, D)."""
        n = checks.positive_int(n, "n")
        z = torch.randn(n, self.latent_dim, dtype=self.W.dtype, device=self.W.device)
        return z @ self.W.T + self.b + self.sigma * torch.randn(n, self.data_dim, dtype=self.W.dtype, device=self.W.device)
