"""Hidden checks of Lab 2 (a GAN on MNIST scaled to [-1, 1]), judged against :mod:`dgmlib.gan`.

Questions and the names they grade: 2.4 ``discriminator_loss``, ``generator_loss``;
2.5 ``Generator``, ``Discriminator``; 2.6 ``sample``; 2.7 ``interpolate``.
Each check: inputs drawn here, a probe (torch only) run in the kernel, a judge run here.
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

# the course's reference implementation of each question: absent from the sandbox (poisoned stubs there)
REFERENCE_API = {
    "2.4": ("dgmlib.gan.losses.discriminator_loss", "dgmlib.gan.losses.generator_loss"),
    "2.5": ("dgmlib.gan.nets.DCGANGenerator", "dgmlib.gan.nets.DCGANDiscriminator"),
}


def _interpolate(z0, z1, steps):
    t = torch.linspace(0, 1, steps, dtype=z0.dtype, device=z0.device)[:, None]
    return z0 + t * (z1 - z0)


# stand-ins sent with the probes of 2.5 (torch only)


def _iso_d_loss(d_real, d_fake):
    return torch.nn.functional.softplus(-d_real).mean() + torch.nn.functional.softplus(d_fake).mean()


def _iso_g_loss(d_fake):
    return torch.nn.functional.softplus(-d_fake).mean()


@functools.lru_cache(maxsize=1)
def _mnist() -> torch.Tensor:
    from ...data import load_mnist

    return load_mnist("train")[0][:1024] * 2 - 1


def _scalar(value, what):
    expect(torch.is_tensor(value) and value.numel() == 1, f"{what} must return a scalar tensor (use .mean())")
    return value.reshape(())


# ---------------------------------------------------------------------------------------------
# 2.4 the losses


def _probe_d_loss(ns, inp):
    return {"loss": ns["discriminator_loss"](inp["d_real"], inp["d_fake"])}


@check(CHECKS, "2.4", "discriminator_loss is -mean log D(x) - mean log(1 - D(G(z)))", 2, "discriminator_loss",
       probe=_probe_d_loss, inputs=lambda: {"d_real": 3 * torch.randn(32), "d_fake": 3 * torch.randn(32)})
def _(out, inp):
    d_real, d_fake = inp["d_real"], inp["d_fake"]
    got = _scalar(out["loss"], "discriminator_loss")
    if abs(got.item() - (F.softplus(d_real).mean() + F.softplus(-d_fake).mean()).item()) < 1e-4:
        raise CheckFailed("discriminator_loss has the real and fake terms swapped: D should say 1 on data, 0 on fakes")
    expect_close(got, _reference_d_loss(d_real, d_fake), "discriminator_loss(d_real, d_fake)",
                 hint="the inputs are logits: log D = -softplus(-d), log(1 - D) = -softplus(d)")


@check(CHECKS, "2.4", "discriminator_loss is finite for confident logits (+-100)", 1, "discriminator_loss",
       probe=_probe_d_loss,
       inputs=lambda: {"d_real": torch.tensor([100.0, -100.0, 30.0]), "d_fake": torch.tensor([-100.0, 100.0, -30.0])})
def _(out, inp):
    expect_close(_scalar(out["loss"], "discriminator_loss"), _reference_d_loss(inp["d_real"], inp["d_fake"]),
                 "discriminator_loss at logits +-100",
                 hint="log(sigmoid(d)) overflows: use F.softplus or F.binary_cross_entropy_with_logits")


def _probe_g_loss(ns, inp):
    d_fake = inp["d_fake"].clone().requires_grad_()
    loss = ns["generator_loss"](d_fake)
    grad = None
    if torch.is_tensor(loss) and loss.numel() == 1 and loss.requires_grad:
        loss.reshape(()).backward()
        grad = d_fake.grad
    return {"loss": loss, "grad": grad}


@check(CHECKS, "2.4", "generator_loss is the non-saturating -mean log D(G(z))", 2, "generator_loss",
       probe=_probe_g_loss, inputs=lambda: {"d_fake": 3 * torch.randn(32)})
def _(out, inp):
    d_fake = inp["d_fake"]
    got = _scalar(out["loss"], "generator_loss")
    saturating = _reference_g_loss(d_fake, kind="minimax")
    if abs(got.item() - saturating.item()) < 1e-4:
        raise CheckFailed("generator_loss is the saturating mean log(1 - D(G(z))): its gradient vanishes when D "
                          "rejects the fakes; minimize -mean log D(G(z)) instead")
    expect_close(got, _reference_g_loss(d_fake), "generator_loss(d_fake)", hint="-mean log sigmoid(d_fake)")


@check(CHECKS, "2.4", "generator_loss still has a gradient when D rejects the fakes", 1, "generator_loss",
       probe=_probe_g_loss, inputs=lambda: {"d_fake": torch.full((4,), -10.0)})
def _(out, inp):
    _scalar(out["loss"], "generator_loss")
    expect(torch.is_tensor(out["grad"]) and out["grad"].shape == (4,), "no gradient reached d_fake")
    slope = out["grad"].sum().item()
    expect(slope < -0.9, f"d loss / d logit is {slope:.2g} at logit -10 (D(G(z)) ~ 0): the generator would not "
           "learn; the non-saturating loss has slope ~ -1 there")


# ---------------------------------------------------------------------------------------------
# 2.5 the networks


def _probe_generator_shapes(ns, inp):
    out = {}
    for latent_dim in (64, 16):
        g = ns["Generator"](latent_dim=latent_dim)
        dim = getattr(g, "latent_dim", None)
        out[str(latent_dim)] = {"latent_dim": dim if type(dim) is int else None, "x": g(inp[f"z{latent_dim}"])}
    return out


@check(CHECKS, "2.5", "Generator(latent_dim=64): z (B, 64) -> images (B, 1, 28, 28) in [-1, 1]", 1, "Generator",
       probe=_probe_generator_shapes, inputs=lambda: {"z64": torch.randn(8, 64), "z16": torch.randn(8, 16)})
def _(out, inp):
    for latent_dim in (64, 16):
        o = out[str(latent_dim)]
        expect(o["latent_dim"] == latent_dim, f"Generator(latent_dim={latent_dim}).latent_dim should be {latent_dim}")
        x = expect_shape(o["x"], (8, 1, 28, 28), f"Generator(latent_dim={latent_dim})(z)")
        expect(bool(torch.isfinite(x).all()) and x.min() >= -1 and x.max() <= 1,
               "the generator's images must lie in [-1, 1] (a tanh output)")


def _probe_discriminator_shapes(ns, inp):
    return {"logits": ns["Discriminator"]()(inp["x"])}


@check(CHECKS, "2.5", "Discriminator(): images (B, 1, 28, 28) -> logits (B,)", 1, "Discriminator",
       probe=_probe_discriminator_shapes, inputs=lambda: {"x": torch.rand(8, 1, 28, 28) * 2 - 1})
def _(out, inp):
    expect_shape(out["logits"], (8,), "Discriminator()(x)")


def _probe_gan_gradients(ns, inp):
    g, d = ns["Generator"](latent_dim=64), ns["Discriminator"]()
    fake = g(inp["z"])
    (_iso_g_loss(d(fake)) + _iso_d_loss(d(inp["real"]), d(fake.detach()))).backward()
    out = {}
    for who, net in (("Generator", g), ("Discriminator", d)):
        out[who] = {"trainable": any(p.requires_grad for p in net.parameters()),
                    "dead": [n for n, p in net.named_parameters() if p.requires_grad and p.grad is None][:3]}
    return out


@check(CHECKS, "2.5", "gradients of the losses reach every parameter of G and D", 1, ("Generator", "Discriminator"),
       probe=_probe_gan_gradients, helpers=(_iso_d_loss, _iso_g_loss),
       inputs=lambda: {"z": torch.randn(8, 64), "real": _mnist()[:8]})
def _(out, inp):
    for who in ("Generator", "Discriminator"):
        o = out[who]
        expect(o["trainable"] is True, f"{who} has no trainable parameters")
        dead = o["dead"]
        expect(isinstance(dead, list) and not dead,
               f"no gradient for {who}.{dead[0] if dead else ''}: is every layer used in forward?")


def _probe_generator_fit(ns, inp):
    g = ns["Generator"](latent_dim=64)
    z, target = inp["z"], inp["target"]
    optimizer = torch.optim.Adam(g.parameters(), lr=1e-3)
    with torch.no_grad():
        start = g(z)
    for _ in range(60):
        loss = torch.nn.functional.mse_loss(g(z), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return {"start": start, "end": g(z)}


@check(CHECKS, "2.5", "the Generator can fit 32 digits from 32 fixed codes (60 steps)", 2, "Generator", timeout=60,
       probe=_probe_generator_fit, inputs=lambda: {"z": torch.randn(32, 64), "target": _mnist()[:32]})
def _(out, inp):
    target = inp["target"]
    start = F.mse_loss(expect_shape(out["start"], target.shape, "Generator(latent_dim=64)(z)").float(), target).item()
    end = F.mse_loss(expect_shape(out["end"], target.shape, "Generator(latent_dim=64)(z)").float(), target).item()
    expect(end < 0.3 * start, f"60 Adam steps regressing G(z_i) on 32 digits only took the error from {start:.3f} to "
           f"{end:.3f}: is the output a tanh of a layer that can reach every pixel?")


def _probe_discriminator_fit(ns, inp):
    d = ns["Discriminator"]()
    real, fake = inp["real"], inp["fake"]
    g = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    for _ in range(40):
        i = torch.randint(768, (64,), generator=g)
        loss = _iso_d_loss(d(real[:768][i]), d(fake[:768][i]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    d.eval()
    with torch.no_grad():
        return {"real": d(real[768:]), "fake": d(fake[768:])}


def _discriminator_data():
    real = _mnist()
    g = torch.Generator().manual_seed(0)
    return {"real": real, "fake": real.flatten(1)[:, torch.randperm(784, generator=g)].reshape(real.shape)}


@check(CHECKS, "2.5", "the Discriminator learns to tell digits from scrambled digits (40 steps)", 2, "Discriminator",
       timeout=60, probe=_probe_discriminator_fit, helpers=(_iso_d_loss,), inputs=_discriminator_data)
def _(out, inp):
    real = expect_shape(out["real"], (256,), "Discriminator()(x) on 256 digits")
    fake = expect_shape(out["fake"], (256,), "Discriminator()(x) on 256 scrambled digits")
    accuracy = ((real > 0).float().mean() + (fake < 0).float().mean()).item() / 2
    expect(accuracy > 0.9, f"after 40 steps the discriminator tells digits from scrambled digits only {accuracy:.0%} of "
           "the time (a working one: > 95%): does it return one raw logit per image (no sigmoid)?")


# ---------------------------------------------------------------------------------------------
# 2.6 sampling and 2.7 interpolation


class _Identity(torch.nn.Module):
    """A stand-in generator that shows the z it gets: (n, 784) -> (n, 1, 28, 28)."""

    latent_dim = 784

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, z):
        return (self.scale * z).reshape(len(z), 1, 28, 28)


def _probe_sample(ns, inp):
    x = ns["sample"](_Identity(), inp["n"])
    x2 = ns["sample"](_Identity(), inp["n"])
    return {"x": x, "x2": x2, "grad": bool(torch.is_tensor(x) and x.requires_grad)}


@check(CHECKS, "2.6", "sample(generator, n): n images, no gradient", 1, "sample", probe=_probe_sample,
       helpers=(_Identity,), inputs=lambda: {"n": 5})
def _(out, inp):
    expect_shape(out["x"], (5, 1, 28, 28), "sample(generator, 5)")
    expect(out["grad"] is False, "sample must not build a graph: wrap it in torch.no_grad()")


@check(CHECKS, "2.6", "feeds the generator z ~ N(0, I) of size generator.latent_dim", 2, "sample", probe=_probe_sample,
       helpers=(_Identity,), inputs=lambda: {"n": 64})
def _(out, inp):
    x = out["x"]
    expect(torch.is_tensor(x) and x.numel() == 64 * 784 and x.is_floating_point(),
           "sample(generator, n) must return n images")
    mean, std = x.mean().item(), x.std().item()
    expect(abs(mean) < 0.05 and abs(std - 1) < 0.05, f"z should be N(0, I): got mean {mean:.3f}, std {std:.3f}")
    expect(not (torch.is_tensor(out["x2"]) and torch.equal(x, out["x2"])),
           "two calls gave the same images: draw fresh z each call")


def _probe_interpolate(ns, inp):
    return {"path": ns["interpolate"](inp["z0"], inp["z1"], inp["steps"])}


@check(CHECKS, "2.7", "interpolate returns (steps, latent_dim) from z0 to z1", 1, "interpolate",
       probe=_probe_interpolate,
       inputs=lambda: {"z0": torch.randn(6), "z1": torch.randn(6), "steps": 7})
def _(out, inp):
    path = expect_shape(out["path"], (7, 6), "interpolate(z0, z1, 7)")
    expect_close(path[0], inp["z0"], "the first step", hint="include both endpoints")
    expect_close(path[-1], inp["z1"], "the last step", hint="include both endpoints")


@check(CHECKS, "2.7", "the steps are evenly spaced on the straight line", 2, "interpolate", probe=_probe_interpolate,
       inputs=lambda: {"z0": torch.randn(5), "z1": torch.randn(5), "steps": 9})
def _(out, inp):
    expect_close(out["path"], _interpolate(inp["z0"], inp["z1"], 9), "interpolate(z0, z1, 9)",
                 hint="z_t = z0 + t (z1 - z0), t = 0, 1/(steps-1), ..., 1")
