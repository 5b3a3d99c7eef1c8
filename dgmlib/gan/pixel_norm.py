"""Pixel norm (ProGAN): every pixel's feature vector scaled to unit root mean square."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PixelNorm"]


class PixelNorm(nn.Module):
    """b_{x,y} = a_{x,y} / sqrt((1/C) sum_c (a^c_{x,y})^2 + eps), over the channels of each pixel (or of a vector).

    ``(B, C, H, W)`` or ``(B, C)``, same shape out. Used in ProGAN's generator after every
    convolution instead of batch norm, and on z: it keeps the signal magnitudes from escalating in
    the competition between the players, with no learned parameters and no batch statistics.

    References:
        Karras et al., Progressive Growing of GANs, ICLR 2018, Sec. 4.2.
    """

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 2:
            raise ValueError(f"x must be (B, C, ...), got {tuple(x.shape)}")
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)
