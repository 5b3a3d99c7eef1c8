"""Minibatch standard deviation (ProGAN): let the discriminator see how varied a batch is."""

from __future__ import annotations

import torch
from torch import nn

from .. import checks

__all__ = ["MinibatchStdDev"]


class MinibatchStdDev(nn.Module):
    """Append one channel: the standard deviation of each feature over a group of samples, averaged.

    The batch ``(B, C, H, W)`` is split into groups of ``group_size`` samples (sample i in group
    i mod B/G); for each group s = mean_{c,h,w} sqrt(Var_group x_{c,h,w} + eps), and every sample
    of the group gets s as a constant extra channel: ``(B, C + 1, H, W)``. A collapsed generator,
    whose batches vary little, then shows a small s that real batches never have, which the
    discriminator can use against it (a cheap cousin of packing). ``group_size`` must divide the
    batch; use ``group_size = B`` for one statistic per batch.

    References:
        Karras et al., Progressive Growing of GANs, ICLR 2018, Sec. 3.
    """

    def __init__(self, group_size: int = 4, eps: float = 1e-8):
        super().__init__()
        self.group_size = checks.positive_int(group_size, "group_size")
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"x must be a feature map (B, C, H, W), got {tuple(x.shape)}")
        b, c, h, w = x.shape
        g = min(self.group_size, b)
        if b % g:
            raise ValueError(f"the batch of {b} samples is not a multiple of group_size = {g}")
        y = x.reshape(g, b // g, c, h, w)                                   # (G, M, C, H, W)
        s = (y.var(dim=0, unbiased=False) + self.eps).sqrt().mean(dim=(1, 2, 3))  # (M,)
        s = s.repeat(g)[:, None, None, None].expand(b, 1, h, w)           # sample i gets s[i mod M]
        return torch.cat([x, s], dim=1)
