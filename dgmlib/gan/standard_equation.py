"""The Standard Equation's inner problem over q, solved in closed form on a grid.

The Standard Equation (Hu & Xing) writes learning as

    min_theta max_phi min_q  -alpha H(q) + beta D(q, p_theta) - E_q f_phi + E_pi f_phi,

an entropy term, a divergence that ties the auxiliary distribution q to the model, and an
"experience" f that rewards q for resembling the data. With D = KL(q || p_theta) the minimization
over q has a closed form (a Gibbs distribution):

    q*(x) ∝ p_theta(x)^{beta / (alpha + beta)} exp(f(x) / (alpha + beta)),
    min_q  = -(alpha + beta) log  int p_theta^{beta / (alpha + beta)} exp(f / (alpha + beta)) dx.

With alpha = 0, beta = 1 the value is -log E_p e^f, and the max over f of E_pi f - log E_p e^f is
the Donsker-Varadhan form of KL(pi || p_theta) (maximum likelihood). As beta -> infinity,
q* -> p_theta and the objective becomes max_phi E_pi f_phi - E_p f_phi: with 1-Lipschitz f that is
W_1 (WGAN); with the experience of a classifier or of an f-divergence's conjugate on the q-side,
the vanilla GAN and f-GAN (lecture 10).
"""

from __future__ import annotations

import torch

from .. import checks

__all__ = ["standard_equation_q"]


def standard_equation_q(p: torch.Tensor, f: torch.Tensor, alpha: float = 0.0, beta: float = 1.0,
                        dx: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(q*, value): the minimizer and minimum over q of -alpha H(q) + beta KL(q || p) - E_q f, on a grid.

    ``p``: model density values ``(N,)`` on a grid of spacing ``dx`` (positive, integrating to 1);
    ``f``: the experience function's values there ``(N,)``. ``alpha >= 0``, ``beta >= 0``,
    ``alpha + beta > 0``. Returns q* ∝ p^{beta / (alpha + beta)} exp(f / (alpha + beta)) as
    densities ``(N,)`` and the scalar minimum -(alpha + beta) log int p^{beta / (alpha + beta)}
    exp(f / (alpha + beta)) dx, computed with a log-sum-exp.

    Example:
        >>> q, value = standard_equation_q(p, f)          # alpha = 0, beta = 1
        >>> value                                          # = -log E_p exp(f)

    References:
        Hu, Xing, Toward a 'Standard Model' of Machine Learning, Harvard Data Science Review 2022, Eq. 3.1.
    """
    checks.tensor(p, "p")
    checks.tensor(f, "f")
    if p.ndim != 1 or f.shape != p.shape:
        raise ValueError(f"p and f must be 1-D grids of the same length, got {tuple(p.shape)} and {tuple(f.shape)}")
    checks.finite_tensor(f, "f")
    if bool((p <= 0).any()) or not bool(torch.isfinite(p).all()):
        raise ValueError("p must be positive and finite on the whole grid")
    alpha = checks.non_negative_number(alpha, "alpha")
    beta = checks.non_negative_number(beta, "beta")
    if alpha + beta == 0:
        raise ValueError("alpha + beta must be positive (with both 0 the minimum over q is -max f, no density)")
    dx = checks.positive_number(dx, "dx")
    t = alpha + beta
    log_unnorm = (beta * torch.log(p) + f) / t                       # log of p^{beta/t} e^{f/t}
    log_z = torch.logsumexp(log_unnorm, 0) + torch.log(torch.tensor(dx, dtype=p.dtype))
    q = torch.exp(log_unnorm - log_z)
    return q, -t * log_z
