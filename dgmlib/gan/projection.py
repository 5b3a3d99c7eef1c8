"""The projection discriminator: the class enters as an inner product with the features, not as an input.

With features phi(x) and a class embedding v_y, D(x, y) = psi(phi(x)) + v_y . phi(x). This is the
form the optimal discriminator takes when log p(y | x) is log-linear in phi(x): its logit
log pi(x, y) / p(x, y) splits into a class-free term log pi(x) / p(x) (psi) and the log-ratio of
the class posteriors (the projection). BigGAN uses it with spectral normalization.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .. import checks
from .nets import _maybe_sn

__all__ = ["ProjectionDiscriminator"]


class ProjectionDiscriminator(nn.Module):
    """d(x, y) = psi(phi(x)) + <v_y, phi(x)>: an MLP body phi, a linear head psi, a class embedding v.

    ``forward(x, y)``: ``x: (B, *data_shape)``, ``y: (B,)`` class indices -> logits ``(B,)``.
    ``spectral_norm``: divide every weight (embedding included) by its spectral norm, as BigGAN's D.

    References:
        Miyato, Koyama, cGANs with Projection Discriminator, ICLR 2018, Eq. 3;
        Brock, Donahue, Simonyan, Large Scale GAN Training, ICLR 2019, Sec. 3.
    """

    def __init__(self, data_shape: Sequence[int], n_classes: int, hidden: Sequence[int] = (512, 256), *,
                 spectral_norm: bool = True):
        super().__init__()
        width = math.prod(checks.positive_int(s, "data_shape") for s in data_shape)
        self.n_classes = checks.positive_int(n_classes, "n_classes")
        layers: list[nn.Module] = [nn.Flatten()]
        for h in hidden:
            layers += [_maybe_sn(nn.Linear(width, checks.positive_int(h, "hidden")), spectral_norm), nn.LeakyReLU(0.2)]
            width = h
        self.body = nn.Sequential(*layers)
        self.head = _maybe_sn(nn.Linear(width, 1), spectral_norm)
        self.embed = _maybe_sn(nn.Embedding(self.n_classes, width), spectral_norm)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if y.shape != (len(x),) or y.dtype != torch.long:
            raise ValueError(f"y must hold {len(x)} class indices (int64), got shape {tuple(y.shape)} and {y.dtype}")
        phi = self.body(x)                                              # (B, width)
        return self.head(phi).squeeze(1) + (self.embed(y) * phi).sum(1)  # psi(phi) + v_y . phi
