"""Lecture 08 · The rotation in the entangling construction: same distribution, entangled coordinates."""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import checks
from .explorer import Explorer, Knob, _generator

__all__ = ["rotation_matrix", "rotation_state", "rotation_explorer"]


def rotation_matrix(alpha_deg: float) -> torch.Tensor:
    """A_alpha = [[cos a, -sin a], [sin a, cos a]] (float64), a rotation by ``alpha_deg`` degrees."""
    a = math.radians(checks.number(alpha_deg, "alpha_deg"))
    return torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=torch.float64)


def rotation_state(alpha_deg: float, n: int = 2000, seed: int = 0, marginals=None) -> dict:
    """f(z) = g^{-1}(Phi(A_alpha Phi^{-1}(g(z)))) for z with independent marginals (default Exp(1)
    and Kumaraswamy(2, 5)); see :func:`dgmlib.disentanglement.entangling_map`.

    f(z) has the same distribution as z for every alpha, yet ``spearman[i, j]``, the rank
    correlation of ``f(z)_i`` with ``z_j``, is the identity at alpha = 0 and has no zero entry
    for alpha off the multiples of 90 degrees. ``ks`` are the two-sample Kolmogorov-Smirnov
    statistics between the marginals of f(z) and fresh draws of z (small for every alpha).

    Example:
        >>> s = rotation_state(90.0, n=500)  # a quarter turn swaps the factors
        >>> np.round(s["spearman"][[0, 1], [1, 0]], 2)  # f1 against z2, f2 against z1
        array([-1.,  1.])

    References: Locatello et al., *Challenging Common Assumptions in the Unsupervised Learning of
    Disentangled Representations*, ICML 2019, Theorem 1.
    """
    from scipy import stats

    from .. import disentanglement as D

    alpha_deg = checks.number(alpha_deg, "alpha_deg")
    n = checks.int_at_least(n, "n", 2)
    marginals = list(marginals or [D.exponential(1.0), D.kumaraswamy(2.0, 5.0)])
    if len(marginals) != 2:
        raise ValueError(f"marginals must hold two marginals, got {len(marginals)}")
    g = _generator(seed)
    z = torch.stack([m.sample(n, g) for m in marginals], dim=1)  # (n, 2)
    fresh = torch.stack([m.sample(n, g) for m in marginals], dim=1)
    f, _ = D.entangling_map([m.cdf for m in marginals], [m.icdf for m in marginals], rotation_matrix(alpha_deg))
    fz = f(z)
    ranks_f, ranks_z = stats.rankdata(fz.numpy(), axis=0), stats.rankdata(z.numpy(), axis=0)
    spearman = np.corrcoef(ranks_f.T, ranks_z.T)[:2, 2:]
    ks = [stats.ks_2samp(fz[:, i].numpy(), fresh[:, i].numpy()).statistic for i in range(2)]
    return {"alpha": alpha_deg, "z": z.numpy(), "fz": fz.numpy(), "spearman": spearman, "ks": np.array(ks),
            "names": [m.name for m in marginals]}


def rotation_explorer(n: int = 2000) -> Explorer:
    """The angle alpha of the rotation in the construction: the same joint distribution, a
    different (entangled) coordinate system. Colours follow z1."""

    def draw(fig, s):
        ax, ax2 = fig.subplots(1, 2, sharex=True, sharey=True)
        ax.scatter(s["z"][:, 0], s["z"][:, 1], c=s["z"][:, 0], s=3, cmap="viridis")
        ax.set(title="z (independent coordinates)", xlabel="z1", ylabel="z2", xlim=(0, 5), ylim=(0, 1))
        ax2.scatter(s["fz"][:, 0], s["fz"][:, 1], c=s["z"][:, 0], s=3, cmap="viridis")
        ax2.set(title=f"f(z), alpha = {s['alpha']:.0f} deg (colour: z1)", xlabel="f1")

    def describe(s):
        r = s["spearman"]
        return (f"rank correlation of f1 with (z1, z2) = ({r[0, 0]:+.2f}, {r[0, 1]:+.2f}), of f2 = ({r[1, 0]:+.2f}, "
                f"{r[1, 1]:+.2f}); KS distance of the marginals to fresh z: ({s['ks'][0]:.3f}, {s['ks'][1]:.3f})")

    return Explorer([Knob("alpha", -180.0, 180.0, 30.0, step=5.0, label="alpha (degrees)")],
                    lambda alpha: rotation_state(alpha, n=n), draw, describe, figsize=(8, 3.2))
