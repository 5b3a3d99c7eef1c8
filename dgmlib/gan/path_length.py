"""Perceptual path length (StyleGAN): how abruptly the images change along short steps in a latent space."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import checks

__all__ = ["slerp", "path_lengths"]


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of the directions of ``a``, ``b`` ``(B, D)`` at ``t: (B,)``; norms interpolated linearly.

    slerp(a, b; t) = [sin((1 - t) W) a_hat + sin(t W) b_hat] / sin W * ((1 - t)|a| + t|b|), cos W = a_hat . b_hat.
    """
    checks.same_shape(a=a, b=b)
    na, nb = a.norm(dim=1, keepdim=True), b.norm(dim=1, keepdim=True)
    ua, ub = a / na, b / nb
    omega = torch.acos((ua * ub).sum(1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    t = t[:, None]
    direction = (torch.sin((1 - t) * omega) * ua + torch.sin(t * omega) * ub) / torch.sin(omega)
    return direction * ((1 - t) * na + t * nb)


def path_lengths(images: Callable, features: Callable, a: torch.Tensor, b: torch.Tensor, *, eps: float = 1e-2,
                 spherical: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
    """l_i = ||phi(g(p(t_i))) - phi(g(p(t_i + eps)))||^2 / eps^2 on paths p from ``a`` to ``b``, t_i ~ U(0, 1 - eps).

    ``images``: latent ``(B, D)`` -> images (the same noise inputs for both ends of a step);
    ``features``: images -> ``(B, F)``, the "perceptual" embedding phi; ``a``, ``b``: ``(B, D)``
    endpoints; interpolation linear (in W) or ``spherical`` (:func:`slerp`, in Z). Returns ``(B,)``;
    its mean is the perceptual path length. A latent space whose straight lines cross fewer
    abrupt changes of the image (less entangled, in the StyleGAN paper's sense) has a shorter one.

    References:
        Karras, Laine, Aila, A Style-Based Generator Architecture for GANs, CVPR 2019, Sec. 4.1, Eq. 2-3.
    """
    eps = checks.number_in(eps, "eps", 0, 1, closed="neither")
    checks.same_shape(a=a, b=b)
    if a.ndim != 2:
        raise ValueError(f"a and b must be (B, D) latent codes, got {tuple(a.shape)}")
    t = (torch.rand(len(a), generator=generator) * (1 - eps)).to(a)
    path = slerp if checks.flag(spherical, "spherical") else (lambda u, v, s: u + s[:, None] * (v - u))
    f0 = features(images(path(a, b, t)))
    f1 = features(images(path(a, b, t + eps)))
    return (f0 - f1).pow(2).flatten(1).sum(1) / eps**2
