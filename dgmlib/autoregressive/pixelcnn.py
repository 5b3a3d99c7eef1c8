"""PixelCNN for binary images: p(x) = prod_i Bernoulli(x_i; sigmoid(f_i(x_<i))).

The network is one type-A masked convolution (``first_kernel``, 7 x 7), ``layers`` residual blocks
of type-B masked 3 x 3 convolutions, and two 1 x 1 convolutions to one logit per pixel. One pass
gives every conditional at once, so ``log_prob`` is exact and as fast as a CNN; ``sample`` is
sequential, one pass per pixel (H x W passes for a batch), since pixel i needs the pixels before it
(each pass only over the window of pixel i's receptive field).
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
    :func:`dgmlib.training.fit`), ``log_prob(x) -> (B,)`` exact, ``sample(n, temperature=1.0)`` by ancestral
    sampling. With ``context_channels = C > 0`` every conditional also reads a map ``c: (B, C, H, W)``
    that does not depend on x (PixelVAE's f(z)): p(x | c) = prod_i p(x_i | x_<i, c), each masked layer
    adding a 1 x 1 projection of c; ``logits``, ``log_prob`` and ``sample`` then take ``context=c``.

    Example:
        >>> model = PixelCNN(28, 28, channels=64, layers=5)
        >>> fit(model, x_binary, epochs=10)
        >>> model.log_prob(x_test).mean()      # nats per image
    """

    def __init__(self, height: int = 28, width: int = 28, *, channels: int = 64, layers: int = 5,
                 first_kernel: int = 7, context_channels: int = 0):
        super().__init__()
        self.height, self.width = checks.positive_int(height, "height"), checks.positive_int(width, "width")
        channels = checks.positive_int(channels, "channels")
        self.layers = checks.int_at_least(layers, "layers", 0)
        self.first_kernel = checks.positive_int(first_kernel, "first_kernel")
        self.net = nn.Sequential(
            MaskedConv2d(1, channels, self.first_kernel, "A"),
            *[_ResidualBlock(channels) for _ in range(self.layers)],
            nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, 1, 1),
        )
        self.context_channels = checks.int_at_least(context_channels, "context_channels", 0)
        if self.context_channels:                 # one 1 x 1 projection of the context per masked layer
            self.context = nn.ModuleList(nn.Conv2d(self.context_channels, channels, 1, bias=False)
                                         for _ in range(1 + self.layers))

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        x = checks.finite_tensor(checks.floating_tensor(x, "x"), "x")
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, self.height, self.width):
            raise ValueError(f"x must have shape (B, 1, {self.height}, {self.width}), got {tuple(x.shape)}")
        if bool(((x != 0) & (x != 1)).any()):
            raise ValueError("x must be binary (pixels 0 or 1): binarize the images first")
        return x

    def _check_context(self, context, x):
        if not self.context_channels:
            if context is not None:
                raise ValueError("context must be None: this PixelCNN was built with context_channels=0")
            return None
        context = checks.finite_tensor(checks.floating_tensor(context, "context"), "context")
        expected = (x.shape[0], self.context_channels, *x.shape[2:])
        if tuple(context.shape) != expected:
            raise ValueError(f"context must have shape {expected} (B, context_channels, H, W), "
                             f"got {tuple(context.shape)}")
        return context

    def _net(self, x, context):
        """The network on (a window of) the image: h_0 = A(x) [+ V_0 c], h_l = h_{l-1} + B_l(relu h_{l-1}) [+ V_l c]."""
        if context is None:
            return self.net(x)
        h = self.net[0](x) + self.context[0](context)
        for block, project in zip(self.net[1:1 + self.layers], self.context[1:]):
            h = block(h) + project(context)
        return self.net[1 + self.layers:](h)

    def logits(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """The logit of p(x_i = 1 | x_<i [, c]) at every pixel i, in one pass: ``(B, 1, H, W)``.

        ``context``: ``(B, context_channels, H, W)``, a map that does not depend on x (the PixelVAE's
        f(z)); each masked layer adds a 1 x 1 projection of it, which leaves the masks' causality intact.
        """
        x = self._check(x)
        return self._net(x, self._check_context(context, x))

    def log_prob(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x [| c]) = sum_i log Bernoulli(x_i; sigmoid(logit_i)), exact: ``(B,)`` nats."""
        return log_bernoulli(x, self.logits(x, context))

    def loss(self, x: torch.Tensor) -> dict:
        """``{"loss", "nll", "bits_per_dim"}``: the mean NLL (nats per image) and the same in bits per pixel."""
        nll = -self.log_prob(x).mean()
        return {"loss": nll, "nll": nll.detach(),
                "bits_per_dim": nll.detach() / (self.height * self.width * math.log(2))}

    def receptive_field(self) -> int:
        """How far (in rows, and in columns either way) output pixel i can see: first_kernel // 2 + layers."""
        return self.first_kernel // 2 + self.layers

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None,
               context: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` images drawn pixel by pixel in raster order: ``(n, 1, H, W)``.

        x_i ~ Bernoulli(sigmoid(logit_i / T)) given the pixels already drawn (``temperature`` T = 1:
        the model; T < 1 sharpens every conditional); ``context``: ``(n, context_channels, H, W)``.
        Pixel (r, c) needs one pass of the network, but only over the window that holds its receptive
        field (rows r - R .. r, columns c - R .. c + R, R = :meth:`receptive_field`): the logit there
        is exactly the full pass's (tested), at a fraction of the cost.
        """
        n = checks.positive_int(n, "n")
        temperature = checks.positive_number(temperature, "temperature")
        dtype = next(self.parameters()).dtype
        x = torch.zeros(n, 1, self.height, self.width, device=module_device(self), dtype=dtype)
        context = self._check_context(context, x)
        reach = self.receptive_field()
        for r in range(self.height):
            top = max(0, r - reach)
            for c in range(self.width):
                left, right = max(0, c - reach), min(self.width, c + reach + 1)
                window = None if context is None else context[:, :, top:r + 1, left:right]
                logit = self._net(x[:, :, top:r + 1, left:right], window)[:, 0, r - top, c - left]
                u = torch.rand(n, generator=generator, device="cpu").to(logit.device)
                x[:, 0, r, c] = (u < torch.sigmoid(logit / temperature)).to(x.dtype)
        return x
