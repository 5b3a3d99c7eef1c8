"""The flow itself: a base density, a stack of bijections, and the change of variables.

Convention (the lecture's): every layer's ``forward`` maps data towards the latent space,
``forward(x) -> (y, log_det)`` with ``log_det = log|det dy/dx|`` of shape ``(B,)``, and
``inverse(y) -> (x, log_det)`` returns the log-determinant of the map it applied (so the two are
negatives of each other at matching points). A :class:`Flow` only sums:

    log p(x) = log p_Z(f(x)) + sum_k log|det J_{f_k}(h_{k-1})|,   h_0 = x,  h_K = f(x) = z.

Variational inference runs the chain the other way (Rezende & Mohamed, 2015): draw z_0 ~ q_0 and
push it through layers; then log q_K(z_K) = log q_0(z_0) - sum_k log_det_k, with log_det_k that
of the map applied. :class:`Compose` gives both directions of a stack with their summed log_det.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["Compose", "Flow", "StandardNormal", "DiagonalGaussian", "bits_per_dim"]

_LOG_2PI = math.log(2 * math.pi)


def _event_shape(event_shape) -> tuple[int, ...]:
    if isinstance(event_shape, int) and not isinstance(event_shape, bool):
        event_shape = (event_shape,)
    try:
        shape = tuple(int(s) for s in event_shape)
    except TypeError:
        raise TypeError(f"event_shape must be an int or a tuple of ints, got {event_shape!r}") from None
    if not shape or any(s <= 0 for s in shape):
        raise ValueError(f"event_shape must be a non-empty tuple of positive ints, got {event_shape!r}")
    return shape


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive int, got {n!r}")
    return n


def _check_temperature(temperature) -> float:
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not temperature > 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    return float(temperature)


class StandardNormal(nn.Module):
    """p_Z(z) = N(z; 0, I) over any event shape;  log p_Z(z) = -1/2 sum_i (z_i^2 + log 2 pi)."""

    def __init__(self, event_shape):
        super().__init__()
        self.event_shape = _event_shape(event_shape)
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)  # follows .to(device)

    def _check(self, z):
        if tuple(z.shape[1:]) != self.event_shape:
            raise ValueError(f"z must have shape (B, {', '.join(map(str, self.event_shape))}), got {tuple(z.shape)}")

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, *event_shape) -> (B,)."""
        self._check(z)
        return -0.5 * (z.pow(2) + _LOG_2PI).flatten(1).sum(1)

    def sample(self, n: int, temperature: float = 1.0) -> torch.Tensor:
        """n draws of N(0, tau^2 I): (n, *event_shape), on this module's device."""
        _check_n(n)
        tau = _check_temperature(temperature)
        return tau * torch.randn(n, *self.event_shape, device=self._anchor.device, dtype=self._anchor.dtype)


class DiagonalGaussian(StandardNormal):
    """p_Z(z) = N(z; mu, diag(sigma^2)) with learnable mu and log sigma (per event element).

    log p_Z(z) = -1/2 sum_i ((z_i - mu_i)^2 / sigma_i^2 + 2 log sigma_i + log 2 pi).
    """

    def __init__(self, event_shape):
        super().__init__(event_shape)
        self.loc = nn.Parameter(torch.zeros(self.event_shape))
        self.log_scale = nn.Parameter(torch.zeros(self.event_shape))

    def log_prob(self, z):
        self._check(z)
        u = (z - self.loc) * torch.exp(-self.log_scale)
        return (-0.5 * (u.pow(2) + _LOG_2PI) - self.log_scale).flatten(1).sum(1)

    def sample(self, n, temperature=1.0):
        eps = super().sample(n, temperature).to(self.loc.dtype)
        return self.loc + torch.exp(self.log_scale) * eps


def _accepts_context(layer) -> bool:
    return bool(getattr(layer, "conditional", False))


class Compose(nn.Module):
    """f = f_K o ... o f_1: ``forward`` applies f_1 first, ``inverse`` undoes f_K first.

    Both return ``(output, log_det)`` with log_det the sum of the layers' log-determinants of the
    maps applied, shape ``(B,)``. ``context`` goes to the conditional layers only (those built
    with ``context_features``).
    """

    def __init__(self, layers: Sequence[nn.Module]):
        super().__init__()
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, nn.Module) or not callable(getattr(layer, "inverse", None)):
                raise TypeError(f"layers[{i}] must be a flow layer (an nn.Module with inverse), got {type(layer).__name__}")
        self.layers = nn.ModuleList(layers)

    def _run(self, x, context, layers, method):
        log_dets = []
        for layer in layers:
            fn = getattr(layer, method) if method == "inverse" else layer
            x, ld = fn(x, context=context) if _accepts_context(layer) else fn(x)
            log_dets.append(ld)
        if not log_dets:
            return x, torch.zeros(x.shape[0], device=x.device, dtype=x.dtype)
        # one stack and one sum instead of K additions: fewer autograd nodes per training step
        return x, torch.stack(log_dets).sum(0)

    def forward(self, x, context=None):
        return self._run(x, context, self.layers, "forward")

    def inverse(self, y, context=None):
        return self._run(y, context, list(self.layers)[::-1], "inverse")


def bits_per_dim(log_prob: torch.Tensor, num_dims: int) -> torch.Tensor:
    """Bits per dimension of a log-likelihood in nats: bpd = -log p(x) / (D ln 2).

    ``log_prob``: any shape (e.g. (B,)); ``num_dims``: D, the number of dimensions of one x
    (784 for an MNIST digit). For discrete data the log_prob must be that of the discrete
    values (include the dequantization's -D log 256, see :class:`dgmlib.flows.Dequantize`).
    """
    if isinstance(num_dims, bool) or not isinstance(num_dims, int) or num_dims <= 0:
        raise ValueError(f"num_dims must be a positive int, got {num_dims!r}")
    return -log_prob / (num_dims * math.log(2.0))


class Flow(nn.Module):
    """A normalizing flow p(x) = p_Z(f(x)) |det J_f(x)| with f = layers (data -> latent).

    - ``log_prob(x)``: log p_Z(f(x)) + sum of the layers' log_det, shape (B,).
    - ``sample(n, temperature)``: z ~ N(0, tau^2 I) through f^{-1}; tau < 1 concentrates the
      samples (reduced-temperature sampling, Kingma & Dhariwal 2018).
    - ``loss(x)``: ``{"nll": mean -log p(x), "bits_per_dim": ...}`` for :func:`dgmlib.training.fit`.
    - ``forward(x) -> (z, log_det)`` and ``inverse(z) -> (x, log_det)``: the whole stack.

    ``base``: a :class:`StandardNormal` / :class:`DiagonalGaussian` (anything with
    ``event_shape``, ``log_prob`` and ``sample(n, temperature)``).
    """

    def __init__(self, base: nn.Module, layers: Sequence[nn.Module]):
        super().__init__()
        if not hasattr(base, "event_shape") or not callable(getattr(base, "log_prob", None)):
            raise TypeError(f"base must be a base distribution such as StandardNormal(event_shape), got {type(base).__name__}")
        self.base = base
        self.transform = Compose(layers)

    @property
    def event_shape(self) -> tuple[int, ...]:
        return tuple(self.base.event_shape)

    @property
    def layers(self):
        return self.transform.layers

    def _check_x(self, x, name="x"):
        if not torch.is_tensor(x):
            raise TypeError(f"{name} must be a tensor, got {type(x).__name__}")
        if tuple(x.shape[1:]) != self.event_shape:
            raise ValueError(
                f"{name} must have shape (B, {', '.join(map(str, self.event_shape))}) for this flow, got {tuple(x.shape)}"
            )

    def forward(self, x, context=None):
        self._check_x(x)
        return self.transform(x, context=context)

    def inverse(self, z, context=None):
        self._check_x(z, "z")
        return self.transform.inverse(z, context=context)

    def log_prob(self, x, context=None):
        """log p(x) = log p_Z(z) + log|det J_f(x)|, z = f(x).  x: (B, *event_shape) -> (B,)."""
        z, log_det = self.forward(x, context=context)
        return self.base.log_prob(z) + log_det

    def sample(self, n: int, temperature: float = 1.0, context=None):
        """x = f^{-1}(z), z ~ N(0, tau^2 I) (for a DiagonalGaussian base: loc + tau sigma eps)."""
        z = self.base.sample(n, temperature=temperature)
        x, _ = self.transform.inverse(z, context=context)
        return x

    def loss(self, x, context=None):
        log_p = self.log_prob(x, context=context)
        num_dims = math.prod(self.event_shape)
        return {"nll": -log_p.mean(), "bits_per_dim": bits_per_dim(log_p, num_dims).mean()}
