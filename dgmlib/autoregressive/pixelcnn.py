"""PixelCNN for binary images: p(x) = prod_i Bernoulli(x_i; sigmoid(f_i(x_<i))).

The network is one type-A masked convolution (``first_kernel``, 7 x 7), ``layers`` residual blocks
of type-B masked 3 x 3 convolutions, and two 1 x 1 convolutions to one logit per pixel. One pass
gives every conditional at once, so ``log_prob`` is exact and as fast as a CNN; ``sample`` is
sequential, one pass per pixel (H x W passes for a batch), since pixel i needs the pixels before it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .. import checks
from ..runtime import module_device
from ..vae.likelihoods import log_bernoulli
from .masked import MaskedConv2d

__all__ = ["PixelCNN"]


class _ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = MaskedConv2d(channels, channels, 3, "B")

    def forward(self, h):
        return h + self.conv(F.relu(h))


class PixelCNN(nn.Module):
    """A PixelCNN over ``(B, 1, height, width)`` images with pixels in {0, 1}.

    Contract: ``loss(x) -> {"loss", "nll", "bits_per_dim"}`` (the mean NLL in nats per image, minimized by
    :func:`dgmlib.training.fit`), ``log_prob(x) -> (B,)`` exact, ``sample(n)`` by ancestral sampling.

    Example:
        >>> model = PixelCNN(28, 28, channels=64, layers=5)
        >>> fit(model, x_binary, epochs=10)
        >>> model.log_prob(x_test).mean()      # nats per image
    """

    def __init__(self, height: int = 28, width: int = 28, *, channels: int = 64, layers: int = 5,
                 first_kernel: int = 7):
        super().__init__()
        self.height, self.width = checks.positive_int(height, "height"), checks.positive_int(width, "width")
        channels = checks.positive_int(channels, "channels")
        self.net = nn.Sequential(
            MaskedConv2d(1, channels, first_kernel, "A"),
            *[_ResidualBlock(channels) for _ in range(checks.int_at_least(layers, "layers", 0))],
            nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, 1, 1),
        )

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        x = checks.finite_tensor(checks.floating_tensor(x, "x"), "x")
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, self.height, self.width):
            raise ValueError(f"x must have shape (B, 1, {self.height}, {self.width}), got {tuple(x.shape)}")
        if bool(((x != 0) & (x != 1)).any()):
            raise ValueError("x must be binary (pixels 0 or 1): binarize the images first")
        return x

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The logit of p(x_i = 1 | x_<i) at every pixel i, in one pass: ``(B, 1, H, W)``."""
        return self.net(self._check(x))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) = sum_i log Bernoulli(x_i; sigmoid(logit_i)), exact: ``(B,)`` nats."""
        return log_bernoulli(x, self.logits(x))

    def loss(self, x: torch.Tensor) -> dict:
        """``{"loss", "nll", "bits_per_dim"}``: the mean NLL (nats per image) and the same in bits per pixel."""
        nll = -self.log_prob(x).mean()
        return {"loss": nll, "nll": nll.detach(),
                "bits_per_dim": nll.detach() / (self.height * self.width * math.log(2))}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images drawn pixel by pixel in raster order (H x W passes of the network): ``(n, 1, H, W)``."""
        n = checks.positive_int(n, "n")
        dtype = next(self.parameters()).dtype
        x = torch.zeros(n, 1, self.height, self.width, device=module_device(self), dtype=dtype)
        for r in range(self.height):
            for c in range(self.width):
                p = torch.sigmoid(self.net(x)[:, 0, r, c])
                u = torch.rand(n, generator=generator, device="cpu").to(p.device)
                x[:, 0, r, c] = (u < p).to(x.dtype)
        return x
