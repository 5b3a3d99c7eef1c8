"""Progressive growing (ProGAN): train at 7x7, then fade in 14x14 and 28x28 layers in both players.

Stage s works at resolution 7 * 2^s. When stage s starts, its new layers are blended in with the
fade-in weight alpha, which rises linearly from 0 to 1:

    G:  x = (1 - alpha) up(to_image_{s-1}(h_{s-1})) + alpha to_image_s(block_s(h_{s-1})),
    D:  h = (1 - alpha) from_image_{s-1}(down(x)) + alpha block_s(from_image_s(x)),

and the real images shown to D are blended the same way, (1 - alpha) up(down(x)) + alpha x. At
alpha = 0 both players are exactly the networks of stage s - 1 (the generator's output upsampled),
at alpha = 1 exactly the grown ones, so growing never jolts the game. The coarse structure is
learned first, on cheap small images, and each later stage only has to add detail.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .. import checks
from .equalized import EqualizedConv2d, EqualizedLinear
from .losses import discriminator_loss, generator_loss
from .minibatch_stddev import MinibatchStdDev
from .model import GAN
from .pixel_norm import PixelNorm

__all__ = ["ProgressiveGenerator", "ProgressiveDiscriminator", "ProgressiveGAN", "resize_to_stage"]

BASE = 7  # the first stage's resolution


def _stage_alpha(stage, alpha, n_stages: int) -> tuple[int, float]:
    stage = n_stages - 1 if stage is None else checks.integer(stage, "stage")
    if not 0 <= stage < n_stages:
        raise ValueError(f"stage must be between 0 and {n_stages - 1}, got {stage}")
    alpha = 1.0 if alpha is None else checks.number_in(alpha, "alpha", 0, 1)
    return stage, alpha


def _act(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class ProgressiveGenerator(nn.Module):
    """z -> image at stage ``s`` (resolution 7 * 2^s), with the fade-in ``alpha`` of the newest block.

    ``channels[s]``: the width of stage s (default 64, 32, 16 for 7, 14, 28 pixels). Stage 0:
    PixelNorm(z), an equalized linear layer to ``(channels[0], 7, 7)``, a 3x3 convolution; stage s:
    nearest-neighbour upsampling and two 3x3 convolutions; after every convolution LeakyReLU(0.2)
    and :class:`PixelNorm`; each stage has its own ``to_image`` (1x1 convolution, tanh).
    ``forward(z, stage=None, alpha=None)``: ``(B, latent_dim) -> (B, channels_out, 7 * 2^s, 7 * 2^s)``;
    defaults: the last stage, alpha = 1 (the full network).

    References:
        Karras, Aila, Laine, Lehtinen, Progressive Growing of GANs for Improved Quality, Stability,
        and Variation, ICLR 2018, Sec. 2 and Table 2.
    """

    def __init__(self, latent_dim: int, channels: Sequence[int] = (64, 32, 16), channels_out: int = 1):
        super().__init__()
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.channels = tuple(checks.positive_int(c, "channels") for c in channels)
        if not self.channels:
            raise ValueError("channels must list at least one stage's width")
        c0 = self.channels[0]
        self.project = EqualizedLinear(self.latent_dim, c0 * BASE * BASE, gain=2 ** 0.5 / 4)
        self.base_conv = EqualizedConv2d(c0, c0)
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqualizedConv2d(c_in, c_out), EqualizedConv2d(c_out, c_out)])
            for c_in, c_out in zip(self.channels[:-1], self.channels[1:]))
        self.to_image = nn.ModuleList(EqualizedConv2d(c, checks.positive_int(channels_out, "channels_out"), 1, gain=1.0)
                                      for c in self.channels)
        self.norm = PixelNorm()

    @property
    def n_stages(self) -> int:
        return len(self.channels)

    def _base(self, z: torch.Tensor) -> torch.Tensor:
        h = _act(self.project(self.norm(z))).reshape(len(z), self.channels[0], BASE, BASE)
        return self.norm(_act(self.base_conv(self.norm(h))))         # (B, c0, 7, 7)

    def _block(self, s: int, h: torch.Tensor) -> torch.Tensor:
        conv_a, conv_b = self.blocks[s - 1]
        h = F.interpolate(h, scale_factor=2, mode="nearest")        # (B, c_{s-1}, 2H, 2W)
        return self.norm(_act(conv_b(self.norm(_act(conv_a(h))))))

    def forward(self, z: torch.Tensor, stage: int | None = None, alpha: float | None = None) -> torch.Tensor:
        stage, alpha = _stage_alpha(stage, alpha, self.n_stages)
        z = checks.floating_tensor(z, "z")
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        h = self._base(z)
        for s in range(1, stage):
            h = self._block(s, h)
        if stage == 0:
            return torch.tanh(self.to_image[0](h))
        new = torch.tanh(self.to_image[stage](self._block(stage, h)))
        if alpha == 1.0:
            return new
        old = F.interpolate(torch.tanh(self.to_image[stage - 1](h)), scale_factor=2, mode="nearest")
        return (1 - alpha) * old + alpha * new


class ProgressiveDiscriminator(nn.Module):
    """image at stage ``s`` -> logit, the mirror of :class:`ProgressiveGenerator`.

    Stage s: ``from_image`` (1x1 convolution), two 3x3 convolutions and 2x2 average pooling
    (LeakyReLU(0.2), no normalization); the head: :class:`MinibatchStdDev`, a 3x3 convolution
    and two equalized linear layers. ``forward(x, stage=None, alpha=None)``: ``(B, C, 7 * 2^s, 7 * 2^s) -> (B,)``.

    References:
        Karras et al., Progressive Growing of GANs, ICLR 2018, Sec. 2-3 and Table 2.
    """

    def __init__(self, channels: Sequence[int] = (64, 32, 16), channels_in: int = 1, group_size: int = 4):
        super().__init__()
        self.channels = tuple(checks.positive_int(c, "channels") for c in channels)
        if not self.channels:
            raise ValueError("channels must list at least one stage's width")
        channels_in = checks.positive_int(channels_in, "channels_in")
        self.from_image = nn.ModuleList(EqualizedConv2d(channels_in, c, 1) for c in self.channels)
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqualizedConv2d(c_big, c_big), EqualizedConv2d(c_big, c_small)])
            for c_small, c_big in zip(self.channels[:-1], self.channels[1:]))
        c0 = self.channels[0]
        self.stddev = MinibatchStdDev(group_size)
        self.head_conv = EqualizedConv2d(c0 + 1, c0)
        self.head = nn.Sequential(nn.Flatten(), EqualizedLinear(c0 * BASE * BASE, c0), nn.LeakyReLU(0.2),
                                  EqualizedLinear(c0, 1, gain=1.0))

    @property
    def n_stages(self) -> int:
        return len(self.channels)

    def _block(self, s: int, h: torch.Tensor) -> torch.Tensor:
        conv_a, conv_b = self.blocks[s - 1]
        return F.avg_pool2d(_act(conv_b(_act(conv_a(h)))), 2)       # (B, c_{s-1}, H/2, W/2)

    def forward(self, x: torch.Tensor, stage: int | None = None, alpha: float | None = None) -> torch.Tensor:
        stage, alpha = _stage_alpha(stage, alpha, self.n_stages)
        x = checks.floating_tensor(x, "x")
        size = BASE * 2 ** stage
        if x.ndim != 4 or x.shape[-2:] != (size, size):
            raise ValueError(f"x must be images (B, C, {size}, {size}) at stage {stage}, got {tuple(x.shape)}")
        h = _act(self.from_image[stage](x))
        if stage > 0:
            h = self._block(stage, h)
            if alpha < 1.0:
                h = (1 - alpha) * _act(self.from_image[stage - 1](F.avg_pool2d(x, 2))) + alpha * h
        for s in range(stage - 1, 0, -1):
            h = self._block(s, h)
        h = _act(self.head_conv(self.stddev(h)))
        return self.head(h).squeeze(1)


def resize_to_stage(x: torch.Tensor, stage: int, alpha: float, n_stages: int) -> torch.Tensor:
    """Real images ``(B, C, H, W)`` at full resolution -> stage ``s``, faded: (1 - alpha) up(down(x_s)) + alpha x_s.

    x_s is x average-pooled by 2^(n_stages - 1 - s); down/up are 2x2 average pooling and
    nearest-neighbour upsampling, the operations the players blend with.
    """
    stage, alpha = _stage_alpha(stage, alpha, n_stages)
    factor = 2 ** (n_stages - 1 - stage)
    x_s = F.avg_pool2d(x, factor) if factor > 1 else x
    if stage == 0 or alpha == 1.0:
        return x_s
    coarse = F.interpolate(F.avg_pool2d(x_s, 2), scale_factor=2, mode="nearest")
    return (1 - alpha) * coarse + alpha * x_s


class ProgressiveGAN(GAN):
    """A :class:`GAN` of a :class:`ProgressiveGenerator` and :class:`ProgressiveDiscriminator` grown stage by stage.

    ``stage`` and ``alpha`` (buffers: they travel with the checkpoint) say where the growth is;
    :meth:`grow` starts the next stage at alpha = 0 and sets how many generator steps the fade-in
    lasts (``fade_steps``); ``after_g_step`` raises alpha by 1 / fade_steps up to 1. ``d_loss(x)``
    takes full-resolution data and shows the discriminator :func:`resize_to_stage` of it;
    ``sample(n)`` returns images upsampled (nearest) to full resolution. ``start_stage`` = the last
    stage gives the same networks trained at full resolution from the start (the baseline).
    Non-saturating loss; other options as in :class:`GAN` (e.g. ``ema_decay``).

    Example:
        >>> model = ProgressiveGAN(ProgressiveGenerator(64), ProgressiveDiscriminator(), latent_dim=64)
        >>> train_gan(model, x, epochs=10)              # 7x7
        >>> model.grow(fade_steps=300); train_gan(model, x, epochs=10)   # fade in 14x14, then train it

    References:
        Karras et al., Progressive Growing of GANs, ICLR 2018, Sec. 2 and Fig. 2.
    """

    def __init__(self, generator: ProgressiveGenerator, discriminator: ProgressiveDiscriminator, latent_dim: int,
                 *, start_stage: int = 0, **options):
        if not isinstance(generator, ProgressiveGenerator) or not isinstance(discriminator, ProgressiveDiscriminator):
            raise TypeError("ProgressiveGAN needs a ProgressiveGenerator and a ProgressiveDiscriminator")
        if generator.n_stages != discriminator.n_stages:
            raise ValueError(f"generator and discriminator must have the same number of stages, got "
                             f"{generator.n_stages} and {discriminator.n_stages}")
        super().__init__(generator, discriminator, latent_dim, "non_saturating", **options)
        stage, _ = _stage_alpha(start_stage, 1.0, generator.n_stages)
        self.register_buffer("stage", torch.tensor(stage))
        self.register_buffer("alpha", torch.tensor(1.0))
        self.fade_steps = 1

    @property
    def n_stages(self) -> int:
        return self.generator.n_stages

    def grow(self, fade_steps: int) -> None:
        """Start the next stage with alpha = 0; alpha reaches 1 after ``fade_steps`` generator steps."""
        if int(self.stage) + 1 >= self.n_stages:
            raise ValueError(f"the model is already at its last stage ({int(self.stage)})")
        self.fade_steps = checks.positive_int(fade_steps, "fade_steps")
        self.stage.add_(1)
        self.alpha.fill_(0.0)

    def _now(self) -> tuple[int, float]:
        return int(self.stage), float(self.alpha)

    def d_loss(self, x: torch.Tensor) -> dict:
        """``{"loss", "real", "fake"}``: the cross-entropy of D at the current stage on resized data and G(z)."""
        if not torch.is_tensor(x):
            raise TypeError(f"ProgressiveGAN.d_loss takes a tensor x of images, got {type(x).__name__}")
        stage, alpha = self._now()
        with torch.no_grad():
            fake = self.generator(self.prior(len(x)), stage, alpha)
        d_real = self.discriminator(resize_to_stage(x, stage, alpha, self.n_stages), stage, alpha)
        d_fake = self.discriminator(fake, stage, alpha)
        return {"loss": discriminator_loss(d_real, d_fake), "real": d_real.detach().mean(),
                "fake": d_fake.detach().mean()}

    def g_loss(self, x) -> dict:
        """``{"loss"}``: -E log D(G(z)) at the current stage, on ``len(x)`` (or ``x``) fresh samples."""
        n = len(x) if torch.is_tensor(x) else checks.positive_int(x, "x (a batch or a number of samples)")
        stage, alpha = self._now()
        return {"loss": generator_loss(self.discriminator(self.generator(self.prior(n), stage, alpha), stage, alpha))}

    def after_g_step(self) -> None:
        """alpha <- min(1, alpha + 1 / fade_steps), then the generator's moving average (``ema_decay``)."""
        self.alpha.fill_(min(1.0, float(self.alpha) + 1.0 / self.fade_steps))
        super().after_g_step()

    @torch.no_grad()
    def sample(self, n: int, z: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images at the current stage, upsampled (nearest) to the full resolution 7 * 2^(n_stages - 1)."""
        z = self.prior(n, generator) if z is None else z.to(self.device)
        net = self.generator if self.generator_ema is None else self.generator_ema
        stage, alpha = self._now()
        images = net(z, stage, alpha)
        factor = 2 ** (self.n_stages - 1 - stage)
        return F.interpolate(images, scale_factor=factor, mode="nearest") if factor > 1 else images
