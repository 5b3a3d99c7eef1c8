"""Equalized learning rate (ProGAN): weights drawn from N(0, 1) and scaled by He's constant at every call.

A layer stores w_hat ~ N(0, 1) and computes with w = c w_hat, c = gain / sqrt(fan_in). The forward
pass is the same as with He initialization, but Adam's update of w_hat is scale-free, so every
layer learns at the same speed whatever its fan-in (with w stored directly, layers with a small
He constant would take relatively larger steps).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .. import checks

__all__ = ["EqualizedLinear", "EqualizedConv2d"]


class EqualizedLinear(nn.Module):
    """y = x (c W_hat)^T + b, W_hat ~ N(0, 1), c = gain / sqrt(in_features), b = 0 at first; ``(B, in) -> (B, out)``.

    References:
        Karras, Aila, Laine, Lehtinen, Progressive Growing of GANs for Improved Quality, Stability,
        and Variation, ICLR 2018, Sec. 4.1.
    """

    def __init__(self, in_features: int, out_features: int, gain: float = math.sqrt(2)):
        super().__init__()
        in_features = checks.positive_int(in_features, "in_features")
        out_features = checks.positive_int(out_features, "out_features")
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = checks.positive_number(gain, "gain") / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.scale * self.weight, self.bias)


class EqualizedConv2d(nn.Module):
    """A ``kernel x kernel`` convolution (same padding) with weight c W_hat, c = gain / sqrt(in_channels kernel^2).

    ``(B, in_channels, H, W) -> (B, out_channels, H, W)``.

    References:
        Karras et al., Progressive Growing of GANs, ICLR 2018, Sec. 4.1.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, gain: float = math.sqrt(2)):
        super().__init__()
        in_channels = checks.positive_int(in_channels, "in_channels")
        out_channels = checks.positive_int(out_channels, "out_channels")
        kernel = checks.positive_int(kernel, "kernel")
        if kernel % 2 == 0:
            raise ValueError(f"kernel must be odd (same padding), got {kernel}")
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = checks.positive_number(gain, "gain") / math.sqrt(in_channels * kernel * kernel)
        self.padding = kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.scale * self.weight, self.bias, padding=self.padding)
