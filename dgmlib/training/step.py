"""The contract the loop relies on, and one update: ``train_step``.

A trainable model offers ``loss(x) -> dict`` whose FIRST key is ``"loss"``, the scalar to
minimize; the other entries are named terms to log (``{"loss", "recon", "kl"}``). Adversarial
models (two players, ``d_loss`` and ``g_loss``) have no single loss to minimize: they train with
:func:`dgmlib.gan.train_gan`, and :func:`check_trainable` says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
from torch import nn

from .. import checks
from .batches import first_tensor
from .history import TrainingDiverged

__all__ = ["train_step", "check_trainable", "loss_terms", "objective", "scalar"]


def scalar(value) -> float:
    """A logged term as a Python float."""
    return float(value.detach()) if torch.is_tensor(value) else float(value)


def check_trainable(model, loss_fn: Callable | None = None) -> None:
    """Refuse what ``fit`` cannot train: not a module, an adversarial model, or no ``loss`` method."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    name = type(model).__name__
    if callable(getattr(model, "d_loss", None)) or callable(getattr(model, "g_loss", None)):
        raise TypeError(
            f"{name} is an adversarial model: two players with opposite objectives (d_loss and g_loss), not one "
            "loss to minimize; train it with dgmlib.gan.train_gan(model, data, epochs=...)"
        )
    if loss_fn is None and not callable(getattr(model, "loss", None)):
        raise TypeError(f"{name} has no loss(x) method; give fit a loss_fn(model, batch)")


def loss_terms(out, where: str) -> dict:
    """The terms of one loss evaluation: a dict whose first key is ``"loss"`` (a bare scalar tensor is ``{"loss": t}``)."""
    if torch.is_tensor(out):
        out = {"loss": out}
    if not isinstance(out, Mapping) or not out:
        raise TypeError(f"{where} must return a dict {{'loss': scalar, ...}} or a scalar tensor, got {type(out).__name__}")
    if next(iter(out)) != "loss":
        raise ValueError(
            f"{where} must return a dict whose first key is 'loss' (the scalar to minimize), got keys {list(out)}"
        )
    return dict(out)


def objective(terms: dict, where: str, name: str = "loss") -> torch.Tensor:
    """``terms["loss"]``, checked: a scalar tensor with a finite value, before any update is applied.

    Raises ``TypeError`` for a non-scalar (``where`` names the call that returned it) and
    :class:`TrainingDiverged` (naming ``name``) for NaN or inf, so the weights stay finite.
    """
    loss = terms["loss"]
    if not torch.is_tensor(loss) or loss.numel() != 1:
        raise TypeError(f"the 'loss' term must be a scalar tensor (reduce over the batch first); {where} returned "
                        f"{'shape ' + str(tuple(loss.shape)) if torch.is_tensor(loss) else type(loss).__name__}")
    value = scalar(loss)
    if not math.isfinite(value):
        raise TrainingDiverged(name, value)
    return loss


def _compute(model, loss_fn):
    if loss_fn is not None:
        return lambda m, b: loss_fn(m, b)
    return lambda m, b: m.loss(first_tensor(b))


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, *, loss_fn: Callable | None = None,
               grad_clip: float | None = None, compile: bool = False) -> Callable:
    """fit's update as a function of a batch: ``step = train_step(model, optimizer)``, ``terms = step(batch)``.

    One call computes ``terms = loss_fn(model, batch)`` (default ``model.loss(x)``, ``x`` the batch
    or its first element), checks that ``terms["loss"]``, the objective L, is a finite scalar, and
    takes one optimizer step on it: theta <- update(theta, grad_theta L) after ``zero_grad``,
    ``backward`` and, with ``grad_clip``, rescaling the gradient to norm at most ``grad_clip``.
    It returns the terms (tensors, for logging). The batch must already be on the model's device.

    ``compile=True``: the loss with its backward pass (``torch.compile``, one graph per batch
    shape) and the optimizer's update (``torch.compile(optimizer.step)``) run as generated
    kernels. The numbers are the same up to floating-point rounding; the first call compiles
    (the kernels are cached on disk). Timings: ``benchmarks/``. It needs a C++ compiler on the CPU.

    Raises:
        TrainingDiverged: when the objective is NaN or infinite, before the update is applied.

    Example:
        >>> step = train_step(model, torch.optim.Adam(model.parameters(), lr=1e-3))
        >>> terms = step(x_batch)            # {"loss": ..., "recon": ..., "kl": ...}
    """
    check_trainable(model, loss_fn)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    checks.flag(compile, "compile")
    if grad_clip is not None:
        grad_clip = checks.positive_number(grad_clip, "grad_clip")
    compute, update = _compute(model, loss_fn), optimizer.step
    if compile:
        # dynamic=False: a separate graph for the last, smaller batch instead of slower shape-generic kernels
        compute = torch.compile(compute, dynamic=False)
        update = torch.compile(optimizer.step)
    where = "loss_fn(model, batch)" if loss_fn is not None else f"{type(model).__name__}.loss(x)"

    def step(batch):
        terms = loss_terms(compute(model, batch), where)
        loss = objective(terms, where)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        update()
        return terms

    return step
