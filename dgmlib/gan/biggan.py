"""BigGAN's generator, at MLP scale: a shared class embedding and a hierarchical latent (skip-z) steer every layer.

BigGAN conditions each generator block through conditional batch norm: the normalized activations
are scaled and shifted by linear functions of a condition vector c_l,

    CBN(h; c_l) = (1 + gamma_l(c_l)) (h - mu_B) / sigma_B + beta_l(c_l),

where c_l = [z_l, e(y)] joins one *chunk* z_l of the latent code (z is split into one chunk per
block plus one for the input: the hierarchical latent, "skip-z", which lets each resolution draw
its own randomness) and the class embedding e(y), one embedding table *shared* by all blocks
(instead of a separate table per block: fewer parameters, faster to train).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .. import checks

__all__ = ["ConditionalBatchNorm1d", "BigGANGenerator"]


class ConditionalBatchNorm1d(nn.Module):
    """CBN(h; c) = (1 + gamma(c)) (h - mu_B) / sigma_B + beta(c), gamma and beta linear in c, zero at the start.

    ``h: (B, features)``, ``c: (B, cond_dim)`` -> ``(B, features)``; mu_B, sigma_B: batch norm's
    statistics (running averages in eval mode).

    References:
        de Vries et al., Modulating Early Visual Processing by Language, NeurIPS 2017 (conditional BN);
        Brock, Donahue, Simonyan, Large Scale GAN Training for High Fidelity Natural Image Synthesis, ICLR 2019, Sec. 3.
    """

    def __init__(self, features: int, cond_dim: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(checks.positive_int(features, "features"), affine=False)
        self.gain = nn.Linear(checks.positive_int(cond_dim, "cond_dim"), features)
        self.bias = nn.Linear(cond_dim, features)
        for layer in (self.gain, self.bias):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return (1 + self.gain(c)) * self.norm(h) + self.bias(c)


class BigGANGenerator(nn.Module):
    """x = G(z, y): an MLP generator with skip-z and a shared class embedding through conditional batch norm.

    ``hidden = (h_1, ..., h_L)``: z is split into L + 1 chunks of ``latent_dim / (L + 1)``; the
    first goes through a linear layer to h_1, and block l applies CBN(.; [z_l, e(y)]),
    LeakyReLU(0.2) and a linear layer to the next width (the last to the image, then tanh).
    ``forward(z, y)``: ``z: (B, latent_dim)``, ``y: (B,)`` class indices -> ``(B, *data_shape)``.

    Example:
        >>> G = BigGANGenerator(64, 10, (1, 28, 28))        # 4 chunks of 16
        >>> G(torch.randn(5, 64), torch.arange(5)).shape
        torch.Size([5, 1, 28, 28])

    References:
        Brock, Donahue, Simonyan, Large Scale GAN Training for High Fidelity Natural Image Synthesis,
        ICLR 2019, Sec. 3 and Appendix B (shared embedding, hierarchical latent).
    """

    def __init__(self, latent_dim: int, n_classes: int, data_shape: Sequence[int] = (1, 28, 28),
                 hidden: Sequence[int] = (256, 512, 512), embed_dim: int = 32):
        super().__init__()
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.n_classes = checks.positive_int(n_classes, "n_classes")
        self.data_shape = tuple(checks.positive_int(s, "data_shape") for s in data_shape)
        hidden = tuple(checks.positive_int(h, "hidden") for h in hidden)
        if not hidden:
            raise ValueError("hidden must list at least one width")
        if self.latent_dim % (len(hidden) + 1):
            raise ValueError(f"latent_dim = {latent_dim} must split into len(hidden) + 1 = {len(hidden) + 1} "
                             "equal chunks")
        self.chunk = self.latent_dim // (len(hidden) + 1)
        self.embed = nn.Embedding(self.n_classes, checks.positive_int(embed_dim, "embed_dim"))  # shared by all blocks
        self.input = nn.Linear(self.chunk, hidden[0])
        self.norms = nn.ModuleList(ConditionalBatchNorm1d(h, self.chunk + embed_dim) for h in hidden)
        widths = (*hidden, math.prod(self.data_shape))
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        z = checks.floating_tensor(z, "z")
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        if y.shape != (len(z),) or y.dtype != torch.long:
            raise ValueError(f"y must hold {len(z)} class indices (int64), got shape {tuple(y.shape)} and {y.dtype}")
        chunks = z.split(self.chunk, dim=1)                       # L + 1 chunks of (B, chunk)
        e = self.embed(y)                                          # (B, embed_dim), the shared embedding
        h = self.input(chunks[0])
        for norm, linear, z_l in zip(self.norms, self.linears, chunks[1:]):
            h = linear(nn.functional.leaky_relu(norm(h, torch.cat([z_l, e], dim=1)), 0.2))
        return torch.tanh(h).reshape(len(z), *self.data_shape)
