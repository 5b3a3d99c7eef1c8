"""What a shipped checkpoint's recipe holds: its model, its training, its data and the figures it must reach.

A :class:`Recipe` is everything ``python -m dgmlib.pretrained train NAME`` needs: ``build()`` makes
the untrained model, ``train(model, fast)`` trains it (seeded, deterministic on the CPU; it may
return its learning curve, ``{"epoch": [...], figure: [...]}``, which the manifest keeps), and
``measure(model)`` returns the quality figures that go into the manifest and that the tests
re-measure on every shipped checkpoint. ``fast=True`` is the test-sized run of the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

__all__ = ["Recipe"]


@dataclass(frozen=True)
class Recipe:
    """A checkpoint's recipe: ``build() -> nn.Module``, ``train(model, fast)``, ``measure(model) -> dict``.

    ``data`` says what it trains on; ``tolerance`` is the largest change of a figure, relative, that
    re-measuring may show (float16 weights, BLAS round-off); ``float16``: store the weights in half
    precision; ``threads``: the CPU threads training runs on. The thread count changes how sums are
    split, hence the last bits of every update: the same seed and thread count give the same
    weights, bit for bit, on CPUs with the same kernels (the manifest's ``cpu_kernels``, e.g.
    ``AVX2`` or ``AVX512``: the two round differently, and a long training amplifies the difference
    into another run, as a different seed would).
    """

    build: Callable[[], nn.Module]
    train: Callable[[nn.Module, bool], dict | None]
    measure: Callable[[nn.Module], dict]
    data: str
    seed: int = 0
    tolerance: float = 0.005
    float16: bool = False
    threads: int = 1
