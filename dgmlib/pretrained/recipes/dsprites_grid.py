"""The dSprites grid of lecture 08: convolutional beta-VAEs (5 betas x 2 seeds) and beta-TCVAEs (2 seeds).

One ``nn.ModuleDict`` holds every member, keyed ``"beta-VAE 4 s0"`` (see
:mod:`dgmlib.disentanglement.grid`); each trains for about 2,500 Adam steps of 64 images on 20,000
procedural 32x32 sprites. The figures are MIG and DCI disentanglement of every member's mean code
on 3,000 fresh images (factors drawn from seed 1), and the best of each over the grid.
"""

from __future__ import annotations

import torch
from torch import nn

from ..recipe import Recipe

__all__ = ["RECIPE", "SIZE", "N_IMAGES", "STEPS", "N_POINTS", "EVAL_SEED"]

SIZE, N_IMAGES, STEPS = 32, 20_000, 2_500
N_POINTS, EVAL_SEED = 3_000, 1
BETAS, SEEDS, TC_BETAS = (1, 2, 4, 8, 16), (0, 1), (6,)


def _members():
    from ...disentanglement.grid import grid_members

    return grid_members(BETAS, SEEDS, TC_BETAS)


def _build() -> nn.Module:
    from ...disentanglement.grid import build_grid

    return build_grid(_members(), latent_dim=10, size=SIZE)


def _train(grid: nn.Module, fast: bool) -> None:
    from ...data import dsprites
    from ...disentanglement.grid import train_grid

    sprites = dsprites(256 if fast else N_IMAGES, size=SIZE, seed=0)
    train_grid(grid, sprites.images, steps=4 if fast else STEPS, warmup=2 if fast else 800)


@torch.no_grad()
def _measure(grid: nn.Module) -> dict:
    from ...data import DSprites
    from ...disentanglement.grid import score_grid

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same codes, bit for bit, whatever the caller's setting
    try:
        scores = score_grid(grid, DSprites(SIZE), n_points=N_POINTS, seed=EVAL_SEED)
    finally:
        torch.set_num_threads(threads)
    figures = {f"{metric} {name}": s[metric] for name, s in scores.items() for metric in ("MIG", "DCI")}
    for metric in ("MIG", "DCI"):
        figures[f"best {metric}"] = max(s[metric] for s in scores.values())
    return figures


# float32 (4.7 MB): half precision moves the near-zero scores of collapsed members (MIG ~ 0.005) by
# more than 0.5%; 1% tolerance for BLAS round-off on other CPUs, which can move a code across a bin edge
RECIPE = Recipe(_build, _train, _measure, tolerance=0.01,
                data=f"procedural dSprites (dgmlib.data.dsprites, seed 0): {N_IMAGES:,} images of {SIZE}x{SIZE} "
                     f"(scored on {N_POINTS:,} fresh images, factors from seed {EVAL_SEED})")
