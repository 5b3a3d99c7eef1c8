"""Encoders q(z|x) and decoders f(z) for 28x28 images (or any flat input): MLPs and small convnets.

Every encoder maps ``x: (B, ...)`` to ``(mu, logvar)``, each ``(B, latent_dim)``, the parameters of
``q(z|x) = N(mu(x), diag exp(logvar(x)))``; with ``context_features = c > 0`` also a context
``h: (B, c)`` for a flow posterior. Every decoder maps ``z: (..., latent_dim)`` to
``(..., *out_shape)``: Bernoulli logits or Gaussian means, as the model's likelihood reads them.

Example:
    >>> enc, dec = MLPEncoder(784, 20), MLPDecoder(20)
    >>> mu, logvar = enc(torch.zeros(8, 1, 28, 28))        # (8, 20) each
    >>> dec(mu).shape
    torch.Size([8, 1, 28, 28])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .. import checks
from ..nets import mlp

__all__ = ["MLPEncoder", "MLPDecoder", "ConvEncoder", "ConvDecoder"]


def _split(out: torch.Tensor, latent_dim: int, context_features: int):
    """The head's output ``(B, 2 d + c)`` -> ``(mu, logvar)`` or ``(mu, logvar, h)``."""
    mu, logvar = out[:, :latent_dim], out[:, latent_dim : 2 * latent_dim]
    if context_features:
        return mu, logvar, out[:, 2 * latent_dim :]
    return mu, logvar


class MLPEncoder(nn.Module):
    """q(z|x) = N(mu(x), diag exp(logvar(x))) by an MLP:  x: (B, *in_shape) -> mu, logvar: (B, latent_dim).

    ``x`` is flattened to ``(B, in_features)``. With ``context_features=c > 0`` it also returns a
    context ``h: (B, c)`` for a flow posterior (the IAF of Kingma et al., 2016):
    ``forward(x) -> (mu, logvar, h)``.
    """

    def __init__(self, in_features: int, latent_dim: int, hidden: Sequence[int] = (256,), context_features: int = 0):
        super().__init__()
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.in_features = checks.positive_int(in_features, "in_features")
        self.context_features = checks.int_at_least(context_features, "context_features", 0)
        hidden = tuple(hidden)
        if not hidden:
            raise ValueError("hidden must name at least one hidden layer, got ()")
        self.body = mlp(in_features, hidden[-1], hidden[:-1], nn.ReLU)
        self.body.append(nn.ReLU())
        self.head = nn.Linear(hidden[-1], 2 * latent_dim + context_features)

    def forward(self, x):
        checks.tensor(x, "x")
        flat = x.flatten(1)                                          # (B, in_features)
        if flat.shape[-1] != self.in_features:
            raise ValueError(f"x must have {self.in_features} features per row (shape (B, {self.in_features}) "
                             f"or (B, ...) with {self.in_features} elements), got {tuple(x.shape)}")
        if flat.dtype != self.head.weight.dtype:
            raise TypeError(f"x has dtype {x.dtype} but the encoder computes in {self.head.weight.dtype}")
        return _split(self.head(self.body(flat)), self.latent_dim, self.context_features)


class MLPDecoder(nn.Module):
    """The decoder network f(z) by an MLP:  z: (..., latent_dim) -> (..., *out_shape) (logits or means)."""

    def __init__(self, latent_dim: int, out_shape: Sequence[int] = (1, 28, 28), hidden: Sequence[int] = (256,)):
        super().__init__()
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.out_shape = tuple(out_shape)
        self.net = mlp(latent_dim, math.prod(self.out_shape), hidden, nn.ReLU)

    def forward(self, z):
        return self.net(z).unflatten(-1, self.out_shape)


class ConvEncoder(nn.Module):
    """A small convolutional q(z|x) for (B, C, 28, 28) images: 2 stride-2 convolutions, then a linear head."""

    def __init__(self, latent_dim: int, channels: int = 1, width: int = 32, context_features: int = 0):
        super().__init__()
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.channels = checks.positive_int(channels, "channels")
        self.context_features = checks.int_at_least(context_features, "context_features", 0)
        width = checks.positive_int(width, "width")
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.ReLU(),           # 28 -> 14
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU(),          # 14 -> 7
            nn.Flatten(),
        )
        self.head = nn.Linear(2 * width * 7 * 7, 2 * latent_dim + context_features)

    def forward(self, x):
        checks.tensor(x, "x")
        if x.dim() != 4 or tuple(x.shape[1:]) != (self.channels, 28, 28):
            raise ValueError(f"x must be images of shape (B, {self.channels}, 28, 28), got {tuple(x.shape)}")
        if x.dtype != self.head.weight.dtype:
            raise TypeError(f"x has dtype {x.dtype} but the encoder computes in {self.head.weight.dtype}")
        return _split(self.head(self.body(x)), self.latent_dim, self.context_features)


class ConvDecoder(nn.Module):
    """A small transposed-convolution f(z): (..., latent_dim) -> (..., C, 28, 28)."""

    def __init__(self, latent_dim: int, channels: int = 1, width: int = 32):
        super().__init__()
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.width = checks.positive_int(width, "width")
        self.out_shape = (checks.positive_int(channels, "channels"), 28, 28)
        self.fc = nn.Sequential(nn.Linear(latent_dim, 2 * width * 7 * 7), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(),  # 7 -> 14
            nn.ConvTranspose2d(width, channels, 4, 2, 1),               # 14 -> 28
        )

    def forward(self, z):
        lead = z.shape[:-1]
        h = self.fc(z.reshape(-1, z.shape[-1])).view(-1, 2 * self.width, 7, 7)  # (N, 2w, 7, 7)
        out = self.net(h)                                                        # (N, C, 28, 28)
        return out.reshape(*lead, *out.shape[1:])
