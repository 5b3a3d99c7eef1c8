"""The truncation trick: trade diversity (recall) for fidelity (precision) at sampling time.

BigGAN samples z from a truncated normal; StyleGAN pulls each latent towards the average one.
Both keep the generator in the region of latent space it saw most during training.
"""

from __future__ import annotations

import torch

from .. import checks

__all__ = ["truncated_normal", "truncate"]


def truncated_normal(n: int, dim: int, threshold: float, generator: torch.Generator | None = None,
                     device=None) -> torch.Tensor:
    """z ~ N(0, I) with every component outside ``[-threshold, threshold]`` resampled; ``(n, dim)``.

    Smaller thresholds trade diversity (recall) for fidelity (precision). Resampling is
    vectorized and repeated until no component is left outside.

    Example:
        >>> z = truncated_normal(500, 64, threshold=1.0)
        >>> images = gan.sample(500, z=z)

    References:
        Brock, Donahue, Simonyan, Large Scale GAN Training for High Fidelity Natural Image
        Synthesis, ICLR 2019, Sec. 3.1.
    """
    n = checks.positive_int(n, "n")
    dim = checks.positive_int(dim, "dim")
    threshold = checks.positive_number(threshold, "threshold")
    z = torch.randn(n, dim, generator=generator)
    outside = z.abs() > threshold
    while bool(outside.any()):
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        outside = z.abs() > threshold
    return z.to(device) if device is not None else z


def truncate(w: torch.Tensor, psi: float, center: torch.Tensor | float = 0.0) -> torch.Tensor:
    """w' = w_hat + psi (w - w_hat): ``psi = 1`` changes nothing, ``psi = 0`` sends every latent to w_hat.

    ``w_hat = center`` is the average latent (0 for z ~ N(0, I)).

    Example:
        >>> truncate(torch.tensor([[2.0, -4.0]]), 0.5)
        tensor([[ 1., -2.]])

    References:
        Karras, Laine, Aila, A Style-Based Generator Architecture for Generative Adversarial
        Networks, CVPR 2019, Appendix B (truncation trick in W).
    """
    psi = checks.non_negative_number(psi, "psi")
    return center + psi * (w - center)
