"""From discrete pixels to a continuous density: dequantization and the logit transform.

A density on the 256 grey levels themselves is not bounded: a flow can put a spike of arbitrary
height on each level. Adding uniform noise, y = (k + u) / 256 with u ~ U[0, 1)^D, spreads each
level over a cube of volume 256^{-D}, and for any density p on [0, 1]^D (Jensen)

    log P(k) = log int_cube p(y) dy  >=  E_u[log p(y)] - D log 256,

so the -D log 256 below turns a density into a (lower bound on the) log-probability of the
discrete image, and bits per dimension are comparable across papers.

References: Theis, van den Oord & Bethge, *A Note on the Evaluation of Generative Models*, ICLR 2016,
Sec. 3.1 (dequantization bound); Dinh et al., *Density Estimation Using Real NVP*, ICLR 2017,
Sec. 4.1 (logit of alpha + (1 - 2 alpha) x).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import checks

__all__ = ["Dequantize", "Logit"]


def _num_dims(x):
    return math.prod(x.shape[1:])


class Dequantize(nn.Module):
    """Uniform dequantization  y = (k + u) / L,  k = round(x (L - 1)),  u ~ U[0, 1)^D;  log_det = -D log L.

    ``x``: grey levels k / (L - 1) in [0, 1] (``load_mnist`` gives L = 256). The log_det turns the
    density of y into the log-probability bound of the discrete k (module docstring). Inverse:
    k = floor(y L), x = k / (L - 1), log_det = +D log L. Noise is drawn in training and eval.

    Example:
        >>> x, _ = load_mnist("test")                       # (N, 1, 28, 28), k / 255
        >>> y, log_det = Dequantize()(x[:8])                # y in [0, 1), log_det = -784 log 256
    """

    def __init__(self, num_levels: int = 256):
        super().__init__()
        self.num_levels = checks.int_at_least(num_levels, "num_levels", 2)

    def forward(self, x):
        checks.in_unit_interval(x, "x", " (grey levels k / (L - 1))")
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
    Inverse: x = (sigmoid(y) - a) / (1 - 2a). Any shape (B, ...). x outside [0, 1] (or NaN) is
    refused: the logit of s outside (0, 1) is NaN.

    Example:
        >>> layers = [Dequantize(), Logit(0.05)]      # grey levels -> [0, 1) -> the real line
    """

    def __init__(self, alpha: float = 0.05):
        super().__init__()
        self.alpha = checks.number_in(alpha, "alpha", 0, 0.5, closed="left")

    def forward(self, x):
        checks.in_unit_interval(x, "x", " (Logit maps [0, 1] to the real line: dequantize first)")
        s = self.alpha + (1 - 2 * self.alpha) * x
        y = torch.log(s) - torch.log1p(-s)
        log_det = (math.log(1 - 2 * self.alpha) - torch.log(s) - torch.log1p(-s)).flatten(1).sum(1)
        return y, log_det

    def inverse(self, y):
        checks.tensor(y, "y")
        s = torch.sigmoid(y)
        x = (s - self.alpha) / (1 - 2 * self.alpha)
        log_det = (torch.log(s) + torch.log1p(-s) - math.log(1 - 2 * self.alpha)).flatten(1).sum(1)
        return x, log_det
