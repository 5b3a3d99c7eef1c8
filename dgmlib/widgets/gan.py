"""Lecture 03 · The optimal discriminator D* and the value of the game at D*."""

from __future__ import annotations

import math

import torch

from .. import checks
from ..gaussian import normal_density
from ..plotting import DATA_COLOR, MODEL_COLOR
from .explorer import Explorer, Knob

__all__ = ["gan_optimum_state", "gan_optimum_explorer"]


def _mixture_density(x, center, gap, std):
    """1/2 N(x; c - g/2, s^2) + 1/2 N(x; c + g/2, s^2)."""
    return 0.5 * normal_density(x, center - gap / 2, std) + 0.5 * normal_density(x, center + gap / 2, std)


def gan_optimum_state(center: float, gap: float, std: float, *, data=(0.0, 3.0, 0.5), bounds=(-8.0, 8.0),
                      n_grid: int = 4001) -> dict:
    """D*(x) = pi(x) / (pi(x) + p(x)) and V(G, D*) = E_pi log D*(x) + E_p log(1 - D*(x)) = -log 4 + 2 JSD(pi || p).

    Data ``pi`` and generator ``p`` are two-Gaussian mixtures ``1/2 N(c - g/2, s^2) + 1/2 N(c + g/2, s^2)``
    (``data = (c, g, s)`` of pi; the knobs are p's). Both sides of the identity are computed on
    a grid (Riemann sums); V reaches its minimum ``-log 4`` exactly when p = pi.

    Example:
        >>> s = gan_optimum_state(0.0, 3.0, 0.5)  # p = pi
        >>> round(s["value"], 4), round(-math.log(4), 4)
        (-1.3863, -1.3863)

    References: Goodfellow et al., *Generative Adversarial Nets*, 2014, Proposition 1 and Theorem 1.
    """
    from ..divergences import jsd
    from ..gan import optimal_discriminator

    center, gap = checks.number(center, "center"), checks.number(gap, "gap")
    std = checks.positive_number(std, "std")
    x = torch.linspace(*bounds, checks.int_at_least(n_grid, "n_grid", 2), dtype=torch.float64)
    dx = (x[1] - x[0]).item()
    pi = _mixture_density(x, *data)
    p = _mixture_density(x, center, gap, std)
    d_star = optimal_discriminator(pi, p)
    # log D* = log pi - log(pi + p) and log(1 - D*) = log p - log(pi + p), without forming 1 - D*
    total = pi + p
    value = (torch.xlogy(pi, pi) - torch.xlogy(pi, total) + torch.xlogy(p, p) - torch.xlogy(p, total)).sum().item() * dx
    js = jsd(pi, p, dx=dx).item()
    return {"x": x.numpy(), "pi": pi.numpy(), "p": p.numpy(), "d_star": d_star.numpy(), "value": value, "jsd": js}


def gan_optimum_explorer() -> Explorer:
    """Move the generator's mixture (centre, gap between its modes, width) against the data's
    ``1/2 N(-1.5, 0.5^2) + 1/2 N(1.5, 0.5^2)``; D* and V(G, D*) follow."""

    def draw(fig, s):
        ax = fig.subplots()
        ax.fill_between(s["x"], s["pi"], color=DATA_COLOR, alpha=0.3, label=r"data $\pi$")
        ax.plot(s["x"], s["p"], color=MODEL_COLOR, label="generator $p$")
        ax.set(xlim=(-5, 5), ylim=(0, 1.0), xlabel="x", ylabel="density")
        twin = ax.twinx()
        twin.plot(s["x"], s["d_star"], color="0.2", ls="--", label=r"$D^*(x)$")
        twin.axhline(0.5, color="0.6", lw=0.8)
        twin.set(ylim=(-0.02, 1.02), ylabel=r"$D^*$")
        twin.grid(False)
        ax.legend(loc="upper left", fontsize=8)
        twin.legend(loc="upper right", fontsize=8)
        ax.set_title(f"V(G, D*) = {s['value']:.4f} = -log 4 + 2 JSD = {-math.log(4) + 2 * s['jsd']:.4f}")

    def describe(s):
        return f"JSD(pi || p) = {s['jsd']:.4f} (log 2 = {math.log(2):.4f}); V(G, D*) = {s['value']:.4f}, minimum -log 4 = {-math.log(4):.4f}"

    knobs = [Knob("center", -3.0, 3.0, 1.0, step=0.05), Knob("gap", 0.0, 5.0, 1.0, step=0.05),
             Knob("std", 0.1, 2.0, 1.0, step=0.05)]
    return Explorer(knobs, lambda center, gap, std: gan_optimum_state(center, gap, std), draw, describe, figsize=(8, 3.2))
