"""Normalizing flows: one interface for every layer, a ``Flow`` that only sums.

Every layer is an ``nn.Module`` with ``forward(x) -> (y, log_det)`` (data -> latent) and
``inverse(y) -> (x, log_det)``, ``log_det`` of shape ``(B,)`` being log|det J| of the map applied.
``Flow(base, layers)`` offers ``log_prob`` (exact), ``sample(n, temperature=1.0)`` (under
``no_grad``) and ``loss(x) -> {"loss": nats, "bits_per_dim"}`` (for :func:`dgmlib.training.fit`).
:class:`Compose` chains layers with their summed log_det; it is also the flow of a VI posterior
(``z: (B, D)`` or ``(k, B, D)``, a ``context`` for the conditional layers).

Families (the lecture's four): determinant identities (:class:`Planar`, :class:`Radial`),
autoregressive (:class:`MADE`, :class:`MaskedAutoregressive`), coupling (:class:`AffineCoupling`
with Glow's :class:`ActNorm`, :class:`InvConv1x1`, :class:`Squeeze`, :class:`MultiScale`) and
free-form residual (:class:`ResidualFlowBlock`). For images: :class:`Dequantize`, :class:`Logit`,
:func:`bits_per_dim`.
"""

from .base import DiagonalGaussian, Flow, StandardNormal, bits_per_dim
from .compose import Compose
from .simple import Planar, Radial
from .autoregressive import MADE, MaskedAutoregressive, Reverse
from .coupling import AffineCoupling, alternating_mask, channel_mask, checkerboard_mask
from .glow import ActNorm, InvConv1x1, MultiScale, Squeeze, Squeezed
from .residual import ResidualFlowBlock, power_series_log_det
from .images import Dequantize, Logit
from .models import maf_flow, mnist_flow, mnist_glow, planar_flow, realnvp_flow, residual_flow

__all__ = [
    "Flow", "Compose", "StandardNormal", "DiagonalGaussian", "bits_per_dim",
    "Planar", "Radial", "MADE", "MaskedAutoregressive", "Reverse",
    "AffineCoupling", "alternating_mask", "checkerboard_mask", "channel_mask",
    "ActNorm", "InvConv1x1", "Squeeze", "Squeezed", "MultiScale",
    "ResidualFlowBlock", "power_series_log_det", "Dequantize", "Logit",
    "planar_flow", "maf_flow", "realnvp_flow", "residual_flow", "mnist_flow", "mnist_glow",
]
