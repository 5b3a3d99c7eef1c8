"""Glow's pieces (Kingma & Dhariwal 2018): ActNorm, invertible 1x1 convolution, squeeze, multi-scale.

Shapes: images (B, C, H, W); vectors (B, C) are treated as 1x1 images, so the same layers work on
2-D toys. Every log-determinant of a per-pixel map is H * W times the per-pixel one.

References: Kingma & Dhariwal, *Glow: Generative Flow with Invertible 1x1 Convolutions*, NeurIPS 2018,
Table 1 (ActNorm, 1x1 convolution, LU); Dinh et al., *Density Estimation Using Real NVP*, ICLR 2017,
Sec. 3.6 (squeeze, multi-scale).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .. import checks
from .compose import Compose

__all__ = ["ActNorm", "InvConv1x1", "Squeeze", "Squeezed", "MultiScale"]


def _check_channels(x, channels, name):
    checks.tensor(x, name)
    if x.ndim not in (2, 4) or x.shape[1] != channels:
        raise ValueError(f"{name} must have shape (B, {channels}) or (B, {channels}, H, W), got {tuple(x.shape)}")


def _pixels(x) -> int:
    return x.shape[2] * x.shape[3] if x.ndim == 4 else 1


def _per_channel(v, x):
    return v.view(1, -1, 1, 1) if x.ndim == 4 else v.view(1, -1)


class ActNorm(nn.Module):
    """Per-channel affine  y = (x - b) * exp(-log_s),  log|det J| = -H W sum_c log_s_c.

    Data-dependent initialization: the first forward call in training mode sets b and log_s to
    the mean and log-std of that batch, per channel, so the activations start normalized. The std
    needs at least 2 values per channel (B H W >= 2): a first batch of one vector is refused.
    x: (B, C) or (B, C, H, W) -> same shape, log_det (B,).

    Example:
        >>> act = ActNorm(8).train()
        >>> y, log_det = act(3 + 2 * torch.randn(64, 8, 7, 7))    # y: mean 0, std 1 per channel
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels = checks.positive_int(channels, "channels")
        self.bias = nn.Parameter(torch.zeros(channels))
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.register_buffer("initialized", torch.tensor(False))
        self._ready = False  # the buffer's value as a Python bool: what torch.compile branches on (no graph break)

    @torch.no_grad()
    def initialize(self, x):
        """Set b = mean, log_s = log std of x per channel (over batch and pixels)."""
        flat = x.transpose(0, 1).reshape(self.channels, -1)
        if flat.shape[1] < 2:
            raise ValueError(
                f"ActNorm's data-dependent initialization needs >= 2 samples per channel to estimate a std, "
                f"got a first batch of shape {tuple(x.shape)}: initialize it on a larger batch (in training mode)"
            )
        self.bias.copy_(flat.mean(1))
        self.log_scale.copy_(torch.log(flat.std(1) + 1e-6))
        self.initialized.fill_(True)
        self._ready = True

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._ready = bool(self.initialized)

    def forward(self, x):
        _check_channels(x, self.channels, "x")
        if not torch.compiler.is_compiling():
            self._ready = bool(self.initialized)  # eagerly the buffer decides (it may have been set by hand)
        if self.training and not self._ready:
            self.initialize(x)
        y = (x - _per_channel(self.bias, x)) * torch.exp(-_per_channel(self.log_scale, x))
        return y, (-_pixels(x) * self.log_scale.sum()).expand(x.shape[0])

    def inverse(self, y):
        _check_channels(y, self.channels, "y")
        x = y * torch.exp(_per_channel(self.log_scale, y)) + _per_channel(self.bias, y)
        return x, (_pixels(y) * self.log_scale.sum()).expand(y.shape[0])


class InvConv1x1(nn.Module):
    """Invertible 1x1 convolution  y_{:, h, w} = W x_{:, h, w},  log|det J| = H W log|det W|.

    ``lu=False``: W is a free C x C matrix; log|det W| costs O(C^3) (``torch.linalg.slogdet``).
    ``lu=True``: W = P L (U + diag(sign_s exp(log_s))) with P a fixed permutation, L unit lower-
    and U strictly upper-triangular; log|det W| = sum log_s costs O(C). Both start from the same
    random rotation. x: (B, C) or (B, C, H, W).

    Example:
        >>> conv = InvConv1x1(16, lu=True)
        >>> y, log_det = conv(torch.randn(4, 16, 7, 7))      # log_det = 49 * sum log|s|, shape (4,)
    """

    def __init__(self, channels: int, lu: bool = False):
        super().__init__()
        self.channels = checks.positive_int(channels, "channels")
        self.lu = checks.flag(lu, "lu")
        q, _ = torch.linalg.qr(torch.randn(channels, channels))
        if not self.lu:
            self.weight = nn.Parameter(q)
            return
        p, l, u = torch.linalg.lu(q)
        s = torch.diagonal(u)
        self.register_buffer("p", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("l_mask", torch.tril(torch.ones(channels, channels), -1))
        self.l = nn.Parameter(l)
        self.u = nn.Parameter(torch.triu(u, 1))
        self.log_s = nn.Parameter(torch.log(torch.abs(s)))

    def matrix(self) -> torch.Tensor:
        """W (C, C)."""
        if not self.lu:
            return self.weight
        eye = torch.eye(self.channels, device=self.l.device, dtype=self.l.dtype)
        lower = self.l * self.l_mask + eye
        upper = self.u * self.l_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.p @ lower @ upper

    def log_abs_det(self) -> torch.Tensor:
        """log|det W|: slogdet (O(C^3)) or, with LU, sum log_s (O(C))."""
        return self.log_s.sum() if self.lu else torch.linalg.slogdet(self.matrix())[1]

    def _mix(self, x, w):
        if x.ndim == 2:
            return x @ w.T
        return torch.einsum("ij,bjhw->bihw", w, x)

    def forward(self, x):
        _check_channels(x, self.channels, "x")
        return self._mix(x, self.matrix()), (_pixels(x) * self.log_abs_det()).expand(x.shape[0])

    def inverse(self, y):
        _check_channels(y, self.channels, "y")
        return self._mix(y, torch.linalg.inv(self.matrix())), (-_pixels(y) * self.log_abs_det()).expand(y.shape[0])


class Squeeze(nn.Module):
    """Space-to-depth: (B, C, H, W) -> (B, 4C, H/2, W/2), each 2x2 patch into channels; log|det J| = 0."""

    def forward(self, x):
        checks.tensor(x, "x")
        if x.ndim != 4:
            raise ValueError(f"x must be images (B, C, H, W), got {tuple(x.shape)}")
        b, c, h, w = x.shape
        if h % 2 or w % 2:
            raise ValueError(f"Squeeze needs an even height and width, got {h}x{w}")
        y = x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(b, 4 * c, h // 2, w // 2)
        return y, x.new_zeros(b)

    def inverse(self, y):
        checks.tensor(y, "y")
        if y.ndim != 4 or y.shape[1] % 4:
            raise ValueError(f"y must be images (B, 4C, H, W) with a channel count divisible by 4, got {tuple(y.shape)}")
        b, c4, h, w = y.shape
        x = y.reshape(b, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(b, c4 // 4, 2 * h, 2 * w)
        return x, y.new_zeros(b)


class Squeezed(nn.Module):
    """Layers applied at half the resolution:  y = unsqueeze(f(squeeze(x))),  log|det J| = log|det J_f|.

    The squeeze only rearranges (log|det| = 0), so (B, C, H, W) -> (B, C, H, W) with the layers
    ``f`` seeing (B, 4C, H/2, W/2): a 1-channel image gets 4 channels for channel couplings and
    1x1 convolutions to mix (Glow squeezes first; Kingma & Dhariwal 2018, Fig. 2).

    Example:
        >>> steps = [AffineCoupling(channel_mask(4, 14, 14, i % 2), (64,)) for i in range(4)]
        >>> layer = Squeezed(steps)                      # on (B, 1, 28, 28)
    """

    def __init__(self, layers: Sequence[nn.Module]):
        super().__init__()
        self.inner = Compose(layers, event_ndim=3)
        self.squeeze = Squeeze()

    def forward(self, x):
        h, _ = self.squeeze(x)
        h, log_det = self.inner(h)
        return self.squeeze.inverse(h)[0], log_det

    def inverse(self, y):
        h, _ = self.squeeze(y)
        h, log_det = self.inner.inverse(h)
        return self.squeeze.inverse(h)[0], log_det


class MultiScale(nn.Module):
    """One scale of a multi-scale flow (RealNVP/Glow):  h = squeeze(f_before(x));  h = [z_out, h_in];
    y = unsqueeze([z_out, f_after(h_in)]).

    Half of the channels after the squeeze leave the flow as latents (they go to the base as they
    are); ``after`` (usually the next ``MultiScale``) works on the other half at half the
    resolution. The output has the input's shape, so a :class:`Flow` with a ``StandardNormal``
    of the image shape is the whole multi-scale model. log|det J| = log_det(before) + log_det(after).
    x: (B, C, H, W) -> (B, C, H, W) with H, W even.

    Example:
        >>> steps = lambda c, h: [AffineCoupling(checkerboard_mask(h, h, i % 2, c), (32,)) for i in range(2)]
        >>> body = MultiScale(steps(1, 28), [MultiScale(steps(2, 14), steps(4, 7))])   # 28 -> 14 -> 7
    """

    def __init__(self, before: Sequence[nn.Module], after: Sequence[nn.Module] = ()):
        super().__init__()
        self.before = Compose(before, event_ndim=3)
        self.after = Compose(after, event_ndim=3)
        self.squeeze = Squeeze()

    @staticmethod
    def split(h):
        """(B, 2K, H, W) -> two (B, K, H, W) halves; odd channel counts are rejected."""
        if h.shape[1] % 2:
            raise ValueError(f"split needs an even number of channels, got {h.shape[1]}")
        return h.chunk(2, dim=1)

    def forward(self, x):
        h, log_det = self.before(x)
        h, _ = self.squeeze(h)
        z_out, h_in = self.split(h)
        h_in, ld = self.after(h_in)
        y, _ = self.squeeze.inverse(torch.cat([z_out, h_in], 1))
        return y, log_det + ld

    def inverse(self, y):
        h, _ = self.squeeze(y)
        z_out, h_in = self.split(h)
        h_in, ld = self.after.inverse(h_in)
        h, _ = self.squeeze.inverse(torch.cat([z_out, h_in], 1))
        x, ld2 = self.before.inverse(h)
        return x, ld + ld2
