"""f-GAN: the generator and a critic V play the variational bound of an f-divergence.

For any critic T, Fenchel's inequality gives D_f(pi || p) >= E_pi T(x) - E_p f*(T(x)), tight at
T* = f'(pi / p) (:class:`~dgmlib.divergences.FDivergence`). f-GAN writes T = g(V(x)) with the
divergence's output activation g and plays

    min_G max_V  F(G, V) = E_pi g(V(x)) - E_z f*(g(V(G(z)))),

so that the critic's maximum is D_f(pi || p_G) and the generator descends it. The ``jensen_shannon``
row recovers the vanilla GAN up to the constant log 4 and the factor 2 (lecture 03).
"""

from __future__ import annotations

import torch
from torch import nn

from ..divergences import f_divergence
from .model import GAN

__all__ = ["FGAN"]


class FGAN(GAN):
    """A :class:`GAN` whose players maximize / minimize F = E_pi g(V) - E_p f*(g(V)) of the f-divergence ``divergence``.

    ``divergence``: a row of :data:`dgmlib.divergences.f_divergences` (``kl``, ``reverse_kl``,
    ``jensen_shannon``, ``pearson``, ``squared_hellinger``, ``total_variation``). The critic's
    ``d_loss`` is ``-F``; the generator's ``g_loss`` is ``-E_p f*(g(V(G(z))))`` (the part of F that
    depends on G: the saddle-point form of Nowozin et al., Eq. 6). ``"real"`` and ``"fake"`` log the
    mean raw outputs V. Other options as in :class:`GAN` (EMA, historical averaging).

    Example:
        >>> model = FGAN(nn.Linear(1, 1), MLPDiscriminator(1, hidden=(32, 32), dropout=0.0), latent_dim=1,
        ...              divergence="kl")
        >>> history = train_gan(model, data, epochs=30, lr_g=1e-3, lr_d=1e-3)

    References:
        Nowozin, Cseke, Tomioka, f-GAN: Training Generative Neural Samplers using Variational
        Divergence Minimization, NeurIPS 2016, Eq. 6 and Table 2.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, latent_dim: int, divergence: str = "kl",
                 **options):
        for option in ("gp_weight", "clip_value", "feature_matching", "label_smoothing"):
            if options.get(option):
                raise ValueError(f"FGAN plays the f-divergence bound only; {option} belongs to the GAN kinds")
        super().__init__(generator, discriminator, latent_dim, **options)
        self.divergence = f_divergence(divergence)
        self.divergence_name = divergence

    def d_loss(self, x: torch.Tensor) -> dict:
        """``{"loss", "real", "fake"}``: -(E_pi g(V(x)) - E_p f*(g(V(G(z))))), G(z) without gradients."""
        if not torch.is_tensor(x):
            raise TypeError(f"FGAN.d_loss takes a tensor x of data, got {type(x).__name__}")
        with torch.no_grad():
            fake = self.generator(self.prior(len(x)))
        v_real, v_fake = self.discriminator(x), self.discriminator(fake)
        loss = -self.divergence.bound(v_real, v_fake)
        if self.historical_averaging:
            loss = loss + self.historical_averaging * self._average("discriminator").penalty()
        return {"loss": loss, "real": v_real.detach().mean(), "fake": v_fake.detach().mean()}

    def g_loss(self, x) -> dict:
        """``{"loss"}``: -E_z f*(g(V(G(z)))) on a fresh draw of ``len(x)`` (or ``x``) samples."""
        n = len(x) if torch.is_tensor(x) else x
        fake = self.generator(self.prior(n))
        loss = -self.divergence.conjugate_of_activation(self.discriminator(fake)).mean()
        if self.historical_averaging:
            loss = loss + self.historical_averaging * self._average("generator").penalty()
        return {"loss": loss}
