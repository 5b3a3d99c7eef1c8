"""Lecture 04 · The parallel lines: KL, JSD and the Wasserstein distance as one segment slides."""

from __future__ import annotations

import math

import numpy as np

from .. import checks
from ..plotting import DATA_COLOR, MODEL_COLOR, PALETTE
from .explorer import Explorer, Knob, _fmt

__all__ = ["parallel_lines_state", "parallel_lines_explorer"]


def parallel_lines_state(theta: float, n: int = 200, seed: int = 0) -> dict:
    """pi = (0, U[0,1]) and p_theta = (theta, U[0,1]): exact divergences and their theta-gradients.

    ``KL = JSD = W = 0`` at theta = 0; for theta != 0: ``KL = inf``, ``JSD = log 2``,
    ``W = |theta|``. Gradients (theta != 0): ``dJSD/dtheta = 0``, ``dW/dtheta = sign(theta)``, KL has
    none (``nan``). Also the samples of :func:`dgmlib.data.parallel_lines` and their sample
    estimates: KL and JSD on a histogram of the x-coordinate, W by exact 1-D transport of it.

    Example:
        >>> s = parallel_lines_state(0.3)
        >>> s["kl"], round(s["jsd"], 4), s["w"]
        (inf, 0.6931, 0.3)

    References: Arjovsky, Chintala & Bottou, *Wasserstein GAN*, 2017, Example 1.
    """
    from ..data import parallel_lines
    from ..divergences import histograms, jsd, kl, wasserstein_1d

    theta = checks.number(theta, "theta")
    x_pi, x_p = parallel_lines(theta, n, seed=seed)
    h_pi, h_p = histograms(x_pi[:, :1], x_p[:, :1], bins=201, bounds=[(-1.005, 1.005)])
    apart = theta != 0.0
    return {
        "theta": theta, "x_pi": x_pi.numpy(), "x_p": x_p.numpy(),
        "kl": math.inf if apart else 0.0, "jsd": math.log(2) if apart else 0.0, "w": abs(theta),
        "grad_kl": math.nan, "grad_jsd": 0.0, "grad_w": float(np.sign(theta)),
        "kl_sample": kl(h_pi, h_p).item(), "jsd_sample": jsd(h_pi, h_p).item(),
        "w_sample": wasserstein_1d(x_pi[:, 0], x_p[:, 0]).item(),
    }


def parallel_lines_explorer(kl_cap: float = 2.0) -> Explorer:
    """theta on the parallel lines: the segments, the three divergences (KL capped at ``kl_cap``
    for the picture), and the gradients a generator would receive."""
    kl_cap = checks.positive_number(kl_cap, "kl_cap")
    thetas = np.linspace(-1, 1, 401)
    curves = {"KL": np.where(thetas == 0, 0.0, kl_cap), "JSD": np.where(thetas == 0, 0.0, math.log(2)), "W": np.abs(thetas)}
    grads = {"dJSD/dtheta": np.zeros_like(thetas), "dW/dtheta": np.sign(thetas)}

    def draw(fig, s):
        ax, ax2, ax3 = fig.subplots(1, 3)
        ax.scatter(s["x_pi"][:, 0], s["x_pi"][:, 1], s=5, color=DATA_COLOR, label=r"data $\pi$")
        ax.scatter(s["x_p"][:, 0], s["x_p"][:, 1], s=5, color=MODEL_COLOR, label=r"model $p_\theta$")
        ax.set(xlim=(-1.2, 1.2), ylim=(-0.1, 1.25), xlabel="x", title=f"theta = {s['theta']:+.2f}")
        ax.legend(fontsize=8, loc="upper left", ncol=2)
        values = {"KL": min(s["kl"], kl_cap), "JSD": s["jsd"], "W": s["w"]}
        for (name, curve), color in zip(curves.items(), PALETTE):
            ax2.plot(thetas, curve, color=color, label=name + (f" (inf at {kl_cap:g})" if name == "KL" else ""))
            ax2.plot([s["theta"]], [values[name]], "o", color=color, ms=8)
        ax2.set(xlabel="theta", ylim=(-0.05, kl_cap + 0.7), title="divergence")
        ax2.legend(fontsize=8, loc="upper center", ncol=3, handlelength=1.2, columnspacing=0.8)
        for (name, curve), color in zip(grads.items(), PALETTE[1:]):
            ax3.plot(thetas, curve, color=color, label=name)
        ax3.plot([s["theta"]], [s["grad_jsd"]], "o", color=PALETTE[1], ms=8)
        ax3.plot([s["theta"]], [s["grad_w"]], "o", color=PALETTE[2], ms=8)
        ax3.set(xlabel="theta", ylim=(-1.3, 1.3), title="gradient a generator gets")
        ax3.legend(fontsize=8, loc="upper left")

    def describe(s):
        return (f"theta = {s['theta']:+.2f}: KL = {_fmt(s['kl'])}, JSD = {s['jsd']:.4f}, W = {s['w']:.4f} "
                f"(samples: {_fmt(s['kl_sample'])}, {s['jsd_sample']:.4f}, {s['w_sample']:.4f}); "
                f"dJSD/dtheta = {s['grad_jsd']:+.0f}, dW/dtheta = {s['grad_w']:+.0f}")

    return Explorer([Knob("theta", -1.0, 1.0, 0.5, step=0.05)], lambda theta: parallel_lines_state(theta), draw, describe,
                    figsize=(11, 3.2))
