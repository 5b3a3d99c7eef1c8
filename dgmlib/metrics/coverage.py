"""Mode coverage: how many modes of a known mixture the samples reach (mode collapse, made a count)."""

from __future__ import annotations

import torch

from .. import checks

__all__ = ["mode_coverage"]


def mode_coverage(samples: torch.Tensor, centers: torch.Tensor, std: float, threshold: float = 3.0) -> dict:
    """Modes covered and share of high-quality samples of a Gaussian mixture with known modes.

    A sample is *high quality* when it lies within ``threshold`` standard deviations of its
    nearest mode, ``min_k ||x - c_k|| <= threshold * std``; a mode is *covered* when it is the
    nearest mode of at least one high-quality sample (the protocol of Srivastava et al., 2017).
    For a 2-D Gaussian, a true sample is high quality with probability 1 - exp(-threshold^2 / 2)
    (0.989 for 3 std).

    Args:
        samples: ``(N, D)`` generated points (NaN or inf refused); centers: ``(K, D)`` the mixture
            means; std: the common standard deviation of the components.

    Returns:
        ``{"modes_covered": int, "high_quality": float in [0, 1], "counts": (K,) int64}``, where
        ``counts[k]`` is the number of high-quality samples whose nearest mode is ``k``.

    Example:
        >>> centers, std = toy2d_modes("8gaussians")
        >>> mode_coverage(toy2d("8gaussians", 2000), centers, std)["modes_covered"]
        8

    References:
        Srivastava et al., "VEEGAN: Reducing Mode Collapse in GANs using Implicit Variational
        Learning", NeurIPS 2017 (arXiv:1705.07761).
    """
    samples = checks.finite_tensor(samples, "samples")
    centers = checks.finite_tensor(centers, "centers")
    if samples.ndim != 2 or samples.shape[0] == 0:
        raise ValueError(f"samples must have shape (N, D) with N > 0, got {tuple(samples.shape)}")
    if centers.ndim != 2 or centers.shape[0] == 0:
        raise ValueError(f"centers must have shape (K, D) with K > 0, got {tuple(centers.shape)}")
    if samples.shape[1] != centers.shape[1]:
        raise ValueError(f"samples and centers must have the same dimension, got {samples.shape[1]} and {centers.shape[1]}")
    std = checks.positive_number(std, "std")
    threshold = checks.positive_number(threshold, "threshold")
    centers = centers.to(samples.device, samples.dtype)
    distance, nearest = torch.cdist(samples.detach(), centers).min(dim=1)  # (N,) each
    good = distance <= threshold * std
    counts = torch.bincount(nearest[good], minlength=len(centers))  # (K,)
    return {
        "modes_covered": int((counts > 0).sum()),
        "high_quality": float(good.float().mean()),
        "counts": counts,
    }
