"""The flow itself: a base density, a stack of bijections (:class:`Compose`), the change of variables.

A :class:`Flow` with layers f = f_K o ... o f_1 (data -> latent) only sums:

    log p(x) = log p_Z(f(x)) + sum_k log|det J_{f_k}(h_{k-1})|,   h_0 = x,  h_K = f(x) = z,

and samples x = f^{-1}(z), z ~ p_Z. Also here: the shape helpers every layer uses.

References: Dinh, Sohl-Dickstein & Bengio, *Density Estimation Using Real NVP*, ICLR 2017, eq. 3;
Papamakarios et al., *Normalizing Flows for Probabilistic Modeling and Inference*, JMLR 2021.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import nn

from .. import checks
from ..gaussian import log_normal_std
from ..runtime import module_dtype
from .compose import Compose

__all__ = ["Flow", "StandardNormal", "DiagonalGaussian", "bits_per_dim"]


def sizes(value, name: str) -> tuple[int, ...]:
    """An event shape or a conditioner's hidden widths: an int or a non-empty sequence of positive ints -> a tuple."""
    try:
        out = (value,) if isinstance(value, numbers.Integral) else tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be a positive int or a sequence of them, got {value!r}") from None
    if not out:
        raise ValueError(f"{name} must be a positive int or a non-empty sequence of them, got ()")
    return tuple(checks.positive_int(s, name) for s in out)


def check_vectors(x, dim: int, name: str = "x") -> None:
    """x must be a batch of vectors (B, dim)."""
    checks.tensor(x, name)
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"{name} must have shape (B, {dim}), got {tuple(x.shape)}")


class StandardNormal(nn.Module):
    """p_Z(z) = N(z; 0, I) over any event shape;  log p_Z(z) = -1/2 sum_i (z_i^2 + log 2 pi)."""

    def __init__(self, event_shape):
        super().__init__()
        self.event_shape = sizes(event_shape, "event_shape")
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)  # follows .to(device)

    def _check(self, z):
        checks.tensor(z, "z")
        if tuple(z.shape[1:]) != self.event_shape:
            raise ValueError(f"z must have shape (B, {', '.join(map(str, self.event_shape))}), got {tuple(z.shape)}")

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, *event_shape) -> (B,)."""
        self._check(z)
        return log_normal_std(z.flatten(1))

    def sample(self, n: int, temperature: float = 1.0) -> torch.Tensor:
        """n draws of N(0, tau^2 I): (n, *event_shape), on this module's device."""
        n = checks.positive_int(n, "n")
        tau = checks.positive_number(temperature, "temperature")
        return tau * torch.randn(n, *self.event_shape, device=self._anchor.device, dtype=self._anchor.dtype)


class DiagonalGaussian(StandardNormal):
    """p_Z(z) = N(z; mu, diag(sigma^2)) with learnable mu and log sigma (per event element):

    log p_Z(z) = log N(u; 0, I) - sum_i log sigma_i,   u = (z - mu) / sigma.
    """

    def __init__(self, event_shape):
        super().__init__(event_shape)
        self.loc = nn.Parameter(torch.zeros(self.event_shape))
        self.log_scale = nn.Parameter(torch.zeros(self.event_shape))

    def log_prob(self, z):
        self._check(z)
        u = (z - self.loc) * torch.exp(-self.log_scale)
        return log_normal_std(u.flatten(1)) - self.log_scale.sum()

    def sample(self, n, temperature=1.0):
        """loc + sigma tau eps, eps ~ N(0, I): (n, *event_shape)."""
        eps = super().sample(n, temperature).to(self.loc.dtype)
        return self.loc + torch.exp(self.log_scale) * eps


def bits_per_dim(log_prob: torch.Tensor, num_dims: int) -> torch.Tensor:
    """Bits per dimension of a log-likelihood in nats: bpd = -log p(x) / (D ln 2).

    ``log_prob``: any shape (e.g. (B,)); ``num_dims``: D, the number of dimensions of one x
    (784 for an MNIST digit). For discrete data the log_prob must be that of the discrete
    values (include the dequantization's -D log 256, see :class:`dgmlib.flows.Dequantize`).
    """
    checks.positive_int(num_dims, "num_dims")
    return -log_prob / (num_dims * math.log(2.0))


class Flow(nn.Module):
    """A normalizing flow p(x) = p_Z(f(x)) |det J_f(x)| with f = layers (data -> latent).

    - ``log_prob(x)``: log p_Z(f(x)) + sum of the layers' log_det, exact; (B, *event_shape) -> (B,).
    - ``sample(n, temperature=1.0)``: x = f^{-1}(z), z ~ N(0, tau^2 I), under ``no_grad``;
      tau < 1 concentrates the samples (reduced-temperature sampling, Kingma & Dhariwal 2018).
    - ``loss(x)``: ``{"loss": mean -log p(x) (nats), "bits_per_dim": the same in bits per
      dimension (detached)}`` for :func:`dgmlib.training.fit`.
    - ``forward(x) -> (z, log_det)`` and ``inverse(z) -> (x, log_det)``: the whole stack.

    ``base``: a :class:`StandardNormal` / :class:`DiagonalGaussian` (anything with
    ``event_shape``, ``log_prob`` and ``sample(n, temperature)``). ``context`` (B, C) goes to the
    conditional layers (a conditional flow p(x | c)).

    Example:
        >>> flow = Flow(StandardNormal(2), [AffineCoupling(alternating_mask(2, i % 2)) for i in range(4)])
        >>> flow.loss(torch.randn(8, 2))["loss"]          # mean -log p(x) in nats, with grad
        >>> flow.sample(5, temperature=0.7).shape
        torch.Size([5, 2])

    References: Dinh et al., *Density Estimation Using Real NVP*, ICLR 2017, eq. 3;
    Kingma & Dhariwal, *Glow*, NeurIPS 2018 (temperature, Sec. 5).
    """

    def __init__(self, base: nn.Module, layers: Sequence[nn.Module]):
        super().__init__()
        if not hasattr(base, "event_shape") or not callable(getattr(base, "log_prob", None)):
            raise TypeError(f"base must be a base distribution such as StandardNormal(event_shape), got {type(base).__name__}")
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, nn.Module) or not callable(getattr(layer, "inverse", None)):
                raise TypeError(f"layers[{i}] must be a flow layer (an nn.Module with inverse), got {type(layer).__name__}")
        self.base = base
        self.transform = Compose(layers, event_ndim=len(base.event_shape))

    @property
    def event_shape(self) -> tuple[int, ...]:
        return tuple(self.base.event_shape)

    @property
    def layers(self):
        return self.transform.layers

    def _check_x(self, x, name="x"):
        checks.tensor(x, name)
        if tuple(x.shape[1:]) != self.event_shape:
            raise ValueError(
                f"{name} must have shape (B, {', '.join(map(str, self.event_shape))}) for this flow, got {tuple(x.shape)}"
            )
        dtype = module_dtype(self)
        if next(self.parameters(), None) is not None and torch.promote_types(x.dtype, dtype) != dtype:
            # a narrower x is promoted exactly (float32 into a float64 flow); a wider one would meet a matmul error
            raise TypeError(f"{name} has dtype {x.dtype} but the flow computes in {dtype}: "
                            f"convert one of them ({name}.to({dtype}) or flow.to({x.dtype}))")

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

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, context=None):
        """x = f^{-1}(z), z ~ N(0, tau^2 I) (for a DiagonalGaussian base: loc + tau sigma eps): (n, *event_shape)."""
        z = self.base.sample(checks.positive_int(n, "n"), temperature=temperature)
        x, _ = self.transform.inverse(z, context=context)
        return x

    def loss(self, x, context=None):
        """{"loss": -1/B sum_b log p(x_b) (nats), "bits_per_dim": the same / (D ln 2), detached}."""
        log_p = self.log_prob(x, context=context)
        num_dims = math.prod(self.event_shape)
        return {"loss": -log_p.mean(), "bits_per_dim": bits_per_dim(log_p.detach(), num_dims).mean()}
