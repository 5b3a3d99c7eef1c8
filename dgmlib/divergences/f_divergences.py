"""f-divergences and their variational (f-GAN) lower bound, with a critic trained to estimate one."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .. import checks
from ._inputs import distribution_pair

__all__ = ["FDivergence", "f_divergences", "f_divergence", "train_f_critic"]


@dataclass(frozen=True)
class FDivergence:
    """One f-divergence D_f(pi || p) = E_p f(pi(x) / p(x)), with what f-GAN needs to estimate it.

    For any function T, Fenchel's inequality f(u) >= u t - f*(t) gives the variational lower bound

        D_f(pi || p) >= sup_T  E_pi T(x) - E_p f*(T(x)),

    tight at T(x) = f'(pi(x) / p(x)). f-GAN writes T = g(V(x)) with an unconstrained network V and
    an output ``activation`` g that maps the real line into the domain of f*.

    Fields: ``f(u)`` the generator (convex, f(1) = 0; u > 0); ``conjugate(t)`` f*(t) =
    sup_u (u t - f(u)) (``inf`` outside its domain); ``activation(v)`` g(v);
    ``conjugate_of_activation(v)`` f*(g(v)) in a form that does not overflow; ``formulas``: LaTeX
    of f, f*, g and the domain of f*, for the lecture's table. All act elementwise on tensors.

    Example:
        >>> kl = f_divergence("kl")
        >>> kl.divergence(torch.tensor([0.5, 0.5]), torch.tensor([0.25, 0.75]))   # = dgmlib.divergences.kl
        tensor(0.1438)

    References:
        Nowozin et al., "f-GAN: Training Generative Neural Samplers using Variational Divergence
        Minimization", NeurIPS 2016 (arXiv:1606.00709).
    """

    name: str
    f: Callable
    conjugate: Callable
    activation: Callable
    conjugate_of_activation: Callable
    formulas: dict

    def divergence(self, pi: torch.Tensor, p: torch.Tensor, dx: float = 1.0) -> torch.Tensor:
        """D_f(pi || p) = sum_x p(x) f(pi(x) / p(x)) dx for densities tabulated on one grid (p > 0)."""
        distribution_pair(pi, p)
        dx = checks.positive_number(dx, "dx")
        if bool((p <= 0).any()):
            raise ValueError("p must be positive on the whole grid (D_f divides by p)")
        return (p * self.f(pi / p)).sum() * dx

    def bound(self, v_pi: torch.Tensor, v_p: torch.Tensor) -> torch.Tensor:
        """E_pi g(V) - E_p f*(g(V)): the variational lower bound from raw outputs V on pi's and p's samples."""
        return self.activation(v_pi).mean() - self.conjugate_of_activation(v_p).mean()


def _outside(t, inside):
    return torch.where(inside, t, torch.full_like(t, math.inf))


def _js_f(u):
    return 0.5 * (torch.xlogy(u, u) - (u + 1) * torch.log((u + 1) / 2))


f_divergences: dict[str, FDivergence] = {
    "kl": FDivergence(
        "Kullback-Leibler KL(pi || p)",
        f=lambda u: torch.xlogy(u, u),
        conjugate=lambda t: torch.exp(t - 1),
        activation=lambda v: v,
        conjugate_of_activation=lambda v: torch.exp(v - 1),
        formulas={"f": r"u \log u", "f*": r"e^{t - 1}", "g": r"v", "dom f*": r"\mathbb{R}"},
    ),
    "reverse_kl": FDivergence(
        "reverse KL(p || pi)",
        f=lambda u: -torch.log(u),
        conjugate=lambda t: _outside(-1 - torch.log(-t.clamp_max(0)), t < 0),
        activation=lambda v: -torch.exp(-v),
        conjugate_of_activation=lambda v: v - 1,
        formulas={"f": r"-\log u", "f*": r"-1 - \log(-t)", "g": r"-e^{-v}", "dom f*": r"t < 0"},
    ),
    "jensen_shannon": FDivergence(
        "Jensen-Shannon JSD(pi || p)",
        f=_js_f,
        conjugate=lambda t: _outside(-0.5 * torch.log((2 - torch.exp(2 * t)).clamp_min(0)), t < 0.5 * math.log(2)),
        activation=lambda v: 0.5 * (math.log(2) - F.softplus(-v)),
        conjugate_of_activation=lambda v: 0.5 * (F.softplus(v) - math.log(2)),
        formulas={"f": r"\tfrac12\left[u \log u - (u + 1) \log \tfrac{u + 1}{2}\right]",
                  "f*": r"-\tfrac12 \log\left(2 - e^{2t}\right)",
                  "g": r"\tfrac12\left(\log 2 - \log(1 + e^{-v})\right)", "dom f*": r"t < \tfrac12 \log 2"},
    ),
    "pearson": FDivergence(
        "Pearson chi^2(pi || p)",
        f=lambda u: (u - 1) ** 2,
        conjugate=lambda t: t ** 2 / 4 + t,
        activation=lambda v: v,
        conjugate_of_activation=lambda v: v ** 2 / 4 + v,
        formulas={"f": r"(u - 1)^2", "f*": r"\tfrac14 t^2 + t", "g": r"v", "dom f*": r"\mathbb{R}"},
    ),
    "squared_hellinger": FDivergence(
        "squared Hellinger H^2(pi, p)",
        f=lambda u: (torch.sqrt(u) - 1) ** 2,
        conjugate=lambda t: _outside(t / (1 - t), t < 1),
        activation=lambda v: 1 - torch.exp(-v),
        conjugate_of_activation=lambda v: torch.expm1(v),
        formulas={"f": r"(\sqrt{u} - 1)^2", "f*": r"\frac{t}{1 - t}", "g": r"1 - e^{-v}", "dom f*": r"t < 1"},
    ),
    "total_variation": FDivergence(
        "total variation TV(pi, p)",
        f=lambda u: 0.5 * (u - 1).abs(),
        conjugate=lambda t: _outside(t, t.abs() <= 0.5),
        activation=lambda v: 0.5 * torch.tanh(v),
        conjugate_of_activation=lambda v: 0.5 * torch.tanh(v),
        formulas={"f": r"\tfrac12 \lvert u - 1 \rvert", "f*": r"t", "g": r"\tfrac12 \tanh v", "dom f*": r"\lvert t \rvert \le \tfrac12"},
    ),
}
"""The f-GAN table (Nowozin et al., 2016), keyed ``kl``, ``reverse_kl``, ``jensen_shannon``,
``pearson``, ``squared_hellinger``, ``total_variation``. The Jensen-Shannon row is scaled by 1/2
so that D_f equals :func:`jsd` (f-GAN's paper uses twice that generator); squared Hellinger is
int (sqrt(pi) - sqrt(p))^2 dx, without a factor 1/2."""


def f_divergence(name: str) -> FDivergence:
    """The row ``name`` of :data:`f_divergences`; a ``ValueError`` lists the names when it is unknown."""
    if name not in f_divergences:
        raise ValueError(f"unknown f-divergence {name!r}; valid names: {', '.join(f_divergences)}")
    return f_divergences[name]


def train_f_critic(critic: torch.nn.Module, x_pi: torch.Tensor, x_p: torch.Tensor, divergence: str = "kl", *,
                   steps: int, lr: float = 1e-3, progress: bool | None = None):
    """Maximize the f-GAN lower bound E_pi g(V(x)) - E_p f*(g(V(x))) over the critic V (full-batch Adam).

    ``critic``: a network ``(n, ...) -> (n,)`` (or ``(n, 1)``), trained in place for ``steps`` steps
    on the fixed samples ``x_pi: (n, ...)`` and ``x_p: (m, ...)``. Returns ``(value, history)``: the
    bound on those samples after training, a scalar tensor, and the :class:`dgmlib.training.History`
    of the bound per step (key ``bound``). Evaluate ``FDivergence.bound`` on fresh samples for an
    estimate that is not biased upwards by fitting the training samples.

    Example:
        >>> x_pi, x_p = torch.randn(4000, 1) + 1, torch.randn(4000, 1)       # KL(pi || p) = 1/2
        >>> value, history = train_f_critic(dgmlib.nets.mlp(1, 1), x_pi, x_p, "kl", steps=300, lr=1e-2)
        >>> round(float(value), 1)
        0.5

    References:
        Nowozin et al., "f-GAN: Training Generative Neural Samplers using Variational Divergence
        Minimization", NeurIPS 2016 (arXiv:1606.00709).
    """
    from ..training import run_steps

    div = f_divergence(divergence)
    steps = checks.positive_int(steps, "steps")
    lr = checks.positive_number(lr, "lr")
    checks.tensor(x_pi, "x_pi")
    checks.tensor(x_p, "x_p")
    if x_pi.ndim < 2 or x_p.ndim < 2 or x_pi.shape[1:] != x_p.shape[1:]:
        raise ValueError("x_pi and x_p must be (n, ...) tensors of samples of the same dimension, got "
                         f"{tuple(x_pi.shape)} and {tuple(x_p.shape)}")
    opt = torch.optim.Adam(critic.parameters(), lr=lr)

    def value():
        return div.bound(critic(x_pi).reshape(len(x_pi)), critic(x_p).reshape(len(x_p)))

    def update():
        bound = value()
        opt.zero_grad(set_to_none=True)
        (-bound).backward()
        opt.step()
        return {"bound": bound.detach()}

    history = run_steps(critic, update, steps=steps, optimizers=[opt], progress=progress)
    with torch.no_grad():
        return value(), history
