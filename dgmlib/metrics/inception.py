"""The Inception Score: confident and varied class predictions for generated samples."""

from __future__ import annotations

import torch

from .. import checks
from ._inputs import float64_device

__all__ = ["inception_score"]


def inception_score(probs, splits: int = 10) -> tuple[float, float]:
    """Inception Score IS = exp(E_x KL(p(y|x) || p(y))) = exp(H(y) - H(y|x)).

    ``probs: (N, K)``: a classifier's class probabilities p(y|x) for N generated samples; the
    marginal p(y) is their mean. As in the original code the N samples are cut into ``splits``
    equal parts, the score is computed on each, and the function returns ``(mean, std)`` over the
    parts, two floats (``splits=1``: the score of all samples and 0). Between 1 (every x gets the
    same p(y|x), or the uniform one) and K (confident predictions, balanced classes). The splits are
    consecutive blocks: shuffle samples that are sorted by class first.

    Example:
        >>> mean, std = inception_score(torch.eye(10).repeat(50, 1))   # confident, 50 per class
        >>> round(mean, 6), std                                         # K = 10 classes
        (10.0, 0.0)

    References:
        Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016 (arXiv:1606.03498).
    """
    if not torch.is_tensor(probs):
        probs = torch.as_tensor(probs)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] < 2:
        raise ValueError(f"probs must have shape (N, K) with N >= 1 and K >= 2 classes, got {tuple(probs.shape)}")
    probs = checks.finite_tensor(probs.detach(), "probs")
    probs = probs.to(float64_device(probs), torch.float64)
    if bool((probs < 0).any()) or not torch.allclose(probs.sum(1), torch.ones_like(probs[:, 0]), atol=1e-4):
        raise ValueError("probs must hold probabilities: non-negative rows that sum to 1 (apply softmax to logits)")
    splits = checks.positive_int(splits, "splits")
    if splits > len(probs):
        raise ValueError(f"splits must be an int between 1 and the number of samples {len(probs)}, got {splits!r}")
    scores = []
    for part in torch.tensor_split(probs, splits):  # (N / splits, K) each
        marginal = part.mean(0, keepdim=True)  # p(y), (1, K)
        kl = (torch.xlogy(part, part) - torch.xlogy(part, marginal)).sum(1)  # KL(p(y|x) || p(y)) per x
        scores.append(kl.mean().exp())
    scores = torch.stack(scores)
    return float(scores.mean()), float(scores.std(unbiased=False))
