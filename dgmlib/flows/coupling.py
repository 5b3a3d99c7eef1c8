"""Affine coupling (RealNVP, Dinh et al. 2017): half the variables steer an affine map of the rest.

With a 0/1 mask m (1 = passed through, x_a = m * x):

    y = m * x + (1 - m) * (x * exp(s(x_a)) + t(x_a)),     log|det J| = sum_i (1 - m_i) s_i(x_a).

The Jacobian is triangular up to a permutation (block [[I, 0], [*, diag(exp s)]]), so the
determinant is a product of the diagonal; the inverse is as cheap as the forward:
x = m * y + (1 - m) * (y - t(y_a)) * exp(-s(y_a)). Alternate the mask (``1 - m``) between layers
so every variable is transformed.

References: Dinh, Sohl-Dickstein & Bengio, *Density Estimation Using Real NVP*, ICLR 2017, eq. 4-9
(the masks: Sec. 3.4); Kingma & Dhariwal, *Glow*, NeurIPS 2018 (channel split, Table 1).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .. import checks
from ..nets import mlp
from .base import sizes

__all__ = ["AffineCoupling", "alternating_mask", "checkerboard_mask", "channel_mask"]


def alternating_mask(dim: int, parity: int = 0) -> torch.Tensor:
    """(dim,) mask 1, 0, 1, 0, ... (``parity=0``) or 0, 1, 0, 1, ... (``parity=1``)."""
    checks.int_at_least(dim, "dim", 2, " for a coupling mask")
    checks.one_of(parity, "parity", (0, 1))
    return ((torch.arange(dim) + parity) % 2 == 0).float()


def checkerboard_mask(height: int, width: int, parity: int = 0, channels: int = 1) -> torch.Tensor:
    """(channels, height, width) mask with m[c, i, j] = 1 iff (i + j + parity) is even."""
    for value, name in ((height, "height"), (width, "width"), (channels, "channels")):
        checks.positive_int(value, name)
    checks.one_of(parity, "parity", (0, 1))
    i, j = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    mask = ((i + j + parity) % 2 == 0).float()
    return mask.expand(channels, height, width).clone()


def channel_mask(channels: int, height: int = 1, width: int = 1, parity: int = 0) -> torch.Tensor:
    """(channels, height, width) mask that passes the first half of the channels (``parity=1``: the second).

    Raises ValueError for an odd channel count: the split would not be in halves.
    """
    checks.int_at_least(channels, "channels", 2, " to split into halves")
    if channels % 2:
        raise ValueError(f"channels must be an even int >= 2 to split into halves, got {channels!r}")
    checks.positive_int(height, "height")
    checks.positive_int(width, "width")
    checks.one_of(parity, "parity", (0, 1))
    first = torch.arange(channels) < channels // 2
    mask = (first if parity == 0 else ~first).float()
    return mask[:, None, None].expand(channels, height, width).clone()


class _MLP(nn.Module):
    """x: (B, D) [+ context (B, C)] -> (B, 2D): [s_raw, t]."""

    def __init__(self, dim, hidden, context_features):
        super().__init__()
        self.net = mlp(dim + (context_features or 0), 2 * dim, hidden, activation=nn.ELU)
        self.linears = [m for m in self.net if isinstance(m, nn.Linear)]  # the same modules, for forward

    def forward(self, x, context=None):
        # F.linear / F.elu on the layers' weights: the Sequential's math without its per-module call overhead
        h = x if context is None else torch.cat([x, context], 1)
        for layer in self.linears[:-1]:
            h = F.elu(F.linear(h, layer.weight, layer.bias))
        return F.linear(h, self.linears[-1].weight, self.linears[-1].bias).chunk(2, dim=1)


class _ConvNet(nn.Module):
    """x: (B, C, H, W) -> two (B, C, H, W) maps [s_raw, t]: 3x3 conv, 1x1 conv, 3x3 conv (padding keeps H, W)."""

    def __init__(self, channels, hidden):
        super().__init__()
        width = hidden[0]
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.ELU(),
            nn.Conv2d(width, width, 1), nn.ELU(),
            nn.Conv2d(width, 2 * channels, 3, padding=1),
        )

    def forward(self, x, context=None):
        return self.net(x).chunk(2, dim=1)


class AffineCoupling(nn.Module):
    """Affine coupling  y = m x + (1 - m)(x exp(s(m x)) + t(m x)),  log|det J| = sum (1 - m) s.

    ``mask``: a 0/1 tensor of the event shape, (D,) for vectors (MLP conditioner) or (C, H, W)
    for images (convolutional conditioner). s = scale * tanh(s_raw) with a learnable per-element
    ``scale`` (bounded log-scales train stably); the output layer starts at zero, so the layer
    starts as the identity. ``context_features``: an extra input of the MLP conditioner.

    x: (B, *mask.shape) -> (y: (B, *mask.shape), log_det: (B,)).

    Example:
        >>> layers = [AffineCoupling(alternating_mask(2, i % 2), hidden=(64, 64)) for i in range(8)]
        >>> flow = Flow(StandardNormal(2), layers)                       # RealNVP on 2-D points
        >>> AffineCoupling(checkerboard_mask(28, 28), hidden=(32,))      # on (B, 1, 28, 28) images
    """

    def __init__(self, mask: torch.Tensor, hidden=(64, 64), context_features: int | None = None):
        super().__init__()
        mask = torch.as_tensor(mask, dtype=torch.float32)
        if mask.ndim not in (1, 3):
            raise ValueError(f"mask must have shape (D,) or (C, H, W), got {tuple(mask.shape)}")
        if not ((mask == 0) | (mask == 1)).all() or mask.all() or not mask.any():
            raise ValueError("mask must hold only 0 and 1, with both present (else nothing or everything is transformed)")
        hidden = sizes(hidden, "hidden")
        self.context_features = (None if context_features is None
                                 else checks.positive_int(context_features, "context_features"))
        if context_features is not None and mask.ndim == 3:
            raise ValueError("context_features is supported for vector (D,) masks only")
        self.conditional = context_features is not None
        self.register_buffer("mask", mask)
        self.register_buffer("keep", 1 - mask, persistent=False)  # 1 where transformed
        if mask.ndim == 1:
            self.net = _MLP(mask.numel(), hidden, context_features)
            last = self.net.net[-1]
        else:
            self.net = _ConvNet(mask.shape[0], hidden)
            last = self.net.net[-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.scale = nn.Parameter(torch.ones(mask.shape))
        self._event_dims = tuple(range(1, mask.ndim + 1))  # log_det sums s over these

    def _check(self, x, name):
        checks.tensor(x, name)
        if tuple(x.shape[1:]) != tuple(self.mask.shape):
            raise ValueError(f"{name} must have shape (B, {', '.join(map(str, self.mask.shape))}), got {tuple(x.shape)}")

    def _s_t(self, x_a, context):
        """(s, t), both zero on the passed half (mask = 1), so exp(s) = 1 and t = 0 there."""
        if self.conditional and context is None:
            raise ValueError(f"this coupling was built with context_features={self.context_features}: pass context=")
        s_raw, t = self.net(x_a, context)
        # contiguous: s_raw is a column slice, and tanh on a strided tensor runs unvectorized (~10x slower)
        return self.keep * self.scale * torch.tanh(s_raw.contiguous()), self.keep * t

    def forward(self, x, context=None):
        self._check(x, "x")
        s, t = self._s_t(self.mask * x, context)
        # = m x + (1 - m)(x exp(s) + t), since s = t = 0 where m = 1
        return x * torch.exp(s) + t, s.sum(self._event_dims)

    def inverse(self, y, context=None):
        self._check(y, "y")
        s, t = self._s_t(self.mask * y, context)
        return (y - t) * torch.exp(-s), -s.sum(self._event_dims)
