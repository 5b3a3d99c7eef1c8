"""Parzen windows: the kernel density of a sample, and why likelihood and sample quality part ways.

A Parzen window (Gaussian kernel density) on the points x_1..x_N in R^D with bandwidth eps,

    p_eps(x) = 1/N sum_i N(x | x_i, eps^2 I),
    log p_eps(x) = logsumexp_i(-||x - x_i||^2 / (2 eps^2)) - log N - D log(eps sqrt(2 pi)),

is a model with both a sampler (pick an x_i, add eps-noise) and an exact likelihood. It was once how
GANs were scored; Theis et al. (2016) use it to show that the two disagree: a tiny eps gives samples
that are training points (perfect) and a test likelihood that is terrible. And the mixture with noise

    p_2 = w p + (1 - w) u,   log p_2 >= log w + log p,

shows the reverse: with w = 0.01 the samples are 99% noise while log p_2 stays within log 100 = 4.6
nats of log p, a gap that vanishes per dimension. :func:`mixture_with_noise_log_prob` computes it.

Reference: Theis, van den Oord and Bethge, A note on the evaluation of generative models, ICLR 2016.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import checks

__all__ = ["ParzenWindow", "mixture_with_noise_log_prob"]


class ParzenWindow(nn.Module):
    """p_eps(x) = 1/N sum_i N(x | x_i, eps^2 I) on the flattened ``points: (N, ...)``; ``eps > 0``.

    ``log_prob(x)`` is exact (a logsumexp over all N kernels, in chunks of ``chunk`` rows of x);
    ``sample(n)`` picks points uniformly and adds ``eps`` times standard normal noise.

    Example:
        >>> p = ParzenWindow(x_train, eps=0.2)
        >>> p.log_prob(x_test).mean()          # nats per image
    """

    def __init__(self, points: torch.Tensor, eps: float, chunk: int = 256):
        super().__init__()
        points = checks.finite_tensor(checks.floating_tensor(points, "points"), "points")
        if points.dim() < 2 or len(points) == 0:
            raise ValueError(f"points must be (N, ...) with N >= 1, got shape {tuple(points.shape)}")
        self.eps = checks.positive_number(eps, "eps")
        self.chunk = checks.positive_int(chunk, "chunk")
        self.event_shape = tuple(points.shape[1:])
        self.register_buffer("points", points.reshape(len(points), -1))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p_eps(x) for ``x: (B, *event_shape)``, shape ``(B,)``, in nats."""
        x = checks.finite_tensor(checks.floating_tensor(x, "x"), "x")
        if tuple(x.shape[1:]) != self.event_shape:
            raise ValueError(f"x must be (B, {', '.join(map(str, self.event_shape))}) like the points, "
                             f"got shape {tuple(x.shape)}")
        flat = x.reshape(len(x), -1).to(self.points)
        d = flat.shape[1]
        norm = math.log(len(self.points)) + d * math.log(self.eps * math.sqrt(2 * math.pi))
        out = [torch.logsumexp(-0.5 * torch.cdist(rows, self.points).square() / self.eps**2, dim=1) - norm
               for rows in flat.split(self.chunk)]
        return torch.cat(out) if out else flat.new_zeros(0)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws: a point chosen uniformly, plus N(0, eps^2 I) noise; shape ``(n, *event_shape)``."""
        n = checks.positive_int(n, "n")
        pick = torch.randint(len(self.points), (n,), generator=generator, device="cpu").to(self.points.device)
        noise = torch.randn(n, self.points.shape[1], generator=generator, dtype=self.points.dtype, device="cpu")
        return (self.points[pick] + self.eps * noise.to(self.points.device)).reshape(n, *self.event_shape)


def mixture_with_noise_log_prob(log_p: torch.Tensor, weight: float, log_u) -> torch.Tensor:
    """log p_2(x) = log(w p(x) + (1 - w) u(x)) from ``log_p`` and ``log_u`` (a tensor or a number).

    ``weight = w`` in (0, 1]. Since (1 - w) u >= 0, log p_2 >= log w + log p: with w = 0.01 the
    model can lose at most log 100 = 4.61 nats per example against p, whatever the dimension.
    """
    log_p = checks.tensor(log_p, "log_p")
    if torch.isnan(log_p).any():
        raise ValueError("log_p holds NaN")
    w = checks.number_in(weight, "weight", 0, 1, closed="right")
    log_u = torch.as_tensor(log_u, dtype=log_p.dtype, device=log_p.device)
    if torch.isnan(log_u).any():
        raise ValueError("log_u holds NaN")
    if w == 1:
        return log_p.clone()
    return torch.logaddexp(math.log(w) + log_p, math.log1p(-w) + log_u)
