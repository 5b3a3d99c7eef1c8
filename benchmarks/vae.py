"""Section 3: the course's training loop ``dgmlib.training.fit`` against a plain PyTorch loop.

The same VAE (MLP encoder and decoder, 256 hidden units, 16 latent dimensions, Bernoulli pixels)
from the same seed, on the same MNIST images, with the same optimizer settings (Adam, lr 1e-3),
batch size and shuffling (the global RNG). The two runs alternate epoch by epoch (fit, plain,
plain, fit, ...) so background load affects both alike; the time per epoch is the median over
epochs after the first. The plain loop does what a student would write: shuffle, slice, loss,
zero_grad, backward, step, and ``loss.item()`` for a running mean.
"""

from __future__ import annotations

import statistics
import time

import torch

from .common import sync


def _model(seed, device):
    from dgmlib.vae import make_vae

    torch.manual_seed(seed)
    return make_vae(16, hidden=(256,)).to(device)  # MLPEncoder(784, 16, (256,)), MLPDecoder(16, (1, 28, 28), (256,))


def _plain_epoch(model, opt, x, batch_size):
    model.train()
    order = torch.randperm(len(x))
    total = 0.0
    for start in range(0, len(x), batch_size):
        xb = x[order[start:start + batch_size]].to(next(model.parameters()).device)
        loss = model.loss(xb)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.item()
    return total


def run(sizes: dict, device: torch.device, log=print) -> list[dict]:
    from dgmlib.data import load_mnist
    from dgmlib.training import History, fit

    train, _ = load_mnist("train")
    test, _ = load_mnist("test")
    train, test = train[: sizes["vae_train"]], test.to(device)
    batch, epochs = sizes["vae_batch"], sizes["vae_epochs"]
    models = {"fit": _model(0, device), "plain": _model(0, device)}
    opts = {k: torch.optim.Adam(m.parameters(), lr=1e-3) for k, m in models.items()}
    history = History()
    times = {"fit": [], "plain": []}
    torch.manual_seed(1)
    for epoch in range(epochs):
        order = ("fit", "plain") if epoch % 2 == 0 else ("plain", "fit")
        for name in order:
            sync(device)
            t0 = time.perf_counter()
            if name == "fit":
                fit(models["fit"], train, epochs=len(history) + 1, optimizer=opts["fit"], batch_size=batch,
                    progress=False, history=history)
            else:
                _plain_epoch(models["plain"], opts["plain"], train, batch)
            sync(device)
            if epoch > 0 or epochs == 1:
                times[name].append(time.perf_counter() - t0)
    elbo = {}
    for name, m in models.items():
        m.eval()
        torch.manual_seed(2)
        with torch.inference_mode():
            elbo[name] = float(m.loss(test)["elbo"])
    t_fit, t_plain = statistics.median(times["fit"]), statistics.median(times["plain"])
    row = {
        "section": "vae", "n_train": len(train), "batch": batch, "epochs": epochs,
        "fit_s_per_epoch": t_fit, "plain_s_per_epoch": t_plain,
        "overhead_pct": 100 * (t_fit - t_plain) / t_plain,
        "fit_test_elbo": elbo["fit"], "plain_test_elbo": elbo["plain"],
    }
    log(f"  vae  fit {t_fit:.3f} s/epoch  plain {t_plain:.3f} s/epoch  overhead {row['overhead_pct']:+.1f}%  "
        f"test ELBO fit {elbo['fit']:.2f} plain {elbo['plain']:.2f}")
    return [row]
