"""A stack of flow layers as one map: f = f_K o ... o f_1, with the summed log-determinant.

Convention (the lecture's): every layer's ``forward`` maps data towards the latent space,
``forward(x) -> (y, log_det)`` with ``log_det = log|det dy/dx|`` of shape ``(B,)``, and
``inverse(y) -> (x, log_det)`` returns the log-determinant of the map it applied (so the two are
negatives of each other at matching points). :class:`Compose` only chains and sums:

    f(x) = f_K(... f_1(x)),   log|det J_f(x)| = sum_k log|det J_{f_k}(h_{k-1})|,   h_0 = x.

It serves both uses of a flow: the density direction of :class:`~dgmlib.flows.Flow`
(log p(x) = log p_Z(f(x)) + log|det J_f(x)|) and the sampling direction of a flow posterior in
variational inference (Rezende & Mohamed, 2015): z_K = f(z_0), z_0 ~ q_0(z|x), and
log q_K(z_K|x) = log q_0(z_0|x) - log|det J_f(z_0)|.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .. import checks

__all__ = ["Compose"]


class Compose(nn.Module):
    """f = f_K o ... o f_1:  ``forward`` applies f_1 first, ``inverse`` undoes f_K first;
    log_det = sum_k log_det_k of the maps applied.

    Shapes: ``x: (*batch, *event)`` with ``len(event) = event_ndim`` (1 for vectors ``(B, D)``,
    3 for images ``(B, C, H, W)``) -> ``(y: (*batch, *event'), log_det: batch)``. The layers see one
    batch dimension: any other leading dimensions (none, or several, e.g. the ``k`` importance
    samples of a posterior ``z: (k, B, D)``) are flattened before the layers and restored after.

    ``context: (..., C)``, e.g. the encoder's ``h: (B, C)``, goes to the layers marked
    ``conditional = True`` only (e.g. :class:`MaskedAutoregressive` or :class:`AffineCoupling`
    built with ``context_features``); its leading dimensions are broadcast to the batch shape
    (``(B, C)`` against ``z: (k, B, D)`` gives every sample its row's context).

    A layer without ``inverse`` (a posterior step that only runs forward) is accepted; calling
    ``inverse`` then raises ``NotImplementedError`` naming it.

    Example:
        >>> flows = Compose([MaskedAutoregressive(4, direction="iaf", context_features=8), Reverse()])
        >>> z, log_det = flows(torch.randn(5, 3, 4), context=torch.randn(3, 8))   # k = 5, B = 3
        >>> z.shape, log_det.shape
        (torch.Size([5, 3, 4]), torch.Size([5, 3]))

    References: Rezende & Mohamed, *Variational Inference with Normalizing Flows*, ICML 2015, eq. 7;
    Papamakarios et al., *Normalizing Flows for Probabilistic Modeling and Inference*, JMLR 2021, Sec. 2.
    """

    def __init__(self, layers: Sequence[nn.Module], *, event_ndim: int = 1):
        super().__init__()
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, nn.Module):
                raise TypeError(f"layers[{i}] must be a flow layer (an nn.Module returning (y, log_det)), "
                                f"got {type(layer).__name__}")
        self.layers = nn.ModuleList(layers)
        self.event_ndim = checks.positive_int(event_ndim, "event_ndim")

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None):
        """(f(x), log|det J_f(x)|):  x (*batch, *event) -> (y, log_det: batch)."""
        return self._run(x, context, inverse=False)

    def inverse(self, y: torch.Tensor, context: torch.Tensor | None = None):
        """(f^{-1}(y), log|det J_{f^{-1}}(y)|):  y (*batch, *event) -> (x, log_det: batch)."""
        return self._run(y, context, inverse=True)

    def _run(self, x, context, inverse):
        name = "y" if inverse else "x"
        checks.tensor(x, name)
        if x.ndim < self.event_ndim:
            raise ValueError(f"{name} must have at least event_ndim={self.event_ndim} dimensions, got {tuple(x.shape)}")
        batch = x.shape[: x.ndim - self.event_ndim]
        flat = len(batch) != 1
        if flat:  # (k, B, *event) or (*event,) -> (N, *event)
            x = x.reshape(-1, *x.shape[len(batch):])
        if context is not None:
            context = self._context(context, batch)
        log_dets = []
        steps = reversed(list(enumerate(self.layers))) if inverse else enumerate(self.layers)
        for i, layer in steps:
            x, ld = self._layer_step(i, layer, x, context, inverse)
            log_dets.append(ld)
        # one stack and one sum instead of K additions: fewer autograd nodes per training step
        log_det = torch.stack(log_dets).sum(0) if log_dets else x.new_zeros(x.shape[0])
        if flat:
            x, log_det = x.reshape(*batch, *x.shape[1:]), log_det.reshape(batch)
        return x, log_det

    @staticmethod
    def _layer_step(i, layer, x, context, inverse):
        fn = getattr(layer, "inverse", None) if inverse else layer
        if fn is None:
            raise NotImplementedError(f"layers[{i}] ({type(layer).__name__}) has no inverse: this stack runs forward only")
        out = fn(x, context=context) if context is not None and getattr(layer, "conditional", False) else fn(x)
        if not isinstance(out, tuple) or len(out) != 2:
            raise TypeError(f"layers[{i}] ({type(layer).__name__}) must return (output, log_det), got {type(out).__name__}")
        return out

    @staticmethod
    def _context(context, batch):
        """context (..., C) -> (N, C), its leading dimensions broadcast to ``batch`` and flattened."""
        checks.tensor(context, "context")
        if len(batch) == 1 and context.ndim == 2 and context.shape[0] == batch[0]:
            return context  # (B, C) for x (B, *event): as it is
        try:
            context = context.expand(*batch, context.shape[-1])
        except (RuntimeError, IndexError):
            raise ValueError(f"context must have shape (..., C) with leading dimensions that broadcast to the batch "
                             f"shape {tuple(batch)}, got {tuple(context.shape)}") from None
        return context.reshape(-1, context.shape[-1])
