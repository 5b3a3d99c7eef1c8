"""A hybrid VAE-flow: the VAE's Gaussian conditional lives in the feature space y = f(x) of a flow.

A Gaussian decoder N(x; g(z), sigma^2 I) on pixels is the l2 loss: every image a z cannot pin
down exactly is explained by independent pixel noise, so the mean g(z) is blurry and the samples
g(z) + sigma eps are noisy. Put the Gaussian on y = f(x) instead, f invertible (a normalizing
flow); by the change of variables

    p(x|z) = N(f(x); g(z), sigma^2 I) |det df/dx|,

    log p(x) >= ELBO(x) = E_q(z|x)[ log N(f(x); g(z), sigma^2 I) ] - KL(q(z|x) || p(z)) + log|det df/dx|,

where the log-determinant does not depend on z. The flow reshapes the residual noise (correlated
and non-Gaussian in pixel space), and sampling is x = f^{-1}(g(z) + sigma eps), z ~ p(z). With
f = dequantization alone (log|det| = -D log 256) this is the plain Gaussian-decoder VAE, in the
same units: both bound the log-probability of the discrete image, comparable in bits per dimension.

References: Morrow & Chiu, *Variational Autoencoders with Normalizing Flow Decoders*, 2020;
Dinh et al., *Density Estimation Using Real NVP*, ICLR 2017 (dequantization, logit, coupling).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .. import checks
from ..flows import ActNorm, AffineCoupling, Compose, Dequantize, Logit, bits_per_dim, checkerboard_mask
from .builders import make_vae
from .model import VAE

__all__ = ["HybridFlowVAE", "make_hybrid_vae"]


class HybridFlowVAE(nn.Module):
    """A Gaussian-decoder VAE on y = f(x), f = ``flow_layers`` (data -> features, each ``(y, log_det)``).

        ELBO(x) = E_q[log N(f(x); g(z), sigma^2 I)] - KL(q(z|x) || p(z)) + log|det df/dx|

    ``vae``: a :class:`VAE` with ``likelihood="gaussian"`` over ``y``'s shape (its encoder reads
    y = f(x), so q(z|x) = q(z|f(x))). The first flow layer is usually :class:`dgmlib.flows.Dequantize`,
    whose -D log 256 turns the density into a bound on the discrete image's log-probability.

    Contract: ``loss(x) -> {"loss", "elbo", "recon", "kl", "bits_per_dim"}`` (``recon`` = -E_q log
    N(f(x); g(z), sigma^2 I), ``bits_per_dim`` of the ELBO), ``sample(n, mean=False)``: x = f^{-1}(y),
    y ~ N(g(z), sigma^2 I) (``mean=True``: y = g(z)), ``log_prob(x, k=1000)``: importance-sampled
    log p(f(x)) + log|det df/dx| (one dequantization draw).

    Example:
        >>> flow = [Dequantize(), Logit(0.05), *coupling_layers]
        >>> model = HybridFlowVAE(flow, make_vae(20, likelihood="gaussian"))
        >>> fit(model, x_grey, epochs=10)              # history["bits_per_dim"]
    """

    def __init__(self, flow_layers: Sequence[nn.Module], vae: VAE):
        super().__init__()
        if not isinstance(vae, VAE):
            raise TypeError(f"vae must be a dgmlib.vae.VAE, got {type(vae).__name__}")
        if vae.likelihood != "gaussian":
            raise ValueError(f"vae must have likelihood='gaussian' (a Gaussian conditional in feature space), "
                             f"got {vae.likelihood!r}")
        self.flow = Compose(flow_layers, event_ndim=3)
        self.vae = vae

    def _check_x(self, x):
        if not torch.is_tensor(x) or x.dim() != 4:
            raise ValueError(f"x must be a batch of images (B, C, H, W), got "
                             f"{tuple(x.shape) if torch.is_tensor(x) else type(x).__name__}")

    def features(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        """(y, log_det) = (f(x), log|det df/dx|):  (B, C, H, W) -> (B, C', H', W'), (B,)."""
        self._check_x(x)
        return self.flow(x)

    def elbo(self, x) -> dict[str, torch.Tensor]:
        """Per-image ``{"elbo", "recon", "kl", "log_det"}``, each ``(B,)``: elbo = -recon - kl + log_det (one z ~ q)."""
        y, log_det = self.features(x)
        terms = self.vae.elbo(y)
        return {"elbo": terms["elbo"] + log_det, "recon": terms["recon"], "kl": terms["kl"], "log_det": log_det}

    def loss(self, x) -> dict[str, torch.Tensor]:
        """-ELBO averaged over the batch and its terms: ``{"loss", "elbo", "recon", "kl", "bits_per_dim"}``."""
        terms = self.elbo(x)
        elbo = terms["elbo"].mean()
        return {"loss": -elbo, "elbo": elbo.detach(), "recon": terms["recon"].mean().detach(),
                "kl": terms["kl"].mean().detach(),
                "bits_per_dim": bits_per_dim(elbo.detach(), math.prod(x.shape[1:]))}

    @torch.no_grad()
    def log_prob(self, x, k: int = 1000, chunk: int | None = None) -> torch.Tensor:
        """log p(x) ~ log p(f(x)) + log|det df/dx|, log p(y) importance-sampled with ``k`` draws: (B,)."""
        y, log_det = self.features(x)
        return self.vae.log_prob(y, k=k, chunk=chunk) + log_det

    @torch.no_grad()
    def sample(self, n: int, mean: bool = False) -> torch.Tensor:
        """x = f^{-1}(y), y ~ N(g(z), sigma^2 I), z ~ N(0, I) (``mean=True``: y = g(z)): ``(n, *x_shape)``."""
        x, _ = self.flow.inverse(self.vae.sample(n, mean=mean))
        return x


def make_hybrid_vae(latent_dim: int = 20, *, hidden: Sequence[int] = (512,), steps: int = 4,
                    coupling_hidden: int = 16, alpha: float = 0.05) -> HybridFlowVAE:
    """A :class:`HybridFlowVAE` for (B, 1, 28, 28) grey levels: f = Dequantize -> Logit(``alpha``) -> ``steps``
    checkerboard coupling steps (ActNorm, affine coupling with a ``coupling_hidden``-channel conv net),
    and a Gaussian MLP VAE on y = f(x) (``make_vae(latent_dim, hidden=hidden, likelihood="gaussian")``).

    ``steps=0, alpha=None``: f = Dequantize alone, the plain Gaussian-decoder VAE on pixels (in the same
    units: a bound on the discrete image's log-probability).

    Example:
        >>> plain, hybrid = make_hybrid_vae(steps=0, alpha=None), make_hybrid_vae(steps=4)
    """
    steps = checks.int_at_least(steps, "steps", 0)
    layers = [Dequantize(256)] + ([] if alpha is None else [Logit(alpha)])
    coupling_hidden = checks.positive_int(coupling_hidden, "coupling_hidden")
    for i in range(steps):
        layers += [ActNorm(1), AffineCoupling(checkerboard_mask(28, 28, i % 2, 1), (coupling_hidden,))]
    return HybridFlowVAE(layers, make_vae(latent_dim, hidden=hidden, likelihood="gaussian"))
