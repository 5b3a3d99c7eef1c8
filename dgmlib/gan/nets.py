"""The two players: MLP and DCGAN generators and discriminators, and SAGAN's self-attention block.

Generators map ``z: (B, latent_dim)`` to ``(B, *data_shape)``; discriminators map ``(B, ...)`` to
logits (or critic values) ``(B,)`` and offer ``features(x)``, their last hidden layer (for
feature matching).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .. import checks

__all__ = ["MLPGenerator", "MLPDiscriminator", "DCGANGenerator", "DCGANDiscriminator", "SelfAttention2d"]


def _shape(data_shape) -> tuple[int, ...]:
    shape = (data_shape,) if isinstance(data_shape, int) else tuple(data_shape)
    if not shape:
        raise ValueError(f"data_shape must be a positive int or a tuple of them, got {data_shape!r}")
    return tuple(checks.positive_int(s, "data_shape") for s in shape)


def _maybe_sn(layer: nn.Module, spectral_norm: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(layer) if spectral_norm else layer


class MLPGenerator(nn.Module):
    """x = G(z): Linear-LeakyReLU(0.2) blocks (batch norm from the second on), then a linear output.

    The assignment's generator: ``latent -> 128 -> 256 -> 512 -> 1024 -> data``, widths doubling,
    LeakyReLU 0.2 and batch norm, ``tanh`` output for data scaled to [-1, 1].
    ``z: (B, latent_dim)`` -> ``(B, *data_shape)``.

    Example:
        >>> G = MLPGenerator(2, 2, hidden=(128, 128), batch_norm=False, output=None)   # a 2-D toy
        >>> G(torch.randn(5, 2)).shape
        torch.Size([5, 2])
    """

    def __init__(self, latent_dim: int, data_shape, hidden: Sequence[int] = (128, 256, 512, 1024), *,
                 batch_norm: bool = True, output: str | None = "tanh"):
        super().__init__()
        checks.one_of(output, "output", (None, "tanh"))
        if not hidden:
            raise ValueError("hidden must list at least one width")
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.data_shape = _shape(data_shape)
        layers: list[nn.Module] = [nn.Linear(self.latent_dim, hidden[0]), nn.LeakyReLU(0.2)]
        for h_in, h_out in zip(hidden[:-1], hidden[1:]):
            layers += [nn.Linear(h_in, h_out)]
            if batch_norm:
                layers += [nn.BatchNorm1d(h_out)]
            layers += [nn.LeakyReLU(0.2)]
        layers += [nn.Linear(hidden[-1], math.prod(self.data_shape))]
        if output == "tanh":
            layers += [nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).reshape(len(z), *self.data_shape)


class MLPDiscriminator(nn.Module):
    """d = logit D(x): Linear-LeakyReLU(0.2)-Dropout blocks, then one linear output; ``(B, ...) -> (B,)``.

    The assignment's discriminator: ``data -> 512 -> 256 -> 1``, dropout 0.3. As a Wasserstein
    critic use ``dropout=0`` (and ``spectral_norm=True`` to divide every weight by its spectral
    norm, so that Lip(f) <= 1). :meth:`features` is the last hidden layer (for feature matching).

    Example:
        >>> D = MLPDiscriminator((1, 28, 28))
        >>> D(torch.zeros(3, 1, 28, 28)).shape, D.features(torch.zeros(3, 1, 28, 28)).shape
        (torch.Size([3]), torch.Size([3, 256]))

    References:
        Miyato et al., Spectral Normalization for Generative Adversarial Networks, ICLR 2018.
    """

    def __init__(self, data_shape, hidden: Sequence[int] = (512, 256), *, dropout: float = 0.3,
                 spectral_norm: bool = False):
        super().__init__()
        dropout = checks.number_in(dropout, "dropout", 0, 1, closed="left")
        self.data_shape = _shape(data_shape)
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(self.data_shape)
        for h in hidden:
            layers += [_maybe_sn(nn.Linear(width, h), spectral_norm), nn.LeakyReLU(0.2)]
            if dropout:
                layers += [nn.Dropout(dropout)]
            width = h
        self.body = nn.Sequential(*layers)
        self.head = _maybe_sn(nn.Linear(width, 1), spectral_norm)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(1)


class DCGANGenerator(nn.Module):
    """DCGAN generator for 28x28 images: project z to (2w, 7, 7), two stride-2 transposed convolutions.

    Radford et al.'s guidelines: transposed convolutions to upsample, no pooling, batch norm
    everywhere but the output, ReLU inside, tanh at the output. ``z: (B, latent_dim)`` ->
    ``(B, channels, 28, 28)``.

    References:
        Radford, Metz, Chintala, Unsupervised Representation Learning with Deep Convolutional
        Generative Adversarial Networks, ICLR 2016, Sec. 3.
    """

    def __init__(self, latent_dim: int, channels: int = 1, width: int = 32):
        super().__init__()
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.project = nn.Sequential(nn.Linear(self.latent_dim, 2 * width * 49, bias=False),
                                     nn.BatchNorm1d(2 * width * 49), nn.ReLU())
        self.net = nn.Sequential(
            nn.Unflatten(1, (2 * width, 7, 7)),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),  # (B, w, 14, 14)
            nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1), nn.Tanh(),  # (B, channels, 28, 28)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.project(z))


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator for 28x28 images: two stride-2 convolutions with LeakyReLU(0.2), a linear logit.

    Strided convolutions instead of pooling, batch norm on the second block only (never on the
    input); ``batch_norm=False`` for a WGAN-GP critic (the penalty is per sample).
    ``(B, channels, 28, 28) -> (B,)``.

    References:
        Radford, Metz, Chintala, Unsupervised Representation Learning with Deep Convolutional
        Generative Adversarial Networks, ICLR 2016, Sec. 3.
    """

    def __init__(self, channels: int = 1, width: int = 32, *, batch_norm: bool = True, spectral_norm: bool = False):
        super().__init__()
        layers: list[nn.Module] = [
            _maybe_sn(nn.Conv2d(channels, width, 4, stride=2, padding=1), spectral_norm), nn.LeakyReLU(0.2),
            _maybe_sn(nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), spectral_norm),  # (B, 2w, 7, 7)
        ]
        if batch_norm:
            layers += [nn.BatchNorm2d(2 * width)]
        layers += [nn.LeakyReLU(0.2), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.head = _maybe_sn(nn.Linear(2 * width * 49, 1), spectral_norm)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(1)


class SelfAttention2d(nn.Module):
    """SAGAN's self-attention block on a feature map ``(B, C, H, W)``.

    With N = H W locations x_i and 1x1 convolutions f, g, h, v:
    s_ij = f(x_i)^T g(x_j), a_ij = softmax_i(s_ij), o_j = v(sum_i a_ij h(x_i)), and the block
    returns y_j = x_j + gamma o_j. gamma starts at 0, so the block starts as the identity and the
    network learns how much long-range information to mix in. Every output location can read
    every input location, which a stack of 3x3 convolutions can only do after many layers.

    Example:
        >>> block = SelfAttention2d(16)
        >>> block(torch.randn(2, 16, 8, 8)).shape, block.attention.shape
        (torch.Size([2, 16, 8, 8]), torch.Size([2, 64, 64]))

    References:
        Zhang, Goodfellow, Metaxas, Odena, Self-Attention Generative Adversarial Networks, ICML 2019, Sec. 3.
    """

    def __init__(self, channels: int, key_channels: int | None = None):
        super().__init__()
        channels = checks.positive_int(channels, "channels")
        key = checks.positive_int(key_channels, "key_channels") if key_channels else max(channels // 8, 1)
        self.f = nn.Conv2d(channels, key, 1, bias=False)
        self.g = nn.Conv2d(channels, key, 1, bias=False)
        self.h = nn.Conv2d(channels, channels, 1, bias=False)
        self.v = nn.Conv2d(channels, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))
        self.attention: torch.Tensor | None = None  # the last a_ij, (B, N, N), for plotting

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"x must be a feature map (B, C, H, W), got {tuple(x.shape)}")
        b, c, hgt, wid = x.shape
        f, g, h = self.f(x).flatten(2), self.g(x).flatten(2), self.h(x).flatten(2)  # (B, C', N)
        s = f.transpose(1, 2) @ g                      # (B, N, N): s[b, i, j] = f(x_i)^T g(x_j)
        a = torch.softmax(s, dim=1)                    # normalized over i
        self.attention = a.detach()
        o = (h @ a).reshape(b, c, hgt, wid)            # o_j = sum_i a_ij h(x_i)
        return x + self.gamma * self.v(o)
