"""A class-conditional GAN: G(z, y) against D(x, y), trained on (images, labels) batches."""

from __future__ import annotations

import torch
from torch import nn

from .. import checks
from ..runtime import module_device
from .lipschitz import orthogonal_regularization
from .losses import LOSS_KINDS, discriminator_loss, generator_loss
from .truncation import truncated_normal

__all__ = ["ConditionalGAN"]


class ConditionalGAN(nn.Module):
    """min_G max_D on pairs: data (x, y) ~ pi(x, y) against (G(z, y), y), z ~ N(0, I), y from the data's labels.

    ``generator(z, y)`` and ``discriminator(x, y)`` (e.g. :class:`~dgmlib.gan.BigGANGenerator`,
    :class:`~dgmlib.gan.ProjectionDiscriminator`); ``kind``: a loss of :data:`~dgmlib.gan.LOSS_KINDS`
    (BigGAN: ``hinge``). ``d_loss((x, y))`` and ``g_loss((x, y))`` follow the adversarial contract;
    the generator's fakes take the batch's labels, so both players see the data's class frequencies.
    ``ortho_weight``: beta of BigGAN's orthogonal regularization of the generator,
    ``+ beta sum_W ||W W^T (1 - I)||_F^2``, part of the generator's ``"loss"`` (the contract's vocabulary
    has no name for it, so only the total is logged). ``sample(n, y=None, threshold=None)``: labels uniform by
    default; ``threshold`` draws z from the truncated normal (the truncation trick).

    Example:
        >>> model = ConditionalGAN(BigGANGenerator(64, 10), ProjectionDiscriminator((1, 28, 28), 10), latent_dim=64)
        >>> history = train_gan(model, (x, y), epochs=10, batch_size=64)
        >>> sevens = model.sample(16, y=torch.full((16,), 7))

    References:
        Mirza, Osindero, Conditional Generative Adversarial Nets, 2014;
        Brock, Donahue, Simonyan, Large Scale GAN Training, ICLR 2019.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, latent_dim: int, n_classes: int = 10,
                 kind: str = "hinge", *, ortho_weight: float = 0.0):
        super().__init__()
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.n_classes = checks.positive_int(n_classes, "n_classes")
        self.kind = checks.one_of(kind, "kind", LOSS_KINDS)
        self.ortho_weight = checks.non_negative_number(ortho_weight, "ortho_weight")

    @property
    def device(self) -> torch.device:
        return module_device(self.generator)

    def generator_parameters(self):
        return list(self.generator.parameters())

    def discriminator_parameters(self):
        return list(self.discriminator.parameters())

    def _pair(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise TypeError("ConditionalGAN trains on (images, labels) batches: pass train_gan the pair (x, y)")
        x, y = batch
        if y.dtype != torch.long or y.shape != (len(x),):
            raise ValueError(f"labels must be {len(x)} class indices (int64), got shape {tuple(y.shape)} and {y.dtype}")
        return x, y

    def d_loss(self, batch) -> dict:
        """``{"loss", "real", "fake"}``: discriminator_loss(D(x, y), D(G(z, y), y), kind), G without gradients."""
        x, y = self._pair(batch)
        with torch.no_grad():
            fake = self.generator(torch.randn(len(x), self.latent_dim, device=x.device), y)
        d_real, d_fake = self.discriminator(x, y), self.discriminator(fake, y)
        return {"loss": discriminator_loss(d_real, d_fake, self.kind), "real": d_real.detach().mean(),
                "fake": d_fake.detach().mean()}

    def g_loss(self, batch) -> dict:
        """``{"loss"}``: generator_loss(D(G(z, y), y), kind) (+ ortho_weight x the orthogonal regularization)."""
        x, y = self._pair(batch)
        fake = self.generator(torch.randn(len(x), self.latent_dim, device=x.device), y)
        loss = generator_loss(self.discriminator(fake, y), self.kind)
        if self.ortho_weight:
            loss = loss + self.ortho_weight * orthogonal_regularization(self.generator)
        return {"loss": loss}

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | None = None, z: torch.Tensor | None = None,
               threshold: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images G(z, y); y uniform over the classes unless given, z ~ N(0, I) or truncated at ``threshold``."""
        n = checks.positive_int(n, "n")
        if y is None:
            y = torch.randint(self.n_classes, (n,), generator=generator)
        if z is None:
            z = torch.randn(n, self.latent_dim, generator=generator) if threshold is None else \
                truncated_normal(n, self.latent_dim, threshold, generator=generator)
        return self.generator(z.to(self.device), y.to(self.device))
