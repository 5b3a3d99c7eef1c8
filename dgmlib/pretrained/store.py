"""The shipped checkpoints: ``load(name)``, the manifest, and writing a newly trained one."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import torch
from torch import nn

from .. import checks
from .recipes import RECIPES

__all__ = ["WEIGHTS", "load", "load_or_train", "describe", "manifest", "save"]

WEIGHTS = Path(__file__).resolve().parent / "weights"


def _check_name(name) -> str:
    return checks.one_of(name, "name", sorted(RECIPES))


def manifest(folder: str | os.PathLike | None = None) -> dict:
    """``{name: entry}`` of the checkpoints in ``folder`` (default: the shipped ones).

    An entry holds the command that made the file, seed, device, threads, torch version, wall
    time (s) and CPU time (s, all threads: other jobs on the machine stretch the wall time, not
    this), data, dtype, the file's sha256, and the figures measured at the end of training.
    """
    path = Path(folder or WEIGHTS) / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}


def load(name: str, device=None, *, folder: str | os.PathLike | None = None) -> nn.Module:
    """The trained model ``name`` in eval mode on ``device`` (default :func:`dgmlib.get_device`), in float32.

    Example:
        >>> net = load("featurenet")            # the MNIST classifier behind FID / IS / precision-recall
        >>> manifest()["featurenet"]["figures"]["test_accuracy"]
    """
    from ..runtime import get_device

    recipe = RECIPES[_check_name(name)]
    file = Path(folder or WEIGHTS) / f"{name}.pt"
    if not file.exists():
        raise FileNotFoundError(f"no checkpoint {file}; make it with `make checkpoints NAME={name}`")
    state = torch.load(file, map_location="cpu", weights_only=True)
    model = recipe.build()
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.to(get_device() if device is None else torch.device(device)).eval()


def load_or_train(name: str, train: bool = False, device=None) -> nn.Module:
    """``load(name, device)``, or with ``train=True`` a fresh model trained by the recipe at full length.

    ``train=True`` runs exactly what ``make checkpoints NAME=name`` runs (same seed, same code, on
    ``device``) but saves nothing: a notebook's "train it yourself" switch (``TRAIN = True`` or
    ``DGMLIB_TRAIN=1``) goes here. Returned in eval mode.
    """
    from ..runtime import get_device, seed_everything

    recipe = RECIPES[_check_name(name)]
    if not checks.flag(train, "train"):
        return load(name, device)
    seed_everything(recipe.seed)
    model = recipe.build().to(get_device() if device is None else torch.device(device))
    recipe.train(model, False)
    return model.eval()


def describe(name: str, folder: str | os.PathLike | None = None) -> str:
    """Where checkpoint ``name`` came from, in one line: command, wall time, threads, seed and figures."""
    entry = manifest(folder).get(_check_name(name))
    if entry is None:
        raise FileNotFoundError(f"no manifest entry for {name!r}; make it with `make checkpoints NAME={name}`")
    figures = ", ".join(f"{k} {v:g}" for k, v in entry["figures"].items())
    threads = f"{entry['threads']} CPU thread{'s' if entry['threads'] > 1 else ''}" if entry["device"] == "cpu" \
        else entry["device"]
    return (f"{name}: trained by `{entry['command']}` in {entry['train_seconds'] / 60:.1f} min on {threads} "
            f"(seed {entry['seed']}, torch {entry['torch']}); measured: {figures}")


def _write_atomically(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600: other users (the grader's sandboxed kernels) must read it
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save(name: str, model: nn.Module, entry: dict, folder: str | os.PathLike | None = None) -> Path:
    """Write ``model``'s weights as ``{name}.pt`` (float16 when its recipe says so) and its manifest entry."""
    recipe = RECIPES[_check_name(name)]
    folder = Path(folder or WEIGHTS)
    folder.mkdir(parents=True, exist_ok=True)
    dtype = torch.float16 if recipe.float16 else torch.float32
    state = {k: v.detach().cpu().to(dtype) if v.is_floating_point() else v.detach().cpu()
             for k, v in model.state_dict().items()}
    file = folder / f"{name}.pt"
    buffer = io.BytesIO()  # saved through a buffer: the archive's inner name, hence the bytes, do not depend on the path
    torch.save(state, buffer)
    _write_atomically(file, lambda tmp: Path(tmp).write_bytes(buffer.getvalue()))
    entries = manifest(folder)
    entries[name] = {**entry, "dtype": str(dtype).removeprefix("torch."),
                     "sha256": hashlib.sha256(file.read_bytes()).hexdigest()}
    text = json.dumps(dict(sorted(entries.items())), indent=2) + "\n"
    _write_atomically(folder / "manifest.json", lambda tmp: Path(tmp).write_text(text))
    return file
