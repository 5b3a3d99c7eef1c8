"""Hidden checks of Lab 1 (a VAE on binarized MNIST), against :mod:`dgmlib.gaussian` and :mod:`dgmlib.vae`.

Questions and the names they grade: 1.2 ``sample_ancestral``, 1.4 ``log_px_monte_carlo``,
1.5 ``kl_gaussian``, 1.9 ``negative_elbo``, 1.10 ``reparameterize``, 1.11 ``VAE``.
"""

from __future__ import annotations

import functools
import math

import torch
from torch.nn import functional as F

from ...gaussian import kl_normal_std
from ...gaussian import reparameterize as _reference_reparameterize
from ...vae import log_bernoulli
from .base import CheckFailed, check, expect, expect_close, expect_shape

CHECKS: list = []


# ---------------------------------------------------------------------------------------------
# reference implementations: stand in for the other questions while one question is graded


def _kl_gaussian(mu, logvar):
    return kl_normal_std(mu, logvar)


def _reparameterize(mu, logvar):
    return _reference_reparameterize(mu, logvar)


def _negative_elbo(x, logits, mu, logvar):
    return (-log_bernoulli(x, logits) + kl_normal_std(mu, logvar)).mean()


def _sample_ancestral(decode, n, latent_dim):
    z = torch.randn(n, latent_dim)
    return torch.bernoulli(torch.sigmoid(decode(z)))


def _log_px_monte_carlo(x, decode, latent_dim, n_samples):
    z = torch.randn(n_samples, 1, latent_dim, device=x.device)
    log_w = log_bernoulli(x, decode(z).expand(n_samples, *x.shape))  # (K, B)
    return torch.logsumexp(log_w, 0) - math.log(n_samples)


REFERENCES = {
    "kl_gaussian": _kl_gaussian, "reparameterize": _reparameterize, "negative_elbo": _negative_elbo,
    "sample_ancestral": _sample_ancestral, "log_px_monte_carlo": _log_px_monte_carlo,
}


@functools.lru_cache(maxsize=2)
def _mnist(split: str) -> torch.Tensor:
    from ...data import load_mnist

    return load_mnist(split, binarize=True)[0].flatten(1)


def prepare():
    """Load the data the checks use, before the timed checks start."""
    _mnist("train"), _mnist("test")


# ---------------------------------------------------------------------------------------------
# 1.2 ancestral sampling


@check(CHECKS, "1.2", "returns (n, 784) samples of 0s and 1s", 1, "sample_ancestral")
def _(ns):
    x = ns["sample_ancestral"](lambda z: torch.zeros(*z.shape[:-1], 784), 50, 3)
    expect_shape(x, (50, 784), "sample_ancestral(decode, 50, 3)")
    expect(bool(((x == 0) | (x == 1)).all()), "the samples must be 0 or 1: draw x ~ Bernoulli(sigmoid(logits))")
    expect(0.4 < x.float().mean().item() < 0.6, "with logits 0 half the pixels should be 1: is x ~ Bernoulli(sigmoid(logits))?")


@check(CHECKS, "1.2", "draws z ~ N(0, I) of size latent_dim", 1, "sample_ancestral")
def _(ns):
    seen = []

    def decode(z):
        seen.append(z.detach())
        return torch.zeros(*z.shape[:-1], 784)

    ns["sample_ancestral"](decode, 2000, 5)
    expect(len(seen) > 0, "decode was never called: sample z, then decode it")
    z = torch.cat([s.reshape(-1, s.shape[-1]) for s in seen])
    expect(z.shape == (2000, 5), f"decode should get z of shape (n, latent_dim) = (2000, 5), got {tuple(seen[0].shape)}")
    expect(abs(z.mean().item()) < 0.1 and abs(z.std().item() - 1) < 0.1,
           f"z should be standard normal: got mean {z.mean().item():.3f}, std {z.std().item():.3f} (use torch.randn)")


@check(CHECKS, "1.2", "pixel m is 1 with probability sigmoid(logit_m)", 1, "sample_ancestral")
def _(ns):
    logits = torch.linspace(-3, 3, 784)
    x = ns["sample_ancestral"](lambda z: logits.expand(*z.shape[:-1], 784), 4000, 2)
    expect_shape(x, (4000, 784), "sample_ancestral(decode, 4000, 2)")
    freq = x.float().mean(0)
    err = (freq - torch.sigmoid(logits)).abs().max().item()
    expect(err < 0.05, f"pixel frequencies are off from sigmoid(logits) by up to {err:.2f}: decode returns logits, "
           "so sample x ~ Bernoulli(sigmoid(decode(z))), not a threshold")


# ---------------------------------------------------------------------------------------------
# 1.4 Monte-Carlo estimate of log p(x)


def _binary(b, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(b, 784, generator=g) < 0.3).float()


@check(CHECKS, "1.4", "exact when p(x|z) does not depend on z (computed with logsumexp)", 2, "log_px_monte_carlo")
def _(ns):
    x = _binary(4, 1)
    logits = torch.linspace(-3, 3, 784)
    got = ns["log_px_monte_carlo"](x, lambda z: logits.expand(*z.shape[:-1], 784), 3, 10)
    want = log_bernoulli(x, logits.expand(4, 784))
    expect_close(got, want, "log_px_monte_carlo with a decoder that ignores z", rtol=1e-4, atol=1e-2,
                 hint="log p(x) = log (1/K) sum_k p(x|z_k) = logsumexp_k log p(x|z_k) - log K; "
                      "p(x|z) itself underflows to 0, so stay in log space")


@check(CHECKS, "1.4", "agrees with numerical integration for a 1-D latent", 2, "log_px_monte_carlo")
def _(ns):
    x = _binary(3, 2)
    g = torch.Generator().manual_seed(3)
    w, b = 0.02 * torch.randn(784, generator=g), 0.5 * torch.randn(784, generator=g)

    def decode(z):
        return z * w + b  # z: (..., 1) -> (..., 784)

    got = ns["log_px_monte_carlo"](x, decode, 1, 5000)
    grid = torch.linspace(-10, 10, 4001, dtype=torch.float64)[:, None]
    logits = decode(grid[:, None, :]).double().expand(len(grid), *x.shape)  # (grid, B, 784)
    log_joint = log_bernoulli(x.double(), logits) - 0.5 * (math.log(2 * math.pi) + grid**2)
    want = torch.logsumexp(log_joint, 0) + math.log(grid[1, 0] - grid[0, 0])
    expect_close(got, want, "log_px_monte_carlo(x, decode, 1, 5000)", rtol=0, atol=0.05,
                 hint="average p(x|z_k) over z_k ~ N(0, I) (the prior), in log space")


# ---------------------------------------------------------------------------------------------
# 1.5 closed-form KL


KL_HINT = "KL = 1/2 sum_j (exp(logvar_j) + mu_j^2 - 1 - logvar_j), summed over the last dimension"


@check(CHECKS, "1.5", "matches the closed form on random inputs", 2, "kl_gaussian")
def _(ns):
    mu, logvar = torch.randn(16, 7), torch.randn(16, 7)
    expect_close(ns["kl_gaussian"](mu, logvar), kl_normal_std(mu, logvar), "kl_gaussian(mu, logvar)", hint=KL_HINT)


@check(CHECKS, "1.5", "is 0 for q = N(0, I), one value per row", 1, "kl_gaussian")
def _(ns):
    expect_close(ns["kl_gaussian"](torch.zeros(3, 5), torch.zeros(3, 5)), torch.zeros(3),
                 "kl_gaussian(zeros(3, 5), zeros(3, 5))", hint=KL_HINT)


@check(CHECKS, "1.5", "has the right gradients in mu and logvar", 1, "kl_gaussian")
def _(ns):
    mu = torch.randn(4, 3, requires_grad=True)
    logvar = torch.randn(4, 3, requires_grad=True)
    kl = ns["kl_gaussian"](mu, logvar)
    expect(torch.is_tensor(kl) and kl.requires_grad, "kl_gaussian must stay differentiable (no .detach(), .item() or numpy)")
    kl.sum().backward()
    expect(mu.grad is not None and logvar.grad is not None, "no gradient reached mu or logvar")
    expect_close(mu.grad, mu.detach(), "d KL / d mu", hint="d/dmu 1/2 mu^2 = mu")
    expect_close(logvar.grad, 0.5 * torch.expm1(logvar.detach()), "d KL / d logvar",
                 hint="d/dl 1/2 (e^l - 1 - l) = (e^l - 1) / 2")


# ---------------------------------------------------------------------------------------------
# 1.9 the loss


@check(CHECKS, "1.9", "equals the batch mean of BCE (summed over pixels) + KL", 3, "negative_elbo")
def _(ns):
    x, logits = _binary(8, 4), 2 * torch.randn(8, 784)
    mu, logvar = torch.randn(8, 5), torch.randn(8, 5)
    got = ns["negative_elbo"](x, logits, mu, logvar)
    want = _negative_elbo(x, logits, mu, logvar)
    got = torch.as_tensor(got)
    expect(got.numel() == 1, f"negative_elbo must return a scalar (the batch mean), got shape {tuple(got.shape)}")
    got = got.reshape(())
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 8
    hints = {
        "the sum over the batch instead of the mean": want * 8,
        "missing the KL term": recon,
        "the mean over pixels instead of the sum":
            F.binary_cross_entropy_with_logits(logits, x) + kl_normal_std(mu, logvar).mean(),
        "the ELBO itself (the sign is flipped)": -want,
    }
    for what, value in hints.items():
        if abs(got.item() - value.item()) < 1e-3 * abs(value.item()) + 1e-4:
            raise CheckFailed(f"negative_elbo looks like {what}: it should be mean_n [ sum_m BCE(logits, x) + KL ]")
    expect_close(got, want, "negative_elbo(x, logits, mu, logvar)", rtol=1e-4, atol=1e-3,
                 hint="mean over the batch of [sum over pixels of BCE-with-logits + kl_gaussian(mu, logvar)]")


@check(CHECKS, "1.9", "is a scalar that back-propagates to logits, mu and logvar", 1, "negative_elbo")
def _(ns):
    x = _binary(4, 5)
    logits = torch.randn(4, 784, requires_grad=True)
    mu = torch.randn(4, 3, requires_grad=True)
    logvar = torch.randn(4, 3, requires_grad=True)
    loss = ns["negative_elbo"](x, logits, mu, logvar)
    expect(torch.is_tensor(loss) and loss.dim() == 0, "negative_elbo must return a 0-dim tensor (use .mean())")
    loss.backward()
    for name, t in (("logits", logits), ("mu", mu), ("logvar", logvar)):
        expect(t.grad is not None and bool(torch.isfinite(t.grad).all()) and t.grad.abs().sum() > 0,
               f"no gradient reached {name}")


# ---------------------------------------------------------------------------------------------
# 1.10 reparameterization


@check(CHECKS, "1.10", "z ~ N(mu, exp(logvar)), same shape as mu", 2, "reparameterize")
def _(ns):
    mu = torch.full((20000, 2), 2.0)
    logvar = torch.full((20000, 2), math.log(0.25))
    z = expect_shape(ns["reparameterize"](mu, logvar), (20000, 2), "reparameterize(mu, logvar)")
    mean, std = z.mean().item(), z.std().item()
    expect(abs(mean - 2) < 0.03, f"z should have mean mu = 2, got {mean:.3f}")
    expect(abs(std - 0.5) < 0.03, f"z should have std exp(logvar / 2) = 0.5, got {std:.3f} "
           "(sigma = exp(logvar / 2), not exp(logvar))")


@check(CHECKS, "1.10", "gradients flow: dz/dmu = 1, dz/dlogvar = (z - mu) / 2", 2, "reparameterize")
def _(ns):
    mu = torch.randn(64, 3, requires_grad=True)
    logvar = torch.randn(64, 3, requires_grad=True)
    z = ns["reparameterize"](mu, logvar)
    expect(torch.is_tensor(z) and z.requires_grad,
           "z must be differentiable in mu and logvar: eps ~ N(0, I), z = mu + sigma * eps")
    z.sum().backward()
    expect(mu.grad is not None and logvar.grad is not None, "no gradient reached mu or logvar")
    expect_close(mu.grad, torch.ones(64, 3), "dz/dmu")
    expect_close(logvar.grad, 0.5 * (z - mu).detach(), "dz/dlogvar", hint="z = mu + exp(logvar / 2) * eps")
    z2 = ns["reparameterize"](mu, logvar)
    expect(not torch.equal(z.detach(), z2.detach()), "two calls gave the same z: draw fresh eps every call")


# ---------------------------------------------------------------------------------------------
# 1.11 the VAE


def _forward_shapes(model, x, latent_dim, what):
    mu, logvar = model.encode(x)
    expect_shape(mu, (x.shape[0], latent_dim), f"{what}.encode(x)[0] (mu)")
    expect_shape(logvar, (x.shape[0], latent_dim), f"{what}.encode(x)[1] (logvar)")
    expect_shape(model.decode(mu), (x.shape[0], 784), f"{what}.decode(z)")
    out = model(x)
    expect(isinstance(out, (tuple, list)) and len(out) == 3, "forward(x) must return (logits, mu, logvar)")
    expect_shape(out[0], (x.shape[0], 784), f"{what}(x)[0] (logits)")
    expect_shape(out[1], (x.shape[0], latent_dim), f"{what}(x)[1] (mu)")


@check(CHECKS, "1.11", "VAE(latent_dim=20, hidden=512): encode, decode and forward shapes", 1, "VAE")
def _(ns):
    _forward_shapes(ns["VAE"](latent_dim=20, hidden=512), _binary(8, 6), 20, "VAE(latent_dim=20, hidden=512)")


@check(CHECKS, "1.11", "VAE(latent_dim=2, hidden=64) works too", 1, "VAE")
def _(ns):
    _forward_shapes(ns["VAE"](latent_dim=2, hidden=64), _binary(5, 7), 2, "VAE(latent_dim=2, hidden=64)")


def _loss(model, x):
    mu, logvar = model.encode(x)
    return _negative_elbo(x, model.decode(_reparameterize(mu, logvar)), mu, logvar)


@check(CHECKS, "1.11", "every parameter gets a gradient from the ELBO", 1, "VAE")
def _(ns):
    model = ns["VAE"](latent_dim=4, hidden=64)
    params = [p for p in model.parameters() if p.requires_grad]
    expect(len(params) > 0, "the VAE has no trainable parameters (use nn.Linear layers as attributes)")
    _loss(model, _binary(8, 8)).backward()
    dead = [name for name, p in model.named_parameters()
            if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())]
    expect(not dead, f"no (finite) gradient for {', '.join(dead[:3])}: is every layer used in encode/decode?")


@check(CHECKS, "1.11", "a short training run (200 steps) reaches a test -ELBO below 200 nats", 3, "VAE", timeout=90)
def _(ns):
    x_train, x_test = _mnist("train"), _mnist("test")
    model = ns["VAE"](latent_dim=20, hidden=256)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        batch = x_train[torch.randint(len(x_train), (128,), generator=g)]
        loss = _loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        test = _loss(model, x_test).item()
    expect(math.isfinite(test) and test < 200, f"after 200 Adam steps (lr 1e-3, batch 128) the test -ELBO is {test:.1f} "
           "nats, above 200 (a working VAE gets ~160-180): check the encoder outputs (mu, logvar) with no activation "
           "on them, and that decode returns logits (no sigmoid)")



# ---------------------------------------------------------------------------------------------
# 1.12 the training objective for fit


class _FixedVAE(torch.nn.Module):
    """A small stand-in with the lab's interface (forward -> (logits, mu, logvar)), so that 1.12 is judged
    on vae_loss alone, whatever the student's VAE does."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(12)
        self.enc = torch.nn.Linear(784, 8)
        self.dec = torch.nn.Linear(4, 784)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(0.05 * torch.randn(p.shape, generator=g))

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return self.dec(_reparameterize(mu, logvar)), mu, logvar


def _vae_loss_terms(ns, x, seed):
    torch.manual_seed(seed)
    out = ns["vae_loss"](_FixedVAE(), x)
    expect(isinstance(out, dict), f"vae_loss must return a dict, got {type(out).__name__}")
    expect(list(out)[:1] == ["loss"] and {"recon", "kl"} <= set(out),
           f"vae_loss must return {{'loss', 'recon', 'kl'}} with 'loss' first (fit minimizes the first key), "
           f"got {list(out)}")
    return out


@check(CHECKS, "1.12", "returns {'loss', 'recon', 'kl'}, 'loss' first, each a scalar", 1, "vae_loss")
def _(ns):
    out = _vae_loss_terms(ns, _binary(6, 12), 0)
    for key in ("loss", "recon", "kl"):
        expect(torch.is_tensor(out[key]) and out[key].numel() == 1, f"vae_loss(...)['{key}'] must be a scalar tensor")


@check(CHECKS, "1.12", "loss = -ELBO = recon + kl, batch means, from one forward pass", 2, "vae_loss")
def _(ns):
    x = _binary(6, 13)
    out = _vae_loss_terms(ns, x, 1)
    torch.manual_seed(1)  # the same draw of z as the student's one forward pass
    logits, mu, logvar = _FixedVAE()(x)
    recon = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1).mean()
    kl = _kl_gaussian(mu, logvar).mean()
    expect_close(out["recon"].detach(), recon.detach(),
                 "vae_loss(...)['recon'] (mean over the batch of the summed BCE)")
    expect_close(out["kl"].detach(), kl.detach(), "vae_loss(...)['kl'] (mean over the batch of KL(q(z|x) || N(0, I)))")
    expect_close(out["loss"].detach(), (recon + kl).detach(), "vae_loss(...)['loss']",
                 hint="the loss is the negative ELBO, recon + kl, from one forward pass (one draw of z)")


@check(CHECKS, "1.12", "the loss back-propagates to the encoder and the decoder", 1, "vae_loss")
def _(ns):
    torch.manual_seed(2)
    model = _FixedVAE()
    out = ns["vae_loss"](model, _binary(6, 14))
    expect(isinstance(out, dict) and torch.is_tensor(out.get("loss")) and out["loss"].requires_grad,
           "vae_loss(...)['loss'] must carry a gradient (do not detach it or call .item())")
    out["loss"].backward()
    expect(all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters()),
           "the loss does not reach every weight: compute it from model(x)'s logits, mu and logvar")
