"""Two Monte Carlo estimators of  d/d(mu, logvar) E_{z ~ N(mu, sigma^2)}[f(z)]:

    reparameterization:  grad E_q[f] = E_eps[ grad f(mu + sigma eps) ],          eps ~ N(0, I)
    score function:      grad E_q[f] = E_q[ f(z) grad log q(z) ]                 (REINFORCE)

Both are unbiased; the first needs the gradient of f and has far lower variance, the second only
values of f. Each returns one estimate per sample, so a lecture can look at their spread.

Example:
    >>> f = lambda z: ((z - 2) ** 2).sum(-1)
    >>> g_mu, g_logvar = reparam_gradient(f, torch.zeros(1), torch.zeros(1), n=1000)   # (1000, 1) each
    >>> g_mu.mean()                                                                   # about 2 (0 - 2) = -4

References: Kingma & Welling, *Auto-Encoding Variational Bayes*, ICLR 2014, Sec. 2.4;
Williams, *Simple statistical gradient-following algorithms*, Machine Learning 1992 (REINFORCE).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import checks
from ..gaussian import log_normal

__all__ = ["reparam_gradient", "score_function_gradient"]


def _replicate(mu, logvar, n):
    """n detached copies of (mu, logvar) that require grad: (n, D) each."""
    checks.same_shape(mu=mu, logvar=logvar)
    n = checks.int_at_least(n, "n", 1)
    mu_n = mu.detach().expand(n, *mu.shape).clone().requires_grad_(True)
    logvar_n = logvar.detach().expand(n, *logvar.shape).clone().requires_grad_(True)
    return mu_n, logvar_n


def reparam_gradient(f: Callable, mu: torch.Tensor, logvar: torch.Tensor, n: int):
    """Per-sample reparameterized gradients: grad_{mu, logvar} f(mu + sigma * eps), eps ~ N(0, I).

    ``f`` maps ``(n, D)`` samples to ``(n,)`` values; ``mu, logvar: (D,)``. Returns
    ``(g_mu, g_logvar)``, each ``(n, D)``: one unbiased estimate per sample (their mean is the
    estimator with ``n`` samples).
    """
    mu_n, logvar_n = _replicate(mu, logvar, n)
    z = mu_n + torch.exp(0.5 * logvar_n) * torch.randn_like(mu_n)
    g_mu, g_logvar = torch.autograd.grad(f(z).sum(), (mu_n, logvar_n))
    return g_mu, g_logvar


def score_function_gradient(f: Callable, mu: torch.Tensor, logvar: torch.Tensor, n: int):
    """Per-sample score-function (REINFORCE) gradients: f(z) grad_{mu, logvar} log q(z), z ~ q.

    Needs only values of ``f``, not its gradient: ``grad E_q[f] = E_q[f(z) grad log q(z)]``.
    Same shapes as :func:`reparam_gradient`.
    """
    mu_n, logvar_n = _replicate(mu, logvar, n)
    with torch.no_grad():
        z = mu_n + torch.exp(0.5 * logvar_n) * torch.randn_like(mu_n)
        values = f(z)
    score_mu, score_logvar = torch.autograd.grad(log_normal(z, mu_n, logvar_n).sum(), (mu_n, logvar_n))
    return values.unsqueeze(-1) * score_mu, values.unsqueeze(-1) * score_logvar
