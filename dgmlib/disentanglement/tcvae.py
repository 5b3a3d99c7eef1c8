"""The beta-TCVAE objective: the ELBO's KL split in three, only the total correlation up-weighted.

    E_x KL(q(z|x) || p(z)) = I_q(x; z) + TC(z) + sum_d KL(q(z_d) || p(z_d))
                             "mi"        "tc"    "dim_kl"

:func:`gaussian_total_correlation` measures the TC of any set of codes through the Gaussian fitted
to them, ``TC = 1/2 (sum_d log S_dd - log det S)``: what lecture 08 uses to compare the sampled codes
that training penalizes with the mean codes that evaluation scores.

References: Chen, Li, Grosse & Duvenaud, *Isolating Sources of Disentanglement in Variational
Autoencoders*, NeurIPS 2018, Eq. (2) and Sec. 4.1 (minibatch stratified sampling).
"""

from __future__ import annotations

import math

import torch

from .. import checks
from ..gaussian import log_normal, log_normal_std, reparameterize

__all__ = ["total_correlation_terms", "beta_tcvae_loss", "gaussian_total_correlation"]


def _log_normal_pairs(z, mu, logvar):
    """log N(z_i,d; mu_j,d, exp(logvar_j,d)) for every pair (i, j) of a batch and every dimension d: (B, B, D)."""
    # a trailing axis of size 1 makes log_normal's sum over the last axis a no-op: one density per d
    return log_normal(z[:, None, :, None], mu[None, :, :, None], logvar[None, :, :, None])


def total_correlation_terms(z, mu, logvar, dataset_size: int) -> dict[str, torch.Tensor]:
    """The KL's three parts (Chen et al., 2018), estimated on a batch:

    ``E_x KL(q(z|x) || p(z)) = I_q(x; z) + TC(z) + sum_d KL(q(z_d) || p(z_d))``, where the aggregate
    posterior ``q(z) = 1/N sum_n q(z|x_n)`` is estimated by minibatch stratified sampling: for
    ``z_i ~ q(z|x_i)`` in a batch of ``M`` among ``N = dataset_size`` points,
    ``q(z_i) ~ 1/N q(z_i|x_i) + (N - 1) / (N (M - 1)) sum_{j != i} q(z_i|x_j)``, and the same per
    dimension for ``q(z_id)``. ``z, mu, logvar: (M, D)``; returns batch means ``{"mi", "tc", "dim_kl"}``.
    """
    checks.same_shape(z=z, mu=mu, logvar=logvar)
    if z.ndim != 2:
        raise ValueError(f"z, mu and logvar must have shape (M, D), got {tuple(z.shape)}")
    m = z.shape[0]
    if m < 2:
        raise ValueError("the total-correlation estimate needs a batch of at least 2")
    dataset_size = checks.int_at_least(dataset_size, "dataset_size", m, " (the batch size)")
    pairs = _log_normal_pairs(z, mu, logvar)  # (M, M, D): log q(z_i,d | x_j)
    log_w = torch.full((m, m), math.log((dataset_size - 1) / (dataset_size * (m - 1))), dtype=z.dtype, device=z.device)
    log_w.fill_diagonal_(-math.log(dataset_size))
    log_q_z = torch.logsumexp(pairs.sum(2) + log_w, dim=1)  # log q(z_i)
    log_prod_q = torch.logsumexp(pairs + log_w.unsqueeze(2), dim=1).sum(1)  # sum_d log q(z_id)
    log_q_zx = torch.diagonal(pairs.sum(2))  # log q(z_i|x_i)
    log_p = log_normal_std(z)
    return {"mi": (log_q_zx - log_q_z).mean(), "tc": (log_q_z - log_prod_q).mean(),
            "dim_kl": (log_prod_q - log_p).mean()}


def beta_tcvae_loss(model, x, beta: float, dataset_size: int) -> dict[str, torch.Tensor]:
    """beta-TCVAE (Chen et al., 2018): ``loss = recon + I(x; z) + beta TC(z) + sum_d KL(q(z_d)||p(z_d))``,
    with ``recon = -E_q log p(x|z)``: only the total correlation is up-weighted (``beta = 1``: the
    negative ELBO).

    ``model`` is a :class:`dgmlib.vae.VAE`. Returns the contract's terms, batch means:
    ``{"loss", "elbo", "recon", "kl", "mi", "tc", "dim_kl"}``, where ``kl = mi + tc + dim_kl`` is the
    one-draw estimate ``log q(z|x) - log p(z)`` and ``elbo = -(recon + kl)``; all but ``"loss"`` detached.

    Example:
        >>> loss_fn = lambda m, batch: beta_tcvae_loss(m, batch, beta=6.0, dataset_size=len(images))
        >>> history = fit(model, images, epochs=10, loss_fn=loss_fn)       # history["tc"], ...
    """
    beta = checks.non_negative_number(beta, "beta")
    mu, logvar = model.encode(x)[:2]
    z = reparameterize(mu, logvar)
    recon = -model.log_px_given_z(x, z).mean()
    parts = total_correlation_terms(z, mu, logvar, dataset_size)
    loss = recon + parts["mi"] + beta * parts["tc"] + parts["dim_kl"]
    kl = (parts["mi"] + parts["tc"] + parts["dim_kl"]).detach()
    return {"loss": loss, "elbo": -(recon.detach() + kl), "recon": recon.detach(), "kl": kl,
            **{k: v.detach() for k, v in parts.items()}}


def gaussian_total_correlation(codes: torch.Tensor) -> float:
    """TC of the Gaussian fitted to ``codes: (N, D)``, in nats: 1/2 (sum_d log S_dd - log det S).

    ``S`` is the sample covariance. For Gaussian codes this is their total correlation
    KL(q(z) || prod_d q(z_d)) = sum_d H(z_d) - H(z); for others it measures the linear part of their
    dependence (0 for uncorrelated codes). Needs ``N > D`` and no constant dimension.

    Example:
        >>> z = torch.randn(10_000, 2, dtype=torch.float64)
        >>> tc = gaussian_total_correlation(torch.stack([z[:, 0], z[:, 0] + z[:, 1]], 1))
        >>> abs(tc - 0.5 * math.log(2)) < 0.05          # -1/2 log(1 - rho^2) with rho^2 = 1/2
        True
    """
    codes = checks.finite_tensor(checks.floating_tensor(codes, "codes"), "codes").double()
    if codes.dim() != 2 or codes.shape[0] <= codes.shape[1]:
        raise ValueError(f"codes must be (N, D) with N > D, got shape {tuple(codes.shape)}")
    cov = torch.cov(codes.T).reshape(codes.shape[1], codes.shape[1])
    variances = torch.diagonal(cov)
    if bool((variances <= 0).any()):
        raise ValueError("codes has a constant dimension: its total correlation is undefined")
    sign, log_det = torch.linalg.slogdet(cov)
    if sign <= 0:
        raise ValueError("codes are linearly dependent (singular covariance): the total correlation is infinite")
    return float(0.5 * (torch.log(variances).sum() - log_det))

