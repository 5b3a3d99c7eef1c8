"""Data in, batches out: what the loops accept as ``data`` and how they cut it into mini-batches."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

__all__ = ["batches", "first_tensor", "to_device", "check_data", "iterate", "num_batches"]


def first_tensor(batch):
    """The input of ``model.loss``: the batch itself, or its first element for (x, y, ...) batches."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def to_device(batch, device):
    """The batch (a tensor or a tuple/list of them) on ``device``."""
    if torch.is_tensor(batch):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    return batch


def batches(data, batch_size: int, shuffle: bool = True, generator: torch.Generator | None = None):
    """Mini-batches of an in-memory tensor (or tuple of tensors with a common first dimension).

    Indexing a permutation directly, instead of a ``DataLoader``, suits data that fit in memory,
    which is every data set of this course.

    Example:
        >>> [b.tolist() for b in batches(torch.arange(5), 2, shuffle=False)]
        [[0, 1], [2, 3], [4]]
    """
    tensors = data if isinstance(data, (tuple, list)) else (data,)
    n = len(tensors[0])
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        picked = tuple(t[idx.to(t.device)] for t in tensors)
        yield picked if isinstance(data, (tuple, list)) else picked[0]


def check_data(data, name: str):
    """``data`` if it is a non-empty tensor, tuple of equally long tensors, Dataset or re-iterable of batches."""
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


def iterate(data, batch_size: int, shuffle: bool, generator):
    """One epoch of batches of checked ``data``."""
    if torch.is_tensor(data) or isinstance(data, tuple):
        return batches(data, batch_size, shuffle, generator)
    if isinstance(data, torch.utils.data.Dataset):
        return iter(torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator))
    return iter(data)


def num_batches(data, batch_size: int) -> int | None:
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
