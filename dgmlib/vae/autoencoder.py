"""The plain (deterministic) autoencoder: the model a VAE is contrasted with in lecture 01."""

from __future__ import annotations

import torch
from torch import nn

from ..runtime import module_dtype
from .inputs import check_x
from .likelihoods import log_bernoulli

__all__ = ["Autoencoder"]


class Autoencoder(nn.Module):
    """A plain autoencoder: code c = mu(x), loss = -log p(x | c) (Bernoulli pixels), nothing on the codes.

    Uses the encoder's ``mu`` only. It reconstructs, but it is *not* a generative model: nothing
    says where in code space the codes lie, so there is no distribution to sample codes from
    (hence no ``sample`` and no ``log_prob``). ``loss(x)`` returns ``{"loss", "recon"}``, both the
    batch mean of ``-log p(x | c(x))``.

    Example:
        >>> ae = Autoencoder(MLPEncoder(784, 20), MLPDecoder(20))
        >>> history = fit(ae, x_train, epochs=15)               # history["recon"]
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def _check_x(self, x):
        check_x(x, shape=getattr(self.decoder, "out_shape", None), dtype=module_dtype(self), bernoulli=True)

    def encode(self, x):
        """x: (B, ...) -> codes (B, latent_dim)."""
        return self.encoder(x)[0]

    def decode(self, c):
        """codes (B, latent_dim) -> pixel probabilities (B, ...)."""
        return torch.sigmoid(self.decoder(c))

    def loss(self, x) -> dict[str, torch.Tensor]:
        self._check_x(x)
        recon = -log_bernoulli(x, self.decoder(self.encode(x))).mean()
        return {"loss": recon, "recon": recon.detach()}

    def reconstruct(self, x):
        """The pixel probabilities decoded from the code of x: (B, ...) -> (B, ...)."""
        return self.decode(self.encode(x))
