"""The decoder's likelihoods log p(x|z): Bernoulli pixels, or a Gaussian with one learned sigma.

    Bernoulli:  log p(x|z) = sum_m [x_m log f_m + (1 - x_m) log(1 - f_m)],   f = sigmoid(logits)
    Gaussian:   log p(x|z) = log N(x; f(z), sigma^2 I)                        (the l2 loss, up to constants)

Both take the decoder's output for ``z: (..., B, latent_dim)``, i.e. ``(..., B, *S)``, and
``x: (B, *S)``, and return ``(..., B)``: the sample shape ``S`` is summed.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .. import checks
from ..gaussian import log_normal
from .inputs import BERNOULLI_HINT

__all__ = ["LIKELIHOODS", "log_bernoulli", "log_gaussian"]

LIKELIHOODS = ("bernoulli", "gaussian")


def log_bernoulli(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """log p(x|z) = sum_m [x_m log f_m + (1 - x_m) log(1 - f_m)],  f = sigmoid(logits).

    Computed from logits (``-BCEWithLogits``), stable for saturated pixels. ``logits: (..., B, *S)``
    and ``x: (B, *S)`` broadcast; sums the ``len(S)`` trailing dimensions of ``x``'s sample shape.
    ``x`` must lie in [0, 1] (binary pixels, or grey levels read as probabilities).

    Example:
        >>> x = torch.bernoulli(torch.full((4, 784), 0.3))
        >>> log_bernoulli(x, torch.zeros(4, 784))          # f = 1/2 everywhere: 784 log(1/2) each
        tensor([-543.4275, -543.4275, -543.4275, -543.4275])

    References: Kingma & Welling, *Auto-Encoding Variational Bayes*, ICLR 2014, Appendix C.1.
    """
    checks.in_unit_interval(x, "Bernoulli targets x", BERNOULLI_HINT)
    checks.tensor(logits, "logits")
    ndim = x.dim() - 1
    ll = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none")
    return ll.flatten(start_dim=ll.dim() - ndim).sum(-1) if ndim else ll


def log_gaussian(x: torch.Tensor, mean: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """log p(x|z) = log N(x; mean, sigma^2 I) = -1/2 sum_m [log 2 pi + 2 log sigma + (x_m - mean_m)^2 / sigma^2].

    ``mean: (..., B, *S)`` (the decoder's output), ``x: (B, *S)``, ``log_sigma`` a scalar tensor
    (one learned noise scale for every pixel) -> ``(..., B)``.

    References: Kingma & Welling, 2014, Appendix C.2.
    """
    ndim = x.dim() - 1
    return log_normal(x.flatten(start_dim=x.dim() - ndim) if ndim else x.unsqueeze(-1),
                      mean.flatten(start_dim=mean.dim() - ndim) if ndim else mean.unsqueeze(-1),
                      2 * log_sigma)
