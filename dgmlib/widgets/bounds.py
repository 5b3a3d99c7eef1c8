"""Lecture 02 · The importance-weighted bound F_k, draw by draw, on a 1-D linear Gaussian model."""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import checks
from ..gaussian import kl_normal, log_mean_exp, log_normal, normal_density
from ..plotting import DATA_COLOR, MODEL_COLOR
from ..vae import LinearGaussian
from .explorer import Explorer, Knob

__all__ = ["importance_bound_state", "importance_bound_explorer"]


def importance_bound_state(k: int, q_shift: float = 0.0, q_scale: float = 1.0, *, x: float = 1.5, sigma: float = 0.5,
                           repeats: int = 400, seed: int = 0) -> dict:
    """``repeats`` draws of F_k = log (1/k) sum_i p(x, z_i) / q(z_i),  z_i ~ q,  on a 1-D model.

    Model (:class:`dgmlib.vae.LinearGaussian` with W = 1, b = 0): ``p(z) = N(0, 1)``,
    ``p(x|z) = N(x; z, sigma^2)``, so ``log p(x) = log N(x; 0, 1 + sigma^2)`` and the posterior
    is ``N(x / (1 + sigma^2), sigma^2 / (1 + sigma^2))``. The proposal
    ``q = N(mu_post + q_shift, (q_scale s_post)^2)``; its ELBO is
    ``log p(x) - KL(q || p(z|x))`` (= E F_1 <= E F_k <= log p(x)). With ``q`` the exact
    posterior every ``F_k`` equals ``log p(x)``. The draws are seeded (NumPy's generator).

    Example:
        >>> s = importance_bound_state(10, q_shift=1.0)
        >>> s["elbo"] < s["mean"] < s["log_px"]
        True

    References: Burda, Grosse & Salakhutdinov, *Importance Weighted Autoencoders*, ICLR 2016.
    """
    k, repeats = checks.positive_int(k, "k"), checks.int_at_least(repeats, "repeats", 2)
    q_shift, q_scale = checks.number(q_shift, "q_shift"), checks.positive_number(q_scale, "q_scale")
    model = LinearGaussian(torch.ones(1, 1, dtype=torch.float64), sigma=checks.positive_number(sigma, "sigma"))
    x = torch.tensor([[checks.number(x, "x")]], dtype=torch.float64)  # (B, D) = (1, 1)
    post_mean, post_var = model.posterior(x)  # (1, 1) and (1, 1)
    mu, s = post_mean + q_shift, q_scale * post_var.sqrt()
    logvar = 2 * s.log()
    eps = torch.from_numpy(np.random.default_rng(seed).standard_normal((repeats, k)))
    z = (mu + s * eps)[..., None, None]  # (repeats, k, B, d)
    log_w = model.log_joint(x, z) - log_normal(z, mu, logvar)  # (repeats, k, B)
    estimates = log_mean_exp(log_w, dim=1)[:, 0].numpy()  # one F_k per repeat
    log_px = model.log_prob(x).item()
    elbo = log_px - kl_normal(mu, logvar, post_mean, post_var.log()).item()
    return {"k": k, "estimates": estimates, "mean": float(estimates.mean()),
            "stderr": float(estimates.std(ddof=1) / math.sqrt(repeats)), "log_px": log_px, "elbo": elbo,
            "q_mean": mu.item(), "q_std": s.item(), "posterior_mean": post_mean.item(),
            "posterior_std": math.sqrt(post_var.item())}


def importance_bound_explorer() -> Explorer:
    """The number of importance samples ``k`` and a deliberately wrong ``q`` (shift, width):
    how the draws of F_k pile up between the ELBO and log p(x)."""
    zs = torch.linspace(-2.5, 4.0, 300, dtype=torch.float64)

    def draw(fig, s):
        ax, ax2 = fig.subplots(1, 2)
        ax.plot(zs, normal_density(zs, s["posterior_mean"], s["posterior_std"]), color=DATA_COLOR, label="p(z|x)")
        ax.plot(zs, normal_density(zs, s["q_mean"], s["q_std"]), color=MODEL_COLOR, label="q(z)")
        ax.set(xlabel="z", title="posterior and proposal")
        ax.legend(fontsize=8)
        ax2.hist(s["estimates"], bins=30, color="0.7")
        for value, label, color in [(s["log_px"], "log p(x)", DATA_COLOR), (s["elbo"], "ELBO", "0.3"),
                                    (s["mean"], f"mean F_{s['k']}", MODEL_COLOR)]:
            ax2.axvline(value, color=color, lw=2, label=label)
        ax2.set(xlabel=f"F_{s['k']} over {len(s['estimates'])} draws", title="the bound, draw by draw")
        ax2.legend(fontsize=8)

    def describe(s):
        return (f"ELBO {s['elbo']:.4f} <= mean F_{s['k']} {s['mean']:.4f} (+- {2 * s['stderr']:.4f}) "
                f"<= log p(x) {s['log_px']:.4f}")

    knobs = [Knob("k", 1, 500, 1, integer=True), Knob("q_shift", -2.0, 2.0, 0.5, step=0.05),
             Knob("q_scale", 0.2, 3.0, 1.0, step=0.05)]
    return Explorer(knobs, lambda k, q_shift, q_scale: importance_bound_state(k, q_shift, q_scale), draw, describe,
                    figsize=(9, 3.2))
