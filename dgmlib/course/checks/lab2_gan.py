"""Hidden checks of Lab 2 (a GAN on MNIST scaled to [-1, 1]), against :mod:`dgmlib.gan`.

Questions and the names they grade: 2.4 ``discriminator_loss``, ``generator_loss``;
2.5 ``Generator``, ``Discriminator``; 2.6 ``sample``; 2.7 ``interpolate``.
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.nn import functional as F

from ...gan import discriminator_loss as _reference_d_loss
from ...gan import generator_loss as _reference_g_loss
from .base import CheckFailed, check, expect, expect_close, expect_shape

CHECKS: list = []


def _discriminator_loss(d_real, d_fake):
    return _reference_d_loss(d_real, d_fake)


def _generator_loss(d_fake):
    return _reference_g_loss(d_fake)


def _sample(generator, n):
    with torch.no_grad():
        return generator(torch.randn(n, generator.latent_dim))


def _interpolate(z0, z1, steps):
    t = torch.linspace(0, 1, steps, dtype=z0.dtype, device=z0.device)[:, None]
    return z0 + t * (z1 - z0)


REFERENCES = {
    "discriminator_loss": _discriminator_loss, "generator_loss": _generator_loss,
    "sample": _sample, "interpolate": _interpolate,
}


@functools.lru_cache(maxsize=1)
def _mnist() -> torch.Tensor:
    from ...data import load_mnist

    return load_mnist("train")[0][:1024] * 2 - 1


def _scalar(value, what):
    expect(torch.is_tensor(value) and value.numel() == 1, f"{what} must return a scalar tensor (use .mean())")
    return value.reshape(())


def prepare():
    """Load the data the checks use, before the timed checks start."""
    _mnist()


# ---------------------------------------------------------------------------------------------
# 2.4 the losses


@check(CHECKS, "2.4", "discriminator_loss is -mean log D(x) - mean log(1 - D(G(z)))", 2, "discriminator_loss")
def _(ns):
    d_real, d_fake = 3 * torch.randn(32), 3 * torch.randn(32)
    got = _scalar(ns["discriminator_loss"](d_real, d_fake), "discriminator_loss")
    if abs(got.item() - (F.softplus(d_real).mean() + F.softplus(-d_fake).mean()).item()) < 1e-4:
        raise CheckFailed("discriminator_loss has the real and fake terms swapped: D should say 1 on data, 0 on fakes")
    expect_close(got, _reference_d_loss(d_real, d_fake), "discriminator_loss(d_real, d_fake)",
                 hint="the inputs are logits: log D = -softplus(-d), log(1 - D) = -softplus(d)")


@check(CHECKS, "2.4", "discriminator_loss is finite for confident logits (+-100)", 1, "discriminator_loss")
def _(ns):
    d_real, d_fake = torch.tensor([100.0, -100.0, 30.0]), torch.tensor([-100.0, 100.0, -30.0])
    expect_close(_scalar(ns["discriminator_loss"](d_real, d_fake), "discriminator_loss"),
                 _reference_d_loss(d_real, d_fake), "discriminator_loss at logits +-100",
                 hint="log(sigmoid(d)) overflows: use F.softplus or F.binary_cross_entropy_with_logits")


@check(CHECKS, "2.4", "generator_loss is the non-saturating -mean log D(G(z))", 2, "generator_loss")
def _(ns):
    d_fake = 3 * torch.randn(32)
    got = _scalar(ns["generator_loss"](d_fake), "generator_loss")
    saturating = _reference_g_loss(d_fake, kind="minimax")
    if abs(got.item() - saturating.item()) < 1e-4:
        raise CheckFailed("generator_loss is the saturating mean log(1 - D(G(z))): its gradient vanishes when D "
                          "rejects the fakes; minimize -mean log D(G(z)) instead")
    expect_close(got, _reference_g_loss(d_fake), "generator_loss(d_fake)", hint="-mean log sigmoid(d_fake)")


@check(CHECKS, "2.4", "generator_loss still has a gradient when D rejects the fakes", 1, "generator_loss")
def _(ns):
    d_fake = torch.full((4,), -10.0, requires_grad=True)
    loss = _scalar(ns["generator_loss"](d_fake), "generator_loss")
    loss.backward()
    expect(d_fake.grad is not None, "no gradient reached d_fake")
    slope = d_fake.grad.sum().item()
    expect(slope < -0.9, f"d loss / d logit is {slope:.2g} at logit -10 (D(G(z)) ~ 0): the generator would not "
           "learn; the non-saturating loss has slope ~ -1 there")


# ---------------------------------------------------------------------------------------------
# 2.5 the networks


@check(CHECKS, "2.5", "Generator(latent_dim=64): z (B, 64) -> images (B, 1, 28, 28) in [-1, 1]", 1, "Generator")
def _(ns):
    for latent_dim in (64, 16):
        g = ns["Generator"](latent_dim=latent_dim)
        expect(getattr(g, "latent_dim", None) == latent_dim,
               f"Generator(latent_dim={latent_dim}).latent_dim should be {latent_dim}")
        x = expect_shape(g(torch.randn(8, latent_dim)), (8, 1, 28, 28), f"Generator(latent_dim={latent_dim})(z)")
        expect(x.min() >= -1 and x.max() <= 1, "the generator's images must lie in [-1, 1] (a tanh output)")


@check(CHECKS, "2.5", "Discriminator(): images (B, 1, 28, 28) -> logits (B,)", 1, "Discriminator")
def _(ns):
    d = ns["Discriminator"]()
    expect_shape(d(torch.rand(8, 1, 28, 28) * 2 - 1), (8,), "Discriminator()(x)")


@check(CHECKS, "2.5", "gradients of the losses reach every parameter of G and D", 1, ("Generator", "Discriminator"))
def _(ns):
    g, d = ns["Generator"](latent_dim=64), ns["Discriminator"]()
    fake = g(torch.randn(8, 64))
    (_reference_g_loss(d(fake)) + _reference_d_loss(d(_mnist()[:8]), d(fake.detach()))).backward()
    for who, net in (("Generator", g), ("Discriminator", d)):
        dead = [n for n, p in net.named_parameters() if p.requires_grad and p.grad is None]
        expect(any(p.requires_grad for p in net.parameters()), f"{who} has no trainable parameters")
        expect(not dead, f"no gradient for {who}.{dead[0] if dead else ''}: is every layer used in forward?")


@check(CHECKS, "2.5", "the Generator can fit 32 digits from 32 fixed codes (60 steps)", 2, "Generator", timeout=60)
def _(ns):
    g = ns["Generator"](latent_dim=64)
    z, target = torch.randn(32, 64), _mnist()[:32]
    optimizer = torch.optim.Adam(g.parameters(), lr=1e-3)
    with torch.no_grad():
        start = F.mse_loss(g(z), target).item()
    for _ in range(60):
        loss = F.mse_loss(g(z), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        end = F.mse_loss(g(z), target).item()
    expect(end < 0.3 * start, f"60 Adam steps regressing G(z_i) on 32 digits only took the error from {start:.3f} to "
           f"{end:.3f}: is the output a tanh of a layer that can reach every pixel?")


@check(CHECKS, "2.5", "the Discriminator learns to tell digits from scrambled digits (40 steps)", 2, "Discriminator",
       timeout=60)
def _(ns):
    d = ns["Discriminator"]()
    real = _mnist()
    g = torch.Generator().manual_seed(0)
    fake = real.flatten(1)[:, torch.randperm(784, generator=g)].reshape(real.shape)
    train, test = slice(0, 768), slice(768, 1024)
    optimizer = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    for _ in range(40):
        i = torch.randint(768, (64,), generator=g)
        loss = _reference_d_loss(d(real[train][i]), d(fake[train][i]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    d.eval()
    with torch.no_grad():
        accuracy = ((d(real[test]) > 0).float().mean() + (d(fake[test]) < 0).float().mean()).item() / 2
    d.train()
    expect(accuracy > 0.9, f"after 40 steps the discriminator tells digits from scrambled digits only {accuracy:.0%} of "
           "the time (a working one: > 95%): does it return one raw logit per image (no sigmoid)?")


# ---------------------------------------------------------------------------------------------
# 2.6 sampling and 2.7 interpolation


class _Identity(nn.Module):
    """A stand-in generator that shows the z it gets: (n, 784) -> (n, 1, 28, 28)."""

    latent_dim = 784

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, z):
        return (self.scale * z).reshape(len(z), 1, 28, 28)


@check(CHECKS, "2.6", "sample(generator, n): n images, no gradient", 1, "sample")
def _(ns):
    x = expect_shape(ns["sample"](_Identity(), 5), (5, 1, 28, 28), "sample(generator, 5)")
    expect(not x.requires_grad, "sample must not build a graph: wrap it in torch.no_grad()")


@check(CHECKS, "2.6", "feeds the generator z ~ N(0, I) of size generator.latent_dim", 2, "sample")
def _(ns):
    x = ns["sample"](_Identity(), 64)
    expect(torch.is_tensor(x) and x.numel() == 64 * 784, "sample(generator, n) must return n images")
    mean, std = x.mean().item(), x.std().item()
    expect(abs(mean) < 0.05 and abs(std - 1) < 0.05, f"z should be N(0, I): got mean {mean:.3f}, std {std:.3f}")
    expect(not torch.equal(x, ns["sample"](_Identity(), 64)), "two calls gave the same images: draw fresh z each call")


@check(CHECKS, "2.7", "interpolate returns (steps, latent_dim) from z0 to z1", 1, "interpolate")
def _(ns):
    z0, z1 = torch.randn(6), torch.randn(6)
    path = expect_shape(ns["interpolate"](z0, z1, 7), (7, 6), "interpolate(z0, z1, 7)")
    expect_close(path[0], z0, "the first step", hint="include both endpoints")
    expect_close(path[-1], z1, "the last step", hint="include both endpoints")


@check(CHECKS, "2.7", "the steps are evenly spaced on the straight line", 2, "interpolate")
def _(ns):
    z0, z1 = torch.randn(5), torch.randn(5)
    expect_close(ns["interpolate"](z0, z1, 9), _interpolate(z0, z1, 9), "interpolate(z0, z1, 9)",
                 hint="z_t = z0 + t (z1 - z0), t = 0, 1/(steps-1), ..., 1")
