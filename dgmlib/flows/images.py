"""From discrete pixels to a continuous density: dequantization and the logit transform.

A density on the 256 grey levels themselves is not bounded: a flow can put a spike of arbitrary
height on each level. Adding uniform noise, y = (k + u) / 256 with u ~ U[0, 1)^D, spreads each
level over a cube of volume 256^{-D}, and for any density p on [0, 1]^D (Jensen)

    log P(k) = log int_cube p(y) dy  >=  E_u[log p(y)] - D log 256,

so the -D log 256 below turns a density into a (lower bound on the) log-probability of the
discrete image, and bits per dimension are comparable across papers.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["Dequantize", "Logit"]


def _num_dims(x):
    return math.prod(x.shape[1:])


class Dequantize(nn.Module):
    """Uniform dequantization  y = (k + u) / L,  k = round(x (L - 1)),  u ~ U[0, 1)^D;  log_det = -D log L.

    ``x``: grey levels k / (L - 1) in [0, 1] (``load_mnist`` gives L = 256). The log_det turns the
    density of y into the log-probability bound of the discrete k (module docstring). Inverse:
    k = floor(y L), x = k / (L - 1), log_det = +D log L. Noise is drawn in training and eval.
    """

    def __init__(self, num_levels: int = 256):
        super().__init__()
        if isinstance(num_levels, bool) or not isinstance(num_levels, int) or num_levels < 2:
            raise ValueError(f"num_levels must be an int >= 2, got {num_levels!r}")
        self.num_levels = num_levels

    def forward(self, x):
        if not torch.is_tensor(x):
            raise TypeError(f"x must be a tensor, got {type(x).__name__}")
        if x.min() < 0 or x.max() > 1:
            raise ValueError(f"x must hold grey levels in [0, 1], got values in [{float(x.min()):.3g}, {float(x.max()):.3g}]")
        levels = self.num_levels
        k = torch.round(x * (levels - 1))
        y = (k + torch.rand_like(x)) / levels
        return y, x.new_full((x.shape[0],), -_num_dims(x) * math.log(levels))

    def inverse(self, y):
        levels = self.num_levels
        k = torch.floor(y * levels).clamp(0, levels - 1)
        return k / (levels - 1), y.new_full((y.shape[0],), _num_dims(y) * math.log(levels))


class Logit(nn.Module):
    """y = logit(a + (1 - 2a) x) for x in [0, 1] (a = ``alpha`` keeps y finite at 0 and 1):

    log|det J| = sum_i [log(1 - 2a) - log s_i - log(1 - s_i)],  s = a + (1 - 2a) x.
    Inverse: x = (sigmoid(y) - a) / (1 - 2a). Any shape (B, ...).
    """

    def __init__(self, alpha: float = 0.05):
        super().__init__()
        if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not 0 <= alpha < 0.5:
            raise ValueError(f"alpha must be in [0, 0.5), got {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, x):
        s = self.alpha + (1 - 2 * self.alpha) * x
        y = torch.log(s) - torch.log1p(-s)
        log_det = (math.log(1 - 2 * self.alpha) - torch.log(s) - torch.log1p(-s)).flatten(1).sum(1)
        return y, log_det

    def inverse(self, y):
        s = torch.sigmoid(y)
        x = (s - self.alpha) / (1 - 2 * self.alpha)
        log_det = (torch.log(s) + torch.log1p(-s) - math.log(1 - 2 * self.alpha)).flatten(1).sum(1)
        return x, log_det
