"""Lecture 05 · Precision and recall: dropped modes cost recall, off-manifold samples cost precision."""

from __future__ import annotations

import numpy as np
import torch

from .. import checks
from ..plotting import DATA_COLOR, MODEL_COLOR
from .explorer import Explorer, Knob, _generator

__all__ = ["precision_recall_state", "precision_recall_explorer"]


def precision_recall_state(dropped: int, off_manifold: float, *, n: int = 600, k: int = 3, seed: int = 0) -> dict:
    """k-NN precision and recall of a generator on the 8-Gaussian ring with known faults.

    The generator drops the first ``dropped`` of the 8 modes and replaces a share
    ``off_manifold`` of its samples by uniform noise on ``[-3, 3]^2``; the scores are
    :func:`dgmlib.metrics.precision_recall`. Dropping modes costs recall (about
    ``(8 - dropped) / 8``); noise off the data manifold costs precision (about ``1 - off_manifold``).

    Example:
        >>> s = precision_recall_state(4, 0.0)  # half the modes dropped
        >>> round(s["recall"], 2), round(s["precision"], 2)
        (0.44, 0.96)

    References: Kynkäänniemi et al., *Improved Precision and Recall Metric for Assessing
    Generative Models*, NeurIPS 2019.
    """
    from ..data import toy2d, toy2d_modes
    from ..metrics import precision_recall

    dropped = checks.int_at_least(dropped, "dropped", 0)
    checks.number_in(dropped, "dropped", 0, 7)
    off_manifold = checks.number_in(off_manifold, "off_manifold", 0, 1)
    n = checks.positive_int(n, "n")
    centers, std = toy2d_modes("8gaussians")
    g = _generator(seed + 1)
    real = toy2d("8gaussians", n, seed=seed)
    kept = torch.arange(dropped, 8)
    fake = centers[kept[torch.randint(len(kept), (n,), generator=g)]] + std * torch.randn(n, 2, generator=g)
    noisy = torch.rand(n, generator=g) < off_manifold
    fake = torch.where(noisy[:, None], 6 * torch.rand(n, 2, generator=g) - 3, fake)
    scores = precision_recall(real, fake, k=k)
    return {"real": real.numpy(), "fake": fake.numpy(), "noisy": noisy.numpy(), "precision": float(scores["precision"]),
            "recall": float(scores["recall"]), "dropped": dropped, "off_manifold": off_manifold}


def precision_recall_explorer(n: int = 600, k: int = 3) -> Explorer:
    """Drop modes and add off-manifold samples; watch recall and precision move separately."""
    history = []

    def draw(fig, s):
        ax, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
        ax.scatter(s["real"][:, 0], s["real"][:, 1], s=4, color=DATA_COLOR, alpha=0.5, label=r"data $\pi$")
        ax.scatter(s["fake"][:, 0], s["fake"][:, 1], s=4, color=MODEL_COLOR, alpha=0.5, label="model $p$")
        ax.set(xlim=(-3.2, 3.2), ylim=(-3.2, 3.2), aspect="equal", title=f"{s['dropped']} modes dropped, "
               f"{100 * s['off_manifold']:.0f}% noise")
        ax.legend(fontsize=8, loc="upper right")
        history.append((s["recall"], s["precision"]))
        del history[:-12]
        trail = np.array(history)
        ax2.plot(trail[:, 0], trail[:, 1], "-", color="0.7")
        ax2.plot(s["recall"], s["precision"], "o", color=MODEL_COLOR, ms=10)
        ax2.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel="recall", ylabel="precision",
                title="(recent settings in grey)")

    def describe(s):
        return (f"precision {s['precision']:.3f}, recall {s['recall']:.3f} (k = {k}). For reference: dropping "
                f"{s['dropped']} of 8 modes alone gives recall about {(8 - s['dropped']) / 8:.2f}; "
                f"{100 * s['off_manifold']:.0f}% noise alone gives precision about {1 - s['off_manifold']:.2f}")

    knobs = [Knob("dropped", 0, 7, 0, integer=True, label="modes dropped"),
             Knob("off_manifold", 0.0, 1.0, 0.0, step=0.05, label="share off-manifold")]
    return Explorer(knobs, lambda dropped, off_manifold: precision_recall_state(dropped, off_manifold, n=n, k=k), draw,
                    describe, figsize=(8.5, 3.6))
