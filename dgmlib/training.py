"""The one training loop of the course.

The contract (see ``GUIDE.md``): a model offers ``loss(x) -> dict`` whose *first* entry is the
scalar to minimize and whose other entries are named terms to log (``{"loss": ..., "recon": ...,
"kl": ...}``; a bare scalar tensor also works). :func:`fit` knows nothing else about the model:

>>> history = fit(model, train_x, epochs=budget(full=30, fast=1), val_data=test_x)
>>> plot_history(history)

Models with their own update rule (a GAN's two players) pass ``step=`` instead: a function of a
batch that does its own optimizer steps and returns the dict to log. They keep the progress bar,
history, evaluation hook, divergence guard and checkpoints.

:func:`train_step` is fit's update on its own, ``step = train_step(model, optimizer)``, then
``terms = step(batch)``, for loops of your own; ``compile=True`` (in both) hands the loss, its
backward pass and the optimizer's update to ``torch.compile``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import torch
from torch import nn

from .runtime import is_fast, module_device

__all__ = ["fit", "train_step", "evaluate", "History", "TrainingDiverged", "batches"]


class TrainingDiverged(FloatingPointError):
    """Raised by :func:`fit` and :func:`train_step` when a loss term becomes NaN or infinite.

    ``term`` and ``value`` name the offending term; ``where`` (e.g. "at epoch 2, step 3") locates it.
    """

    def __init__(self, term: str, value: float, where: str = ""):
        self.term, self.value, self.where = term, value, where
        super().__init__(
            f"training diverged: {term} = {value}{' ' + where if where else ''}; lower the learning rate, clip "
            "gradients (grad_clip=...) or check the loss for log(0) or division by zero"
        )


class History:
    """Per-epoch records of a training run: one dict per epoch, plottable directly.

    ``history["loss"]`` is the list of that key's values over the epochs that logged it,
    ``history.epochs("val_loss")`` the matching epoch numbers (1-based), ``history.records`` the
    raw rows. :func:`dgmlib.plotting.plot_history` draws it.
    """

    def __init__(self, records: Iterable[Mapping] | None = None):
        self.records: list[dict] = [dict(r) for r in (records or [])]

    def append(self, record: Mapping) -> None:
        self.records.append(dict(record))

    def keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.records:
            seen.update(dict.fromkeys(k for k in r if k != "epoch"))
        return list(seen)

    def epochs(self, key: str) -> list[int]:
        self._check_key(key)
        return [r["epoch"] for r in self.records if key in r]

    def __getitem__(self, key: str) -> list:
        self._check_key(key)
        return [r[key] for r in self.records if key in r]

    def __contains__(self, key) -> bool:
        return key in self.keys()

    def __len__(self) -> int:
        return len(self.records)

    def last(self) -> dict:
        """The latest value of every key."""
        out: dict = {}
        for r in self.records:
            out.update(r)
        return out

    def _check_key(self, key):
        if key not in self.keys():
            raise KeyError(f"{key!r} was not logged; logged keys: {self.keys()}")

    def __repr__(self) -> str:
        last = {k: v for k, v in self.last().items() if isinstance(v, (int, float))}
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in last.items())
        return f"History({len(self)} epochs; last: {shown})"


def _first_tensor(batch):
    """The input of ``model.loss``: the batch itself, or its first element for (x, y, ...) batches."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def _to_device(batch, device):
    if torch.is_tensor(batch):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(b, device) for b in batch)
    return batch


def batches(data, batch_size: int, shuffle: bool = True, generator: torch.Generator | None = None):
    """Mini-batches of an in-memory tensor (or tuple of tensors with a common first dimension).

    Indexing a permutation directly is several times faster than a ``DataLoader`` for data that
    fit in memory, which is every data set of this course.
    """
    tensors = data if isinstance(data, (tuple, list)) else (data,)
    n = len(tensors[0])
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        picked = tuple(t[idx.to(t.device)] for t in tensors)
        yield picked if isinstance(data, (tuple, list)) else picked[0]


def _check_data(data, name: str):
    if data is None:
        return None
    if torch.is_tensor(data):
        if data.ndim == 0 or len(data) == 0:
            raise ValueError(f"{name} must hold at least one sample, got shape {tuple(data.shape)}")
        return data
    if isinstance(data, (tuple, list)):
        if not data or not all(torch.is_tensor(t) for t in data):
            raise TypeError(f"{name} given as a tuple must hold tensors, e.g. (images, labels)")
        lengths = {len(t) for t in data}
        if len(lengths) != 1 or 0 in lengths:
            raise ValueError(f"the tensors in {name} must have the same, non-zero length, got {sorted(lengths)}")
        return tuple(data)
    if isinstance(data, torch.utils.data.Dataset) and not isinstance(data, torch.utils.data.IterableDataset):
        return data
    if isinstance(data, Iterable):
        return data  # a DataLoader or any re-iterable of batches
    raise TypeError(f"{name} must be a tensor, a tuple of tensors or a DataLoader, got {type(data).__name__}")


def _iterate(data, batch_size, shuffle, generator):
    if torch.is_tensor(data) or isinstance(data, tuple):
        return batches(data, batch_size, shuffle, generator)
    if isinstance(data, torch.utils.data.Dataset):
        return iter(torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator))
    return iter(data)


def _as_terms(out, where: str) -> dict[str, torch.Tensor]:
    if torch.is_tensor(out):
        out = {"loss": out}
    if not isinstance(out, Mapping) or not out:
        raise TypeError(f"{where} must return a scalar tensor or a non-empty dict of scalars, got {type(out).__name__}")
    return dict(out)


def _scalar(value) -> float:
    return float(value.detach()) if torch.is_tensor(value) else float(value)


def _num_batches(data, batch_size: int) -> int | None:
    """Batches per epoch, or None for an iterable of unknown length."""
    if torch.is_tensor(data) or isinstance(data, tuple):
        n = len(data[0] if isinstance(data, tuple) else data)
        return math.ceil(n / batch_size)
    if isinstance(data, torch.utils.data.Dataset):
        return math.ceil(len(data) / batch_size)
    try:
        return len(data)
    except TypeError:
        return None


def _where(epoch: int, step: int, global_step: int) -> str:
    return f"at epoch {epoch}, step {step} (global step {global_step})"


def _check_finite(name: str, value: float, epoch: int, step: int, global_step: int):
    if not math.isfinite(value):
        raise TrainingDiverged(name, value, _where(epoch, step, global_step))


def _progress_enabled(progress) -> bool:
    if progress is not None:
        return bool(progress)
    return not is_fast() and os.environ.get("TQDM_DISABLE", "") in ("", "0")


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    loss_fn: Callable | None = None,
    grad_clip: float | None = None,
    compile: bool = False,
) -> Callable:
    """fit's update as a function of a batch: ``step = train_step(model, optimizer)``, ``terms = step(batch)``.

    One call computes ``terms = loss_fn(model, batch)`` (default ``model.loss(x)``, ``x`` the batch
    or its first element), checks that the first term, the objective L, is a finite scalar, and
    takes one optimizer step on it: theta <- update(theta, grad_theta L) after
    ``zero_grad``, ``backward`` and, with ``grad_clip``, rescaling the gradient to norm at most
    ``grad_clip``. It returns the terms (tensors, for logging). The batch must already be on the
    model's device.

    ``compile=True``: the loss with its backward pass (``torch.compile``, one graph per batch
    shape) and the optimizer's update (``torch.compile(optimizer.step)``) run as generated
    kernels, with the elementwise operations fused and no Python between them. The numbers are
    the same up to floating-point rounding. The first call compiles (tens of seconds on a CPU; the
    kernels are cached on disk for later runs), so it pays for long runs of small models, where
    the per-operation overhead of eager PyTorch dominates: a 2-D flow trains about 2x faster per
    step on the CPU (``benchmarks/``). It needs a C++ compiler on the CPU (Triton on a GPU).

    Raises:
        TrainingDiverged: when the objective is NaN or infinite, before the update is applied.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if not isinstance(compile, bool):
        raise TypeError(f"compile must be True or False, got {compile!r}")
    if grad_clip is not None and not (isinstance(grad_clip, (int, float)) and not isinstance(grad_clip, bool)
                                      and grad_clip > 0):
        raise ValueError(f"grad_clip must be None or a positive number, got {grad_clip!r}")
    if loss_fn is None and not callable(getattr(model, "loss", None)):
        raise TypeError(f"{type(model).__name__} has no loss(x) method; pass loss_fn(model, batch)")
    compute = loss_fn if loss_fn is not None else (lambda m, b: m.loss(_first_tensor(b)))
    update = optimizer.step
    if compile:
        # dynamic=False: a separate graph for the last, smaller batch instead of slower shape-generic kernels
        compute = torch.compile(compute, dynamic=False)
        update = torch.compile(optimizer.step)

    def step(batch):
        terms = _as_terms(compute(model, batch), "the loss")
        name, objective = next(iter(terms.items()))
        if not torch.is_tensor(objective) or objective.numel() != 1:
            raise TypeError("the first loss term must be a scalar tensor (reduce over the batch first)")
        value = _scalar(objective)
        if not math.isfinite(value):
            raise TrainingDiverged(name, value)
        optimizer.zero_grad(set_to_none=True)
        objective.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        update()
        return terms

    return step


def fit(
    model: nn.Module,
    data,
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    batch_size: int = 128,
    shuffle: bool = True,
    loss_fn: Callable | None = None,
    step: Callable | None = None,
    val_data=None,
    eval_fn: Callable | None = None,
    eval_every: int = 1,
    grad_clip: float | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool | None = None,
    seed: int | None = None,
    history: History | None = None,
    compile: bool = False,
) -> History:
    """Train ``model`` on ``data`` for ``epochs`` epochs; return the per-epoch :class:`History`.

    One step minimizes the first entry of ``loss_fn(model, batch)`` (default:
    ``model.loss(x)``, with ``x`` the batch or its first element) with ``optimizer`` (default
    ``Adam(model.parameters(), lr, foreach=True)``: all parameters in one batched update, the
    same numbers as the per-tensor loop with fewer kernel calls). The update is
    :func:`train_step`'s. Each epoch logs the mean of every returned term over the
    epoch's batches, the same on ``val_data`` (prefixed ``val_``, computed in ``eval`` mode under
    ``torch.no_grad``), whatever ``eval_fn(model, epoch)`` returns every ``eval_every`` epochs (and
    at the last), and the epoch's wall time in seconds (``time``).

    Args:
        data, val_data: a tensor, a tuple of tensors such as ``(images, labels)``, a Dataset or a
            DataLoader. Batches move to the model's device; data can stay on the CPU.
        step: replaces the built-in update: ``step(batch) -> dict`` does its own forward, backward
            and optimizer steps (a GAN's two players) and returns the terms to log. Pass its
            optimizers as ``optimizer=[opt_g, opt_d]`` to have checkpoints save them.
        grad_clip: clip the gradient norm to this value before each update.
        checkpoint: a file path; model, optimizer, history and RNG state are saved there after
            every epoch. With ``resume=True`` a run continues from that file if it exists.
        progress: a progress bar (tqdm, notebook-aware). Default: on, except under
            ``DGMLIB_FAST=1`` or ``TQDM_DISABLE=1``.
        seed: seed for the shuffling order (default: torch's global RNG).
        history: continue appending to an existing :class:`History`.
        compile: compile the loss, its backward and the optimizer step with ``torch.compile``
            (see :func:`train_step`): faster steps after a one-time compilation of tens of
            seconds; worth it for long runs. Not with ``step=``.

    Raises:
        TrainingDiverged: when a logged loss becomes NaN or infinite; the message names the
            term, epoch, step and value.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every <= 0:
        raise ValueError(f"eval_every must be a positive int, got {eval_every!r}")
    if step is not None and loss_fn is not None:
        raise ValueError("pass either step= (which does its own updates) or loss_fn=, not both")
    if step is not None and compile:
        raise ValueError("compile=True compiles fit's own update; with step= compile inside your step instead")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint= naming the file to resume from")
    data = _check_data(data, "data")
    if data is None:
        raise ValueError("data must not be None")
    val_data = _check_data(val_data, "val_data")
    if loss_fn is None and step is None and not callable(getattr(model, "loss", None)):
        raise TypeError(f"{type(model).__name__} has no loss(x) method; give fit a loss_fn(model, batch) or a step(batch)")

    device = module_device(model)
    compute = loss_fn if loss_fn is not None else (lambda m, b: m.loss(_first_tensor(b)))
    if step is None and optimizer is None:
        # foreach: one batched update for all parameters (the same numbers as the per-tensor loop,
        # several times fewer kernel calls on the CPU, where PyTorch does not pick it by default)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
    if step is None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    update = step if step is not None else train_step(model, optimizer, loss_fn=loss_fn, grad_clip=grad_clip,
                                                      compile=compile)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    history = history if history is not None else History()
    start_epoch = len(history)

    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    if resume and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        for opt, opt_state in zip(_optimizers(optimizer), state.get("optimizer") or []):
            opt.load_state_dict(opt_state)
        history = History(state["history"])
        start_epoch = len(history)
        torch.set_rng_state(state["rng"])
        if generator is not None and state.get("generator") is not None:
            generator.set_state(state["generator"])

    steps_per_epoch = _num_batches(data, batch_size)

    bar = None
    remaining = max(epochs - start_epoch, 0)
    if _progress_enabled(progress) and remaining:
        from tqdm.auto import tqdm

        total = steps_per_epoch * remaining if steps_per_epoch else None
        bar = tqdm(total=total, desc="training", unit="step", leave=True)

    global_step = start_epoch * (steps_per_epoch or 0)
    try:
        for epoch in range(start_epoch + 1, epochs + 1):
            t0 = time.perf_counter()
            model.train()
            sums: dict[str, float] = {}
            count = 0
            for i, batch in enumerate(_iterate(data, batch_size, shuffle, generator), start=1):
                batch = _to_device(batch, device)
                try:
                    terms = _as_terms(update(batch), "step(batch)")
                except TrainingDiverged as e:  # the objective, before the update: say where
                    if e.where:
                        raise
                    raise TrainingDiverged(e.term, e.value, _where(epoch, i, global_step + 1)) from None
                global_step += 1
                values = {k: _scalar(v) for k, v in terms.items()}
                for k, v in values.items():
                    _check_finite(k, v, epoch, i, global_step)
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
                if bar is not None:
                    bar.update(1)
                    if i % 10 == 1:
                        bar.set_postfix(epoch=epoch, **{k: f"{v:.4g}" for k, v in list(values.items())[:3]})
            if count == 0:
                raise ValueError("data yielded no batches")
            record = {"epoch": epoch, **{k: s / count for k, s in sums.items()}}
            if val_data is not None:
                record.update({f"val_{k}": v for k, v in evaluate(model, val_data, batch_size, compute, device).items()})
            if eval_fn is not None and (epoch % eval_every == 0 or epoch == epochs):
                model.eval()
                with torch.no_grad():
                    extra = eval_fn(model, epoch)
                model.train()
                if extra is not None:
                    if not isinstance(extra, Mapping):
                        raise TypeError(f"eval_fn must return a dict (or None), got {type(extra).__name__}")
                    record.update({k: _scalar(v) if torch.is_tensor(v) and v.numel() == 1 else v for k, v in extra.items()})
            record["time"] = time.perf_counter() - t0
            history.append(record)
            if ckpt_path is not None:
                _save_checkpoint(ckpt_path, model, optimizer, history, generator)
    finally:
        if bar is not None:
            bar.close()
        model.eval()
    return history


def evaluate(model: nn.Module, data, batch_size: int = 512, loss_fn: Callable | None = None, device=None) -> dict[str, float]:
    """Mean of every loss term over ``data``, in eval mode and without gradients (weighted by batch size)."""
    compute = loss_fn if loss_fn is not None else (lambda m, b: m.loss(_first_tensor(b)))
    device = device if device is not None else module_device(model)
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    with torch.no_grad():
        for batch in _iterate(_check_data(data, "data"), batch_size, False, None):
            batch = _to_device(batch, device)
            size = len(_first_tensor(batch))
            for k, v in _as_terms(compute(model, batch), "the loss").items():
                sums[k] = sums.get(k, 0.0) + _scalar(v) * size
            n += size
    model.train(was_training)
    return {k: s / n for k, s in sums.items()}


def _optimizers(optimizer) -> list:
    if optimizer is None:
        return []
    return list(optimizer) if isinstance(optimizer, (list, tuple)) else [optimizer]


def _save_checkpoint(path: Path, model, optimizer, history, generator):
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": [opt.state_dict() for opt in _optimizers(optimizer)],
        "history": history.records,
        "rng": torch.get_rng_state(),
        "generator": generator.get_state() if generator is not None else None,
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
