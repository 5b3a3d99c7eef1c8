"""MADE and masked autoregressive flows: MAF (fast density) and IAF (fast sampling).

An affine autoregressive map  y_i = x_i exp(s_i) + t_i  has a triangular Jacobian, so
log|det J| = sum_i s_i. Where (s_i, t_i) come from decides which direction is cheap:

- ``direction="maf"`` (Papamakarios et al. 2017): (s_i, t_i) = MADE(x_{<i}) read the *input* x of
  ``forward``. ``forward`` is one MADE pass; ``inverse`` must rebuild x one coordinate at a time
  (D passes). In a :class:`~dgmlib.flows.Flow` (forward = data -> latent): fast log p(x),
  slow sampling.
- ``direction="iaf"`` (Kingma et al. 2016): (s_i, t_i) = MADE(y_{<i}) read the *latent side* y,
  the input of ``inverse``. ``inverse`` is one pass, ``forward`` takes D passes. In a Flow: fast
  sampling, slow density. As a VI posterior (z_0 ~ q_0(z|x), the encoder's context h):
  ``z, log_det = layer.inverse(z0, context=h)`` is one pass and log q(z|x) = log q_0(z_0|x) - log_det.

References: Germain et al., *MADE: Masked Autoencoder for Distribution Estimation*, ICML 2015;
Papamakarios, Pavlakou & Murray, *Masked Autoregressive Flow for Density Estimation*, NeurIPS 2017,
eq. 3-5; Kingma et al., *Improved Variational Inference with Inverse Autoregressive Flow*, NeurIPS
2016, eq. 10-11.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .. import checks
from .base import check_vectors, sizes

__all__ = ["MADE", "MaskedAutoregressive", "Reverse"]


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask: y = (M * W) x + b."""

    def __init__(self, in_features, out_features, mask: torch.Tensor):
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x):
        return F.linear(x, self.mask * self.weight, self.bias)


class MADE(nn.Module):
    """Masked autoencoder for distribution estimation (Germain et al. 2015).

    Output i (each of its ``params_per_dim`` values) depends only on inputs x_j with
    order(j) < order(i): degrees m(input j) = order(j) + 1 in 1..D, hidden degrees cycle through
    0..D-1, a hidden unit k sees input j iff m(k) >= m(j), and output i sees unit k iff
    m(i) > m(k). So the Jacobian d out_i / d x is strictly lower triangular in the order.
    An optional context c (B, context_features) enters every first-layer unit unmasked; the
    degree-0 units see the context only, so even the first output depends on it.

    x: (B, dim) [, context: (B, context_features)] -> (B, dim, params_per_dim).
    """

    def __init__(self, dim: int, hidden=(64, 64), params_per_dim: int = 2, context_features: int | None = None,
                 order: Sequence[int] | None = None):
        super().__init__()
        self.dim = checks.positive_int(dim, "dim")
        hidden = sizes(hidden, "hidden")
        self.params_per_dim = checks.positive_int(params_per_dim, "params_per_dim")
        self.context_features = (None if context_features is None
                                 else checks.positive_int(context_features, "context_features"))
        order = torch.arange(dim) if order is None else torch.as_tensor(order)
        if sorted(order.tolist()) != list(range(dim)):
            raise ValueError(f"order must be a permutation of 0..{dim - 1}, got {order.tolist()}")
        self.register_buffer("order", order, persistent=False)

        degrees = [order + 1]
        for h in hidden:
            degrees.append(torch.arange(h) % dim)  # 0..D-1; degree-0 units see only the context
        layers = []
        for d_in, d_out in zip(degrees[:-1], degrees[1:]):
            layers.append(MaskedLinear(len(d_in), len(d_out), (d_out[:, None] >= d_in[None, :])))
        out_deg = (order + 1).repeat_interleave(params_per_dim)  # output (i, k) flattened as i * P + k
        self.output = MaskedLinear(len(degrees[-1]), dim * params_per_dim, out_deg[:, None] > degrees[-1][None, :])
        self.hidden_layers = nn.ModuleList(layers)
        self.context = nn.Linear(context_features, hidden[0], bias=False) if context_features else None

    def forward(self, x, context=None):
        h = self.hidden_layers[0](x)
        if self.context is not None:
            if context is None:
                raise ValueError(f"this MADE was built with context_features={self.context_features}: pass context=")
            if context.ndim != 2 or context.shape != (x.shape[0], self.context_features):
                raise ValueError(
                    f"context must have shape ({x.shape[0]}, {self.context_features}), got {tuple(context.shape)}"
                )
            h = h + self.context(context)
        elif context is not None:
            raise ValueError("context was given but this MADE was built without context_features")
        h = F.elu(h)
        for layer in self.hidden_layers[1:]:
            h = F.elu(layer(h))
        return self.output(h).reshape(x.shape[0], self.dim, self.params_per_dim)


class MaskedAutoregressive(nn.Module):
    """Affine autoregressive flow:  y_i = x_i exp(s_i) + t_i,  log|det dy/dx| = sum_i s_i.

    (s_i, t_i) = MADE(x_{<i}) for ``direction="maf"`` (forward: one pass, inverse: ``dim``
    passes) or MADE(y_{<i}) for ``direction="iaf"`` (inverse: one pass, forward: ``dim`` passes);
    see the module docstring for which to use where. The log-scale is soft-clamped,
    s = s_max tanh(s_raw / s_max), for stable training; the last MADE layer starts at zero, so
    the layer starts as the identity.

    x: (B, dim) [, context: (B, context_features)] -> (y: (B, dim), log_det: (B,)).

    Example:
        >>> maf = Flow(StandardNormal(2), [MaskedAutoregressive(2), Reverse(), MaskedAutoregressive(2)])
        >>> iaf_step = MaskedAutoregressive(20, direction="iaf", context_features=20)
        >>> z, log_det = iaf_step.inverse(z0, context=h)     # a VI posterior step: one MADE pass
    """

    def __init__(self, dim: int, hidden=(64, 64), direction: str = "maf", context_features: int | None = None,
                 order: Sequence[int] | None = None, max_log_scale: float = 3.0):
        super().__init__()
        self.direction = checks.one_of(direction, "direction", ("maf", "iaf"))
        self.dim = checks.positive_int(dim, "dim")
        self.max_log_scale = checks.positive_number(max_log_scale, "max_log_scale")
        self.made = MADE(dim, hidden, params_per_dim=2, context_features=context_features, order=order)
        self.conditional = context_features is not None  # Compose passes context= to it
        nn.init.zeros_(self.made.output.weight)
        nn.init.zeros_(self.made.output.bias)

    def _params(self, v, context):
        s_raw, t = self.made(v, context).unbind(-1)
        return self.max_log_scale * torch.tanh(s_raw / self.max_log_scale), t

    def _one_pass(self, x, context):  # y = x exp(s(x)) + t(x)
        s, t = self._params(x, context)
        return x * torch.exp(s) + t, s.sum(1)

    def _one_pass_inverse(self, y, context):  # x = (y - t(y)) exp(-s(y))
        s, t = self._params(y, context)
        return (y - t) * torch.exp(-s), -s.sum(1)

    def _sequential(self, v, context, solve):
        """Invert the one-pass map coordinate by coordinate, in the MADE's order: dim passes."""
        out = torch.zeros_like(v)
        for i in torch.argsort(self.made.order).tolist():
            s, t = self._params(out, context)
            col = solve(v[:, i], s[:, i], t[:, i])
            out = out.clone()
            out[:, i] = col
        s, _ = self._params(out, context)
        return out, s

    def forward(self, x, context=None):
        check_vectors(x, self.dim)
        if self.direction == "maf":
            return self._one_pass(x, context)
        # iaf: x = (y - t(y)) exp(-s(y)) is the cheap direction; solve it for y: y_i = x_i exp(s_i) + t_i
        y, s = self._sequential(x, context, lambda xi, si, ti: xi * torch.exp(si) + ti)
        return y, s.sum(1)

    def inverse(self, y, context=None):
        check_vectors(y, self.dim, "y")
        if self.direction == "iaf":
            return self._one_pass_inverse(y, context)
        x, s = self._sequential(y, context, lambda yi, si, ti: (yi - ti) * torch.exp(-si))
        return x, -s.sum(1)


class Reverse(nn.Module):
    """Reverse the order of the features (dim 1): y = x[:, ::-1], log|det J| = 0.

    Placed between autoregressive or coupling layers so each variable gets to condition the others.
    """

    def forward(self, x):
        checks.tensor(x, "x")
        return x.flip(1), x.new_zeros(x.shape[0])

    def inverse(self, y):
        checks.tensor(y, "y")
        return y.flip(1), y.new_zeros(y.shape[0])
