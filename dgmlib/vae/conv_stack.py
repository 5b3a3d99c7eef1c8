"""A deeper convolutional q(z|x) and f(z) for square images: four stride-2 convolutions, mirrored.

The architecture of the disentanglement studies on dSprites (Higgins et al., 2017; Locatello et
al., 2019), for ``size x size`` images with ``size`` divisible by 16:

    q(z|x):  x (B, C, S, S) -> conv 4x4/2 x4 (S -> S/16) -> linear -> hidden -> (mu, logvar)
    f(z):    z (..., d) -> hidden -> linear -> (w2, S/16, S/16) -> transposed conv 4x4/2 x4 -> (..., C, S, S)

Each convolution halves the side (kernel 4, stride 2, padding 1) and is followed by a ReLU; the
decoder undoes the encoder layer by layer. The decoder returns logits (Bernoulli) or means
(Gaussian), as :class:`dgmlib.vae.VAE` reads them.

Example:
    >>> enc, dec = ConvStackEncoder(10, size=32), ConvStackDecoder(10, size=32)
    >>> mu, logvar = enc(torch.zeros(8, 1, 32, 32))         # (8, 10) each
    >>> dec(mu).shape
    torch.Size([8, 1, 32, 32])

References: Higgins et al., *beta-VAE*, ICLR 2017, Table 1; Locatello et al., *Challenging Common
Assumptions in the Unsupervised Learning of Disentangled Representations*, ICML 2019, Table 1.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import checks

__all__ = ["ConvStackEncoder", "ConvStackDecoder"]


def _check_size(size) -> int:
    size = checks.int_at_least(size, "size", 16)
    if size % 16:
        raise ValueError(f"size must be divisible by 16 (four stride-2 convolutions), got {size}")
    return size


class ConvStackEncoder(nn.Module):
    """q(z|x) = N(mu(x), diag exp(logvar(x))) by 4 stride-2 convolutions: (B, C, S, S) -> mu, logvar: (B, latent_dim).

    Channels ``width, width, 2 width, 2 width`` (S -> S/2 -> S/4 -> S/8 -> S/16), then a hidden
    linear layer of ``hidden`` units and the head ``2 latent_dim``.
    """

    def __init__(self, latent_dim: int, *, size: int = 64, channels: int = 1, width: int = 32, hidden: int = 256):
        super().__init__()
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.size = _check_size(size)
        self.channels = checks.positive_int(channels, "channels")
        width = checks.positive_int(width, "width")
        hidden = checks.positive_int(hidden, "hidden")
        widths = (channels, width, width, 2 * width, 2 * width)
        convs = [layer for a, b in zip(widths, widths[1:]) for layer in (nn.Conv2d(a, b, 4, 2, 1), nn.ReLU())]
        side = self.size // 16
        self.body = nn.Sequential(*convs, nn.Flatten(), nn.Linear(2 * width * side * side, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, 2 * latent_dim)

    def forward(self, x):
        checks.tensor(x, "x")
        shape = (self.channels, self.size, self.size)
        if x.dim() != 4 or tuple(x.shape[1:]) != shape:
            raise ValueError(f"x must be images of shape (B, {', '.join(map(str, shape))}), got {tuple(x.shape)}")
        if x.dtype != self.head.weight.dtype:
            raise TypeError(f"x has dtype {x.dtype} but the encoder computes in {self.head.weight.dtype}")
        out = self.head(self.body(x))                               # (B, 2 d)
        return out[:, : self.latent_dim], out[:, self.latent_dim :]


class ConvStackDecoder(nn.Module):
    """The mirror of :class:`ConvStackEncoder`: z (..., latent_dim) -> logits or means (..., C, S, S)."""

    def __init__(self, latent_dim: int, *, size: int = 64, channels: int = 1, width: int = 32, hidden: int = 256):
        super().__init__()
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        size = _check_size(size)
        self.out_shape = (checks.positive_int(channels, "channels"), size, size)
        width = checks.positive_int(width, "width")
        hidden = checks.positive_int(hidden, "hidden")
        self.side = size // 16
        self.width = width
        self.fc = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(),
                                nn.Linear(hidden, 2 * width * self.side * self.side), nn.ReLU())
        widths = (2 * width, 2 * width, width, width, channels)
        layers = [layer for a, b in zip(widths, widths[1:]) for layer in (nn.ConvTranspose2d(a, b, 4, 2, 1), nn.ReLU())]
        self.net = nn.Sequential(*layers[:-1])                      # no ReLU on the output

    def forward(self, z):
        checks.tensor(z, "z")
        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"z must have shape (..., {self.latent_dim}), got {tuple(z.shape)}")
        lead = z.shape[:-1]
        h = self.fc(z.reshape(-1, self.latent_dim)).view(-1, 2 * self.width, self.side, self.side)  # (N, 2w, S/16, S/16)
        out = self.net(h)                                                                             # (N, C, S, S)
        return out.reshape(*lead, *out.shape[1:])
