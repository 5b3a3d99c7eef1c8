"""Masked convolutions: a convolution that only looks at pixels earlier in raster order.

For a k x k kernel centred on pixel (r, c), the mask keeps the rows above the centre, and in the
centre row the columns left of it; type ``"A"`` (the first layer) also drops the centre itself, type
``"B"`` (later layers) keeps it. Stacking one A layer on B layers gives an output at pixel i that
depends on input pixels j < i only: the condition p(x_i | x_<i) needs. Stacked 3 x 3 masks leave a
*blind spot* (pixels above-right of i that no path reaches), which :func:`dependency_mask` shows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import checks

__all__ = ["MaskedConv2d", "dependency_mask"]


class MaskedConv2d(nn.Conv2d):
    """A ``k x k`` convolution (odd k, "same" padding) whose kernel is multiplied by the causal mask.

    ``mask_type``: ``"A"`` (excludes the centre pixel: the first layer) or ``"B"`` (includes it).
    Single-channel images: the mask acts on spatial positions only (no ordering of colour channels).

    Example:
        >>> MaskedConv2d(1, 16, 7, "A").mask[0, 0]       # rows 0-2 ones, row 3 ones left of the centre
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str = "B"):
        kernel_size = checks.positive_int(kernel_size, "kernel_size")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (a centre pixel), got {kernel_size}")
        checks.one_of(mask_type, "mask_type", ("A", "B"))
        in_channels = checks.positive_int(in_channels, "in_channels")
        out_channels = checks.positive_int(out_channels, "out_channels")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        centre = kernel_size // 2
        mask = torch.ones(kernel_size, kernel_size)
        mask[centre, centre + (mask_type == "B"):] = 0    # the centre row: from the centre (A) or after it (B)
        mask[centre + 1:] = 0                             # every row below
        self.mask_type = mask_type
        self.register_buffer("mask", mask.expand(out_channels, in_channels, kernel_size, kernel_size).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


def dependency_mask(net: nn.Module, height: int, width: int) -> torch.Tensor:
    """``D[i, j] = 1`` when output pixel i (channel 0) depends on input pixel j, by autograd's Jacobian.

    ``net`` maps ``(1, 1, height, width)`` to ``(1, C, height, width)``; pixels are numbered in raster
    order. A causal net gives a strictly lower-triangular D; its zeros below the diagonal are the
    blind spot.
    """
    height, width = checks.positive_int(height, "height"), checks.positive_int(width, "width")
    x = torch.randn(1, 1, height, width, dtype=next(net.parameters()).dtype)
    jac = torch.autograd.functional.jacobian(lambda v: net(v)[0, 0].flatten(), x)   # (HW, 1, 1, H, W)
    return (jac.reshape(height * width, height * width) != 0).int()
