"""The epoch engine every loop of the course runs on: batches, the update, the log, the guard, the save.

:func:`run_epochs` knows nothing about the model: it is given ``update(batch) -> dict`` (one
training step that returns the terms to log) and does the rest: shuffled batches moved to the
model's device, per-epoch means of every term (a :class:`History`), validation terms, an
evaluation hook, the NaN/inf guard, a progress bar, and checkpoints to resume from.
:func:`dgmlib.training.fit` (one loss) and :func:`dgmlib.gan.train_gan` (two players) are thin
layers on top of it.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn

from .. import checks
from ..runtime import is_fast, module_device
from .batches import check_data, iterate, num_batches, to_device
from .history import History, TrainingDiverged
from .step import scalar

__all__ = ["run_epochs", "run_steps"]


def _where(epoch: int, step: int, global_step: int) -> str:
    return f"at epoch {epoch}, step {step} (global step {global_step})"


def _progress_bar(progress, total):
    enabled = bool(progress) if progress is not None else (
        not is_fast() and os.environ.get("TQDM_DISABLE", "") in ("", "0"))
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="training", unit="step", leave=True)


def _save_checkpoint(path: Path, model, optimizers, history, generator):
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": [opt.state_dict() for opt in optimizers],
        "history": history.records,
        "rng": torch.get_rng_state(),
        "generator": generator.get_state() if generator is not None else None,
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path: Path, model, optimizers, generator) -> History:
    state = torch.load(path, map_location=module_device(model), weights_only=False)
    model.load_state_dict(state["model"])
    for opt, opt_state in zip(optimizers, state.get("optimizer") or []):
        opt.load_state_dict(opt_state)
    torch.set_rng_state(state["rng"])
    if generator is not None and state.get("generator") is not None:
        generator.set_state(state["generator"])
    return History(state["history"])


def _train_epoch(update, batches, device, epoch, global_step, bar) -> tuple[dict, int]:
    """One pass over the batches: the update, the finite check of every term, their sums."""
    sums: dict[str, float] = {}
    count = 0
    for i, batch in enumerate(batches, start=1):
        try:
            terms = update(to_device(batch, device))
        except TrainingDiverged as e:  # raised on the objective, before the update: say where
            if e.where:
                raise
            raise TrainingDiverged(e.term, e.value, _where(epoch, i, global_step + 1)) from None
        if not isinstance(terms, Mapping) or not terms:
            raise TypeError(f"the update must return a non-empty dict of terms to log, got {type(terms).__name__}")
        global_step += 1
        values = {k: scalar(v) for k, v in terms.items()}
        for k, v in values.items():
            if not math.isfinite(v):
                raise TrainingDiverged(k, v, _where(epoch, i, global_step))
            sums[k] = sums.get(k, 0.0) + v
        count += 1
        if bar is not None:
            bar.update(1)
            if i % 10 == 1:
                bar.set_postfix(epoch=epoch, **{k: f"{v:.4g}" for k, v in list(values.items())[:3]})
    if count == 0:
        raise ValueError("data yielded no batches")
    return {k: s / count for k, s in sums.items()}, global_step


def _evaluation(model, epoch, validate, eval_fn) -> dict:
    """The epoch's extra columns: ``val_`` terms and whatever ``eval_fn(model, epoch)`` returns."""
    record = {}
    if validate is not None:
        record.update({f"val_{k}": v for k, v in validate(model).items()})
    if eval_fn is not None:
        model.eval()
        with torch.no_grad():
            extra = eval_fn(model, epoch)
        model.train()
        if extra is not None:
            if not isinstance(extra, Mapping):
                raise TypeError(f"eval_fn must return a dict (or None), got {type(extra).__name__}")
            record.update({k: scalar(v) if torch.is_tensor(v) and v.numel() == 1 else v for k, v in extra.items()})
    return record


def run_epochs(model: nn.Module, data, update: Callable, *, epochs: int, batch_size: int = 128,
               shuffle: bool = True, optimizers=(), validate: Callable | None = None,
               eval_fn: Callable | None = None, eval_every: int = 1, checkpoint: str | os.PathLike | None = None,
               resume: bool = False, progress: bool | None = None, seed: int | None = None,
               history: History | None = None) -> History:
    """Run ``update`` over ``epochs`` epochs of ``data``; return the per-epoch :class:`History`.

    Each epoch logs the mean of every term ``update(batch)`` returns, ``val_``-prefixed terms
    from ``validate(model)``, what ``eval_fn(model, epoch)`` returns every ``eval_every`` epochs
    (and at the last, in eval mode, without gradients), and the wall time (``time``). With
    ``checkpoint``, model, ``optimizers``, history and RNG state are saved after every epoch;
    ``resume=True`` continues from that file if it exists. ``seed`` seeds the shuffling order.

    Raises:
        TrainingDiverged: when a term is NaN or infinite; the message names term, epoch and step.
    """
    checks.int_at_least(epochs, "epochs", 0)
    checks.positive_int(batch_size, "batch_size")
    checks.positive_int(eval_every, "eval_every")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint= naming the file to resume from")
    data = check_data(data, "data")
    if data is None:
        raise ValueError("data must not be None")
    optimizers = list(optimizers) if isinstance(optimizers, (list, tuple)) else [optimizers]
    device = module_device(model)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    history = history if history is not None else History()
    path = Path(checkpoint) if checkpoint is not None else None
    if resume and path.exists():
        history = _load_checkpoint(path, model, optimizers, generator)
    start, per_epoch = len(history), num_batches(data, batch_size)
    remaining = max(epochs - start, 0)
    bar = _progress_bar(progress, per_epoch * remaining if per_epoch else None) if remaining else None
    global_step = start * (per_epoch or 0)
    try:
        for epoch in range(start + 1, epochs + 1):
            t0 = time.perf_counter()
            model.train()
            means, global_step = _train_epoch(update, iterate(data, batch_size, shuffle, generator), device,
                                              epoch, global_step, bar)
            hook = eval_fn if (epoch % eval_every == 0 or epoch == epochs) else None
            record = {"epoch": epoch, **means, **_evaluation(model, epoch, validate, hook)}
            record["time"] = time.perf_counter() - t0
            history.append(record)
            if path is not None:
                _save_checkpoint(path, model, optimizers, history, generator)
    finally:
        if bar is not None:
            bar.close()
        model.eval()
    return history


def run_steps(model: nn.Module, update: Callable, *, steps: int, optimizers=(), progress: bool | None = None) -> History:
    """Full-batch training: ``steps`` calls of ``update() -> dict``, one History record per step.

    For loops on fixed samples (a critic between two clouds): the same log, NaN guard and progress
    bar as :func:`run_epochs`, each step being one "epoch" of a single dummy batch.
    """
    steps = checks.positive_int(steps, "steps")
    tick = torch.zeros(1, 1, device=module_device(model))
    return run_epochs(model, tick, lambda _: update(), epochs=steps, batch_size=1, optimizers=optimizers,
                      progress=progress)
