"""Generative adversarial networks: losses, Lipschitz constraints, the players, the models, one loop.

The game of the lectures, with data pi and generator samples x = G(z), z ~ N(0, I):

    min_G max_D  V(G, D) = E_pi log D(x) + E_z log(1 - D(G(z))).

Every loss takes the discriminator's *logits* ``d = logit D(x)`` (so D(x) = sigmoid(d) and
log D = -softplus(-d) never under- or overflows), or, for the ``wasserstein`` and ``hinge`` kinds,
the critic's raw values f(x). Discriminators here return those logits, shape ``(B,)``.

Kinds of loss (``LOSS_KINDS``):

=================  ==========================================  ====================================
kind               discriminator / critic minimizes            generator minimizes
=================  ==========================================  ====================================
``minimax``        -E_pi log D(x) - E_p log(1 - D(x))          E_p log(1 - D(x))   (saturates)
``non_saturating`` same as minimax                             -E_p log D(x)
``wasserstein``    E_p f(x) - E_pi f(x)                        -E_p f(x)
``hinge``          E_pi relu(1 - f(x)) + E_p relu(1 + f(x))    -E_p f(x)
=================  ==========================================  ====================================

The adversarial contract: :class:`GAN`, :class:`BiGAN` and :class:`CycleGAN` offer
``d_loss(x)`` and ``g_loss(x)`` (dicts whose first key ``"loss"`` is what that player minimizes),
``discriminator_parameters()`` / ``generator_parameters()`` and the hooks ``after_d_step()`` /
``after_g_step()``; :func:`train_gan` is the one loop for all three:

>>> model = GAN(MLPGenerator(2, 2, batch_norm=False, output=None), MLPDiscriminator(2), latent_dim=2)
>>> history = train_gan(model, ring, epochs=40, batch_size=256, lr_g=1e-3, lr_d=1e-3)
>>> plot_history(history)                       # d_loss, d_real, d_fake, g_loss

Rooms: ``losses`` (the kinds, D*, the density ratio), ``lipschitz`` (clipping, gradient penalty,
spectral norms, orthogonal regularization), ``nets`` (MLP and DCGAN players, self-attention),
``packing`` (PacGAN's discriminator of packs),
``model`` (GAN and its regularizers), ``bigan``, ``cyclegan``, ``truncation``, ``train``
(train_gan, train_critic). Lecture 10 (GAN evolution): ``standard_equation`` (the inner min over q),
``fgan`` (f-GAN), ``unrolled`` (Unrolled GAN), ``instance_noise``, ``progressive`` (ProGAN, with
``equalized``, ``pixel_norm``, ``minibatch_stddev``), ``style`` (StyleGAN's mapping network, AdaIN,
synthesis), ``biggan`` (skip-z and a shared embedding through conditional BN), ``projection`` (the
projection discriminator), ``conditional`` (ConditionalGAN).
"""

from .bigan import BiGAN
from .biggan import BigGANGenerator, ConditionalBatchNorm1d
from .conditional import ConditionalGAN
from .cyclegan import CycleGAN
from .fgan import FGAN
from .equalized import EqualizedConv2d, EqualizedLinear
from .instance_noise import InstanceNoise
from .minibatch_stddev import MinibatchStdDev
from .lipschitz import (clip_weights, gradient_norms, gradient_penalty, lipschitz_bound, orthogonal_regularization,
                        power_iteration)
from .losses import LOSS_KINDS, density_ratio, discriminator_loss, generator_loss, optimal_discriminator
from .model import GAN
from .packing import Packed
from .path_length import path_lengths, slerp
from .pixel_norm import PixelNorm
from .projection import ProjectionDiscriminator
from .progressive import ProgressiveDiscriminator, ProgressiveGAN, ProgressiveGenerator, resize_to_stage
from .nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator, SelfAttention2d
from .train import train_critic, train_gan
from .standard_equation import standard_equation_q
from .style import MappingNetwork, StyleGenerator, StyleLayer, adain
from .truncation import truncate, truncated_normal
from .unrolled import UnrolledGAN, unrolled_parameters

__all__ = [
    "LOSS_KINDS", "discriminator_loss", "generator_loss", "optimal_discriminator", "density_ratio",
    "gradient_norms", "clip_weights", "gradient_penalty", "power_iteration", "lipschitz_bound",
    "orthogonal_regularization",
    "MLPGenerator", "MLPDiscriminator", "DCGANGenerator", "DCGANDiscriminator", "SelfAttention2d",
    "Packed", "GAN", "BiGAN", "CycleGAN",
    "train_gan", "train_critic",
    "truncated_normal", "truncate",
    "FGAN", "UnrolledGAN", "unrolled_parameters", "InstanceNoise", "standard_equation_q",
    "EqualizedLinear", "EqualizedConv2d", "PixelNorm", "MinibatchStdDev",
    "ProgressiveGenerator", "ProgressiveDiscriminator", "ProgressiveGAN", "resize_to_stage",
    "adain", "MappingNetwork", "StyleLayer", "StyleGenerator", "slerp", "path_lengths",
    "ConditionalBatchNorm1d", "BigGANGenerator", "ProjectionDiscriminator", "ConditionalGAN",
]
