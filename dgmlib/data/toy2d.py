"""Two-dimensional toy distributions, generated on the fly.

Every sampler is vectorized and draws from a ``torch.Generator`` when given a seed (else from
torch's global RNG, so :func:`dgmlib.runtime.seed_everything` makes it reproducible). All data live
roughly in [-4, 4]^2, so one plotting window fits every toy.

=================  ============================================================================
name               distribution
=================  ============================================================================
``8gaussians``     mixture of 8 equal Gaussians, centres on a circle of radius 2, std 0.05
``25gaussians``    mixture of 25 equal Gaussians on the grid {-4,-2,0,2,4}^2, std 0.05
``moons``          two interleaved half circles of radius 1 (as scikit-learn's ``make_moons``),
                   centred at the origin, plus N(0, 0.1^2 I) noise
``circles``        two concentric circles, radii 2 and 1, equal weight, noise std 0.08
``checkerboard``   uniform on the 8 dark squares of a 4x4 board on [-4, 4]^2
``spirals``        two interleaved Archimedean spirals, noise std 0.1
``rings``          four concentric circles, radii 1, 2, 3, 4, weight proportional to radius
                   (uniform per unit length), noise std 0.08
=================  ============================================================================

The two mixtures expose their components for mode-coverage metrics through :func:`toy2d_modes`.
"""

from __future__ import annotations

import math

import torch

from .. import checks

__all__ = ["toy2d", "toy2d_modes", "TOY2D_NAMES", "MIXTURE_NAMES", "parallel_lines"]

TOY2D_NAMES = ("8gaussians", "25gaussians", "moons", "circles", "checkerboard", "spirals", "rings")
MIXTURE_NAMES = ("8gaussians", "25gaussians")
_DEFAULT_STD = {"8gaussians": 0.05, "25gaussians": 0.05}


def _check_n(n) -> int:
    n = checks.integer(n, "n")
    if n <= 0:
        raise ValueError(f"n must be a positive number of samples, got {n}")
    return n


def _generator(seed) -> torch.Generator | None:
    if seed is None:
        return None
    return torch.Generator().manual_seed(checks.integer(seed, "seed", "an int or None"))


def _check_name(name) -> str:
    if name not in TOY2D_NAMES:
        raise ValueError(f"unknown toy2d name {name!r}; valid names: {', '.join(TOY2D_NAMES)}")
    return name


def toy2d_modes(name: str, std: float | None = None) -> tuple[torch.Tensor, float]:
    """The mixture components of ``name``: ``(centers (K, 2), std)``, every mode equally likely.

    Only for the Gaussian mixtures (``8gaussians``, ``25gaussians``); ``std`` overrides the
    default component standard deviation exactly as in :func:`toy2d`.
    """
    _check_name(name)
    if name not in MIXTURE_NAMES:
        raise ValueError(f"toy2d_modes is defined for the mixtures {MIXTURE_NAMES}, got {name!r}")
    if std is None:
        std = _DEFAULT_STD[name]
    std = checks.positive_number(std, "std")
    if name == "8gaussians":
        angles = torch.arange(8) * (2 * math.pi / 8)
        centers = 2.0 * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    else:
        grid = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        centers = torch.cartesian_prod(grid, grid)
    return centers, float(std)


def _noise(n, std, g):
    return std * torch.randn(n, 2, generator=g)


def _circle(radius, angle):
    return torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)


def toy2d(name: str, n: int, seed: int | None = None, *, std: float | None = None,
          return_labels: bool = False):
    """``n`` samples (float32, ``(n, 2)``, on the CPU) of the 2-D toy ``name`` (see module table).

    Args:
        name: one of :data:`TOY2D_NAMES`.
        n: number of samples, > 0.
        seed: an int for a private generator (same seed, same samples), or None for torch's
            global RNG.
        std: component std of the Gaussian mixtures (only for ``8gaussians``/``25gaussians``).
        return_labels: also return the component (mixtures), half-moon, circle, ring, spiral or
            board-square index of every sample, as int64 ``(n,)``.
    """
    _check_name(name)
    n = _check_n(n)
    g = _generator(seed)
    if std is not None and name not in MIXTURE_NAMES:
        raise ValueError(f"std only applies to the mixtures {MIXTURE_NAMES}, not {name!r}")

    if name in MIXTURE_NAMES:
        centers, s = toy2d_modes(name, std)
        labels = torch.randint(len(centers), (n,), generator=g)
        x = centers[labels] + _noise(n, s, g)
    elif name == "moons":
        labels = torch.randint(2, (n,), generator=g)
        t = math.pi * torch.rand(n, generator=g)
        upper = torch.stack([torch.cos(t), torch.sin(t)], dim=1)
        lower = torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], dim=1)
        x = torch.where(labels[:, None] == 0, upper, lower) - torch.tensor([0.5, 0.25])
        x = x + _noise(n, 0.1, g)
    elif name == "circles":
        labels = torch.randint(2, (n,), generator=g)
        radius = 2.0 - labels.float()
        x = _circle(radius, 2 * math.pi * torch.rand(n, generator=g)) + _noise(n, 0.08, g)
    elif name == "rings":
        radii = torch.tensor([1.0, 2.0, 3.0, 4.0])
        labels = torch.multinomial(radii / radii.sum(), n, replacement=True, generator=g)
        x = _circle(radii[labels], 2 * math.pi * torch.rand(n, generator=g)) + _noise(n, 0.08, g)
    elif name == "checkerboard":
        # Dark squares of a 4x4 board of side-2 squares: (col + row) even.
        square = torch.randint(8, (n,), generator=g)
        row = square // 2
        col = 2 * (square % 2) + (row % 2)
        corner = torch.stack([col, row], dim=1).float() * 2 - 4
        x = corner + 2 * torch.rand(n, 2, generator=g)
        labels = square
    else:  # spirals
        labels = torch.randint(2, (n,), generator=g)
        t = torch.sqrt(torch.rand(n, generator=g)) * 3 * math.pi  # uniform-ish along the arc
        r = t / math.pi * 1.2 + 0.2
        phase = math.pi * labels.float()
        x = _circle(r, t + phase) + _noise(n, 0.1, g)

    x = x.float()
    return (x, labels) if return_labels else x


def parallel_lines(theta, n: int, seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples of the lecture's pair ``pi = (0, U[0,1])`` and ``p_theta = (theta, U[0,1])``.

    Returns ``(x_pi, x_p)``, each ``(n, 2)``. ``theta`` may be a float or a scalar tensor; a tensor
    that requires grad gives ``x_p`` differentiable in ``theta`` (the samples are
    ``(theta, u)`` with ``u`` drawn independently of ``theta``), on ``theta``'s device.
    For ``theta != 0``: ``KL = inf``, ``JSD = log 2`` and ``W_1 = |theta|``.
    """
    n = _check_n(n)
    g = _generator(seed)
    if torch.is_tensor(theta):
        if theta.numel() != 1:
            raise ValueError(f"theta must be a scalar, got a tensor of shape {tuple(theta.shape)}")
        theta_t = theta.reshape(())
    elif isinstance(theta, (int, float)) and not isinstance(theta, bool):
        theta_t = torch.tensor(float(theta))
    else:
        raise TypeError(f"theta must be a float or a scalar tensor, got {type(theta).__name__}")
    dtype = theta_t.dtype if theta_t.is_floating_point() else torch.float32
    device = theta_t.device
    u_pi = torch.rand(n, generator=g, dtype=dtype).to(device)
    u_p = torch.rand(n, generator=g, dtype=dtype).to(device)
    zeros = torch.zeros(n, dtype=dtype, device=device)
    x_pi = torch.stack([zeros, u_pi], dim=1)
    x_p = torch.stack([zeros + theta_t.to(dtype), u_p], dim=1)
    return x_pi, x_p
