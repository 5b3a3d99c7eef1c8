"""Improved precision and recall: k-nearest-neighbour balls around each set's points."""

from __future__ import annotations

import torch

from .. import checks
from ._inputs import feature_matrix, feature_pair

__all__ = ["precision_recall", "knn_radii"]


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared distances ||a_i - b_j||^2 = ||a_i||^2 - 2 a_i.b_j + ||b_j||^2 and their round-off bound.

    ``a: (n, D)``, ``b: (m, D)`` -> ``(n, m)`` each: one matrix product, clamped at 0;
    :func:`precision_recall` calls it in float64.
    The formula's absolute error is below 4 eps (||a_i||^2 + ||b_j||^2), returned as ``slack``:
    comparisons against a squared radius allow it, so identical points count as inside each
    other's balls even when the radius is 0 (k duplicates).
    """
    a2, b2 = a.pow(2).sum(1)[:, None], b.pow(2).sum(1)[None, :]
    d2 = torch.addmm(a2 + b2, a, b.T, alpha=-2).clamp_min_(0)
    return d2, 4 * torch.finfo(d2.dtype).eps * (a2 + b2)


def knn_radii(features, k: int = 3, chunk: int = 1024) -> torch.Tensor:
    """Distance of every point to its k-th nearest neighbour other than itself: ``(N, D) -> (N,)``.

    ``k < N``: a point has N - 1 others. Distances are computed ``chunk`` rows at a time.

    Example:
        >>> knn_radii(torch.tensor([[0.0], [1.0], [3.0], [7.0]]), k=1)
        tensor([1., 1., 2., 4.])
    """
    x = feature_matrix(features, "features")
    k = checks.positive_int(k, "k")
    chunk = checks.positive_int(chunk, "chunk")
    if k >= len(x):
        raise ValueError(f"k must be smaller than the number of points N = {len(x)} (each has N - 1 neighbours), got k={k}")
    radii = []
    for start in range(0, len(x), chunk):
        d2, _ = _sq_dists(x[start:start + chunk], x)  # (chunk, N)
        # k + 1 smallest: the point itself (distance 0 up to round-off) comes first
        radii.append(d2.topk(k + 1, dim=1, largest=False).values[:, k].sqrt())
    return torch.cat(radii)


def _inside_union(points: torch.Tensor, centers: torch.Tensor, radii: torch.Tensor, chunk: int) -> torch.Tensor:
    """For each point: is ||point - c_i|| <= r_i for some i?  ``(N,)`` bool."""
    inside = []
    r2 = radii.pow(2)[None, :]  # (1, M)
    for start in range(0, len(points), chunk):
        d2, slack = _sq_dists(points[start:start + chunk], centers)  # (chunk, M)
        inside.append((d2 - slack <= r2).any(dim=1))
    return torch.cat(inside)


def precision_recall(real_features, fake_features, k: int = 3, chunk: int = 1024) -> dict:
    """Improved precision and recall with k-nearest-neighbour manifolds.

    Each set approximates its manifold by the union of balls B(g, r_k(g)) around its points, r_k(g)
    the distance from g to its k-th nearest neighbour in the same set (not counting g). With
    f(g, G) = 1 if g lies in some ball of G:

        precision = (1/M) sum_{g in fake} f(g, real)    (share of samples that look real)
        recall    = (1/N) sum_{g in real} f(g, fake)    (share of the data the model covers)

    ``real_features: (N, D)``, ``fake_features: (M, D)`` (tensors or arrays, finite: a NaN or inf
    is refused with a ``ValueError`` naming the argument); ``k < min(N, M)``. Distances are
    computed in float64, in blocks of ``chunk`` rows, as matrix products on the inputs' device, so
    memory stays O(chunk * max(N, M)). Returns ``{"precision": float, "recall": float}``.

    Example:
        >>> real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
        >>> precision_recall(real, torch.tensor([[0.5], [2.9], [10.0], [11.0]]), k=1)
        {'precision': 0.5, 'recall': 1.0}

    References:
        Kynkäänniemi et al., "Improved Precision and Recall Metric for Assessing Generative
        Models", NeurIPS 2019 (arXiv:1904.06991).
    """
    real, fake = feature_pair(real_features, fake_features, "real_features", "fake_features")
    k = checks.positive_int(k, "k")
    if k >= min(len(real), len(fake)):
        raise ValueError(f"k must be smaller than the number of samples in real_features ({len(real)}) and "
                         f"fake_features ({len(fake)}), got k={k}")
    chunk = checks.positive_int(chunk, "chunk")
    # float64: the matrix-product distances lose ~eps * ||x||^2, which in float32 is a visible share of
    # a k-NN radius in low dimension (2-D toy data); in float64 it is far below any radius
    real, fake = real.double(), fake.to(real.device, torch.float64)
    r_real, r_fake = knn_radii(real, k, chunk), knn_radii(fake, k, chunk)
    precision = _inside_union(fake, real, r_real, chunk).double().mean()
    recall = _inside_union(real, fake, r_fake, chunk).double().mean()
    return {"precision": float(precision), "recall": float(recall)}
