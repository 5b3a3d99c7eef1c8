"""KL and JSD of discrete distributions (or densities tabulated on a grid), and histograms of samples."""

from __future__ import annotations

import math

import torch

from .. import checks
from ._inputs import distribution_pair, point_cloud, same_dimension

__all__ = ["kl", "jsd", "histograms"]


def kl(pi: torch.Tensor, p: torch.Tensor, dx: float = 1.0) -> torch.Tensor:
    """KL(pi || p) = sum_x pi(x) log(pi(x) / p(x)) * dx, a scalar tensor.

    ``pi``, ``p``: probabilities of a discrete distribution, or density values on a grid with cell
    volume ``dx`` (any common shape; every element is summed). Conventions: ``0 log 0 = 0``, and
    ``+inf`` where ``pi > 0`` but ``p = 0`` (pi puts mass where p has none).

    Example:
        >>> kl(torch.tensor([0.5, 0.5]), torch.tensor([0.25, 0.75]))   # 0.5 log 2 + 0.5 log(2/3)
        tensor(0.1438)

    References:
        Cover & Thomas, "Elements of Information Theory", 2nd ed., 2006, section 2.3.
    """
    distribution_pair(pi, p)
    dx = checks.positive_number(dx, "dx")
    return (torch.xlogy(pi, pi) - torch.xlogy(pi, p)).sum() * dx


def jsd(pi: torch.Tensor, p: torch.Tensor, dx: float = 1.0) -> torch.Tensor:
    """JSD(pi || p) = 1/2 KL(pi || m) + 1/2 KL(p || m) with m = (pi + p) / 2, a scalar tensor.

    Same inputs as :func:`kl`. Always finite: between 0 (pi = p) and log 2 (disjoint supports).
    The GAN's value at the optimal discriminator is 2 JSD(pi || p) - log 4.

    Example:
        >>> jsd(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]))   # disjoint: log 2
        tensor(0.6931)

    References:
        Lin, "Divergence measures based on the Shannon entropy", IEEE Trans. Inf. Theory 37, 1991;
        Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, theorem 1.
    """
    distribution_pair(pi, p)
    dx = checks.positive_number(dx, "dx")
    # log m = logaddexp(log pi, log p) - log 2 stays finite where pi + p underflows to 0
    log_m = torch.logaddexp(torch.log(pi), torch.log(p)) - math.log(2.0)
    zero = torch.zeros((), dtype=pi.dtype, device=pi.device)
    kl_pi = torch.where(pi > 0, pi * (torch.log(pi) - log_m), zero).sum()
    kl_p = torch.where(p > 0, p * (torch.log(p) - log_m), zero).sum()
    return 0.5 * (kl_pi + kl_p) * dx


def _bounds(bounds, both: torch.Tensor) -> list[float]:
    """``[low_1, high_1, low_2, ...]`` for ``d`` dimensions: given, or the joint range (padded)."""
    d = both.shape[1]
    if bounds is None:
        low, high = both.min(0).values, both.max(0).values
        pad = 1e-9 + 1e-6 * (high - low)
        bounds = list(zip((low - pad).tolist(), (high + pad).tolist()))
    flat = [checks.number(float(v), "bounds") for pair in bounds for v in pair]
    if len(flat) != 2 * d:
        raise ValueError(f"bounds must give (low, high) for each of the {d} dimensions")
    if any(low >= high for low, high in zip(flat[::2], flat[1::2])):
        raise ValueError(f"bounds must give low < high for each dimension, got {bounds}")
    return flat


def histograms(x: torch.Tensor, y: torch.Tensor, bins: int = 20, bounds=None):
    """Bin two samples of the same dimension on one common grid: ``(pi_hat, p_hat)`` probabilities.

    ``x: (n, d)``, ``y: (m, d)`` (finite: NaN or inf refused); ``bounds``: ``[(low, high)] * d``
    (default: the joint range). Returns two tensors of shape ``(bins,) * d`` that each sum to 1, for
    :func:`kl` and :func:`jsd`: pi_hat(cell) = #{x_i in cell} / n.

    Example:
        >>> pi_hat, p_hat = histograms(torch.randn(1000, 1), torch.randn(1000, 1) + 3, bins=30)
        >>> estimate = jsd(pi_hat, p_hat)   # of JSD(N(0, 1) || N(3, 1))
    """
    x = point_cloud(x, "x")
    y = point_cloud(y, "y")
    same_dimension(x, y)
    bins = checks.positive_int(bins, "bins")
    flat = _bounds(bounds, torch.cat([x.detach(), y.detach()]).double().cpu())
    h_x = torch.histogramdd(x.detach().double().cpu(), bins=bins, range=flat).hist
    h_y = torch.histogramdd(y.detach().double().cpu(), bins=bins, range=flat).hist
    return (h_x / h_x.sum()).to(x.device), (h_y / h_y.sum()).to(x.device)
