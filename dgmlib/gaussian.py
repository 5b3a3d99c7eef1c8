"""The Gaussian maths every family shares: log-densities, KLs, the reparameterization, log-mean-exp.

Notation of the lectures: a diagonal Gaussian ``N(mu, diag sigma^2)`` is given by ``mu`` and
``logvar = log sigma^2`` (both ``(..., D)``); densities sum over the last dimension.

    log N(z; mu, sigma^2) = -1/2 sum_j [log 2 pi + logvar_j + (z_j - mu_j)^2 / sigma_j^2]
    KL(N(mu, sigma^2) || N(0, I)) = 1/2 sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2)

Example:
    >>> mu, logvar = torch.zeros(3, 2), torch.zeros(3, 2)
    >>> kl_normal_std(mu, logvar)
    tensor([0., 0., 0.])
"""

from __future__ import annotations

import math

import torch

from . import checks

__all__ = ["LOG_2PI", "reparameterize", "kl_normal_std", "kl_normal", "log_normal", "log_normal_std",
           "log_mean_exp", "normal_density"]

LOG_2PI = math.log(2 * math.pi)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """z = mu + sigma * eps,  eps ~ N(0, I),  sigma = exp(logvar / 2)   (reparameterization trick).

    The randomness sits in ``eps``, outside the parameters, so ``z`` is differentiable in ``mu``
    and ``logvar``. ``mu, logvar: (B, D)`` -> ``z: (B, D)``; with ``k``: ``(k, B, D)``, ``k``
    independent draws per row.

    References: Kingma & Welling, *Auto-Encoding Variational Bayes*, 2014, Sec. 2.4.
    """
    checks.same_shape(mu=mu, logvar=logvar)
    shape = mu.shape if k is None else (checks.int_at_least(k, "k", 1), *mu.shape)
    eps = torch.randn(shape, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_normal_std(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) = 1/2 sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2).

    ``mu, logvar: (B, D)`` -> ``(B,)`` (summed over the last dimension). ``expm1`` keeps the
    tiny KLs of nearly standard Gaussians exact: ``sigma^2 - 1 - log sigma^2 = expm1(l) - l``.

    References: Kingma & Welling, 2014, Appendix B.
    """
    checks.same_shape(mu=mu, logvar=logvar)
    return 0.5 * (torch.expm1(logvar) - logvar + mu.pow(2)).sum(-1)


def kl_normal(mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor, logvar_p: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_q, diag s_q^2) || N(mu_p, diag s_p^2))
    = 1/2 sum_j [ log(s_p^2 / s_q^2) + (s_q^2 + (mu_q - mu_p)^2) / s_p^2 - 1 ].

    All four ``(B, D)`` (or ``mu_p``, ``logvar_p`` broadcastable to ``mu_q``'s shape) -> ``(B,)``.
    """
    for name, t in (("mu_q", mu_q), ("logvar_q", logvar_q), ("mu_p", mu_p), ("logvar_p", logvar_p)):
        checks.tensor(t, name)
    checks.same_shape(mu_q=mu_q, logvar_q=logvar_q)
    try:
        torch.broadcast_shapes(mu_q.shape, mu_p.shape, logvar_p.shape)
    except RuntimeError:
        raise ValueError(
            f"mu_p and logvar_p must broadcast to the shape of mu_q {tuple(mu_q.shape)}, "
            f"got {tuple(mu_p.shape)} and {tuple(logvar_p.shape)}"
        ) from None
    d = logvar_q - logvar_p
    return 0.5 * (torch.expm1(d) - d + (mu_q - mu_p).pow(2) * torch.exp(-logvar_p)).sum(-1)


def _broadcast(names, *tensors):
    for name, t in zip(names, tensors):
        checks.tensor(t, name)
    try:
        return torch.broadcast_shapes(*(t.shape for t in tensors))
    except RuntimeError:
        shapes = ", ".join(f"{n} {tuple(t.shape)}" for n, t in zip(names, tensors))
        raise ValueError(f"{', '.join(names)} must broadcast to one shape, got {shapes}") from None


def log_normal(z: torch.Tensor, mu: torch.Tensor | float, logvar: torch.Tensor | float) -> torch.Tensor:
    """log N(z; mu, diag exp(logvar)) = -1/2 sum_j [log 2 pi + logvar_j + (z_j - mu_j)^2 / exp(logvar_j)].

    Broadcasts; sums the last dimension: ``(..., D)`` -> ``(...)``. ``mu`` and ``logvar`` may be
    Python numbers (a shared mean or log-variance).
    """
    mu = torch.as_tensor(mu, dtype=z.dtype, device=z.device) if not torch.is_tensor(mu) else mu
    logvar = torch.as_tensor(logvar, dtype=z.dtype, device=z.device) if not torch.is_tensor(logvar) else logvar
    _broadcast(("z", "mu", "logvar"), z, mu, logvar)
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar)).sum(-1)


def log_normal_std(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) = -1/2 sum_j (log 2 pi + z_j^2):  ``(..., D)`` -> ``(...)``."""
    checks.tensor(z, "z")
    return -0.5 * (LOG_2PI + z.pow(2)).sum(-1)


def log_mean_exp(log_w: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """log (1/k) sum_i exp(log_w_i) along ``dim``, computed stably (``logsumexp - log k``).

    The importance-weighted bound F_k = log_mean_exp(log w) over k draws (Burda et al., 2016).
    """
    checks.tensor(log_w, "log_w")
    return torch.logsumexp(log_w, dim) - math.log(log_w.shape[dim])


def normal_density(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """N(x; mean, std^2) = exp(-(x - mean)^2 / (2 std^2)) / (std sqrt(2 pi)), elementwise (1-D densities on a grid).

    Example:
        >>> x = torch.linspace(-20, 20, 40_001, dtype=torch.float64)
        >>> pi = 0.5 * normal_density(x, -1.5, 0.5) + 0.5 * normal_density(x, 1.5, 0.7)
    """
    checks.tensor(x, "x")
    mean = checks.number(mean, "mean") if not torch.is_tensor(mean) else mean
    std = checks.positive_number(std, "std") if not torch.is_tensor(std) else std
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))
