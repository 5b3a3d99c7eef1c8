"""Instance noise: the discriminator judges x + sigma eps instead of x, for data and samples alike.

Convolving both distributions with N(0, sigma^2 I) gives them a common support, so JSD and KL
between the noisy versions are finite and smooth in the generator's parameters even when pi and p
live on disjoint low-dimensional sets (lecture 04). The noise is annealed, sigma -> 0, as the
model closes in on the data (Sønderby et al., 2017; Arjovsky & Bottou, 2017).
"""

from __future__ import annotations

import torch
from torch import nn

from .. import checks

__all__ = ["InstanceNoise"]


class InstanceNoise(nn.Module):
    """D_sigma(x) = D(x + sigma eps), eps ~ N(0, I) drawn afresh at every call, in training mode only.

    Wraps any discriminator; ``std`` (sigma) is an attribute that a schedule may change between
    steps, e.g. ``eval_fn=lambda model, epoch: setattr(model.discriminator, "std", s0 * (1 - epoch / E))``
    in :func:`~dgmlib.gan.train_gan`. In ``eval()`` mode the wrapper adds nothing. ``features``
    passes the noisy input on as well (for feature matching).

    Example:
        >>> D = InstanceNoise(MLPDiscriminator(2, hidden=(128, 128), dropout=0.0), std=0.3)
        >>> model = GAN(MLPGenerator(2, 2, hidden=(128, 128), batch_norm=False, output=None), D, latent_dim=2)

    References:
        Sønderby, Caballero, Theis, Shi, Huszár, Amortised MAP Inference for Image Super-resolution,
        ICLR 2017, Sec. 3.4 (instance noise); Arjovsky, Bottou, Towards Principled Methods for
        Training Generative Adversarial Networks, ICLR 2017, Sec. 3.
    """

    def __init__(self, discriminator: nn.Module, std: float):
        super().__init__()
        if not isinstance(discriminator, nn.Module):
            raise TypeError(f"discriminator must be an nn.Module, got {type(discriminator).__name__}")
        self.discriminator = discriminator
        self.std = std

    @property
    def std(self) -> float:
        return self._std

    @std.setter
    def std(self, value) -> None:
        self._std = checks.non_negative_number(value, "std")

    def noisy(self, x: torch.Tensor) -> torch.Tensor:
        """x + sigma eps in training mode, x in eval mode."""
        x = checks.floating_tensor(x, "x")
        if not self.training or self._std == 0:
            return x
        return x + self._std * torch.randn_like(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.discriminator(self.noisy(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.discriminator.features(self.noisy(x))
