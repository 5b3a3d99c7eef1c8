"""Pictures in one course style.

Importing this module applies the course style (:func:`set_style`): seaborn's ``whitegrid``
theme on an opaque white figure, so every figure reads the same in JupyterLab's light and dark
themes and on GitHub. Every function takes tensors on any device (they are moved to the CPU for
drawing) and returns the matplotlib ``Axes`` it drew on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch

from . import checks
from .runtime import module_device

__all__ = [
    "set_style",
    "show_images",
    "plot_history",
    "plot_samples_2d",
    "plot_density_2d",
    "density_grid",
    "PALETTE",
]

PALETTE = sns.color_palette("deep")
DATA_COLOR = PALETTE[0]  # the data distribution pi
MODEL_COLOR = PALETTE[1]  # the model p


def set_style() -> None:
    """The course look: seaborn whitegrid, the ``deep`` palette, opaque white figures."""
    sns.set_theme(context="notebook", style="whitegrid", palette="deep")
    plt.rcParams.update(
        {
            "figure.facecolor": "white",  # opaque: readable on a dark JupyterLab theme
            "savefig.facecolor": "white",
            "savefig.transparent": False,
            "figure.dpi": 80,
            "figure.figsize": (6.0, 4.0),
            "image.cmap": "viridis",
            "axes.titlesize": "medium",
        }
    )


set_style()


def _numpy(x) -> np.ndarray:
    if torch.is_tensor(x):
        return x.detach().to("cpu", torch.float32).numpy()
    return np.asarray(x, dtype=np.float32)


def _new_axes(ax, figsize=None):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def show_images(x, nrow: int = 8, *, title: str | None = None, ax=None, value_range=(0.0, 1.0),
                shape: Sequence[int] | None = None, padding: int = 2, cmap: str = "gray"):
    """A grid of images (torchvision's ``make_grid``), ``nrow`` images per row.

    Args:
        x: ``(B, C, H, W)``, ``(B, H, W)`` or flat ``(B, D)`` with ``shape=(C, H, W)``; C is 1 or 3.
        value_range: the (low, high) the pixel values live in, e.g. ``(-1, 1)`` for a tanh
            generator; values are clipped into it and mapped to [0, 1].
    """
    from torchvision.utils import make_grid

    if not torch.is_tensor(x):
        x = torch.as_tensor(np.asarray(x))
    x = x.detach().to("cpu", torch.float32)
    if shape is not None:
        x = x.reshape(len(x), *shape)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(
            f"x must be images of shape (B, C, H, W) with C in (1, 3), (B, H, W), or flat with shape=...; got {tuple(x.shape)}"
        )
    if len(x) == 0:
        raise ValueError("x holds no images")
    checks.positive_int(nrow, "nrow")
    low, high = value_range
    if not high > low:
        raise ValueError(f"value_range must be (low, high) with high > low, got {value_range}")
    x = ((x.clamp(low, high) - low) / (high - low))
    grid = make_grid(x, nrow=nrow, padding=padding, pad_value=1.0)
    rows = int(np.ceil(len(x) / nrow))
    if ax is None:
        cols = min(nrow, len(x))
        inch = min(1.1, 13.0 / cols)  # per image, capped so wide grids still fit a notebook
        _, ax = plt.subplots(figsize=(inch * cols + 0.2, inch * rows + (0.4 if title else 0.2)))
    image = grid.permute(1, 2, 0).numpy()
    ax.imshow(image[..., 0] if x.shape[1] == 1 else image, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def _group(key: str) -> str:
    return key[4:] if key.startswith("val_") else key


def plot_history(history, keys: Sequence[str] | None = None, *, axes=None, logy: bool = False,
                 ncols: int = 3):
    """One panel per logged quantity, train and ``val_`` curves of the same quantity together.

    ``history`` is a :class:`dgmlib.training.History` or a plain ``{name: [values]}`` dict.
    ``keys`` picks the quantities (default: all but ``time``). Returns the array of axes.
    """
    if isinstance(history, Mapping):
        series = {k: (list(range(1, len(v) + 1)), list(v)) for k, v in history.items()}
    elif hasattr(history, "records") and hasattr(history, "epochs"):
        series = {k: (history.epochs(k), history[k]) for k in history.keys()}
    else:
        raise TypeError(f"history must be a History or a dict of lists, got {type(history).__name__}")
    numeric = {k: v for k, v in series.items() if all(isinstance(y, (int, float)) for y in v[1]) and v[1]}
    if keys is None:
        keys = [k for k in numeric if k != "time"]
    unknown = [k for k in keys if k not in numeric]
    if unknown:
        raise KeyError(f"no numeric history for {unknown}; available: {sorted(numeric)}")
    groups: dict[str, list[str]] = {}
    for k in keys:
        groups.setdefault(_group(k), []).append(k)
    if not groups:
        raise ValueError("nothing to plot: the history is empty")
    n = len(groups)
    if axes is None:
        cols = min(ncols, n)
        rows = int(np.ceil(n / cols))
        _, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    axes = np.atleast_1d(axes).ravel()
    if len(axes) < n:
        raise ValueError(f"got {len(axes)} axes for {n} panels")
    for ax, (name, members) in zip(axes, groups.items()):
        for k in members:
            x, y = numeric[k]
            ax.plot(x, y, marker="o" if len(x) < 30 else None, ms=3,
                    label="validation" if k.startswith("val_") else "train")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        if logy:
            ax.set_yscale("log")
        if len(members) > 1:
            ax.legend()
    for ax in axes[n:]:
        ax.set_visible(False)
    axes[0].figure.tight_layout()
    return axes


def plot_samples_2d(samples, *, ax=None, bounds=None, labels: Sequence[str] | None = None,
                    s: float = 4.0, alpha: float = 0.5, title: str | None = None, colors=None):
    """Scatter one or several 2-D sample sets.

    ``samples``: an ``(N, 2)`` array/tensor, a list of them, or a dict ``{label: samples}``
    (drawn in order: put the data first). ``bounds``: ``(xmin, xmax, ymin, ymax)`` or a single
    half-width ``b`` for ``(-b, b, -b, b)``.
    """
    if isinstance(samples, Mapping):
        labels, sets = list(samples.keys()), list(samples.values())
    elif isinstance(samples, (list, tuple)):
        sets = list(samples)
    else:
        sets = [samples]
    arrays = [_numpy(x) for x in sets]
    for a in arrays:
        if a.ndim != 2 or a.shape[1] != 2:
            raise ValueError(f"samples must have shape (N, 2), got {a.shape}")
    ax = _new_axes(ax, figsize=(4.2, 4.2))
    colors = colors or [PALETTE[i % len(PALETTE)] for i in range(len(arrays))]
    for i, a in enumerate(arrays):
        ax.scatter(a[:, 0], a[:, 1], s=s, alpha=alpha, color=colors[i], linewidths=0,
                   label=None if labels is None else labels[i])
    if labels is not None:
        ax.legend(markerscale=3, loc="upper right")
    if bounds is not None:
        xmin, xmax, ymin, ymax = _bounds(bounds)
        ax.set_xlim(xmin, xmax)
        ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def _bounds(bounds) -> tuple[float, float, float, float]:
    if isinstance(bounds, (int, float)) and not isinstance(bounds, bool):
        b = float(bounds)
        if b <= 0:
            raise ValueError(f"bounds as one number must be a positive half-width, got {b}")
        return -b, b, -b, b
    try:
        xmin, xmax, ymin, ymax = (float(v) for v in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be (xmin, xmax, ymin, ymax) or a half-width, got {bounds!r}") from None
    if not (xmax > xmin and ymax > ymin):
        raise ValueError(f"bounds must satisfy xmin < xmax and ymin < ymax, got {bounds!r}")
    return xmin, xmax, ymin, ymax


def _infer_device(fn) -> torch.device:
    owner = getattr(fn, "__self__", None)
    return module_device(owner) if isinstance(owner, torch.nn.Module) else torch.device("cpu")


def density_grid(log_prob_fn: Callable, bounds=4.0, resolution: int = 200, *, device=None,
                 batch_size: int = 65_536, dtype=torch.float32):
    """Evaluate ``log_prob_fn`` on a ``resolution x resolution`` grid of cell centres.

    Returns ``(xs, ys, log_p)``: the grid coordinates ``(R,)``, ``(R,)`` and ``log_p`` of shape
    ``(R, R)`` (rows follow y), as CPU tensors. ``sum(exp(log_p)) * dx * dy`` approximates the
    mass inside the bounds, so ``density_grid`` also checks that a 2-D density integrates to 1.
    ``device``: where to evaluate (default: the device of the module whose method
    ``log_prob_fn`` is, else the CPU).
    """
    if not callable(log_prob_fn):
        raise TypeError(f"log_prob_fn must be callable (x: (B, 2) -> (B,)), got {type(log_prob_fn).__name__}")
    checks.int_at_least(resolution, "resolution", 2)
    xmin, xmax, ymin, ymax = _bounds(bounds)
    device = torch.device(device) if device is not None else _infer_device(log_prob_fn)
    dx, dy = (xmax - xmin) / resolution, (ymax - ymin) / resolution
    xs = torch.linspace(xmin + dx / 2, xmax - dx / 2, resolution, dtype=dtype)
    ys = torch.linspace(ymin + dy / 2, ymax - dy / 2, resolution, dtype=dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1).to(device)
    with torch.no_grad():
        out = torch.cat([torch.as_tensor(log_prob_fn(chunk)).reshape(-1) for chunk in points.split(batch_size)])
    if out.numel() != points.shape[0]:
        raise ValueError(f"log_prob_fn must return one value per point, got {out.numel()} for {points.shape[0]} points")
    return xs, ys, out.to("cpu", dtype).reshape(resolution, resolution)


def plot_density_2d(log_prob_fn: Callable, bounds=4.0, *, resolution: int = 200, ax=None, device=None,
                    log: bool = False, cmap: str = "viridis", title: str | None = None, colorbar: bool = False):
    """Heat map of ``exp(log_prob_fn(x))`` (or of ``log p`` with ``log=True``) over ``bounds``."""
    xs, ys, log_p = density_grid(log_prob_fn, bounds, resolution, device=device)
    values = log_p if log else log_p.exp()
    ax = _new_axes(ax, figsize=(4.2, 4.2))
    dx, dy = float(xs[1] - xs[0]), float(ys[1] - ys[0])
    extent = (float(xs[0]) - dx / 2, float(xs[-1]) + dx / 2, float(ys[0]) - dy / 2, float(ys[-1]) + dy / 2)
    image = ax.imshow(values.numpy(), origin="lower", extent=extent, cmap=cmap, aspect="equal",
                      interpolation="nearest")
    ax.grid(False)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, shrink=0.8, label="log p(x)" if log else "p(x)")
    if title:
        ax.set_title(title)
    return ax
