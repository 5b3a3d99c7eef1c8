"""Where and how long the course runs: the device, the seed, and the run-size knob.

Three environment variables steer every notebook without editing it:

- ``DGMLIB_DEVICE``: force a device (``cpu``, ``cuda``, ``cuda:1``, ``mps``). Unset: the best one
  available, in the order cuda, mps, cpu.
- ``DGMLIB_FAST``: ``1`` makes :func:`budget` return its ``fast`` argument, so a notebook trains for
  seconds instead of minutes. The test run (``make test``) sets it; students leave it unset.
- ``DGMLIB_DATA``: a folder with torchvision's MNIST files, for the full 60k/10k MNIST
  (see :func:`dgmlib.data.load_mnist`).
- ``DGMLIB_TRAIN``: ``1`` makes :func:`train_yourself` true: notebooks then train their image-scale
  models at full length instead of loading the shipped checkpoints (see :mod:`dgmlib.pretrained`).
- ``DGMLIB_NO_TRAIN``: ``1`` (tests only) turns every optimizer update into a no-op, so each model
  stays as initialized: the test that proves the notebooks' ``trained-check`` cells can fail.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from . import checks

__all__ = ["get_device", "module_device", "seed_everything", "budget", "is_fast", "train_yourself",
           "training_disabled"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def get_device() -> torch.device:
    """The device the course computes on: ``$DGMLIB_DEVICE`` if set, else cuda, then mps, then cpu.

    Raises ``ValueError`` when ``DGMLIB_DEVICE`` names a device that this machine does not have
    or that torch does not know.
    """
    requested = os.environ.get("DGMLIB_DEVICE", "").strip()
    if not requested:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")

    try:
        device = torch.device(requested)
    except RuntimeError as err:
        raise ValueError(
            f"DGMLIB_DEVICE={requested!r} is not a device torch knows; "
            "expected 'cpu', 'cuda', 'cuda:N' or 'mps'"
        ) from err
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"DGMLIB_DEVICE={requested!r} but CUDA is not available on this machine "
                f"(torch {torch.__version__}, built for CUDA {torch.version.cuda}); "
                "unset DGMLIB_DEVICE or set it to 'cpu'"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"DGMLIB_DEVICE={requested!r} but this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
    elif device.type == "mps" and not _mps_available():
        raise ValueError(
            f"DGMLIB_DEVICE={requested!r} but MPS (Apple GPU) is not available on this machine; "
            "unset DGMLIB_DEVICE or set it to 'cpu'"
        )
    elif device.type not in {"cpu", "cuda", "mps"}:
        raise ValueError(
            f"DGMLIB_DEVICE={requested!r} is not supported; expected 'cpu', 'cuda', 'cuda:N' or 'mps'"
        )
    return device


def module_device(module: torch.nn.Module) -> torch.device:
    """The device a module computes on: that of its first parameter, else of its first buffer,
    else the CPU (a module with no tensors). Library code uses it instead of naming a device."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def module_dtype(module: torch.nn.Module) -> torch.dtype:
    """The dtype a module computes in: that of its first parameter, else of its first floating
    buffer, else torch's default. Models compare a batch's dtype with it before computing."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    for tensor in module.parameters():
        return tensor.dtype
    for tensor in module.buffers():
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.get_default_dtype()


def seed_everything(seed: int) -> int:
    """Seed Python's ``random``, NumPy and torch (CPU and every CUDA device) with ``seed``.

    Returns the seed, so a notebook can print what it used. Bit-for-bit reproducibility on a GPU
    further needs deterministic kernels; CPU runs on the same machine repeat exactly.
    """
    seed = checks.integer(seed, "seed")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return seed


def _env_flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={value!r} is not understood; expected 1 or 0 (or unset)")


def is_fast() -> bool:
    """True when ``DGMLIB_FAST`` asks for the short test-sized run (``1``/``true``/``yes``/``on``)."""
    return _env_flag("DGMLIB_FAST")


def train_yourself() -> bool:
    """True when ``DGMLIB_TRAIN=1``: train the image-scale models at full length instead of loading
    their checkpoints. A notebook reads it once at the top, ``TRAIN = train_yourself()``, and a
    student may set ``TRAIN = True`` there instead."""
    return _env_flag("DGMLIB_TRAIN")


def training_disabled() -> bool:
    """True when ``DGMLIB_NO_TRAIN=1`` (a test-only knob): every optimizer step is then a no-op."""
    return _env_flag("DGMLIB_NO_TRAIN")


def _drop_gradients(optimizer, args, kwargs):
    # every torch optimizer skips a parameter whose .grad is None: no update, no weight decay
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.grad = None


_NO_TRAIN_HOOK = None


def apply_training_switch() -> bool:
    """Install (or remove) the global optimizer pre-step hook that ``DGMLIB_NO_TRAIN=1`` asks for.

    Runs on ``import dgmlib``; returns whether training is now off. With it on, any training loop
    (``fit``, ``train_gan``, a hand-written ``opt.step()``) leaves the weights as they were, which
    is how the tests check that an assert tagged ``trained-check`` fails on an untrained model.
    """
    global _NO_TRAIN_HOOK
    off = training_disabled()
    if off and _NO_TRAIN_HOOK is None:
        from torch.optim.optimizer import register_optimizer_step_pre_hook

        _NO_TRAIN_HOOK = register_optimizer_step_pre_hook(_drop_gradients)
    elif not off and _NO_TRAIN_HOOK is not None:
        _NO_TRAIN_HOOK.remove()
        _NO_TRAIN_HOOK = None
    return off


apply_training_switch()


def budget(full, fast):
    """The run-size knob: ``fast`` when ``DGMLIB_FAST=1`` (the test run), ``full`` otherwise.

    Every training length, sample count or grid size in a notebook goes through it, e.g.
    ``epochs = budget(full=30, fast=1)``, so the same notebook trains for real for a student
    and in seconds under test.
    """
    return fast if is_fast() else full
