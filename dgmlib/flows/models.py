"""Ready-made flows of the lectures: one per family for 2-D toys, and a multi-scale flow for MNIST.

Each returns a :class:`~dgmlib.flows.Flow` (``log_prob``, ``sample``, ``loss``), untrained,
on the CPU (``.to(device)`` it). Shapes: 2-D toys (B, 2); MNIST (B, 1, 28, 28).

Example:
    >>> flow = realnvp_flow(2, n_layers=8)
    >>> history = fit(flow, toy2d("moons", 4000), epochs=30, lr=3e-3)   # history["loss"]: nats
    >>> x = flow.sample(1000, temperature=0.8)

References: Rezende & Mohamed 2015 (planar); Papamakarios et al. 2017 (MAF); Dinh et al. 2017
(RealNVP); Chen et al. 2019 (Residual Flows); Kingma & Dhariwal 2018 (Glow).
"""

from __future__ import annotations

from .. import checks
from .autoregressive import MaskedAutoregressive, Reverse
from .base import Flow, StandardNormal
from .coupling import AffineCoupling, alternating_mask, channel_mask, checkerboard_mask
from .glow import ActNorm, InvConv1x1, MultiScale, Squeezed
from .images import Dequantize, Logit
from .residual import ResidualFlowBlock
from .simple import Planar, Radial

__all__ = ["planar_flow", "maf_flow", "realnvp_flow", "residual_flow", "mnist_flow", "mnist_glow"]


def planar_flow(dim: int = 2, n_layers: int = 32, radial_every: int = 0) -> Flow:
    """ActNorm, then ``n_layers`` planar layers (every ``radial_every``-th one radial, if > 0).

    Density only: planar and radial layers have no analytic inverse, so ``sample`` raises.
    """
    radial_every = checks.int_at_least(radial_every, "radial_every", 0)
    layers = [ActNorm(dim)]
    for i in range(checks.positive_int(n_layers, "n_layers")):
        layers.append(Radial(dim) if radial_every and (i + 1) % radial_every == 0 else Planar(dim))
    return Flow(StandardNormal(dim), layers)


def maf_flow(dim: int = 2, n_layers: int = 5, hidden=(64, 64), direction: str = "maf") -> Flow:
    """ActNorm, then ``n_layers`` affine autoregressive layers with the order reversed in between."""
    layers = [ActNorm(dim)]
    for i in range(checks.positive_int(n_layers, "n_layers")):
        layers += [MaskedAutoregressive(dim, hidden, direction=direction), Reverse()]
    return Flow(StandardNormal(dim), layers[:-1])


def realnvp_flow(dim: int = 2, n_layers: int = 8, hidden=(64, 64)) -> Flow:
    """ActNorm, then ``n_layers`` affine couplings with alternating masks and an ActNorm after each."""
    layers = [ActNorm(dim)]
    for i in range(checks.positive_int(n_layers, "n_layers")):
        layers += [AffineCoupling(alternating_mask(dim, i % 2), hidden), ActNorm(dim)]
    return Flow(StandardNormal(dim), layers)


def residual_flow(dim: int = 2, n_blocks: int = 6, hidden=(64, 64), lipschitz: float = 0.9,
                  log_det: str = "roulette") -> Flow:
    """ActNorm, then ``n_blocks`` i-ResNet blocks (each followed by an ActNorm): Residual Flows."""
    layers = [ActNorm(dim)]
    for _ in range(checks.positive_int(n_blocks, "n_blocks")):
        layers += [ResidualFlowBlock(dim, hidden, lipschitz=lipschitz, log_det=log_det), ActNorm(dim)]
    return Flow(StandardNormal(dim), layers)


def _step(channels, height, width, parity, hidden, mask="checkerboard"):
    """ActNorm, invertible 1x1 convolution (LU), affine coupling: one Glow step."""
    m = (checkerboard_mask(height, width, parity, channels) if mask == "checkerboard"
         else channel_mask(channels, height, width, parity))
    return [ActNorm(channels), InvConv1x1(channels, lu=True), AffineCoupling(m, (hidden,))] if channels > 1 else \
        [ActNorm(channels), AffineCoupling(m, (hidden,))]


def mnist_flow(hidden: int = 32, steps: int = 3, alpha: float = 0.05) -> Flow:
    """A RealNVP/Glow-style multi-scale flow for (B, 1, 28, 28) grey levels in [0, 1]:

    Dequantize -> Logit -> [28x28x1: ``steps`` checkerboard steps] -> squeeze/split ->
    [14x14x2: ``steps`` steps] -> squeeze/split -> [7x7x4: ``steps`` steps]. Each step is ActNorm,
    InvConv1x1 (LU; skipped for one channel) and an affine coupling whose conditioner is a
    3x3-1x1-3x3 conv net with ``hidden`` channels. log_prob is the discrete log-probability bound
    (nats per image); ``loss`` reports bits per dimension.
    """
    checks.positive_int(hidden, "hidden")
    checks.positive_int(steps, "steps")
    scale1 = [layer for i in range(steps) for layer in _step(1, 28, 28, i % 2, hidden)]
    scale2 = [layer for i in range(steps) for layer in _step(2, 14, 14, i % 2, hidden)]
    scale3 = [layer for i in range(steps) for layer in _step(4, 7, 7, i % 2, hidden)]
    body = MultiScale(scale1, [MultiScale(scale2, scale3)])
    return Flow(StandardNormal((1, 28, 28)), [Dequantize(256), Logit(alpha), body])


def mnist_glow(hidden: int = 64, steps: tuple[int, int] = (6, 4), alpha: float = 0.05) -> Flow:
    """A Glow-style flow for (B, 1, 28, 28) grey levels in [0, 1], squeezing first:

    Dequantize -> Logit -> squeeze to 14x14x4 -> [``steps[0]`` steps] -> squeeze/split ->
    [7x7x8: ``steps[1]`` steps] -> unsqueeze back. Each step is ActNorm, InvConv1x1 (LU) and an affine
    coupling on half of the channels (channel mask, alternating halves) with a 3x3-1x1-3x3 conv
    conditioner of ``hidden`` channels. Squeezing first gives the 1x1 convolutions four channels to
    mix from the start, at a quarter of the positions of :func:`mnist_flow`'s first scale, so the same
    compute buys more, wider steps. log_prob: the discrete log-probability bound (nats per image).
    """
    checks.positive_int(hidden, "hidden")
    if len(steps) != 2:
        raise ValueError(f"steps must be two counts (14x14 scale, 7x7 scale), got {steps!r}")
    k1, k2 = (checks.positive_int(k, "steps") for k in steps)
    scale1 = [layer for i in range(k1) for layer in _step(4, 14, 14, i % 2, hidden, mask="channel")]
    scale2 = [layer for i in range(k2) for layer in _step(8, 7, 7, i % 2, hidden, mask="channel")]
    return Flow(StandardNormal((1, 28, 28)), [Dequantize(256), Logit(alpha), Squeezed([MultiScale(scale1, scale2)])])
