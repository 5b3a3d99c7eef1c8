"""Lecture 00 · Binarizing MNIST: a threshold against a Bernoulli draw per pixel."""

from __future__ import annotations

import numpy as np
import torch

from .. import checks
from .explorer import Explorer, Knob, _as_float_array

__all__ = ["binarization_state", "binarization_explorer"]


def binarization_state(image, threshold: float, seed: int = 0) -> dict:
    """b = 1[x > threshold]  against  b ~ Bernoulli(x), pixel by pixel, on one grey digit.

    ``share_on_*`` are the fractions of pixels set to 1: ``mean(1[x > t])`` for the thresholded
    image, and for the stochastic one (seeded) a draw whose expectation is ``mean(x)``.
    ``image``: ``(H, W)`` or ``(1, H, W)`` grey levels in [0, 1].

    Example:
        >>> s = binarization_state(torch.full((4, 4), 0.25), 0.5)
        >>> s["share_on_threshold"], s["mean_grey"]
        (0.0, 0.25)
    """
    grey = _as_float_array(image, "image").squeeze()
    if grey.ndim != 2:
        raise ValueError(f"image must be one grey image (H, W) or (1, H, W), got shape {grey.shape}")
    checks.in_unit_interval(torch.from_numpy(grey), "image", " (grey levels)")
    threshold = checks.number_in(threshold, "threshold", 0, 1)
    u = np.random.default_rng(seed).random(grey.shape)
    thresholded = (grey > threshold).astype(np.float64)
    stochastic = (u < grey).astype(np.float64)
    return {"grey": grey, "thresholded": thresholded, "stochastic": stochastic, "mean_grey": float(grey.mean()),
            "share_on_threshold": float(thresholded.mean()), "share_on_stochastic": float(stochastic.mean())}


def binarization_explorer(images, labels=None) -> Explorer:
    """Browse digits (``index``) and move the binarization ``threshold``; a new ``seed`` draws a
    new stochastic binarization. ``images``: ``(N, 1, H, W)`` or ``(N, H, W)`` in [0, 1]."""
    images = _as_float_array(images, "images")
    if images.ndim == 4:
        images = images[:, 0]
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"images must have shape (N, H, W) or (N, 1, H, W) with N > 0, got {images.shape}")
    labels = None if labels is None else _as_float_array(labels, "labels").astype(int)

    def compute(index, threshold, seed):
        state = binarization_state(images[index], threshold, seed)
        state["label"] = None if labels is None else int(labels[index])
        return state

    def draw(fig, s):
        axes = fig.subplots(1, 3)
        titles = [f"grey (label {s['label']})" if s["label"] is not None else "grey",
                  "1[x > threshold]", "Bernoulli(x) sample"]
        for ax, key, title in zip(axes, ["grey", "thresholded", "stochastic"], titles):
            ax.imshow(s[key], cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(title)
            ax.set_axis_off()

    def describe(s):
        return (f"mean grey level {s['mean_grey']:.3f}; pixels on: thresholded {s['share_on_threshold']:.3f}, "
                f"stochastic {s['share_on_stochastic']:.3f} (expected {s['mean_grey']:.3f})")

    knobs = [Knob("index", 0, len(images) - 1, 0, integer=True, label="digit"),
             Knob("threshold", 0.0, 1.0, 0.5, step=0.05), Knob("seed", 0, 99, 0, integer=True)]
    return Explorer(knobs, compute, draw, describe, figsize=(7.5, 2.8))
