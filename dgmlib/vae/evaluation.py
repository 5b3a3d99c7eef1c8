"""Measuring a trained model: importance-sampled log p(x), the three test bounds, and two latent-space views.

    F_k(x) = log (1/k) sum_{i=1}^k w_i,   w_i = p(x, z_i) / q(z_i|x),  z_i ~ q(z|x)
    ELBO = F_1  <=  F_5  <=  ...  <=  F_k  ->  log p(x)   as k grows.

References: Burda, Grosse & Salakhutdinov, *Importance Weighted Autoencoders*, ICLR 2016, Sec. 3
and Theorem 1 (F_k is non-decreasing in k and tends to log p(x)).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from .. import checks
from ..gaussian import log_mean_exp
from ..runtime import module_device

__all__ = ["importance_log_prob", "evaluate_bounds", "latent_grid", "gaussian_fit_kl"]


def importance_log_prob(log_weights: Callable, x: torch.Tensor, k: int = 1000, chunk: int | None = None) -> torch.Tensor:
    """Importance-sampled log p(x) ~ F_k(x), ``k`` weights per x drawn ``chunk`` at a time:  (B, ...) -> (B,).

    ``log_weights(x, k) -> (k, B)`` draws ``k`` log-weights ``log p(x, z_i) - log q(z_i|x)`` per x
    (a model's ``log_weights``). Chunks are combined with a running log-sum-exp, so ``k = 5000``
    fits in a laptop's memory; default ``chunk``: about 2e7 numbers of x at a time.
    """
    k = checks.int_at_least(k, "k", 1)
    if chunk is None:
        chunk = max(1, min(k, int(2e7 // max(1, x[0].numel() * len(x)))))
    chunk = checks.int_at_least(chunk, "chunk", 1)
    total = None
    for start in range(0, k, chunk):
        lse = torch.logsumexp(log_weights(x, min(chunk, k - start)), 0)
        total = lse if total is None else torch.logaddexp(total, lse)
    return total - math.log(k)


@torch.no_grad()
def evaluate_bounds(model: nn.Module, x: torch.Tensor, k: int = 1000, samples: int = 100,
                    batch_size: int = 100) -> dict[str, float]:
    """Test-set averages of three bounds on log p(x), in nats per example:

    ``elbo`` (the mean of ``samples`` log-weights, a low-noise ELBO), ``iwae_5`` (F_5 from the same
    draws) and ``log_prob`` (F_k with ``k`` importance samples, the model's ``log_prob(x, k=k)``).
    ``model`` offers ``log_weights(x, k) -> (k, B)`` (and ``log_prob``); ``x`` may live on the CPU
    (moved in batches of ``batch_size`` to the model's device).

    Example:
        >>> r = evaluate_bounds(vae, x_test, k=1000)
        >>> r["elbo"] < r["iwae_5"] < r["log_prob"]
        True

    References: Burda, Grosse & Salakhutdinov, ICLR 2016, Sec. 5 (test log-likelihoods with k = 5000).
    """
    k = checks.int_at_least(k, "k", 1)
    samples = checks.positive_int(samples, "samples")
    if samples % 5:
        raise ValueError(f"samples must be a multiple of 5 (for F_5), got {samples!r}")
    batch_size = checks.positive_int(batch_size, "batch_size")
    checks.tensor(x, "x")
    device = module_device(model)
    log_prob = getattr(model, "log_prob", None)
    sums = {"elbo": 0.0, "iwae_5": 0.0, "log_prob": 0.0}
    for xb in x.split(batch_size):
        xb = xb.to(device)
        lw = model.log_weights(xb, samples)                                    # (samples, B)
        sums["elbo"] += lw.mean(0).sum().item()
        sums["iwae_5"] += log_mean_exp(lw.view(samples // 5, 5, -1), 1).mean(0).sum().item()
        ll = log_prob(xb, k=k) if log_prob is not None else importance_log_prob(model.log_weights, xb, k)
        sums["log_prob"] += ll.sum().item()
    return {key: v / len(x) for key, v in sums.items()}


def latent_grid(n: int, quantile: float = 0.95, dtype=torch.float32, device=None) -> torch.Tensor:
    """An ``n x n`` grid of 2-D latent points at equal *probability* steps under N(0, I).

    Coordinates are ``Phi^{-1}(u)`` for ``u`` evenly spaced in ``[1 - quantile, quantile]`` (inverse
    CDF), so each cell holds about the same prior mass. Returns ``(n * n, 2)``, row-major with
    the second coordinate decreasing down the rows (image orientation).

    Example:
        >>> images = vae2.decode(latent_grid(15))           # the learned manifold of a 2-D VAE

    References: Kingma & Welling, 2014, Fig. 4 (the learned MNIST manifold).
    """
    n = checks.positive_int(n, "n")
    quantile = checks.number_in(quantile, "quantile", 0.5, 1, closed="neither")
    u = torch.linspace(1 - quantile, quantile, n, dtype=torch.float64)
    v = torch.distributions.Normal(0.0, 1.0).icdf(u).to(dtype)
    gy, gx = torch.meshgrid(v.flip(0), v, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], 1).to(device)


def gaussian_fit_kl(z: torch.Tensor) -> torch.Tensor:
    """KL(N(m, C) || N(0, I)) of the Gaussian fitted to a cloud of codes ``z: (N, d)`` (a scalar):

        1/2 [tr C + m^T m - d - log det C],   m, C the sample mean and covariance.

    Zero when the codes look like draws from the prior, large when they live elsewhere.
    """
    checks.tensor(z, "z")
    if z.dim() != 2 or z.shape[0] <= z.shape[1]:
        raise ValueError(f"z must have shape (N, d) with N > d, got {tuple(z.shape)}")
    z = z.double()
    m, cov = z.mean(0), torch.cov(z.T).reshape(z.shape[1], z.shape[1])
    return 0.5 * (torch.trace(cov) + m @ m - z.shape[1] - torch.logdet(cov))
