"""Lecture 09 · PixelCNN: which input pixels one output pixel sees, by autograd, as the network deepens."""

from __future__ import annotations

import numpy as np
import torch

from .. import checks
from ..autoregressive import PixelCNN
from .explorer import Explorer, Knob

__all__ = ["receptive_field_state", "receptive_field_image", "receptive_field_explorer"]


def receptive_field_state(layers: int, row: int, col: int, first_kernel: int = 7, size: int = 28) -> dict:
    """What output pixel i = (``row``, ``col``) of a PixelCNN (a ``first_kernel`` type-A layer, then
    ``layers`` type-B 3 x 3 blocks) depends on, read off autograd: ``seen[j] = d logit_i / d x_j != 0``.

    The weights are set positive and the input to ones, so every ReLU is active and no path cancels:
    a zero gradient means no path. Returns ``seen``, ``earlier`` (j < i in raster order), ``blind``
    (earlier but unseen: the blind spot) and ``later`` (j >= i: must be unseen), each ``(size, size)``
    booleans, and their counts.

    Example:
        >>> s = receptive_field_state(3, 10, 10)
        >>> s["seen_later"], s["blind_count"] > 0          # never a pixel at or after i; a blind spot
        (0, True)
    """
    layers = checks.int_at_least(layers, "layers", 0)
    size = checks.int_at_least(size, "size", 2)
    row, col = checks.number_in(checks.integer(row, "row"), "row", 0, size - 1), \
        checks.number_in(checks.integer(col, "col"), "col", 0, size - 1)
    row, col = int(row), int(col)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = PixelCNN(size, size, channels=2, layers=layers, first_kernel=first_kernel).double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_().add_(0.1)
    x = torch.ones(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    net.net(x)[0, 0, row, col].backward()
    seen = (x.grad[0, 0] != 0).numpy()
    order = np.arange(size * size).reshape(size, size)
    i = row * size + col
    earlier, later = order < i, order >= i
    blind = earlier & ~seen
    return {"seen": seen, "earlier": earlier, "blind": blind, "later": later, "row": row, "col": col,
            "layers": layers, "seen_count": int(seen.sum()), "earlier_count": int(earlier.sum()),
            "blind_count": int(blind.sum()), "seen_later": int((seen & later).sum())}


def receptive_field_image(state: dict) -> np.ndarray:
    """An RGB picture ``(size, size, 3)`` of a :func:`receptive_field_state`: seen pixels blue, the blind
    spot orange, pixels at or after i white, pixel i itself red (and earlier pixels that are
    neither: none, every earlier pixel is seen or in the blind spot)."""
    picture = np.ones((*state["seen"].shape, 3))
    picture[state["blind"]] = (0.95, 0.55, 0.2)
    picture[state["seen"]] = (0.2, 0.4, 0.8)
    picture[state["row"], state["col"]] = (0.8, 0.1, 0.1)
    return picture


def receptive_field_explorer(size: int = 28, first_kernel: int = 7) -> Explorer:
    """Pick an output pixel and the number of type-B blocks: the pixels it sees, its blind spot, its future."""

    def draw(fig, s):
        ax = fig.subplots()
        ax.imshow(receptive_field_image(s))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"pixel ({s['row']}, {s['col']}), 1 type-A + {s['layers']} type-B layers")

    def describe(s):
        return (f"sees {s['seen_count']} of the {s['earlier_count']} earlier pixels; blind spot {s['blind_count']}; "
                f"pixels at or after i seen: {s['seen_later']}")

    knobs = [Knob("layers", 0, 12, 3, integer=True, label="type-B layers"),
             Knob("row", 0, size - 1, size // 2, integer=True), Knob("col", 0, size - 1, size // 2, integer=True)]
    return Explorer(knobs, lambda layers, row, col: receptive_field_state(layers, row, col, first_kernel, size),
                    draw, describe, figsize=(4.2, 4.4))
