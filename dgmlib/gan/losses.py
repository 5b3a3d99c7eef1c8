"""The two players' losses on discriminator logits (or critic values), and what the optimal D tells us.

The game of the lectures (Goodfellow et al., 2014, Eq. 1), with data pi and samples x = G(z):

    min_G max_D  V(G, D) = E_pi log D(x) + E_z log(1 - D(G(z))).

Every loss takes the discriminator's *logits* ``d = logit D(x)`` (D = sigmoid(d), and
log D = -softplus(-d) never under- or overflows), or, for ``wasserstein`` and ``hinge``, the
critic's raw values f(x); see the table of :data:`LOSS_KINDS` in :mod:`dgmlib.gan`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .. import checks

__all__ = ["LOSS_KINDS", "discriminator_loss", "generator_loss", "optimal_discriminator", "density_ratio"]

LOSS_KINDS = ("minimax", "non_saturating", "wasserstein", "hinge")


def _scores(value, name: str) -> torch.Tensor:
    checks.tensor(value, name)
    if value.numel() == 0:
        raise ValueError(f"{name} must not be empty")
    return value


def _smoothing(label_smoothing, kind: str) -> float:
    alpha = checks.number_in(label_smoothing, "label_smoothing", 0, 1, closed="left")
    if alpha and kind not in ("minimax", "non_saturating"):
        raise ValueError(f"label_smoothing applies to the minimax/non_saturating kinds, not {kind!r}")
    return alpha


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor, kind: str = "non_saturating",
                       label_smoothing: float = 0.0) -> torch.Tensor:
    """The discriminator's (critic's) loss, a scalar to minimize.

    ``minimax``, ``non_saturating``: the cross-entropy  -E_pi log D(x) - E_p log(1 - D(x)),
    with log D = -softplus(-d) and log(1 - D) = -softplus(d).
    ``wasserstein``: E_p f(x) - E_pi f(x).   ``hinge``: E_pi relu(1 - f(x)) + E_p relu(1 + f(x)).

    ``d_real: (B,)`` logits (or critic values) on data, ``d_fake: (B',)`` on generated samples.
    ``label_smoothing = alpha``: one-sided label smoothing, the real target becomes ``1 - alpha``
    and the optimal discriminator ``(1 - alpha) pi / (pi + p)``.

    Example:
        >>> discriminator_loss(torch.zeros(4), torch.zeros(4))       # D = 1/2 everywhere
        tensor(1.3863)                                                # log 4

    References:
        Goodfellow et al., Generative Adversarial Nets, NeurIPS 2014, Eq. 1.
        Arjovsky et al., Wasserstein GAN, ICML 2017 (the critic).
        Salimans et al., Improved Techniques for Training GANs, NeurIPS 2016, Sec. 3.4 (smoothing).
    """
    kind = checks.one_of(kind, "kind", LOSS_KINDS)
    _scores(d_real, "d_real")
    _scores(d_fake, "d_fake")
    alpha = _smoothing(label_smoothing, kind)
    if kind in ("minimax", "non_saturating"):
        target = 1.0 - alpha
        real = target * F.softplus(-d_real) + (1.0 - target) * F.softplus(d_real)
        return real.mean() + F.softplus(d_fake).mean()
    if kind == "wasserstein":
        return d_fake.mean() - d_real.mean()
    return F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()  # hinge


def generator_loss(d_fake: torch.Tensor, kind: str = "non_saturating") -> torch.Tensor:
    """The generator's loss on ``d_fake: (B,)``, the logits (or critic values) of its samples; a scalar.

    ``minimax``: E log(1 - D) = -E softplus(d); its gradient in d is -D, which vanishes when the
    discriminator rejects the samples (D -> 0).  ``non_saturating``: -E log D = E softplus(-d),
    gradient -(1 - D) -> -1 there.  ``wasserstein``, ``hinge``: -E f.

    Example:
        >>> generator_loss(torch.tensor([-12.0]), "minimax")         # almost flat: saturated
        tensor(-6.1442e-06)

    References:
        Goodfellow et al., Generative Adversarial Nets, NeurIPS 2014, Sec. 3 (the non-saturating trick).
    """
    kind = checks.one_of(kind, "kind", LOSS_KINDS)
    _scores(d_fake, "d_fake")
    if kind == "minimax":
        return -F.softplus(d_fake).mean()
    if kind == "non_saturating":
        return F.softplus(-d_fake).mean()
    return -d_fake.mean()


def optimal_discriminator(pi_density, p_density, label_smoothing: float = 0.0):
    """D*(x) = (1 - alpha) pi(x) / (pi(x) + p(x)), the best discriminator for a fixed generator.

    Pass density *values* (tensors of one shape) to get D* there, or two callables ``x -> density``
    to get the callable ``D*``. ``alpha = label_smoothing`` (0: the vanilla GAN). Where both
    densities vanish D* is undefined; it is set to ``(1 - alpha) / 2`` there.

    Example:
        >>> optimal_discriminator(torch.tensor([0.3]), torch.tensor([0.1]))
        tensor([0.7500])

    References:
        Goodfellow et al., Generative Adversarial Nets, NeurIPS 2014, Proposition 1.
    """
    label_smoothing = checks.number_in(label_smoothing, "label_smoothing", 0, 1, closed="left")
    if callable(pi_density) and callable(p_density):
        return lambda x: optimal_discriminator(pi_density(x), p_density(x), label_smoothing)
    if not (torch.is_tensor(pi_density) and torch.is_tensor(p_density)):
        raise TypeError("pi_density and p_density must both be tensors of density values or both callables")
    checks.same_shape(pi_density=pi_density, p_density=p_density)
    if bool((pi_density < 0).any()) or bool((p_density < 0).any()):
        raise ValueError("pi_density and p_density must be non-negative")
    total = pi_density + p_density
    ratio = torch.where(total > 0, pi_density / total.clamp_min(torch.finfo(total.dtype).tiny), 0.5)
    return (1.0 - label_smoothing) * ratio


def density_ratio(discriminator: Callable, x: torch.Tensor) -> torch.Tensor:
    """The density ratio trick: r(x) = q_1(x) / q_2(x) ~ D(x) / (1 - D(x)) = exp(logit D(x)).

    A classifier trained with the cross-entropy to tell q_1 (label 1) from q_2 (label 0), with equal
    class sizes, approaches D*(x) = q_1 / (q_1 + q_2), so D / (1 - D) = q_1 / q_2. Discriminators
    here return the logit d, and D / (1 - D) = exp(d). ``x: (B, ...)`` -> ``(B,)``.

    Example:
        >>> train_critic(clf, x1, x2, kind="minimax", steps=400)     # D tells x1 from x2
        >>> r = density_ratio(clf, grid)                              # ~ q_1(grid) / q_2(grid)

    References:
        Sugiyama, Suzuki, Kanamori, Density Ratio Estimation in Machine Learning, 2012, Ch. 4.
    """
    return torch.exp(discriminator(x))
