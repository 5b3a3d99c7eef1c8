"""CycleGAN: two maps between domains A and B, learnt from unpaired samples."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .. import checks
from ..nets import mlp
from .losses import discriminator_loss, generator_loss

__all__ = ["CycleGAN"]


class CycleGAN(nn.Module):
    """Maps G: A -> B and F: B -> A with discriminators D_B (is it from B?) and D_A, from unpaired samples.

    Each map is trained to fool its discriminator (non-saturating loss); the cycle-consistency loss

        L_cyc = E_A ||F(G(a)) - a||_1 + E_B ||G(F(b)) - b||_1

    (weight ``cycle_weight``; 0 turns it off) asks the two maps to invert each other, which rules
    out maps that send all of A to one part of B. A batch is a pair ``(a, b)`` of ``(B, dim)``
    tensors: train with ``train_gan(model, (data_a, data_b), ...)`` (shuffled together, so a batch
    pairs random points of A with random points of B). A translator, not a sampler:
    :meth:`translate_a_to_b`, :meth:`translate_b_to_a`.

    Example:
        >>> cyc = CycleGAN(2, hidden=(64, 64), cycle_weight=10.0)
        >>> history = train_gan(cyc, (data_a, data_b), epochs=20, lr_g=1e-3, lr_d=1e-3)
        >>> b = cyc.translate_a_to_b(data_a)

    References:
        Zhu, Park, Isola, Efros, Unpaired Image-to-Image Translation using Cycle-Consistent
        Adversarial Networks, ICCV 2017, Eq. 2-3.
    """

    def __init__(self, dim: int = 2, hidden: Sequence[int] = (64, 64), cycle_weight: float = 10.0):
        super().__init__()
        self.dim = checks.positive_int(dim, "dim")
        self.cycle_weight = checks.non_negative_number(cycle_weight, "cycle_weight")
        self.g, self.f = mlp(dim, dim, hidden), mlp(dim, dim, hidden)
        self.d_a, self.d_b = mlp(dim, 1, hidden), mlp(dim, 1, hidden)

    @torch.no_grad()
    def translate_a_to_b(self, a: torch.Tensor) -> torch.Tensor:
        """G(a), without gradients."""
        return self.g(a)

    @torch.no_grad()
    def translate_b_to_a(self, b: torch.Tensor) -> torch.Tensor:
        """F(b), without gradients."""
        return self.f(b)

    def generator_parameters(self):
        """The two maps G and F."""
        return [*self.g.parameters(), *self.f.parameters()]

    def discriminator_parameters(self):
        return [*self.d_a.parameters(), *self.d_b.parameters()]

    def d_loss(self, batch) -> dict:
        """``{"loss"}``: the cross-entropies of D_B (b vs G(a)) and D_A (a vs F(b)), summed."""
        a, b = self._pair(batch)
        with torch.no_grad():
            fake_b, fake_a = self.g(a), self.f(b)
        loss = discriminator_loss(self.d_b(b).squeeze(1), self.d_b(fake_b).squeeze(1)) \
            + discriminator_loss(self.d_a(a).squeeze(1), self.d_a(fake_a).squeeze(1))
        return {"loss": loss}

    def g_loss(self, batch) -> dict:
        """``{"loss", "adversarial", "cycle"}``: loss = the maps' non-saturating losses + cycle_weight L_cyc."""
        a, b = self._pair(batch)
        fake_b, fake_a = self.g(a), self.f(b)
        cycle = (self.f(fake_b) - a).abs().sum(1).mean() + (self.g(fake_a) - b).abs().sum(1).mean()
        adversarial = generator_loss(self.d_b(fake_b).squeeze(1)) + generator_loss(self.d_a(fake_a).squeeze(1))
        return {"loss": adversarial + self.cycle_weight * cycle, "adversarial": adversarial.detach(),
                "cycle": cycle.detach()}

    def _pair(self, batch):
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise TypeError("a CycleGAN batch is a pair (a, b) of samples of the two domains; "
                            "train with train_gan(model, (data_a, data_b), ...)")
        a, b = checks.tensor(batch[0], "a"), checks.tensor(batch[1], "b")
        if a.shape != b.shape or a.ndim != 2 or a.shape[1] != self.dim:
            raise ValueError(f"a and b must both have shape (B, {self.dim}), got {tuple(a.shape)} and {tuple(b.shape)}")
        return a, b
