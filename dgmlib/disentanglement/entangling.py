"""The entangling bijection of Locatello et al. (2019): a code as factorized as ``z`` that mixes
every coordinate of ``z``.

    f(z) = g^{-1}( h^{-1}( A h(g(z)) ) ),   g_i = CDF of z_i,  h = Phi^{-1},  A orthogonal and dense

Example:
    >>> from dgmlib.disentanglement import exponential, kumaraswamy
    >>> pair = [exponential(1.0), kumaraswamy(2.0, 5.0)]
    >>> A = random_dense_orthogonal(2, torch.Generator().manual_seed(0))
    >>> f, f_inv = entangling_map([m.cdf for m in pair], [m.icdf for m in pair], A)

References: Locatello et al., *Challenging Common Assumptions in the Unsupervised Learning of
Disentangled Representations*, ICML 2019, Theorem 1 and its proof.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from .. import checks

__all__ = ["random_dense_orthogonal", "entangling_map", "warped_grid"]


def random_dense_orthogonal(d: int, generator: torch.Generator | None = None, *, min_abs: float | None = None,
                            max_tries: int = 10_000, dtype=torch.float64) -> torch.Tensor:
    """A Haar-random orthogonal ``(d, d)`` matrix with every ``|A_ij| >= min_abs``.

    Draws ``G`` with i.i.d. N(0, 1) entries, takes ``G = QR`` and returns ``Q diag(sign(diag R))``
    (Mezzadri, 2007: exactly Haar-distributed), redrawing until no entry is smaller than
    ``min_abs`` (default ``0.01 / d``; exact zeros have probability 0, the threshold keeps the
    Jacobian entries numerically visible). Rejection keeps the draw Haar-distributed conditioned on
    that event.

    References: Mezzadri, *How to generate random matrices from the classical compact groups*,
    Notices of the AMS, 2007.
    """
    d = checks.int_at_least(d, "d", 2, " (the theorem needs d > 1)")
    max_tries = checks.positive_int(max_tries, "max_tries")
    min_abs = 0.01 / d if min_abs is None else checks.number(min_abs, "min_abs")
    if not 0 <= min_abs < 1 / math.sqrt(d):
        raise ValueError(f"min_abs must be in [0, 1/sqrt(d)) = [0, {1 / math.sqrt(d):.3g}), got {min_abs}")
    for _ in range(max_tries):
        g = torch.randn(d, d, generator=generator, dtype=dtype)
        q, r = torch.linalg.qr(g)
        q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
        if q.abs().min() >= min_abs:
            return q
    raise RuntimeError(f"no orthogonal matrix with all |entries| >= {min_abs} in {max_tries} draws; lower min_abs")


def _check_orthogonal(A: torch.Tensor, tol: float = 1e-6) -> None:
    if not torch.is_tensor(A) or A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be a square matrix (tensor of shape (d, d)), got {getattr(A, 'shape', type(A))}")
    eye = torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
    err = (A @ A.T - eye).abs().max().item()
    if err > tol:
        raise ValueError(f"A must be orthogonal (A A^T = I); max |A A^T - I| = {err:.3g}")


def entangling_map(cdfs: Sequence[Callable], icdfs: Sequence[Callable], A: torch.Tensor):
    """``f = g^{-1} o h^{-1} o A o h o g`` and its inverse, as callables on batches ``(B, d)``.

    ``cdfs[i]``/``icdfs[i]`` are the CDF ``g_i`` and inverse CDF ``g_i^{-1}`` of the marginal of
    ``z_i`` (elementwise torch functions); ``h = Phi^{-1}`` elementwise; ``A`` is orthogonal. The
    inverse is the same map with ``A^T``. Both are differentiable, so ``torch.func.jacrev`` gives
    ``df_i/dz_j``. Uniforms are clamped to ``[eps, 1 - eps]`` (``eps`` = 1e-12 in float64, 1e-6 in
    float32) so that ``Phi^{-1}`` stays finite in the far tails.
    """
    cdfs, icdfs = list(cdfs), list(icdfs)
    _check_orthogonal(A)
    d = A.shape[0]
    if d < 2:
        raise ValueError("the construction needs d > 1")
    if len(cdfs) != d or len(icdfs) != d:
        raise ValueError(f"need one cdf and one icdf per dimension: A is {d}x{d}, got {len(cdfs)} cdfs and {len(icdfs)} icdfs")
    if not all(callable(c) for c in cdfs + icdfs):
        raise TypeError("cdfs and icdfs must be callables (elementwise torch functions)")
    normal = torch.distributions.Normal(0.0, 1.0)

    def make(matrix):
        def mapping(z: torch.Tensor) -> torch.Tensor:
            if not torch.is_tensor(z) or z.ndim != 2 or z.shape[1] != d:
                raise ValueError(f"z must be a tensor of shape (B, {d}), got {tuple(getattr(z, 'shape', ()))}")
            eps = 1e-12 if z.dtype == torch.float64 else 1e-6
            u = torch.stack([cdf(z[:, i]) for i, cdf in enumerate(cdfs)], dim=1)  # g: to uniforms
            n = normal.icdf(u.clamp(eps, 1 - eps))  # h: to standard normals
            n = n @ matrix.to(z).T  # A: a rotation keeps N(0, I)
            u = normal.cdf(n).clamp(eps, 1 - eps)  # h^{-1}
            return torch.stack([icdf(u[:, i]) for i, icdf in enumerate(icdfs)], dim=1)  # g^{-1}

        return mapping

    return make(A), make(A.T)


def warped_grid(f: Callable, bounds=(0.02, 0.98), n_lines: int = 11, n_points: int = 200, dtype=torch.float64):
    """Images under ``f`` of the lines of a square grid on ``[lo, hi]^2``, for pictures of a 2-D map:
    returns ``(vertical, horizontal)``, each ``(n_lines, n_points, 2)``."""
    n_lines, n_points = checks.positive_int(n_lines, "n_lines"), checks.positive_int(n_points, "n_points")
    lo, hi = bounds
    levels = torch.linspace(lo, hi, n_lines, dtype=dtype)
    t = torch.linspace(lo, hi, n_points, dtype=dtype)
    vertical = torch.stack([levels[:, None].expand(-1, n_points), t[None].expand(n_lines, -1)], -1)
    horizontal = vertical.flip(-1)
    with torch.no_grad():
        return tuple(f(lines.reshape(-1, 2)).reshape(n_lines, n_points, 2) for lines in (vertical, horizontal))
