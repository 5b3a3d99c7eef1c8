"""Packing (PacGAN): the discriminator judges m samples at once, so a generator that drops modes is easier to catch.

A packed discriminator D_m sees a *pack* of m samples drawn together, all real (x_1..x_m ~ pi^m)
or all generated (~ p^m), and plays the usual game on the product distributions:

    max_D  E_{pi^m} log D_m(x_1..x_m) + E_{p^m} log(1 - D_m(x_1..x_m)).

Its optimum measures JSD(pi^m, p^m) instead of JSD(pi, p). A generator that puts mass eps less
than pi on a mode loses that mode from a whole pack with probability about m eps, so the packed
divergence grows with m for mode-dropping generators while it barely grows for ones that spread
their error thinly (Lin et al.'s total-variation analysis). Nothing else changes: the same losses,
the same loop; only the discriminator's input has m times the features and each batch makes B / m
decisions.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import checks

__all__ = ["Packed"]


class Packed(nn.Module):
    """D_m(x_1..x_m) = D(concat(x_1, ..., x_m)): a discriminator of packs of ``m`` consecutive samples.

    ``x: (B, F, *rest)`` becomes ``(B / m, m F, *rest)``: vectors ``(B, D)`` are concatenated into
    ``(B / m, m D)``, images ``(B, C, H, W)`` along their channels into ``(B / m, m C, H, W)``.
    The wrapped ``discriminator`` must accept that input (an ``MLPDiscriminator(m * D)``, a
    ``DCGANDiscriminator(channels=m * C)``) and return ``(B / m,)`` logits. Every batch the
    discriminator sees must hold a multiple of ``m`` samples (pick a batch size divisible by m);
    packs are formed from consecutive samples, so batches must be shuffled (``train_gan`` does).
    The gradient penalty of WGAN-GP is defined on single samples, not packs: do not combine them.

    Example:
        >>> D = Packed(MLPDiscriminator(2 * 4, hidden=(128, 128), dropout=0.0), m=4)
        >>> pacgan = GAN(MLPGenerator(2, 2, hidden=(128, 128), batch_norm=False, output=None), D, latent_dim=2)
        >>> D(torch.randn(256, 2)).shape
        torch.Size([64])

    References:
        Lin, Khetan, Fanti, Oh, PacGAN: The Power of Two Samples in Generative Adversarial
        Networks, NeurIPS 2018 (arXiv:1712.04086).
    """

    def __init__(self, discriminator: nn.Module, m: int):
        super().__init__()
        if not isinstance(discriminator, nn.Module):
            raise TypeError(f"discriminator must be an nn.Module, got {type(discriminator).__name__}")
        self.discriminator = discriminator
        self.m = checks.int_at_least(m, "m", 1)

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, F, *rest) -> (B / m, m F, *rest)``: consecutive samples side by side along the first feature axis."""
        x = checks.floating_tensor(x, "x")
        if x.ndim < 2:
            raise ValueError(f"x must have shape (B, features, ...), got {tuple(x.shape)}")
        if len(x) % self.m:
            raise ValueError(f"x holds {len(x)} samples, not a multiple of the pack size m = {self.m}; "
                             "use a batch size divisible by m")
        return x.reshape(len(x) // self.m, self.m * x.shape[1], *x.shape[2:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.discriminator(self.pack(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The wrapped discriminator's features of the packs (for feature matching)."""
        return self.discriminator.features(self.pack(x))
