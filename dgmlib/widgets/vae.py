"""Lecture 01 · The beta knob (closed form, on a linear Gaussian model) and latent traversals
(a trained decoder)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch.distributions import MultivariateNormal, kl_divergence

from .. import checks
from ..gaussian import log_normal
from ..plotting import DATA_COLOR, MODEL_COLOR, _infer_device
from ..vae import LinearGaussian
from .explorer import Explorer, Knob, _as_float_array

__all__ = ["beta_posterior_state", "beta_vae_explorer", "latent_traversal_state", "latent_traversal_explorer"]


# ---------------------------------------------------------------------------------------------
# The beta knob
# ---------------------------------------------------------------------------------------------
def _toy_linear_gaussian() -> tuple[LinearGaussian, torch.Tensor]:
    """The default model of :func:`beta_posterior_state`: D = 4, d = 2, sigma = 0.8 (float64), and its x."""
    W = torch.tensor([[1.5, 0.0], [0.0, 0.7], [1.5, 0.0], [0.0, -0.7]], dtype=torch.float64)
    b = torch.tensor([0.5, 0.0, -0.5, 1.0], dtype=torch.float64)
    x = torch.tensor([2.0, 1.0, 1.5, 0.0], dtype=torch.float64)
    return LinearGaussian(W, b, 0.8), x


def _float64(value, name: str) -> torch.Tensor:
    return torch.from_numpy(_as_float_array(value, name))


def beta_posterior_state(beta: float, W=None, b=None, sigma: float | None = None, x=None) -> dict:
    """The Gaussian ``q = N(m, S)`` that maximizes the beta-ELBO of a linear Gaussian model.

    Model (:class:`dgmlib.vae.LinearGaussian`): ``p(z) = N(0, I)``, ``p(x|z) = N(Wz + b, sigma^2 I)``.
    Objective ``E_q log p(x|z) - beta KL(q || p(z))`` with

        E_q log p(x|z) = log N(x; W m + b, sigma^2 I) - tr(W^T W S) / (2 sigma^2),
        KL = 1/2 (tr S + m^T m - d - log det S).

    Setting the gradients to zero: ``S = (I + W^T W / (beta sigma^2))^{-1}`` and
    ``m = S W^T (x - b) / (beta sigma^2)``, the exact posterior of the same model with the noise
    variance ``beta sigma^2``. At ``beta = 1`` this is the exact posterior and the objective
    equals ``log p(x)``; small beta shrinks S towards 0 (an autoencoder), large beta pulls q to
    the prior. Defaults: a 4-D model with a 2-D latent; ``W: (D, d)``, ``b, x: (D,)``.

    Example:
        >>> s = beta_posterior_state(1.0)
        >>> abs(s["elbo"] - s["log_px"]) < 1e-12
        True
    """
    beta = checks.positive_number(beta, "beta")
    toy, x0 = _toy_linear_gaussian()
    model = LinearGaussian(toy.W if W is None else _float64(W, "W"), toy.b if b is None else _float64(b, "b"),
                           toy.sigma if sigma is None else checks.positive_number(sigma, "sigma"))
    x = x0 if x is None else _float64(x, "x")
    D, d = model.W.shape
    if x.shape != (D,):
        raise ValueError(f"x must have shape ({D},) to match W {tuple(model.W.shape)}, got {tuple(x.shape)}")
    mean, S = LinearGaussian(model.W, model.b, model.sigma * math.sqrt(beta)).posterior(x[None])
    m = mean[0]
    recon = (log_normal(x, model.W @ m + model.b, 2 * math.log(model.sigma))
             - torch.trace(model.W.T @ model.W @ S) / (2 * model.sigma**2)).item()
    prior = MultivariateNormal(torch.zeros(d, dtype=m.dtype), torch.eye(d, dtype=m.dtype))
    kl = kl_divergence(MultivariateNormal(m, S), prior).item()
    posterior_mean, posterior_cov = model.posterior(x[None])
    return {"beta": beta, "mean": m.numpy(), "cov": S.numpy(), "recon": recon, "kl": kl,
            "elbo": recon - kl, "objective": recon - beta * kl, "log_px": model.log_prob(x[None]).item(),
            "posterior_mean": posterior_mean[0].numpy(), "posterior_cov": posterior_cov.numpy()}


def _ellipse(mean, cov, radius=2.0, n=100):
    t = np.linspace(0, 2 * np.pi, n)
    vals, vecs = np.linalg.eigh(cov)
    circle = np.stack([np.cos(t), np.sin(t)])
    return mean[:, None] + radius * vecs @ (np.sqrt(np.maximum(vals, 0))[:, None] * circle)


def beta_vae_explorer() -> Explorer:
    """The beta knob on a linear Gaussian model (closed form, :func:`beta_posterior_state`): the
    optimal q against the exact posterior, and the reconstruction/KL trade-off along beta."""
    betas = np.logspace(-2, 2, 81)
    curve = [beta_posterior_state(bt) for bt in betas]

    def draw(fig, s):
        ax, ax2 = fig.subplots(1, 2)
        for mean, cov, label, color, style in [(np.zeros(2), np.eye(2), "prior p(z)", "0.5", ":"),
                                               (s["posterior_mean"], s["posterior_cov"], "exact p(z|x)", DATA_COLOR, "--"),
                                               (s["mean"], s["cov"], f"q at beta = {s['beta']:.3g}", MODEL_COLOR, "-")]:
            e = _ellipse(mean, cov)
            ax.plot(e[0], e[1], style, color=color, label=label)
        ax.plot(*s["mean"], "o", color=MODEL_COLOR)
        ax.set(xlim=(-3, 3), ylim=(-3, 3), xlabel="z1", ylabel="z2", title="2-sigma ellipses", aspect="equal")
        ax.legend(fontsize=8, loc="lower left")
        ax2.plot([c["kl"] for c in curve], [-c["recon"] for c in curve], color="0.6")
        ax2.plot(s["kl"], -s["recon"], "o", color=MODEL_COLOR, ms=9)
        ax2.set(xlabel="KL(q || p(z)) [nats]", ylabel="-E_q log p(x|z) [nats]", title="rate vs distortion along beta")

    def describe(s):
        return (f"beta = {s['beta']:.3g}: reconstruction {s['recon']:.3f}, KL {s['kl']:.3f}, "
                f"ELBO {s['elbo']:.3f} <= log p(x) = {s['log_px']:.3f}")

    return Explorer([Knob("beta", 0.01, 100.0, 1.0, log=True)], lambda beta: beta_posterior_state(beta), draw,
                    describe, figsize=(9, 3.6))


# ---------------------------------------------------------------------------------------------
# Latent traversals
# ---------------------------------------------------------------------------------------------
@torch.no_grad()
def latent_traversal_state(decode: Callable, dim: int, value: float, latent_dim: int, *, base=None,
                           span: float = 3.0, steps: int = 9, device=None) -> dict:
    """x = decode(z), z = base with its coordinate ``dim`` set to ``value``: one latent coordinate moved.

    Also a strip of ``steps`` codes with coordinate ``dim`` on ``[-span, span]`` (the other
    coordinates fixed at ``base``, default 0: the prior's mode). ``decode``:
    ``(n, latent_dim) -> (n, ...)`` images in [0, 1]; ``device``: where to decode (default: the
    device of the module whose method ``decode`` is, else the CPU).
    """
    if not callable(decode):
        raise TypeError(f"decode must be a callable z -> images, got {type(decode).__name__}")
    latent_dim = checks.positive_int(latent_dim, "latent_dim")
    dim = checks.int_at_least(dim, "dim", 0)
    checks.number_in(dim, "dim", 0, latent_dim - 1)
    value, span = checks.number(value, "value"), checks.positive_number(span, "span")
    steps = checks.positive_int(steps, "steps")
    device = _infer_device(decode) if device is None else torch.device(device)
    z0 = torch.zeros(latent_dim) if base is None else torch.as_tensor(base, dtype=torch.float32).flatten().cpu()
    if z0.shape != (latent_dim,):
        raise ValueError(f"base must have {latent_dim} entries, got shape {tuple(z0.shape)}")
    values = torch.cat([torch.tensor([value]), torch.linspace(-span, span, steps)])
    z = z0.repeat(len(values), 1)  # (1 + steps, latent_dim)
    z[:, dim] = values
    images = decode(z.to(device)).float().cpu()
    images = images.reshape(len(values), -1, *images.shape[-2:])[:, 0] if images.ndim > 2 else images
    return {"z": z[0].numpy(), "image": images[0].numpy(), "strip": images[1:].numpy(), "strip_values": values[1:].numpy(),
            "dim": dim, "value": value}


def latent_traversal_explorer(decode: Callable, latent_dim: int, image_shape=(28, 28), span: float = 3.0) -> Explorer:
    """Move one latent coordinate of a trained decoder (others at 0) and watch the decoded image."""

    def compute(dim, value):
        s = latent_traversal_state(decode, dim, value, latent_dim, span=span)
        s["image"] = s["image"].reshape(image_shape)
        s["strip"] = s["strip"].reshape(len(s["strip"]), *image_shape)
        return s

    def draw(fig, s):
        grid = fig.add_gridspec(1, 4)
        ax = fig.add_subplot(grid[0, 0])
        ax.imshow(s["image"], cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"z{s['dim']} = {s['value']:+.2f}")
        ax.set_axis_off()
        strip = fig.add_subplot(grid[0, 1:])
        strip.imshow(np.concatenate(list(s["strip"]), axis=1), cmap="gray_r", vmin=0, vmax=1,
                     extent=(-span, span, 0, 1), aspect="auto")
        strip.axvline(s["value"], color=MODEL_COLOR, lw=2)
        strip.set(yticks=[], xlabel=f"z{s['dim']} (other coordinates 0)", title="the whole traversal")

    def describe(s):
        return f"decoded z = ({', '.join(f'{v:+.2f}' for v in s['z'][:8])}{', ...' if len(s['z']) > 8 else ''})"

    knobs = [Knob("dim", 0, latent_dim - 1, 0, integer=True), Knob("value", -span, span, 0.0, step=0.1)]
    return Explorer(knobs, compute, draw, describe, figsize=(9, 2.6))
