"""StyleGAN at toy scale: a mapping network z -> w, and a synthesis network that w steers through AdaIN.

The generator no longer feeds z in at the bottom. It starts from a learned constant, and every
layer is restyled by w = M(z):

    AdaIN(x_i, y) = y_{s,i} (x_i - mu(x_i)) / sigma(x_i) + y_{b,i},    (y_s, y_b) = A_l(w),

per sample and channel i (mu, sigma over the pixels), with a learned affine A_l per layer; each
layer also adds per-pixel noise scaled by a learned per-channel weight (stochastic detail).
Because each layer takes its own copy of w, different layers can take *different* w's: coarse
styles (7x7 layers) from one code and fine styles (28x28) from another, style mixing. The
truncation trick moves w towards the running average w_bar: w' = w_bar + psi (w - w_bar).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .. import checks
from .equalized import EqualizedConv2d, EqualizedLinear
from .pixel_norm import PixelNorm
from .truncation import truncate

__all__ = ["adain", "MappingNetwork", "StyleLayer", "StyleGenerator"]


def adain(x: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """AdaIN(x, y) = y_s (x - mu(x)) / sigma(x) + y_b, per sample and channel.

    ``x: (B, C, H, W)``; ``scale``, ``bias``: ``(B, C)``. mu and sigma are the mean and standard
    deviation of each channel over its H W pixels (sigma = sqrt(var + eps), biased variance).

    Example:
        >>> y = adain(torch.randn(2, 3, 4, 4), torch.ones(2, 3), torch.zeros(2, 3))   # instance norm
        >>> y.mean(dim=(2, 3)).abs().max() < 1e-6
        tensor(True)

    References:
        Huang, Belongie, Arbitrary Style Transfer in Real-time with Adaptive Instance Normalization,
        ICCV 2017, Eq. 8; Karras, Laine, Aila, A Style-Based Generator Architecture for GANs, CVPR 2019, Eq. 1.
    """
    x = checks.floating_tensor(x, "x")
    if x.ndim != 4:
        raise ValueError(f"x must be a feature map (B, C, H, W), got {tuple(x.shape)}")
    for name, value in (("scale", scale), ("bias", bias)):
        checks.tensor(value, name)
        if value.shape != x.shape[:2]:
            raise ValueError(f"{name} must have shape (B, C) = {tuple(x.shape[:2])}, got {tuple(value.shape)}")
    mu = x.mean(dim=(2, 3), keepdim=True)
    sigma = (x.var(dim=(2, 3), keepdim=True, unbiased=False) + eps).sqrt()
    return scale[:, :, None, None] * (x - mu) / sigma + bias[:, :, None, None]


class MappingNetwork(nn.Module):
    """w = M(z): PixelNorm(z), then ``depth`` equalized linear layers + LeakyReLU; ``(B, latent_dim) -> (B, w_dim)``.

    StyleGAN uses 8 layers of 512; the intermediate latent space W need not follow a fixed
    distribution, which the paper argues lets it be less entangled than Z.

    References:
        Karras, Laine, Aila, A Style-Based Generator Architecture for GANs, CVPR 2019, Sec. 2 and 4.
    """

    def __init__(self, latent_dim: int, w_dim: int, depth: int = 4):
        super().__init__()
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.w_dim = checks.positive_int(w_dim, "w_dim")
        depth = checks.positive_int(depth, "depth")
        layers: list[nn.Module] = [PixelNorm()]
        for i in range(depth):
            layers += [EqualizedLinear(self.latent_dim if i == 0 else self.w_dim, self.w_dim), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = checks.floating_tensor(z, "z")
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        return self.net(z)


class StyleLayer(nn.Module):
    """[upsample x2] -> 3x3 conv (or the input as is) -> + noise -> LeakyReLU -> AdaIN(., A(w)).

    Noise: ``x + n_c * eps`` with eps ~ N(0, 1) of shape ``(B, 1, H, W)`` (one image per layer,
    shared by the channels) and a learned per-channel weight n_c, zero at the start. A(w) is an
    equalized linear map to (y_s, y_b), initialized so that y_s = 1, y_b = 0.
    ``forward(x, w, noise=None)``: ``noise`` a ``(B, 1, H, W)`` tensor to fix it (zeros: no noise).
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, *, upsample: bool = False, conv: bool = True):
        super().__init__()
        if not conv and in_channels != out_channels:
            raise ValueError("a layer without a convolution keeps its channels: in_channels must equal out_channels")
        self.upsample = upsample
        self.conv = EqualizedConv2d(in_channels, out_channels) if conv else None
        self.noise_weight = nn.Parameter(torch.zeros(out_channels))
        self.affine = EqualizedLinear(w_dim, 2 * out_channels, gain=1.0)
        with torch.no_grad():
            self.affine.bias[:out_channels] = 1.0  # y_s = 1 at the start

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        if self.conv is not None:
            x = self.conv(x)
        if noise is None:
            noise = torch.randn(len(x), 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        x = F.leaky_relu(x + self.noise_weight[None, :, None, None] * noise, 0.2)
        scale, bias = self.affine(w).chunk(2, dim=1)
        return adain(x, scale, bias)


class StyleGenerator(nn.Module):
    """StyleGAN's generator for 28x28 images: mapping network, learned constant 7x7 input, six styled layers.

    Layers (one style each): the constant at 7x7, a conv at 7x7 (the *coarse* styles 0-1), up to
    14x14 and a conv (*middle*, 2-3), up to 28x28 and a conv (*fine*, 4-5); a 1x1 convolution and
    tanh make the image. ``forward(z)``: ``(B, latent_dim) -> (B, 1, 28, 28)``; in training mode
    it applies *mixing regularization* (with probability ``mixing``, the layers from a random
    crossover on take the w of a second z) and tracks ``w_avg``, the moving average of w
    (decay 0.995). ``synthesize(ws, noise)`` runs the synthesis network alone on ``ws: (B, w_dim)`` or
    per-layer ``(B, n_styles, w_dim)``; :meth:`mix` and :meth:`truncated_w` build those.

    Example:
        >>> G = StyleGenerator(32)
        >>> model = GAN(G, DCGANDiscriminator(width=32), latent_dim=32)
        >>> w = G.truncated_w(torch.randn(8, 32), psi=0.7)            # w_bar + 0.7 (w - w_bar)
        >>> images = G.synthesize(w)

    References:
        Karras, Laine, Aila, A Style-Based Generator Architecture for Generative Adversarial
        Networks, CVPR 2019, Fig. 1, Sec. 3.1 (mixing), Appendix B (truncation in W).
    """

    def __init__(self, latent_dim: int, w_dim: int = 64, channels: Sequence[int] = (64, 32, 16), *,
                 mapping_depth: int = 4, mixing: float = 0.9, channels_out: int = 1):
        super().__init__()
        c = tuple(checks.positive_int(ch, "channels") for ch in channels)
        if len(c) != 3:
            raise ValueError(f"channels must give the widths at 7x7, 14x14 and 28x28, got {channels!r}")
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.mapping = MappingNetwork(latent_dim, w_dim, mapping_depth)
        self.w_dim = self.mapping.w_dim
        self.mixing = checks.number_in(mixing, "mixing", 0, 1)
        self.constant = nn.Parameter(torch.ones(1, c[0], 7, 7))
        self.layers = nn.ModuleList([
            StyleLayer(c[0], c[0], self.w_dim, conv=False), StyleLayer(c[0], c[0], self.w_dim),
            StyleLayer(c[0], c[1], self.w_dim, upsample=True), StyleLayer(c[1], c[1], self.w_dim),
            StyleLayer(c[1], c[2], self.w_dim, upsample=True), StyleLayer(c[2], c[2], self.w_dim),
        ])
        self.to_image = EqualizedConv2d(c[2], checks.positive_int(channels_out, "channels_out"), 1, gain=1.0)
        self.register_buffer("w_avg", torch.zeros(self.w_dim))

    @property
    def n_styles(self) -> int:
        return len(self.layers)

    def _per_layer(self, ws: torch.Tensor) -> torch.Tensor:
        ws = checks.floating_tensor(ws, "ws")
        if ws.ndim == 2 and ws.shape[1] == self.w_dim:
            return ws[:, None, :].expand(len(ws), self.n_styles, self.w_dim)
        if ws.ndim == 3 and ws.shape[1:] == (self.n_styles, self.w_dim):
            return ws
        raise ValueError(f"ws must have shape (B, {self.w_dim}) or (B, {self.n_styles}, {self.w_dim}), "
                         f"got {tuple(ws.shape)}")

    def synthesize(self, ws: torch.Tensor, noise: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """Images from styles ``ws`` (one w for all layers or one per layer); ``noise``: (B, 1, H, W) per layer."""
        ws = self._per_layer(ws)
        if noise is not None and len(noise) != self.n_styles:
            raise ValueError(f"noise must hold one tensor per layer ({self.n_styles}), got {len(noise)}")
        x = self.constant.expand(len(ws), *self.constant.shape[1:])
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], None if noise is None else noise[i])
        return torch.tanh(self.to_image(x))

    def mix(self, w_a: torch.Tensor, w_b: torch.Tensor, crossover) -> torch.Tensor:
        """Per-layer styles ``(B, n_styles, w_dim)``: layers below ``crossover`` take ``w_a``, the others ``w_b``.

        ``crossover``: an int in [0, n_styles] for the whole batch, or a ``(B,)`` tensor of them.
        """
        checks.same_shape(w_a=w_a, w_b=w_b)
        layer = torch.arange(self.n_styles, device=w_a.device)
        cross = torch.as_tensor(crossover, device=w_a.device)
        if bool(((cross < 0) | (cross > self.n_styles)).any()):
            raise ValueError(f"crossover must be between 0 and {self.n_styles}, got {crossover}")
        take_a = (layer[None, :] < cross.reshape(-1, 1))[:, :, None]        # (B or 1, n_styles, 1)
        return torch.where(take_a, w_a[:, None, :], w_b[:, None, :])

    def truncated_w(self, z: torch.Tensor, psi: float) -> torch.Tensor:
        """w' = w_bar + psi (M(z) - w_bar), the truncation trick in W (``psi = 1``: no truncation)."""
        return truncate(self.mapping(z), psi, center=self.w_avg)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        w = self.mapping(z)
        if not self.training:
            return self.synthesize(w)
        with torch.no_grad():
            self.w_avg.lerp_(w.detach().mean(0), 0.005)
        if self.mixing > 0:
            w_b = self.mapping(torch.randn_like(z))
            mixed = torch.rand(len(z), device=z.device) < self.mixing
            cross = torch.randint(1, self.n_styles, (len(z),), device=z.device)
            cross = torch.where(mixed, cross, torch.full_like(cross, self.n_styles))  # n_styles: w alone
            return self.synthesize(self.mix(w, w_b, cross))
        return self.synthesize(w)
