"""The variational auto-encoder: the ELBO, the importance-weighted bound (IWAE) and flow posteriors.

Notation of the lectures: ``p(z) = N(0, I)`` the prior, ``p(x|z)`` the decoder (likelihood),
``q(z|x) = N(mu(x), diag(exp(logvar(x))))`` the encoder (approximate posterior).

    ELBO(x)  = E_q[log p(x|z)] - KL(q(z|x) || p(z))  =  log p(x) - KL(q(z|x) || p(z|x))
    F_k(x)   = E_{z_1..z_k ~ q}[ log (1/k) sum_i w_i ],   w_i = p(x, z_i) / q(z_i|x)   (IWAE)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .. import checks
from ..flows import Compose
from ..gaussian import kl_normal_std, log_mean_exp, log_normal, log_normal_std, reparameterize
from ..runtime import module_device, module_dtype
from .evaluation import importance_log_prob
from .inputs import check_x
from .likelihoods import LIKELIHOODS, log_bernoulli, log_gaussian

__all__ = ["VAE"]


def _latent_dim(encoder, latent_dim):
    if latent_dim is None:
        latent_dim = getattr(encoder, "latent_dim", None)
    if latent_dim is None:
        raise ValueError("latent_dim must be given when the encoder has no latent_dim attribute")
    return checks.positive_int(latent_dim, "latent_dim")


class VAE(nn.Module):
    """A variational auto-encoder p(z) p(x|z) with an amortized posterior q(z|x).

        loss = recon + beta * kl,   recon = -E_q log p(x|z),   kl = KL(q(z|x) || p(z))     (k = 1)
        loss = -F_k(x) = -log (1/k) sum_i p(x, z_i) / q(z_i|x),   z_i ~ q(z|x)           (k > 1: IWAE)

    Args:
        encoder: ``x -> (mu, logvar)`` (each ``(B, latent_dim)``), or ``(mu, logvar, h)`` when the
            flows take a context ``h``.
        decoder: ``z: (..., latent_dim) -> (..., *x_shape)``: Bernoulli logits, or Gaussian means.
            Its ``out_shape`` (if it has one) is the shape every ``x`` must have.
        likelihood: ``"bernoulli"`` (binary or [0, 1] pixels: ``log p(x|z) = sum x log f + (1-x)
            log(1-f)``) or ``"gaussian"`` (``N(x; f(z), sigma^2 I)``, one learned ``sigma``: the
            l2 reconstruction loss).
        k: the training objective: ``k = 1`` the ELBO (a VAE), ``k > 1`` the bound F_k (an IWAE).
        beta: weight of the KL in the training loss (``beta = 1`` is the ELBO; the beta-VAE knob).
        flows: optional normalizing-flow layers refining q: ``z_K = f_K o ... o f_1(z_0)``,
            ``z_0 ~ N(mu, sigma^2)``, ``log q(z_K|x) = log q_0(z_0|x) - sum_k log|det df_k/dz|``.
            Each layer: ``layer(z[, context=h]) -> (z, log_det)``, ``log_det: (B,)`` (see
            :class:`dgmlib.flows.Compose`).
        latent_dim: default ``encoder.latent_dim``.

    The contract: ``loss(x)`` returns ``{"loss", "elbo", "recon", "kl"}`` (batch means; the last
    three detached), ``sample(n, mean=False)`` draws from the model, ``log_prob(x, k=1000)``
    estimates log p(x) by importance sampling.

    Example:
        >>> vae = VAE(MLPEncoder(784, 20), MLPDecoder(20))        # or make_vae(20)
        >>> history = fit(vae, x_train, epochs=30, val_data=x_test)  # history["elbo"], ["recon"], ["kl"]
        >>> vae.log_prob(x_test[:100], k=1000)                       # (100,), nats

    References: Kingma & Welling, *Auto-Encoding Variational Bayes*, ICLR 2014; Higgins et al.,
    *beta-VAE*, ICLR 2017; Burda, Grosse & Salakhutdinov, *Importance Weighted Autoencoders*, ICLR
    2016; Rezende & Mohamed, *Variational Inference with Normalizing Flows*, ICML 2015; Kingma et
    al., *Improved Variational Inference with Inverse Autoregressive Flow*, NeurIPS 2016.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, likelihood: str = "bernoulli", *, k: int = 1,
                 beta: float = 1.0, flows: Sequence[nn.Module] | None = None, latent_dim: int | None = None):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.likelihood = checks.one_of(likelihood, "likelihood", LIKELIHOODS)
        self.k = checks.int_at_least(k, "k", 1)
        self.beta = checks.non_negative_number(beta, "beta")
        self.latent_dim = _latent_dim(encoder, latent_dim)
        self.flows = Compose(flows or [])
        if likelihood == "gaussian":
            self.log_sigma = nn.Parameter(torch.tensor(math.log(0.3)))

    @property
    def x_shape(self) -> tuple[int, ...] | None:
        """The shape of one x (the decoder's ``out_shape``), or None when the decoder does not say."""
        shape = getattr(self.decoder, "out_shape", None)
        return None if shape is None else tuple(shape)

    # -- the pieces -------------------------------------------------------------------------

    def _check_x(self, x):
        check_x(x, shape=self.x_shape, dtype=module_dtype(self), bernoulli=self.likelihood == "bernoulli")

    def encode(self, x):
        """q(z_0|x): ``(mu, logvar)`` each ``(B, latent_dim)`` (and the flow context, if any)."""
        out = self.encoder(x)
        if not isinstance(out, (tuple, list)) or len(out) not in (2, 3):
            raise TypeError("the encoder must return (mu, logvar) or (mu, logvar, context)")
        return tuple(out)

    def decode(self, z):
        """The mean of p(x|z): pixel probabilities (Bernoulli) or means (Gaussian). ``(..., D) -> (..., *x_shape)``."""
        out = self.decoder(z)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def log_px_given_z(self, x, z):
        """log p(x|z):  x: (B, *S), z: (..., B, D) -> (..., B)."""
        out = self.decoder(z)
        if self.likelihood == "bernoulli":
            return log_bernoulli(x, out)
        return log_gaussian(x, out, self.log_sigma)

    def posterior_sample(self, x, k: int | None = None):
        """z ~ q(z|x) with its log-density: ``(z, log_q)``, shapes ``(B, D), (B,)`` or ``(k, B, D), (k, B)``.

        With flows: ``z_K = f(z_0)`` and ``log q(z_K|x) = log q_0(z_0|x) - log|det df/dz_0|``.
        """
        mu, logvar, *context = self.encode(x)
        z0 = reparameterize(mu, logvar, k)
        log_q = log_normal(z0, mu, logvar)
        if not len(self.flows.layers):
            return z0, log_q
        z, log_det = self.flows(z0, context=context[0] if context else None)  # h: (B, C) serves all k draws
        return z, log_q - log_det

    # -- bounds ------------------------------------------------------------------------------

    def elbo(self, x, beta: float = 1.0) -> dict[str, torch.Tensor]:
        """Per-sample ELBO = E_q[log p(x|z)] - beta KL(q(z|x) || p(z)), one z ~ q per x.

        Returns ``{"elbo", "recon", "kl"}``, each ``(B,)``: ``recon = -log p(x|z)`` the one-sample
        reconstruction loss, so ``elbo = -recon - beta * kl``; ``kl`` in closed form
        (:func:`dgmlib.gaussian.kl_normal_std`) for a Gaussian q, and the one-sample estimate
        ``log q(z|x) - log p(z)`` with flows.
        """
        self._check_x(x)
        if len(self.flows.layers):
            z, log_q = self.posterior_sample(x)
            kl = log_q - log_normal_std(z)
        else:
            mu, logvar = self.encode(x)[:2]
            z = reparameterize(mu, logvar)
            kl = kl_normal_std(mu, logvar)
        log_px = self.log_px_given_z(x, z)
        return {"elbo": log_px - beta * kl, "recon": -log_px, "kl": kl}

    def log_weights(self, x, k: int) -> torch.Tensor:
        """log w_i = log p(x, z_i) - log q(z_i|x), z_i ~ q(z|x):  x: (B, ...) -> (k, B)."""
        self._check_x(x)
        z, log_q = self.posterior_sample(x, checks.int_at_least(k, "k", 1))
        return self.log_px_given_z(x, z) + log_normal_std(z) - log_q

    def iwae_bound(self, x, k: int) -> torch.Tensor:
        """F_k(x) = log (1/k) sum_{i=1}^k w_i, one draw of z_1..z_k ~ q(z|x):  (B, ...) -> (B,).

        An unbiased estimate of the importance-weighted bound; ``k = 1`` is a one-sample ELBO.
        """
        return log_mean_exp(self.log_weights(x, k), 0)

    @torch.no_grad()
    def log_prob(self, x, k: int = 1000, chunk: int | None = None) -> torch.Tensor:
        """Importance-sampled log p(x) ~ F_k(x), ``k`` samples per x, in chunks:  (B, ...) -> (B,).

        See :func:`dgmlib.vae.importance_log_prob` (default ``chunk``: about 2e7 numbers in memory).
        """
        checks.int_at_least(k, "k", 1)
        self._check_x(x)
        return importance_log_prob(self.log_weights, x, k, chunk)

    # -- the training contract -----------------------------------------------------------------

    def loss(self, x) -> dict[str, torch.Tensor]:
        """-ELBO (k = 1, with ``beta``) or -F_k (k > 1), averaged over the batch; and the terms to log.

        ``{"loss", "elbo", "recon", "kl"}``: for k > 1, ``elbo``, ``recon`` and ``kl`` are the averages
        over the k draws (the one-sample ELBO and its parts), ``loss`` is -F_k.
        """
        if self.k == 1:
            terms = self.elbo(x, self.beta)
            elbo = -terms["recon"] - terms["kl"]
            return {"loss": -terms["elbo"].mean(), "elbo": elbo.mean().detach(),
                    "recon": terms["recon"].mean().detach(), "kl": terms["kl"].mean().detach()}
        self._check_x(x)
        z, log_q = self.posterior_sample(x, self.k)
        log_px, log_pz = self.log_px_given_z(x, z), log_normal_std(z)
        log_w = log_px + log_pz - log_q                                        # (k, B)
        return {"loss": -log_mean_exp(log_w, 0).mean(), "elbo": log_w.mean().detach(),
                "recon": -log_px.mean().detach(), "kl": (log_q - log_pz).mean().detach()}

    @torch.no_grad()
    def sample(self, n: int, mean: bool = False) -> torch.Tensor:
        """Ancestral sampling: z ~ N(0, I), then x ~ p(x|z) (``mean=True``: the mean of p(x|z)). -> (n, *x_shape)."""
        n = checks.positive_int(n, "n")
        z = torch.randn(n, self.latent_dim, device=module_device(self), dtype=module_dtype(self))
        m = self.decode(z)
        if checks.flag(mean, "mean"):
            return m
        if self.likelihood == "bernoulli":
            return torch.bernoulli(m)
        return m + torch.exp(self.log_sigma) * torch.randn_like(m)

    @torch.no_grad()
    def reconstruct(self, x) -> torch.Tensor:
        """The mean of p(x | z = mu(x)): the reconstruction at the posterior mean. (B, ...) -> (B, ...)."""
        return self.decode(self.encode(x)[0])
