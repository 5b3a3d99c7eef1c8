"""The Fréchet distance between Gaussians, and FID: that distance between Gaussians fitted to features."""

from __future__ import annotations

import torch

from .. import checks
from ._inputs import feature_matrix, feature_pair, float64_device

__all__ = ["fid", "frechet_distance", "trace_sqrt_product", "gaussian_stats"]


def _check_psd(values: torch.Tensor, name: str, eps: float) -> None:
    """Refuse a matrix with eigenvalues ``values`` (ascending) when one is more negative than round-off.

    Round-off makes the covariance of N <= D samples, or of features with a constant coordinate,
    come out with eigenvalues a little below 0. An eigenvalue counts as round-off when
    ``lambda >= -D * eps * max|lambda|`` (the tolerance of ``numpy.linalg.matrix_rank``), with
    ``eps`` the machine epsilon of the dtype the covariance came in (float32: 1.2e-7); anything more
    negative means the matrix is not a covariance.
    """
    tol = len(values) * eps * float(values.abs().max())
    if float(values[0]) < -tol:
        raise ValueError(f"{name} must be positive semi-definite (a covariance matrix), got an eigenvalue of "
                         f"{float(values[0]):.3g} (round-off tolerance {tol:.3g})")


def _psd_factor(c: torch.Tensor, name: str, eps: float) -> torch.Tensor:
    """A factor L with ``c = L L^T`` of a symmetric PSD ``c``: Cholesky's, or for a singular ``c``
    the symmetric square root from an eigendecomposition (round-off negative eigenvalues clamped)."""
    factor, info = torch.linalg.cholesky_ex(c)
    if int(info) == 0:
        return factor
    values, vectors = torch.linalg.eigh(c)
    _check_psd(values, name, eps)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def _eps(c: torch.Tensor) -> float:
    """The machine epsilon of the dtype ``c`` came in."""
    return torch.finfo(c.dtype if c.is_floating_point() else torch.float64).eps


def trace_sqrt_product(cov_a: torch.Tensor, cov_b: torch.Tensor) -> torch.Tensor:
    """Tr sqrt(C_a C_b) for symmetric PSD ``C_a``, ``C_b``: ``(D, D)`` each -> scalar (float64).

    C_a C_b is not symmetric, but with any factor C_a = L L^T it is similar to the symmetric PSD
    matrix L^T C_b L (C_a C_b = L (L^T C_b L) L^{-1}), so Tr sqrt(C_a C_b) = sum_i sqrt(lambda_i) over
    the eigenvalues of L^T C_b L. L is the Cholesky factor or, when C_a is singular, the
    symmetric square root from an eigendecomposition. Two symmetric factorizations in float64
    replace the general (Schur) matrix square root of scipy's ``sqrtm``.

    Raises a ``ValueError`` naming ``cov_a`` or ``cov_b`` when one has an eigenvalue below
    ``-D * eps * max|lambda|`` (more negative than round-off; see :func:`frechet_distance`).
    """
    cov_a, cov_b = checks.finite_tensor(cov_a, "cov_a"), checks.finite_tensor(cov_b, "cov_b")
    eps_a, eps_b = _eps(cov_a), _eps(cov_b)
    cov_a, cov_b = cov_a.double(), cov_b.double()
    cov_a = 0.5 * (cov_a + cov_a.T)
    factor = _psd_factor(cov_a, "cov_a", eps_a)
    sym_b = 0.5 * (cov_b + cov_b.T)
    if int(torch.linalg.cholesky_ex(sym_b).info) != 0:  # not positive definite: is it semi-definite?
        _check_psd(torch.linalg.eigvalsh(sym_b), "cov_b", eps_b)
    middle = factor.T @ cov_b @ factor
    values = torch.linalg.eigvalsh(0.5 * (middle + middle.T))
    return values.clamp_min(0).sqrt().sum()


def frechet_distance(mean_a, cov_a, mean_b, cov_b) -> float:
    """Squared Fréchet (2-Wasserstein) distance between N(m_a, C_a) and N(m_b, C_b):

        d^2 = ||m_a - m_b||^2 + Tr(C_a + C_b - 2 (C_a C_b)^{1/2}).

    ``mean_*``: ``(D,)``, ``cov_*``: ``(D, D)`` symmetric positive semi-definite (tensors or
    arrays, finite and real). Returns a float (computed in float64).

    A covariance with an eigenvalue below ``-D * eps * max|lambda|`` (``eps`` of its dtype: 2.2e-16
    for float64, 1.2e-7 for float32) is refused with a ``ValueError`` that names it: smaller
    negative eigenvalues are round-off (the covariance of fewer samples than dimensions) and are
    treated as 0.

    Example:
        >>> frechet_distance(torch.zeros(2), torch.eye(2), torch.ones(2), 4 * torch.eye(2))
        4.0

    References:
        Dowson & Landau, "The Fréchet distance between multivariate normal distributions",
        J. Multivariate Analysis 12, 1982.
    """
    values = {}
    for name, v in (("mean_a", mean_a), ("cov_a", cov_a), ("mean_b", mean_b), ("cov_b", cov_b)):
        values[name] = checks.finite_tensor(torch.as_tensor(v).detach(), name)
    mean_a, cov_a, mean_b, cov_b = values.values()
    d = mean_a.shape[-1] if mean_a.ndim else 0
    if mean_a.ndim != 1 or mean_b.shape != mean_a.shape:
        raise ValueError(f"mean_a and mean_b must be vectors of one length, got {tuple(mean_a.shape)} and {tuple(mean_b.shape)}")
    if cov_a.shape != (d, d) or cov_b.shape != (d, d):
        raise ValueError(f"cov_a and cov_b must be ({d}, {d}) matrices, got {tuple(cov_a.shape)} and {tuple(cov_b.shape)}")
    device = float64_device(mean_a)
    mean_a, mean_b = mean_a.to(device, torch.float64), mean_b.to(device, torch.float64)
    cov_a, cov_b = cov_a.to(device), cov_b.to(device)
    value = (mean_a - mean_b).pow(2).sum() + torch.trace(cov_a.double()) + torch.trace(cov_b.double()) \
        - 2.0 * trace_sqrt_product(cov_a, cov_b)
    return float(value)


def gaussian_stats(features) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` (divisor N - 1) of ``features: (N, D)``, in float64."""
    x = feature_matrix(features, "features")
    x = x.to(float64_device(x), torch.float64)
    mean = x.mean(0)
    centered = x - mean
    return mean, centered.T @ centered / (len(x) - 1)


def fid(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two sets of features (FID):

        FID = ||m_a - m_b||^2 + Tr(C_a + C_b - 2 (C_a C_b)^{1/2}),

    with m, C the sample mean and covariance of ``features_a: (N, D)`` and ``features_b: (M, D)``
    (tensors or arrays; features of a classifier's penultimate layer, e.g. :meth:`FeatureNet.features`).
    Zero for identical sets; it is biased upwards for small N, so compare FIDs at equal sample sizes.
    Features with NaN or inf are refused (``ValueError``), complex ones too (``TypeError``).

    Example:
        >>> x = torch.randn(1000, 8)
        >>> round(fid(x, x + 1.0), 6)   # a shift by the all-ones vector: ||m_a - m_b||^2 = 8
        8.0

    References:
        Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
        Equilibrium", NeurIPS 2017 (arXiv:1706.08500).
    """
    a, b = feature_pair(features_a, features_b, "features_a", "features_b")
    mean_a, cov_a = gaussian_stats(a)
    mean_b, cov_b = gaussian_stats(b.to(a.device))
    return max(frechet_distance(mean_a, cov_a, mean_b, cov_b), 0.0)
