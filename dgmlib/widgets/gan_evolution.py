"""Lecture 10 · GAN evolution: the Standard Equation's q*, and the truncation trick in StyleGAN's W."""

from __future__ import annotations

import math

import torch

from .. import checks
from ..gaussian import normal_density
from ..plotting import DATA_COLOR, MODEL_COLOR
from .explorer import Explorer, Knob

__all__ = ["standard_equation_state", "standard_equation_explorer", "style_truncation_state",
           "style_truncation_explorer"]


def standard_equation_state(alpha: float, beta: float, slope: float, *, bounds=(-8.0, 8.0), n_grid: int = 4001) -> dict:
    """q* = argmin_q -alpha H(q) + beta KL(q || p) - E_q f for p = N(0, 1) and the experience f(x) = slope * x.

    Computed on a grid by :func:`dgmlib.gan.standard_equation_q`; for this linear f the minimizer is
    the Gaussian N(slope / beta, (alpha + beta) / beta), returned beside it (``mean``, ``var``) with
    the grid's moments (``grid_mean``, ``grid_var``) and the minimum (``value``).

    Example:
        >>> s = standard_equation_state(0.0, 1.0, 1.0)       # q* = N(1, 1): the model tilted by e^f
        >>> round(s["grid_mean"], 4), round(s["grid_var"], 4)
        (1.0, 1.0)

    References: Hu, Xing, *Toward a 'Standard Model' of Machine Learning*, 2022.
    """
    from ..gan import standard_equation_q

    alpha = checks.non_negative_number(alpha, "alpha")
    beta = checks.positive_number(beta, "beta")
    slope = checks.number(slope, "slope")
    x = torch.linspace(*bounds, checks.int_at_least(n_grid, "n_grid", 2), dtype=torch.float64)
    dx = float(x[1] - x[0])
    p = normal_density(x, 0.0, 1.0)
    q, value = standard_equation_q(p, slope * x, alpha, beta, dx)
    grid_mean = float((x * q).sum() * dx)
    grid_var = float(((x - grid_mean) ** 2 * q).sum() * dx)
    return {"x": x.numpy(), "p": p.numpy(), "q": q.numpy(), "value": float(value), "mean": slope / beta,
            "var": (alpha + beta) / beta, "grid_mean": grid_mean, "grid_var": grid_var}


def standard_equation_explorer() -> Explorer:
    """Move alpha (entropy), beta (tie to the model) and the critic's slope a in f(x) = a x; q* follows."""

    def draw(fig, s):
        ax = fig.subplots()
        ax.fill_between(s["x"], s["p"], color=MODEL_COLOR, alpha=0.3, label=r"model $p_\theta = N(0, 1)$")
        ax.plot(s["x"], s["q"], color=DATA_COLOR, lw=2, label=r"$q^*$")
        ax.set(xlim=(-6, 6), ylim=(0, 1.0), xlabel="x", ylabel="density",
               title=f"q* = N({s['mean']:.2f}, {s['var']:.2f}); minimum {s['value']:.3f}")
        ax.legend(loc="upper left", fontsize=8)

    def describe(s):
        return (f"q* on the grid: mean {s['grid_mean']:.3f}, variance {s['grid_var']:.3f} "
                f"(closed form {s['mean']:.3f}, {s['var']:.3f}); min over q = {s['value']:.4f}")

    knobs = [Knob("alpha", 0.0, 3.0, 0.0, step=0.05), Knob("beta", 0.1, 10.0, 1.0, step=0.05, log=True),
             Knob("slope", -2.0, 2.0, 1.0, step=0.05)]
    return Explorer(knobs, standard_equation_state, draw, describe, figsize=(7, 3.2))


def style_truncation_state(generator, psi: float, *, n: int = 8, seed: int = 0) -> dict:
    """The same ``n`` codes truncated in W: w' = w_bar + psi (M(z) - w_bar), and their images (noise inputs zero).

    ``generator``: a :class:`dgmlib.gan.StyleGenerator`. Returns ``images`` ``(n, 28, 28)`` in [-1, 1],
    ``distance``: the mean ||w' - w_bar||, which is psi times the untruncated one (``distance_1``).

    Example:
        >>> s = style_truncation_state(StyleGenerator(32), 0.5)
        >>> round(s["distance"] / s["distance_1"], 6)
        0.5
    """
    from ..gan import StyleGenerator

    if not isinstance(generator, StyleGenerator):
        raise TypeError(f"generator must be a dgmlib.gan.StyleGenerator, got {type(generator).__name__}")
    psi = checks.number_in(psi, "psi", 0, 2)
    n = checks.positive_int(n, "n")
    device = generator.w_avg.device
    z = torch.randn(n, generator.latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    noise = [torch.zeros(n, 1, s, s, device=device) for s in (7, 7, 14, 14, 28, 28)]
    with torch.no_grad():
        w = generator.truncated_w(z, psi)
        images = generator.synthesize(w, noise)[:, 0].cpu()
        distance_1 = float((generator.mapping(z) - generator.w_avg).norm(dim=1).mean())
    return {"images": images.numpy(), "psi": psi, "distance": float((w - generator.w_avg).norm(dim=1).mean()),
            "distance_1": distance_1}


def style_truncation_explorer(generator, n: int = 8) -> Explorer:
    """Slide psi and watch eight StyleGAN samples move towards (psi < 1) or away from (psi > 1) the average digit."""

    def draw(fig, s):
        axes = fig.subplots(1, len(s["images"]))
        for ax, image in zip(axes, s["images"]):
            ax.imshow(image, cmap="gray", vmin=-1, vmax=1)
            ax.axis("off")
        fig.suptitle(f"psi = {s['psi']:.2f}", fontsize=10)

    def describe(s):
        return f"mean ||w' - w_bar|| = {s['distance']:.3f} = psi x {s['distance_1']:.3f}"

    return Explorer([Knob("psi", 0.0, 1.5, 1.0, step=0.05)],
                    lambda psi: style_truncation_state(generator, psi, n=n), draw, describe, figsize=(1.1 * n, 1.6))
