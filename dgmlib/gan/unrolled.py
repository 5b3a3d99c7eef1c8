"""Unrolled GANs: the generator steps against the discriminator it would face k updates later.

The generator of a vanilla GAN climbs towards the discriminator's *current* favourite point;
the discriminator answers only after it has moved (the hopping of mode collapse). Metz et al.
let the generator look ahead: with the discriminator's parameters phi_0 and its loss L_D,

    phi_{i+1} = phi_i - eta grad_phi L_D(phi_i; G_theta),      i = 0 .. k - 1,
    the generator minimizes  L_G(theta, phi_k(theta)),

where phi_k depends on theta through every unrolled step, so the gradient of L_G flows back
through the k updates (second derivatives of L_D). A generator that piles its samples on one mode
now sees that the unrolled discriminator rejects that mode, and is pushed to spread. The
discriminator itself is updated as usual (one step on L_D(phi_0)); the unrolled copies are
thrown away after each generator step.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from .. import checks
from .losses import discriminator_loss, generator_loss
from .model import GAN

__all__ = ["UnrolledGAN", "unrolled_parameters"]


def unrolled_parameters(discriminator: nn.Module, x: torch.Tensor, fake: torch.Tensor, steps: int, lr: float,
                        kind: str = "non_saturating") -> dict:
    """phi_k after ``steps`` differentiable SGD steps phi <- phi - lr grad_phi L_D(phi) on data ``x``, samples ``fake``.

    ``L_D`` is :func:`~dgmlib.gan.discriminator_loss` of ``kind``; every step uses the same batch
    ``x: (B, ...)`` and ``fake: (B', ...)``. The graph is kept (``create_graph=True``), so phi_k is
    a differentiable function of ``fake`` (hence of the generator) and of phi_0. Returns
    ``{name: tensor}`` for :func:`torch.func.functional_call`; ``steps = 0`` returns phi_0 itself.

    Example:
        >>> phi_k = unrolled_parameters(D, x, G(z), steps=5, lr=0.05)
        >>> g_loss = generator_loss(functional_call(D, phi_k, (G(z),)))

    References:
        Metz, Poole, Pfau, Sohl-Dickstein, Unrolled Generative Adversarial Networks, ICLR 2017, Eq. 6-7.
    """
    steps = checks.int_at_least(steps, "steps", 0)
    lr = checks.positive_number(lr, "lr")
    params = {name: p for name, p in discriminator.named_parameters() if p.requires_grad}
    buffers = dict(discriminator.named_buffers())
    for _ in range(steps):
        state = {**params, **buffers}
        loss = discriminator_loss(functional_call(discriminator, state, (x,)),
                                  functional_call(discriminator, state, (fake,)), kind)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
        params = {name: p - lr * g for (name, p), g in zip(params.items(), grads)}
    return {**params, **buffers}


class UnrolledGAN(GAN):
    """A :class:`GAN` whose generator minimizes L_G(theta, phi_k(theta)), phi_k: D ``unroll_steps`` SGD steps ahead.

    ``unroll_steps = k`` (0: the vanilla GAN), ``unroll_lr = eta`` the step size of the unrolled SGD
    (the discriminator's own optimizer, Adam in :func:`~dgmlib.gan.train_gan`, is not unrolled;
    plain SGD keeps the look-ahead short to write and cheap to differentiate). The unrolled steps
    reuse the data batch that ``train_gan`` passes to ``g_loss`` and one draw of G(z). Other
    options as in :class:`GAN` (no gradient penalty, clipping or feature matching: the look-ahead
    would have to unroll them too).

    Example:
        >>> model = UnrolledGAN(MLPGenerator(2, 2, hidden=(128, 128), batch_norm=False, output=None),
        ...                     MLPDiscriminator(2, hidden=(128, 128), dropout=0.0), latent_dim=2, unroll_steps=5)
        >>> history = train_gan(model, ring, epochs=40, batch_size=512, lr_g=2e-3, lr_d=2e-4)

    References:
        Metz, Poole, Pfau, Sohl-Dickstein, Unrolled Generative Adversarial Networks, ICLR 2017.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, latent_dim: int,
                 kind: str = "non_saturating", *, unroll_steps: int = 5, unroll_lr: float = 0.05, **options):
        for option in ("gp_weight", "clip_value", "feature_matching", "label_smoothing"):
            if options.get(option):
                raise ValueError(f"UnrolledGAN does not unroll {option}; leave it at its default")
        super().__init__(generator, discriminator, latent_dim, kind, **options)
        self.unroll_steps = checks.int_at_least(unroll_steps, "unroll_steps", 0)
        self.unroll_lr = checks.positive_number(unroll_lr, "unroll_lr")

    def g_loss(self, x) -> dict:
        """``{"loss"}``: generator_loss(D_{phi_k}(G(z)), kind), phi_k = :func:`unrolled_parameters` on batch ``x``."""
        if not torch.is_tensor(x):
            raise TypeError(f"UnrolledGAN.g_loss unrolls the discriminator on the data batch: pass a tensor x, "
                            f"got {type(x).__name__}")
        fake = self.generator(self.prior(len(x)))
        phi_k = unrolled_parameters(self.discriminator, x, fake, self.unroll_steps, self.unroll_lr, self.kind)
        loss = generator_loss(functional_call(self.discriminator, phi_k, (fake,)), self.kind)
        if self.historical_averaging:
            loss = loss + self.historical_averaging * self._average("generator").penalty()
        return {"loss": loss}
