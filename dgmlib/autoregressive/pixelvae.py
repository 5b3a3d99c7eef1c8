"""PixelVAE: a VAE whose decoder is a network f(z) followed by PixelCNN layers conditioned on f(z).

    p(x) = int p(z) prod_i p(x_i | x_<i, f(z)) dz,     p(z) = N(0, I),   q(z|x) = N(mu(x), diag sigma^2(x))
    ELBO(x) = E_q[ sum_i log p(x_i | x_<i, f(z)) ] - KL(q(z|x) || p(z))

The decoder's pixels are no longer independent given z: the PixelCNN models the local structure
(strokes, edges), so z only has to carry what the PixelCNN cannot see (the digit's identity, its
style). The more the PixelCNN sees (its receptive field), the less the ELBO rewards putting
information into z: with a decoder strong enough to model x alone, KL(q || p) -> 0 is an optimum
of the ELBO (posterior collapse). Two remedies: a weaker decoder (a small receptive field), or
*free bits*: each latent dimension's KL counts only above a floor lambda,

    loss = recon + sum_j max(lambda, E_batch KL_j)           (Kingma et al., 2016, Sec. 2.2 / App. C.8)

so the optimizer gains nothing by pushing a dimension's KL under lambda.

References: Gulrajani et al., *PixelVAE: A Latent Variable Model for Natural Images*, ICLR 2017;
Chen et al., *Variational Lossy Autoencoder*, ICLR 2017 (why a strong decoder ignores z);
Kingma et al., *Improved Variational Inference with Inverse Autoregressive Flow*, NeurIPS 2016 (free bits).
"""

from __future__ import annotations

import torch
from torch import nn

from .. import checks
from ..gaussian import kl_normal_std, reparameterize
from ..runtime import module_device, module_dtype
from ..vae.likelihoods import log_bernoulli
from ..vae.model import VAE
from ..vae.nets import MLPDecoder, MLPEncoder
from .pixelcnn import PixelCNN

__all__ = ["PixelVAE"]


class _CoarseMap(nn.Module):
    """f(z): an MLP from z to a coarse ``(features, 7, 7)`` map, each cell repeated over a 4 x 4 block:
    ``(..., latent_dim) -> (..., features, 28, 28)``. The latent sets the global layout; the PixelCNN
    draws the strokes."""

    def __init__(self, latent_dim: int, features: int, hidden):
        super().__init__()
        self.mlp = MLPDecoder(latent_dim, (features, 7, 7), hidden)

    def forward(self, z):
        return self.mlp(z).repeat_interleave(4, -1).repeat_interleave(4, -2)


class PixelVAE(VAE):
    """A VAE over ``(B, 1, 28, 28)`` binary images whose p(x|z) is a PixelCNN conditioned on f(z).

    ``f(z)``: an MLP from z to a coarse ``(features, 7, 7)`` map, upsampled to 28 x 28; the PixelCNN (``channels``,
    ``layers`` residual blocks, a ``first_kernel`` type-A mask: its receptive field sets how strong
    the decoder is) adds a 1 x 1 projection of that map in every masked layer. Everything else is the
    :class:`dgmlib.vae.VAE`: the ELBO, the IWAE bound, ``log_prob`` by importance sampling.
    ``free_bits`` = lambda > 0 trains on recon + sum_j max(lambda, E_batch KL_j) (module docstring);
    the logged ``elbo`` stays the true bound.

    Contract: ``loss(x) -> {"loss", "elbo", "recon", "kl"}``, ``sample(n)`` (z ~ p(z), then the
    PixelCNN pixel by pixel; or given ``z``), ``log_prob(x, k=1000)`` (importance sampling).

    Example:
        >>> model = PixelVAE(latent_dim=16, layers=0, first_kernel=3)     # a weak decoder: z is used
        >>> fit(model, x_binary, epochs=10)                                  # history["kl"] stays > 0
        >>> model.sample(8, z=model.encode(x[:1])[0].expand(8, -1))         # z fixed, PixelCNN resampled
    """

    def __init__(self, latent_dim: int = 16, *, hidden: tuple[int, ...] = (256,), features: int = 4,
                 channels: int = 32, layers: int = 2, first_kernel: int = 5, free_bits: float = 0.0):
        features = checks.positive_int(features, "features")
        latent_dim = checks.positive_int(latent_dim, "latent_dim")
        super().__init__(MLPEncoder(784, latent_dim, hidden), _CoarseMap(latent_dim, features, hidden[::-1]),
                         "bernoulli")
        self.pixelcnn = PixelCNN(28, 28, channels=channels, layers=layers, first_kernel=first_kernel,
                                 context_channels=features)
        self.free_bits = checks.non_negative_number(free_bits, "free_bits")

    @property
    def x_shape(self) -> tuple[int, ...]:
        return (1, 28, 28)

    def log_px_given_z(self, x, z):
        """log p(x|z) = sum_i log Bernoulli(x_i; sigmoid(PixelCNN_i(x_<i, f(z)))).

        ``x: (B, 1, 28, 28)``, ``z: (..., B, D)`` (e.g. k draws per x) -> ``(..., B)``.
        """
        features = self.decoder(z)                                   # (..., B, F, 28, 28)
        lead = features.shape[:-3]
        xs = x.expand(*lead[:-1], *x.shape).reshape(-1, *x.shape[1:])             # (N, 1, 28, 28), N = prod(lead)
        logits = self.pixelcnn.logits(xs, features.reshape(-1, *features.shape[-3:]))
        return log_bernoulli(x, logits.reshape(*lead, *x.shape[1:]))

    def decode(self, z, temperature: float = 1.0, generator: torch.Generator | None = None):
        """x ~ p(x|z), drawn pixel by pixel by the PixelCNN given f(z):  z: (n, D) -> (n, 1, 28, 28)."""
        z = checks.finite_tensor(checks.floating_tensor(z, "z"), "z")
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (n, {self.latent_dim}), got {tuple(z.shape)}")
        return self.pixelcnn.sample(len(z), temperature, generator, context=self.decoder(z))

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, z: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I) (or the given ``z: (n, D)``), then x ~ p(x|z) pixel by pixel: ``(n, 1, 28, 28)``."""
        n = checks.positive_int(n, "n")
        if z is None:
            z = torch.randn(n, self.latent_dim, generator=generator, dtype=module_dtype(self)).to(module_device(self))
        elif len(z) != n:
            raise ValueError(f"z must hold n = {n} latent codes, got {len(z)}")
        return self.decode(z, temperature, generator)

    def loss(self, x) -> dict[str, torch.Tensor]:
        """-ELBO averaged over the batch, or with ``free_bits``: recon + sum_j max(lambda, E_batch KL_j).

        Returns ``{"loss", "elbo", "recon", "kl"}`` (``elbo`` the true bound in both cases).
        """
        if not self.free_bits:
            return super().loss(x)
        self._check_x(x)
        mu, logvar = self.encode(x)[:2]
        recon = -self.log_px_given_z(x, reparameterize(mu, logvar))                     # (B,)
        kl_dims = kl_normal_std(mu.unsqueeze(-1), logvar.unsqueeze(-1)).mean(0)         # (D,): E_batch KL_j
        loss = recon.mean() + kl_dims.clamp(min=self.free_bits).sum()
        kl = kl_dims.sum().detach()
        return {"loss": loss, "elbo": -(recon.mean().detach() + kl), "recon": recon.mean().detach(), "kl": kl}
