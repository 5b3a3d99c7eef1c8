"""The one MLP builder every family uses: ``mlp(in_dim, out_dim, hidden)``.

    x -> Linear -> act -> ... -> Linear -> y      (no activation after the last layer)

Example:
    >>> net = mlp(2, 1, hidden=(64, 64))          # a small critic of 2-D points
    >>> net(torch.zeros(5, 2)).shape
    torch.Size([5, 1])
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from . import checks

__all__ = ["mlp"]


def mlp(in_dim: int, out_dim: int, hidden: Sequence[int] = (64, 64), activation=nn.LeakyReLU) -> nn.Sequential:
    """A plain MLP ``in_dim -> hidden[0] -> ... -> hidden[-1] -> out_dim``; ``activation()`` between layers."""
    sizes = [checks.positive_int(in_dim, "in_dim")]
    sizes += [checks.positive_int(h, "hidden") for h in hidden]
    sizes.append(checks.positive_int(out_dim, "out_dim"))
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)
