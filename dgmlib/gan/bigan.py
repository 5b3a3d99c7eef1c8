"""BiGAN / ALI: a GAN that also learns an encoder, by a discriminator on (x, z) pairs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .. import checks
from ..nets import mlp
from ..runtime import module_device
from .losses import discriminator_loss

__all__ = ["BiGAN"]


class BiGAN(nn.Module):
    """Adversarial inference: a generator x = G(z), an encoder z = E(x), a discriminator D(x, z) on pairs.

    D tells (x, E(x)), x ~ pi, from (G(z), z), z ~ N(0, I):

        min_{G,E} max_D  E_pi log D(x, E(x)) + E_z log(1 - D(G(z), z)).

    At the optimum the two joint distributions pi(x) delta(z - E(x)) and p(z) delta(x - G(z))
    agree, which forces E = G^{-1}: the encoder learns to invert the generator without ever
    seeing a pair (x, z) or a reconstruction loss. The players are :func:`dgmlib.nets.mlp` s;
    ``discriminator(x, z) -> (B,)`` logits. Both losses are the cross-entropy (non-saturating for
    G and E: the labels swapped).

    Example:
        >>> bigan = BiGAN(2, 2, hidden=(64, 64))
        >>> history = train_gan(bigan, moons, epochs=40, lr_g=1e-3, lr_d=1e-3, decay_lr=True)
        >>> z = bigan.encoder(moons)                                  # ~ G^{-1}(x)

    References:
        Donahue, Kraehenbuehl, Darrell, Adversarial Feature Learning, ICLR 2017.
        Dumoulin et al., Adversarially Learned Inference, ICLR 2017.
    """

    def __init__(self, data_dim: int, latent_dim: int, hidden: Sequence[int] = (128, 128)):
        super().__init__()
        self.data_dim = checks.positive_int(data_dim, "data_dim")
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.generator = mlp(self.latent_dim, self.data_dim, hidden)
        self.encoder = mlp(self.data_dim, self.latent_dim, hidden)
        self.joint = mlp(self.data_dim + self.latent_dim, 1, hidden)

    def discriminator(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """logit D(x, z): ``x: (B, data_dim)``, ``z: (B, latent_dim)`` -> ``(B,)``."""
        return self.joint(torch.cat([x, z], dim=1)).squeeze(1)

    def prior(self, n: int) -> torch.Tensor:
        """z ~ N(0, I), ``(n, latent_dim)`` on the model's device."""
        return torch.randn(checks.positive_int(n, "n"), self.latent_dim, device=module_device(self))

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """``n`` samples G(z), z ~ N(0, I), without gradients: ``(n, data_dim)``."""
        return self.generator(self.prior(n))

    def generator_parameters(self):
        """G and E: the two players that try to fool D."""
        return [*self.generator.parameters(), *self.encoder.parameters()]

    def discriminator_parameters(self):
        return list(self.joint.parameters())

    def d_loss(self, x: torch.Tensor) -> dict:
        """``{"loss", "real", "fake"}``: -E log D(x, E(x)) - E log(1 - D(G(z), z)) and the mean logits."""
        self._check(x)
        z = self.prior(len(x))
        with torch.no_grad():
            e_x, g_z = self.encoder(x), self.generator(z)
        d_enc, d_gen = self.discriminator(x, e_x), self.discriminator(g_z, z)  # "real", "fake" pairs
        return {"loss": discriminator_loss(d_enc, d_gen), "real": d_enc.detach().mean(), "fake": d_gen.detach().mean()}

    def g_loss(self, x: torch.Tensor) -> dict:
        """``{"loss"}``: G and E's loss -E log(1 - D(x, E(x))) - E log D(G(z), z), on a fresh z."""
        self._check(x)
        z = self.prior(len(x))
        d_enc = self.discriminator(x, self.encoder(x))
        d_gen = self.discriminator(self.generator(z), z)
        return {"loss": F.softplus(d_enc).mean() + F.softplus(-d_gen).mean()}  # the labels swapped

    def _check(self, x):
        checks.tensor(x, "x")
        if x.ndim != 2 or x.shape[1] != self.data_dim:
            raise ValueError(f"x must have shape (B, {self.data_dim}), got {tuple(x.shape)}")
