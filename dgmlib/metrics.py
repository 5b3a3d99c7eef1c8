"""Numbers that judge a generative model from its samples.

For now the mode coverage of a mixture (the GAN lectures' measure of mode collapse); the
evaluation lecture adds the Inception-style scores here.
"""

from __future__ import annotations

import torch

__all__ = ["mode_coverage"]


def mode_coverage(samples: torch.Tensor, centers: torch.Tensor, std: float, threshold: float = 3.0) -> dict:
    """Modes covered and share of high-quality samples of a Gaussian mixture with known modes.

    A sample is *high quality* when it lies within ``threshold`` standard deviations of its
    nearest mode, ``min_k ||x - c_k|| <= threshold * std``; a mode is *covered* when it is the
    nearest mode of at least one high-quality sample (the protocol of Srivastava et al., 2017).
    For a 2-D Gaussian, a true sample is high quality with probability 1 - exp(-threshold^2 / 2)
    (0.989 for 3 std).

    Args:
        samples: ``(N, D)`` generated points; centers: ``(K, D)`` the mixture means; std: the
            common standard deviation of the components.

    Returns:
        ``{"modes_covered": int, "high_quality": float in [0, 1], "counts": (K,) int64}``, where
        ``counts[k]`` is the number of high-quality samples whose nearest mode is ``k``.
    """
    if not torch.is_tensor(samples) or not torch.is_tensor(centers):
        raise TypeError("samples and centers must be tensors")
    if samples.ndim != 2 or samples.shape[0] == 0:
        raise ValueError(f"samples must have shape (N, D) with N > 0, got {tuple(samples.shape)}")
    if centers.ndim != 2 or centers.shape[0] == 0:
        raise ValueError(f"centers must have shape (K, D) with K > 0, got {tuple(centers.shape)}")
    if samples.shape[1] != centers.shape[1]:
        raise ValueError(f"samples and centers must have the same dimension, got {samples.shape[1]} and {centers.shape[1]}")
    if isinstance(std, bool) or not isinstance(std, (int, float)) or not std > 0:
        raise ValueError(f"std must be a positive number, got {std!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
        raise ValueError(f"threshold must be a positive number, got {threshold!r}")
    centers = centers.to(samples.device, samples.dtype)
    distance, nearest = torch.cdist(samples.detach(), centers).min(dim=1)
    good = distance <= threshold * std
    counts = torch.bincount(nearest[good], minlength=len(centers))
    return {
        "modes_covered": int((counts > 0).sum()),
        "high_quality": float(good.float().mean()),
        "counts": counts,
    }
