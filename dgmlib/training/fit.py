"""The one training loop for every model with one loss: ``fit``, and ``evaluate`` on held-out data."""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
from torch import nn

from .. import checks
from ..runtime import module_device
from .batches import check_data, first_tensor, iterate, to_device
from .engine import run_epochs
from .history import History
from .step import check_trainable, loss_terms, scalar, train_step

__all__ = ["fit", "evaluate"]


def evaluate(model: nn.Module, data, batch_size: int = 512, loss_fn: Callable | None = None, device=None) -> dict[str, float]:
    """Mean of every loss term over ``data``, in eval mode and without gradients (weighted by batch size)."""
    check_trainable(model, loss_fn)
    compute = loss_fn if loss_fn is not None else (lambda m, b: m.loss(first_tensor(b)))
    where = "loss_fn(model, batch)" if loss_fn is not None else f"{type(model).__name__}.loss(x)"
    device = device if device is not None else module_device(model)
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    with torch.no_grad():
        for batch in iterate(check_data(data, "data"), batch_size, False, None):
            batch = to_device(batch, device)
            size = len(first_tensor(batch))
            for k, v in loss_terms(compute(model, batch), where).items():
                sums[k] = sums.get(k, 0.0) + scalar(v) * size
            n += size
    model.train(was_training)
    return {k: s / n for k, s in sums.items()}


def fit(model: nn.Module, data, *, epochs: int, optimizer: torch.optim.Optimizer | None = None, lr: float = 1e-3,
        batch_size: int = 128, shuffle: bool = True, loss_fn: Callable | None = None, val_data=None,
        eval_fn: Callable | None = None, eval_every: int = 1, grad_clip: float | None = None,
        checkpoint: str | os.PathLike | None = None, resume: bool = False, progress: bool | None = None,
        seed: int | None = None, history: History | None = None, compile: bool = False) -> History:
    """Train ``model`` on ``data`` for ``epochs`` epochs; return the per-epoch :class:`History`.

    One step minimizes ``terms["loss"]`` of ``terms = model.loss(x)`` (``x`` the batch or its first
    element; or ``loss_fn(model, batch)``) with ``optimizer`` (default ``Adam(model.parameters(),
    lr, foreach=True)``), by :func:`train_step`. Each epoch logs the mean of every term over the
    epoch's batches, the same on ``val_data`` (prefixed ``val_``, in eval mode, without gradients),
    whatever ``eval_fn(model, epoch)`` returns every ``eval_every`` epochs (and at the last), and
    the epoch's wall time (``time``). The epochs run on :func:`dgmlib.training.engine.run_epochs`.

    Args:
        data, val_data: a tensor, a tuple of tensors such as ``(images, labels)``, a Dataset or a
            DataLoader. Batches move to the model's device; data can stay on the CPU.
        grad_clip: clip the gradient norm to this value before each update.
        checkpoint: a file path; model, optimizer, history and RNG state are saved there after
            every epoch. With ``resume=True`` a run continues from that file if it exists.
        progress: a progress bar (tqdm). Default: on, except under ``DGMLIB_FAST=1`` or ``TQDM_DISABLE=1``.
        seed: seed for the shuffling order (default: torch's global RNG).
        history: continue appending to an existing :class:`History`.
        compile: compile the loss, its backward and the optimizer step (see :func:`train_step`).

    Raises:
        TypeError: for an adversarial model (``d_loss``/``g_loss``: use :func:`dgmlib.gan.train_gan`)
            or a model without ``loss``. ValueError: when ``loss`` returns no leading ``"loss"`` key.
        TrainingDiverged: when a logged term becomes NaN or infinite (term, epoch and step named).

    Example:
        >>> history = fit(vae, x_train, epochs=budget(full=30, fast=1), val_data=x_test)
        >>> plot_history(history)
    """
    check_trainable(model, loss_fn)
    val_data = check_data(val_data, "val_data")
    if optimizer is None:
        # foreach: one batched update for all parameters (the same numbers as the per-tensor loop)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
    update = train_step(model, optimizer, loss_fn=loss_fn, grad_clip=grad_clip, compile=compile)
    validate = None if val_data is None else (lambda m: evaluate(m, val_data, batch_size, loss_fn))
    return run_epochs(model, data, update, epochs=epochs, batch_size=batch_size, shuffle=shuffle,
                      optimizers=[optimizer], validate=validate, eval_fn=eval_fn, eval_every=eval_every,
                      checkpoint=checkpoint, resume=resume, progress=progress, seed=seed, history=history)
