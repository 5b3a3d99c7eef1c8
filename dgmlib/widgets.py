"""Interactive explorers for the lectures: a knob, the numbers it changes, and the picture.

Every explorer is two layers:

- a **state function** (``parallel_lines_state(theta)``, ``gan_optimum_state(...)``, ...) that
  computes everything the picture shows from the knob values: plain numbers and arrays, no
  widgets, so tests and notebooks can call it directly;
- an :class:`Explorer` that puts sliders on those knobs and, on every change, calls the state
  function, redraws its matplotlib figure and shows the result as a PNG (no ipympl needed).

Each knob has a slider and a box to type a value into. A value out of range (or a state
function's ``ValueError``) is shown as a message under the figure; the figure keeps the last
valid state. Updates are cheap: closed forms, small samples, or a model already trained in the
notebook.

Notation of the lectures: ``pi`` data, ``p`` model, ``q`` posterior.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ipywidgets as ipw
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .plotting import DATA_COLOR, MODEL_COLOR, PALETTE, _infer_device

__all__ = [
    "Knob", "Explorer",
    "binarization_state", "binarization_explorer",
    "beta_posterior_state", "beta_vae_explorer", "latent_traversal_state", "latent_traversal_explorer",
    "importance_bound_state", "importance_bound_explorer",
    "gan_optimum_state", "gan_optimum_explorer",
    "parallel_lines_state", "parallel_lines_explorer",
    "precision_recall_state", "precision_recall_explorer",
    "flow_state", "flow_explorer", "image_flow_state", "image_flow_explorer",
    "rotation_state", "rotation_explorer",
]

_LOG_2PI = math.log(2 * math.pi)


# ---------------------------------------------------------------------------------------------
# The explorer machinery
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Knob:
    """One control: a slider on ``[low, high]`` (``integer`` for whole numbers, ``log`` for a
    log-scale slider) and a box to type a value into."""

    name: str
    low: float
    high: float
    value: float
    step: float | None = None
    integer: bool = False
    log: bool = False
    label: str | None = None

    def check(self, value) -> float | int:
        """The value as a number in ``[low, high]``, or ``ValueError`` naming the knob."""
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
            raise ValueError(f"{self.name} must be a number between {self.low:g} and {self.high:g}, got {value!r}")
        if not self.low <= value <= self.high:
            raise ValueError(f"{self.name} must be between {self.low:g} and {self.high:g}, got {value:g}")
        if self.integer:
            if value != int(value):
                raise ValueError(f"{self.name} must be a whole number, got {value:g}")
            return int(value)
        return float(value)


def _slider(knob: Knob):
    common = dict(description=knob.label or knob.name, continuous_update=False,
                  style={"description_width": "initial"}, layout=ipw.Layout(width="340px"))
    if knob.integer:
        return ipw.IntSlider(value=int(knob.value), min=int(knob.low), max=int(knob.high), step=int(knob.step or 1), **common)
    if knob.log:
        return ipw.FloatLogSlider(value=knob.value, base=10, min=math.log10(knob.low), max=math.log10(knob.high),
                                  step=knob.step or 0.05, readout_format=".3g", **common)
    step = knob.step or (knob.high - knob.low) / 100
    return ipw.FloatSlider(value=knob.value, min=knob.low, max=knob.high, step=step, readout_format=".3g", **common)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()


class Explorer:
    """Knobs, a figure and a message line, wired so that a knob change redraws the figure.

    ``compute(**values) -> state`` is the plain state function (values keyed by knob name);
    ``draw(figure, state)`` redraws the matplotlib ``figure`` from the state; ``describe(state)``
    is the one-line readout under it. Attributes: ``sliders`` and ``boxes`` (name -> widget),
    ``figure``, ``image`` (the PNG the notebook shows), ``message`` (readout or error, an HTML
    widget), ``state`` (the last valid state), ``widget`` (the whole box, shown by the notebook).
    ``update(**values)`` is the callback the sliders call; it can be called directly.
    """

    def __init__(self, knobs: Sequence[Knob], compute: Callable, draw: Callable, describe: Callable,
                 figsize=(9.0, 3.2), title: str | None = None):
        self.knobs = {k.name: k for k in knobs}
        self.compute, self.draw, self.describe = compute, draw, describe
        self.figure = Figure(figsize=figsize, dpi=80, layout="constrained")
        FigureCanvasAgg(self.figure)
        self.sliders = {k.name: _slider(k) for k in knobs}
        self.boxes = {k.name: ipw.FloatText(value=k.value, description="type:", layout=ipw.Layout(width="150px"),
                                            style={"description_width": "initial"}) for k in knobs}
        self.image = ipw.Image(format="png", layout=ipw.Layout(max_width="100%"))
        self.message = ipw.HTML()
        self.state = None
        self.error = ""
        self._syncing = False
        for name in self.knobs:
            self.sliders[name].observe(lambda change, name=name: self._slid(name, change["new"]), names="value")
            self.boxes[name].observe(lambda change, name=name: self._typed(name, change["new"]), names="value")
        rows = [ipw.HBox([self.sliders[n], self.boxes[n]]) for n in self.knobs]
        header = [ipw.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        self.widget = ipw.VBox(header + rows + [self.image, self.message])
        self.widget.add_class("dgm-explorer")
        self.image.add_class("dgm-explorer-figure")
        self.message.add_class("dgm-explorer-message")
        self.update()

    @property
    def values(self) -> dict:
        # a slider's value is in range by construction; clip the last bit of a log slider's 10 ** x
        return {name: self.knobs[name].check(min(max(slider.value, self.knobs[name].low), self.knobs[name].high))
                for name, slider in self.sliders.items()}

    def _say(self, text: str, error: bool = False):
        self.error = text if error else ""
        color = "#c0392b" if error else "inherit"
        prefix = "Not updated: " if error else ""
        self.message.value = f'<span style="color:{color}">{html.escape(prefix + text)}</span>'

    def _slid(self, name, value):
        if self._syncing:
            return
        self._syncing = True
        try:
            self.boxes[name].value = float(value)
        finally:
            self._syncing = False
        self.update()

    def _typed(self, name, value):
        if self._syncing:
            return
        try:
            value = self.knobs[name].check(value)
        except ValueError as err:
            self._say(str(err), error=True)
            return
        if self.sliders[name].value == value:
            self.update()
        else:
            self.sliders[name].value = value  # the slider's observer redraws

    def update(self, **values):
        """Recompute the state from the knobs (``values`` override them), redraw, refresh the
        image and the readout. Returns the new state, or None (with a message) for bad input."""
        try:
            current = self.values
            for name, value in values.items():
                if name not in self.knobs:
                    raise ValueError(f"unknown knob {name!r}; the knobs are {sorted(self.knobs)}")
                current[name] = self.knobs[name].check(value)
            state = self.compute(**current)
        except (ValueError, TypeError) as err:
            self._say(str(err), error=True)
            return None
        self.state = state
        self.figure.clear()
        self.draw(self.figure, state)
        self.image.value = _png(self.figure)
        self._say(self.describe(state))
        return state

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def _generator(seed) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _as_float_array(x, name) -> np.ndarray:
    if torch.is_tensor(x):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array or tensor of numbers, got {type(x).__name__}") from None


def _fmt(value: float, digits: int = 3) -> str:
    return "inf" if value == math.inf else f"{value:.{digits}f}"


# ---------------------------------------------------------------------------------------------
# 00 · Binarizing MNIST
# ---------------------------------------------------------------------------------------------
def binarization_state(image, threshold: float, seed: int = 0) -> dict:
    """A grey digit, its thresholded version ``1[x > threshold]`` and a stochastic binarization
    ``b ~ Bernoulli(x)`` (seeded). ``share_on_*`` are the fractions of pixels set to 1; the
    stochastic share has expectation ``mean(x)``, the thresholded one is ``mean(1[x > t])``."""
    grey = _as_float_array(image, "image").squeeze()
    if grey.ndim != 2:
        raise ValueError(f"image must be one grey image (H, W) or (1, H, W), got shape {grey.shape}")
    if grey.min() < 0 or grey.max() > 1:
        raise ValueError("image must hold grey levels in [0, 1]")
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
    u = np.random.default_rng(seed).random(grey.shape)
    thresholded = (grey > threshold).astype(np.float64)
    stochastic = (u < grey).astype(np.float64)
    return {"grey": grey, "thresholded": thresholded, "stochastic": stochastic, "mean_grey": float(grey.mean()),
            "share_on_threshold": float(thresholded.mean()), "share_on_stochastic": float(stochastic.mean())}


def binarization_explorer(images, labels=None) -> Explorer:
    """Browse digits (``index``) and move the binarization ``threshold``; a new ``seed`` draws a
    new stochastic binarization. ``images``: ``(N, 1, H, W)`` or ``(N, H, W)`` in [0, 1]."""
    images = _as_float_array(images, "images")
    if images.ndim == 4:
        images = images[:, 0]
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"images must have shape (N, H, W) or (N, 1, H, W) with N > 0, got {images.shape}")
    labels = None if labels is None else _as_float_array(labels, "labels").astype(int)

    def compute(index, threshold, seed):
        state = binarization_state(images[index], threshold, seed)
        state["label"] = None if labels is None else int(labels[index])
        return state

    def draw(fig, s):
        axes = fig.subplots(1, 3)
        titles = [f"grey (label {s['label']})" if s["label"] is not None else "grey",
                  "1[x > threshold]", "Bernoulli(x) sample"]
        for ax, key, title in zip(axes, ["grey", "thresholded", "stochastic"], titles):
            ax.imshow(s[key], cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(title)
            ax.set_axis_off()

    def describe(s):
        return (f"mean grey level {s['mean_grey']:.3f}; pixels on: thresholded {s['share_on_threshold']:.3f}, "
                f"stochastic {s['share_on_stochastic']:.3f} (expected {s['mean_grey']:.3f})")

    knobs = [Knob("index", 0, len(images) - 1, 0, integer=True, label="digit"),
             Knob("threshold", 0.0, 1.0, 0.5, step=0.05), Knob("seed", 0, 99, 0, integer=True)]
    return Explorer(knobs, compute, draw, describe, figsize=(7.5, 2.8))


# ---------------------------------------------------------------------------------------------
# 01 · The beta knob (closed form) and latent traversals (a trained decoder)
# ---------------------------------------------------------------------------------------------
def _toy_linear_gaussian():
    W = np.array([[1.5, 0.0], [0.0, 0.7], [1.5, 0.0], [0.0, -0.7]])
    b = np.array([0.5, 0.0, -0.5, 1.0])
    x = np.array([2.0, 1.0, 1.5, 0.0])
    return W, b, 0.8, x


def beta_posterior_state(beta: float, W=None, b=None, sigma: float | None = None, x=None) -> dict:
    """The Gaussian ``q = N(m, S)`` that maximizes the beta-ELBO of a linear Gaussian model.

    Model: ``p(z) = N(0, I)``, ``p(x|z) = N(Wz + b, sigma^2 I)``. Objective
    ``E_q log p(x|z) - beta KL(q || p(z))`` with

        E_q log p(x|z) = -D/2 log(2 pi sigma^2) - (||x - W m - b||^2 + tr(W^T W S)) / (2 sigma^2),
        KL = 1/2 (tr S + m^T m - d - log det S).

    Setting the gradients to zero: ``S = (I + W^T W / (beta sigma^2))^{-1}`` and
    ``m = (W^T W / sigma^2 + beta I)^{-1} W^T (x - b) / sigma^2``. At ``beta = 1`` this is the
    exact posterior and the objective equals ``log p(x)``; small beta shrinks S towards 0 (an
    autoencoder), large beta pulls q to the prior. Defaults: a 4-D model with a 2-D latent.
    """
    if beta is None or not beta > 0:
        raise ValueError(f"beta must be positive, got {beta!r}")
    W0, b0, s0, x0 = _toy_linear_gaussian()
    W = W0 if W is None else _as_float_array(W, "W")
    b = b0 if b is None else _as_float_array(b, "b")
    sigma = s0 if sigma is None else float(sigma)
    x = x0 if x is None else _as_float_array(x, "x")
    D, d = W.shape
    if b.shape != (D,) or x.shape != (D,):
        raise ValueError(f"b and x must have shape ({D},) to match W {W.shape}, got {b.shape} and {x.shape}")
    WtW = W.T @ W
    S = np.linalg.inv(np.eye(d) + WtW / (beta * sigma**2))
    m = np.linalg.solve(WtW / sigma**2 + beta * np.eye(d), W.T @ (x - b) / sigma**2)
    resid = x - W @ m - b
    recon = -0.5 * D * math.log(2 * math.pi * sigma**2) - (resid @ resid + np.trace(WtW @ S)) / (2 * sigma**2)
    kl = 0.5 * (np.trace(S) + m @ m - d - np.linalg.slogdet(S)[1])
    cov_x = W @ W.T + sigma**2 * np.eye(D)
    diff = x - b
    log_px = -0.5 * (D * _LOG_2PI + np.linalg.slogdet(cov_x)[1] + diff @ np.linalg.solve(cov_x, diff))
    post_cov = np.linalg.inv(np.eye(d) + WtW / sigma**2)
    return {"beta": float(beta), "mean": m, "cov": S, "recon": float(recon), "kl": float(kl),
            "elbo": float(recon - kl), "objective": float(recon - beta * kl), "log_px": float(log_px),
            "posterior_mean": post_cov @ W.T @ diff / sigma**2, "posterior_cov": post_cov}


def _ellipse(mean, cov, radius=2.0, n=100):
    t = np.linspace(0, 2 * np.pi, n)
    vals, vecs = np.linalg.eigh(cov)
    circle = np.stack([np.cos(t), np.sin(t)])
    return mean[:, None] + radius * vecs @ (np.sqrt(np.maximum(vals, 0))[:, None] * circle)


def beta_vae_explorer() -> Explorer:
    """The beta knob on a linear Gaussian model (closed form, :func:`beta_posterior_state`): the
    optimal q against the exact posterior, and the reconstruction/KL trade-off along beta."""
    betas = np.logspace(-2, 2, 81)
    curve = [beta_posterior_state(bt) for bt in betas]

    def draw(fig, s):
        ax, ax2 = fig.subplots(1, 2)
        for mean, cov, label, color, style in [(np.zeros(2), np.eye(2), "prior p(z)", "0.5", ":"),
                                               (s["posterior_mean"], s["posterior_cov"], "exact p(z|x)", DATA_COLOR, "--"),
                                               (s["mean"], s["cov"], f"q at beta = {s['beta']:.3g}", MODEL_COLOR, "-")]:
            e = _ellipse(mean, cov)
            ax.plot(e[0], e[1], style, color=color, label=label)
        ax.plot(*s["mean"], "o", color=MODEL_COLOR)
        ax.set(xlim=(-3, 3), ylim=(-3, 3), xlabel="z1", ylabel="z2", title="2-sigma ellipses", aspect="equal")
        ax.legend(fontsize=8, loc="lower left")
        ax2.plot([c["kl"] for c in curve], [-c["recon"] for c in curve], color="0.6")
        ax2.plot(s["kl"], -s["recon"], "o", color=MODEL_COLOR, ms=9)
        ax2.set(xlabel="KL(q || p(z)) [nats]", ylabel="-E_q log p(x|z) [nats]", title="rate vs distortion along beta")

    def describe(s):
        return (f"beta = {s['beta']:.3g}: reconstruction {s['recon']:.3f}, KL {s['kl']:.3f}, "
                f"ELBO {s['elbo']:.3f} <= log p(x) = {s['log_px']:.3f}")

    return Explorer([Knob("beta", 0.01, 100.0, 1.0, log=True)], lambda beta: beta_posterior_state(beta), draw,
                    describe, figsize=(9, 3.6))


@torch.no_grad()
def latent_traversal_state(decode: Callable, dim: int, value: float, latent_dim: int, *, base=None,
                           span: float = 3.0, steps: int = 9, device=None) -> dict:
    """Decode ``z = base`` with coordinate ``dim`` set to ``value``, and a strip of ``steps`` codes
    with that coordinate on ``[-span, span]`` (the other coordinates fixed at ``base``, default 0:
    the prior's mode). ``decode``: ``(n, latent_dim) -> (n, ...)`` images in [0, 1]."""
    if not callable(decode):
        raise TypeError(f"decode must be a callable z -> images, got {type(decode).__name__}")
    if not 0 <= dim < latent_dim:
        raise ValueError(f"dim must be in [0, {latent_dim - 1}], got {dim!r}")
    device = _infer_device(decode) if device is None else torch.device(device)
    z0 = torch.zeros(latent_dim) if base is None else torch.as_tensor(base, dtype=torch.float32).flatten().cpu()
    if z0.shape != (latent_dim,):
        raise ValueError(f"base must have {latent_dim} entries, got shape {tuple(z0.shape)}")
    values = torch.cat([torch.tensor([float(value)]), torch.linspace(-span, span, steps)])
    z = z0.repeat(len(values), 1)
    z[:, dim] = values
    images = decode(z.to(device)).float().cpu()
    images = images.reshape(len(values), -1, *images.shape[-2:])[:, 0] if images.ndim > 2 else images
    return {"z": z[0].numpy(), "image": images[0].numpy(), "strip": images[1:].numpy(), "strip_values": values[1:].numpy(),
            "dim": int(dim), "value": float(value)}


def latent_traversal_explorer(decode: Callable, latent_dim: int, image_shape=(28, 28), span: float = 3.0) -> Explorer:
    """Move one latent coordinate of a trained decoder (others at 0) and watch the decoded image."""

    def compute(dim, value):
        s = latent_traversal_state(decode, dim, value, latent_dim, span=span)
        s["image"] = s["image"].reshape(image_shape)
        s["strip"] = s["strip"].reshape(len(s["strip"]), *image_shape)
        return s

    def draw(fig, s):
        grid = fig.add_gridspec(1, 4)
        ax = fig.add_subplot(grid[0, 0])
        ax.imshow(s["image"], cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"z{s['dim']} = {s['value']:+.2f}")
        ax.set_axis_off()
        strip = fig.add_subplot(grid[0, 1:])
        strip.imshow(np.concatenate(list(s["strip"]), axis=1), cmap="gray_r", vmin=0, vmax=1,
                     extent=(-span, span, 0, 1), aspect="auto")
        strip.axvline(s["value"], color=MODEL_COLOR, lw=2)
        strip.set(yticks=[], xlabel=f"z{s['dim']} (other coordinates 0)", title="the whole traversal")

    def describe(s):
        return f"decoded z = ({', '.join(f'{v:+.2f}' for v in s['z'][:8])}{', ...' if len(s['z']) > 8 else ''})"

    knobs = [Knob("dim", 0, latent_dim - 1, 0, integer=True), Knob("value", -span, span, 0.0, step=0.1)]
    return Explorer(knobs, compute, draw, describe, figsize=(9, 2.6))


# ---------------------------------------------------------------------------------------------
# 02 · The importance-weighted bound F_k
# ---------------------------------------------------------------------------------------------
def importance_bound_state(k: int, q_shift: float = 0.0, q_scale: float = 1.0, *, x: float = 1.5, sigma: float = 0.5,
                           repeats: int = 400, seed: int = 0) -> dict:
    """``repeats`` draws of ``F_k = log (1/k) sum_i p(x, z_i) / q(z_i)``, ``z_i ~ q``, on a 1-D model.

    Model ``p(z) = N(0, 1)``, ``p(x|z) = N(x; z, sigma^2)``: ``log p(x) = log N(x; 0, 1 + sigma^2)``
    and the posterior is ``N(x / (1 + sigma^2), sigma^2 / (1 + sigma^2))``. The proposal
    ``q = N(mu_post + q_shift, (q_scale s_post)^2)``. Closed-form ELBO:
    ``-1/2 log 2pi - (m^2 + s^2)/2 - 1/2 log(2 pi sigma^2) - ((x - m)^2 + s^2)/(2 sigma^2) + 1/2 log(2 pi e s^2)``.
    With ``q`` the exact posterior every ``F_k`` equals ``log p(x)``.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if not q_scale > 0:
        raise ValueError(f"q_scale must be positive, got {q_scale!r}")
    post_var = sigma**2 / (1 + sigma**2)
    post_mean = x / (1 + sigma**2)
    m, s = post_mean + q_shift, q_scale * math.sqrt(post_var)
    z = m + s * np.random.default_rng(seed).standard_normal((repeats, int(k)))
    log_w = (-0.5 * (z**2 + _LOG_2PI) - 0.5 * ((x - z) / sigma) ** 2 - 0.5 * _LOG_2PI - math.log(sigma)
             + 0.5 * ((z - m) / s) ** 2 + 0.5 * _LOG_2PI + math.log(s))
    top = log_w.max(axis=1, keepdims=True)
    estimates = (top[:, 0] + np.log(np.exp(log_w - top).mean(axis=1)))
    log_px = -0.5 * (_LOG_2PI + math.log(1 + sigma**2) + x**2 / (1 + sigma**2))
    elbo = (-0.5 * _LOG_2PI - (m**2 + s**2) / 2 - 0.5 * math.log(2 * math.pi * sigma**2)
            - ((x - m) ** 2 + s**2) / (2 * sigma**2) + 0.5 * math.log(2 * math.pi * math.e * s**2))
    return {"k": int(k), "estimates": estimates, "mean": float(estimates.mean()),
            "stderr": float(estimates.std(ddof=1) / math.sqrt(repeats)), "log_px": float(log_px), "elbo": float(elbo),
            "q_mean": m, "q_std": s, "posterior_mean": post_mean, "posterior_std": math.sqrt(post_var)}


def importance_bound_explorer() -> Explorer:
    """The number of importance samples ``k`` and a deliberately wrong ``q`` (shift, width):
    how the draws of F_k pile up between the ELBO and log p(x)."""
    zs = np.linspace(-2.5, 4.0, 300)

    def draw(fig, s):
        ax, ax2 = fig.subplots(1, 2)
        normal = lambda mu, sd: np.exp(-0.5 * ((zs - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
        ax.plot(zs, normal(s["posterior_mean"], s["posterior_std"]), color=DATA_COLOR, label="p(z|x)")
        ax.plot(zs, normal(s["q_mean"], s["q_std"]), color=MODEL_COLOR, label="q(z)")
        ax.set(xlabel="z", title="posterior and proposal")
        ax.legend(fontsize=8)
        ax2.hist(s["estimates"], bins=30, color="0.7")
        for value, label, color in [(s["log_px"], "log p(x)", DATA_COLOR), (s["elbo"], "ELBO", "0.3"),
                                    (s["mean"], f"mean F_{s['k']}", MODEL_COLOR)]:
            ax2.axvline(value, color=color, lw=2, label=label)
        ax2.set(xlabel=f"F_{s['k']} over {len(s['estimates'])} draws", title="the bound, draw by draw")
        ax2.legend(fontsize=8)

    def describe(s):
        return (f"ELBO {s['elbo']:.4f} <= mean F_{s['k']} {s['mean']:.4f} (+- {2 * s['stderr']:.4f}) "
                f"<= log p(x) {s['log_px']:.4f}")

    knobs = [Knob("k", 1, 500, 1, integer=True), Knob("q_shift", -2.0, 2.0, 0.5, step=0.05),
             Knob("q_scale", 0.2, 3.0, 1.0, step=0.05)]
    return Explorer(knobs, lambda k, q_shift, q_scale: importance_bound_state(k, q_shift, q_scale), draw, describe,
                    figsize=(9, 3.2))


# ---------------------------------------------------------------------------------------------
# 03 · The optimal discriminator
# ---------------------------------------------------------------------------------------------
def _mixture_density(x, center, gap, std):
    n = lambda mu: torch.exp(-0.5 * ((x - mu) / std) ** 2) / (std * math.sqrt(2 * math.pi))
    return 0.5 * n(center - gap / 2) + 0.5 * n(center + gap / 2)


def gan_optimum_state(center: float, gap: float, std: float, *, data=(0.0, 3.0, 0.5), bounds=(-8.0, 8.0),
                      n_grid: int = 4001) -> dict:
    """Data ``pi`` and generator ``p``, both two-Gaussian mixtures ``1/2 N(c - g/2, s^2) + 1/2 N(c + g/2, s^2)``
    (``data = (c, g, s)`` of pi; the knobs are p's), the optimal discriminator
    ``D*(x) = pi(x) / (pi(x) + p(x))``, and the value of the game at D*:

        V(G, D*) = E_pi log D*(x) + E_p log(1 - D*(x)) = -log 4 + 2 JSD(pi || p),

    both sides computed on a grid (Riemann sums). V reaches its minimum ``-log 4`` exactly when p = pi.
    """
    from . import gan
    from .divergences import jsd

    if not std > 0:
        raise ValueError(f"std must be positive, got {std!r}")
    x = torch.linspace(*bounds, n_grid, dtype=torch.float64)
    dx = (x[1] - x[0]).item()
    pi = _mixture_density(x, *data)
    p = _mixture_density(x, center, gap, std)
    d_star = gan.optimal_discriminator(pi, p)
    # log D* = log pi - log(pi + p) and log(1 - D*) = log p - log(pi + p), without forming 1 - D*
    total = pi + p
    value = (torch.xlogy(pi, pi) - torch.xlogy(pi, total) + torch.xlogy(p, p) - torch.xlogy(p, total)).sum().item() * dx
    js = jsd(pi, p, dx=dx).item()
    return {"x": x.numpy(), "pi": pi.numpy(), "p": p.numpy(), "d_star": d_star.numpy(), "value": value, "jsd": js}


def gan_optimum_explorer() -> Explorer:
    """Move the generator's mixture (centre, gap between its modes, width) against the data's
    ``1/2 N(-1.5, 0.5^2) + 1/2 N(1.5, 0.5^2)``; D* and V(G, D*) follow."""

    def draw(fig, s):
        ax = fig.subplots()
        ax.fill_between(s["x"], s["pi"], color=DATA_COLOR, alpha=0.3, label=r"data $\pi$")
        ax.plot(s["x"], s["p"], color=MODEL_COLOR, label="generator $p$")
        ax.set(xlim=(-5, 5), ylim=(0, 1.0), xlabel="x", ylabel="density")
        twin = ax.twinx()
        twin.plot(s["x"], s["d_star"], color="0.2", ls="--", label=r"$D^*(x)$")
        twin.axhline(0.5, color="0.6", lw=0.8)
        twin.set(ylim=(-0.02, 1.02), ylabel=r"$D^*$")
        twin.grid(False)
        ax.legend(loc="upper left", fontsize=8)
        twin.legend(loc="upper right", fontsize=8)
        ax.set_title(f"V(G, D*) = {s['value']:.4f} = -log 4 + 2 JSD = {-math.log(4) + 2 * s['jsd']:.4f}")

    def describe(s):
        return f"JSD(pi || p) = {s['jsd']:.4f} (log 2 = {math.log(2):.4f}); V(G, D*) = {s['value']:.4f}, minimum -log 4 = {-math.log(4):.4f}"

    knobs = [Knob("center", -3.0, 3.0, 1.0, step=0.05), Knob("gap", 0.0, 5.0, 1.0, step=0.05),
             Knob("std", 0.1, 2.0, 1.0, step=0.05)]
    return Explorer(knobs, lambda center, gap, std: gan_optimum_state(center, gap, std), draw, describe, figsize=(8, 3.2))


# ---------------------------------------------------------------------------------------------
# 04 · The parallel lines
# ---------------------------------------------------------------------------------------------
def parallel_lines_state(theta: float, n: int = 200, seed: int = 0) -> dict:
    """pi = (0, U[0,1]) and p_theta = (theta, U[0,1]): exact divergences and their theta-gradients.

    ``KL = JSD = W = 0`` at theta = 0; for theta != 0: ``KL = inf``, ``JSD = log 2``,
    ``W = |theta|``. Gradients (theta != 0): ``dJSD/dtheta = 0``, ``dW/dtheta = sign(theta)``, KL has
    none (``nan``). Also the samples of :func:`dgmlib.data.parallel_lines` and their sample
    estimates: KL and JSD on a histogram of the x-coordinate, W by exact 1-D transport of it.
    """
    from .data import parallel_lines
    from .divergences import histograms, jsd, kl, wasserstein_1d

    theta = float(theta)
    x_pi, x_p = parallel_lines(theta, n, seed=seed)
    h_pi, h_p = histograms(x_pi[:, :1], x_p[:, :1], bins=201, bounds=[(-1.005, 1.005)])
    apart = theta != 0.0
    return {
        "theta": theta, "x_pi": x_pi.numpy(), "x_p": x_p.numpy(),
        "kl": math.inf if apart else 0.0, "jsd": math.log(2) if apart else 0.0, "w": abs(theta),
        "grad_kl": math.nan, "grad_jsd": 0.0, "grad_w": float(np.sign(theta)),
        "kl_sample": kl(h_pi, h_p).item(), "jsd_sample": jsd(h_pi, h_p).item(),
        "w_sample": wasserstein_1d(x_pi[:, 0], x_p[:, 0]).item(),
    }


def parallel_lines_explorer(kl_cap: float = 2.0) -> Explorer:
    """theta on the parallel lines: the segments, the three divergences (KL capped at ``kl_cap``
    for the picture), and the gradients a generator would receive."""
    thetas = np.linspace(-1, 1, 401)
    curves = {"KL": np.where(thetas == 0, 0.0, kl_cap), "JSD": np.where(thetas == 0, 0.0, math.log(2)), "W": np.abs(thetas)}
    grads = {"dJSD/dtheta": np.zeros_like(thetas), "dW/dtheta": np.sign(thetas)}

    def draw(fig, s):
        ax, ax2, ax3 = fig.subplots(1, 3)
        ax.scatter(s["x_pi"][:, 0], s["x_pi"][:, 1], s=5, color=DATA_COLOR, label=r"data $\pi$")
        ax.scatter(s["x_p"][:, 0], s["x_p"][:, 1], s=5, color=MODEL_COLOR, label=r"model $p_\theta$")
        ax.set(xlim=(-1.2, 1.2), ylim=(-0.1, 1.25), xlabel="x", title=f"theta = {s['theta']:+.2f}")
        ax.legend(fontsize=8, loc="upper left", ncol=2)
        values = {"KL": min(s["kl"], kl_cap), "JSD": s["jsd"], "W": s["w"]}
        for (name, curve), color in zip(curves.items(), PALETTE):
            ax2.plot(thetas, curve, color=color, label=name + (f" (inf at {kl_cap:g})" if name == "KL" else ""))
            ax2.plot([s["theta"]], [values[name]], "o", color=color, ms=8)
        ax2.set(xlabel="theta", ylim=(-0.05, kl_cap + 0.7), title="divergence")
        ax2.legend(fontsize=8, loc="upper center", ncol=3, handlelength=1.2, columnspacing=0.8)
        for (name, curve), color in zip(grads.items(), PALETTE[1:]):
            ax3.plot(thetas, curve, color=color, label=name)
        ax3.plot([s["theta"]], [s["grad_jsd"]], "o", color=PALETTE[1], ms=8)
        ax3.plot([s["theta"]], [s["grad_w"]], "o", color=PALETTE[2], ms=8)
        ax3.set(xlabel="theta", ylim=(-1.3, 1.3), title="gradient a generator gets")
        ax3.legend(fontsize=8, loc="upper left")

    def describe(s):
        return (f"theta = {s['theta']:+.2f}: KL = {_fmt(s['kl'])}, JSD = {s['jsd']:.4f}, W = {s['w']:.4f} "
                f"(samples: {_fmt(s['kl_sample'])}, {s['jsd_sample']:.4f}, {s['w_sample']:.4f}); "
                f"dJSD/dtheta = {s['grad_jsd']:+.0f}, dW/dtheta = {s['grad_w']:+.0f}")

    return Explorer([Knob("theta", -1.0, 1.0, 0.5, step=0.05)], lambda theta: parallel_lines_state(theta), draw, describe,
                    figsize=(11, 3.2))


# ---------------------------------------------------------------------------------------------
# 05 · Precision and recall
# ---------------------------------------------------------------------------------------------
def precision_recall_state(dropped: int, off_manifold: float, *, n: int = 600, k: int = 3, seed: int = 0) -> dict:
    """A generator on the 8-Gaussian ring that drops ``dropped`` of its modes and replaces a share
    ``off_manifold`` of its samples by uniform noise on ``[-3, 3]^2``, scored by k-NN precision
    and recall (:func:`dgmlib.metrics.precision_recall`). Dropping modes costs recall (about
    ``(8 - dropped) / 8``); noise off the data manifold costs precision (about ``1 - off_manifold``)."""
    from .data import toy2d, toy2d_modes
    from .metrics import precision_recall

    if isinstance(dropped, bool) or not isinstance(dropped, (int, np.integer)) or not 0 <= dropped <= 7:
        raise ValueError(f"dropped must be an int in [0, 7], got {dropped!r}")
    if not 0.0 <= off_manifold <= 1.0:
        raise ValueError(f"off_manifold must be in [0, 1], got {off_manifold!r}")
    centers, std = toy2d_modes("8gaussians")
    g = _generator(seed + 1)
    real = toy2d("8gaussians", n, seed=seed)
    kept = torch.arange(dropped, 8)
    fake = centers[kept[torch.randint(len(kept), (n,), generator=g)]] + std * torch.randn(n, 2, generator=g)
    noisy = torch.rand(n, generator=g) < off_manifold
    fake = torch.where(noisy[:, None], 6 * torch.rand(n, 2, generator=g) - 3, fake)
    scores = precision_recall(real, fake, k=k)
    return {"real": real.numpy(), "fake": fake.numpy(), "noisy": noisy.numpy(), "precision": float(scores["precision"]),
            "recall": float(scores["recall"]), "dropped": int(dropped), "off_manifold": float(off_manifold)}


def precision_recall_explorer(n: int = 600, k: int = 3) -> Explorer:
    """Drop modes and add off-manifold samples; watch recall and precision move separately."""
    history = []

    def draw(fig, s):
        ax, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
        ax.scatter(s["real"][:, 0], s["real"][:, 1], s=4, color=DATA_COLOR, alpha=0.5, label=r"data $\pi$")
        ax.scatter(s["fake"][:, 0], s["fake"][:, 1], s=4, color=MODEL_COLOR, alpha=0.5, label="model $p$")
        ax.set(xlim=(-3.2, 3.2), ylim=(-3.2, 3.2), aspect="equal", title=f"{s['dropped']} modes dropped, "
               f"{100 * s['off_manifold']:.0f}% noise")
        ax.legend(fontsize=8, loc="upper right")
        history.append((s["recall"], s["precision"]))
        del history[:-12]
        trail = np.array(history)
        ax2.plot(trail[:, 0], trail[:, 1], "-", color="0.7")
        ax2.plot(s["recall"], s["precision"], "o", color=MODEL_COLOR, ms=10)
        ax2.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel="recall", ylabel="precision",
                title="(recent settings in grey)")

    def describe(s):
        return (f"precision {s['precision']:.3f}, recall {s['recall']:.3f} (k = {k}). For reference: dropping "
                f"{s['dropped']} of 8 modes alone gives recall about {(8 - s['dropped']) / 8:.2f}; "
                f"{100 * s['off_manifold']:.0f}% noise alone gives precision about {1 - s['off_manifold']:.2f}")

    knobs = [Knob("dropped", 0, 7, 0, integer=True, label="modes dropped"),
             Knob("off_manifold", 0.0, 1.0, 0.0, step=0.05, label="share off-manifold")]
    return Explorer(knobs, lambda dropped, off_manifold: precision_recall_state(dropped, off_manifold, n=n, k=k), draw,
                    describe, figsize=(8.5, 3.6))


# ---------------------------------------------------------------------------------------------
# 06, 07 · Flows: length and temperature
# ---------------------------------------------------------------------------------------------
def _check_flow(flow):
    if not isinstance(flow, torch.nn.Module) or not hasattr(flow, "layers") or not hasattr(flow, "event_shape"):
        raise TypeError(f"flow must be a dgmlib.flows.Flow, got {type(flow).__name__}")


@torch.no_grad()
def flow_state(flow, n_layers: int, temperature: float, n: int = 1000, seed: int = 0) -> dict:
    """Base samples ``z = T eps`` (``eps ~ N(0, I)`` from ``seed``, so one T rescales the same
    points) pushed through the inverses of the ``n_layers`` layers nearest the latent side:
    ``h = f_{K-n+1}^{-1} o ... o f_K^{-1}(z)``. ``n_layers = 0`` shows z, ``n_layers = K`` the
    model's samples ``f^{-1}(z)`` at temperature T. Arrays on the CPU."""
    _check_flow(flow)
    layers = list(flow.layers)
    if isinstance(n_layers, bool) or not isinstance(n_layers, (int, np.integer)) or not 0 <= n_layers <= len(layers):
        raise ValueError(f"n_layers must be an int in [0, {len(layers)}], got {n_layers!r}")
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    anchor = next(iter(flow.parameters()), None)
    device = anchor.device if anchor is not None else torch.device("cpu")
    dtype = anchor.dtype if anchor is not None and anchor.is_floating_point() else torch.float32
    eps = torch.randn(n, *flow.event_shape, generator=_generator(seed), dtype=dtype).to(device)
    z = temperature * eps
    h = z
    for layer in layers[len(layers) - n_layers:][::-1]:
        h = layer.inverse(h)[0]
    return {"z": z.cpu().numpy(), "h": h.float().cpu().numpy(), "eps": eps.cpu().numpy(), "n_layers": int(n_layers),
            "temperature": float(temperature), "depth": len(layers)}


def flow_explorer(flow, bounds=(-2.0, 2.0, -1.5, 1.5), n: int = 1500) -> Explorer:
    """A trained 2-D flow: how many of its layers (from the latent side) the base samples have
    gone through, and the base temperature T. Colours follow each point's angle in z."""
    _check_flow(flow)
    if tuple(flow.event_shape) != (2,):
        raise ValueError(f"flow must be a 2-D flow (event_shape (2,)), got {tuple(flow.event_shape)}")
    depth = len(flow.layers)

    def draw(fig, s):
        ax, ax2 = fig.subplots(1, 2)
        color = np.arctan2(s["eps"][:, 1], s["eps"][:, 0])
        ax.scatter(s["z"][:, 0], s["z"][:, 1], c=color, cmap="twilight", s=3)
        ax.set(xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), aspect="equal", title=f"z ~ N(0, {s['temperature']:.2f}^2 I)")
        ax2.scatter(s["h"][:, 0], s["h"][:, 1], c=color, cmap="twilight", s=3)
        ax2.set(xlim=bounds[:2], ylim=bounds[2:], aspect="equal",
                title=f"after {s['n_layers']} of {s['depth']} inverse layers")

    def describe(s):
        spread = s["h"].std(axis=0)
        return f"{s['n_layers']} of {s['depth']} layers, T = {s['temperature']:.2f}: sample std = ({spread[0]:.3f}, {spread[1]:.3f})"

    knobs = [Knob("n_layers", 0, depth, depth, integer=True, label="layers applied"),
             Knob("temperature", 0.0, 1.5, 1.0, step=0.05)]
    return Explorer(knobs, lambda n_layers, temperature: flow_state(flow, n_layers, temperature, n=n), draw, describe,
                    figsize=(8, 3.6))


def image_flow_state(flow, temperature: float, n: int = 16, seed: int = 0) -> dict:
    """Images ``x = f^{-1}(T eps)`` of an image flow, for one fixed ``eps`` per ``seed`` (so the
    temperature only rescales the same latent codes), clipped to [0, 1] for display."""
    s = flow_state(flow, len(flow.layers), temperature, n=n, seed=seed)
    images = np.clip(s["h"], 0.0, 1.0)
    return {"images": images, "temperature": s["temperature"], "latent_norm": float(np.linalg.norm(s["z"].reshape(n, -1), axis=1).mean())}


def image_flow_explorer(flow, n: int = 16) -> Explorer:
    """Samples of a trained image flow at temperature T (and a seed for new latent codes)."""
    _check_flow(flow)

    def draw(fig, s):
        ax = fig.subplots()
        imgs = s["images"].reshape(len(s["images"]), -1, *s["images"].shape[-2:])[:, 0]
        ax.imshow(np.concatenate(list(imgs), axis=1), cmap="gray_r", vmin=0, vmax=1)
        ax.set_axis_off()
        ax.set_title(f"T = {s['temperature']:.2f}")

    def describe(s):
        return f"T = {s['temperature']:.2f}: mean ||z|| = {s['latent_norm']:.2f}; mean pixel {s['images'].mean():.3f}"

    knobs = [Knob("temperature", 0.0, 1.2, 0.7, step=0.05), Knob("seed", 0, 99, 0, integer=True)]
    return Explorer(knobs, lambda temperature, seed: image_flow_state(flow, temperature, n=n, seed=seed), draw, describe,
                    figsize=(11, 1.6))


# ---------------------------------------------------------------------------------------------
# 08 · The rotation in the entangling construction
# ---------------------------------------------------------------------------------------------
def rotation_matrix(alpha_deg: float) -> torch.Tensor:
    """A_alpha = [[cos a, -sin a], [sin a, cos a]] (float64), a rotation by ``alpha_deg`` degrees."""
    a = math.radians(float(alpha_deg))
    return torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=torch.float64)


def rotation_state(alpha_deg: float, n: int = 2000, seed: int = 0, marginals=None) -> dict:
    """z with independent marginals (default Exp(1) and Kumaraswamy(2, 5)) and
    ``f(z) = g^{-1}(Phi(A_alpha Phi^{-1}(g(z))))`` (:func:`dgmlib.disentanglement.entangling_map`).

    f(z) has the same distribution as z for every alpha, yet ``spearman[i, j]``, the rank
    correlation of ``f(z)_i`` with ``z_j``, is the identity at alpha = 0 and has no zero entry
    for alpha off the multiples of 90 degrees. ``ks`` are the two-sample Kolmogorov-Smirnov
    statistics between the marginals of f(z) and fresh draws of z (small for every alpha).
    """
    from scipy import stats

    from . import disentanglement as D

    marginals = list(marginals or [D.exponential(1.0), D.kumaraswamy(2.0, 5.0)])
    if len(marginals) != 2:
        raise ValueError(f"marginals must hold two marginals, got {len(marginals)}")
    g = _generator(seed)
    z = torch.stack([m.sample(n, g) for m in marginals], dim=1)
    fresh = torch.stack([m.sample(n, g) for m in marginals], dim=1)
    f, _ = D.entangling_map([m.cdf for m in marginals], [m.icdf for m in marginals], rotation_matrix(alpha_deg))
    fz = f(z)
    ranks_f, ranks_z = stats.rankdata(fz.numpy(), axis=0), stats.rankdata(z.numpy(), axis=0)
    spearman = np.corrcoef(ranks_f.T, ranks_z.T)[:2, 2:]
    ks = [stats.ks_2samp(fz[:, i].numpy(), fresh[:, i].numpy()).statistic for i in range(2)]
    return {"alpha": float(alpha_deg), "z": z.numpy(), "fz": fz.numpy(), "spearman": spearman, "ks": np.array(ks),
            "names": [m.name for m in marginals]}


def rotation_explorer(n: int = 2000) -> Explorer:
    """The angle alpha of the rotation in the construction: the same joint distribution, a
    different (entangled) coordinate system. Colours follow z1."""

    def draw(fig, s):
        ax, ax2 = fig.subplots(1, 2, sharex=True, sharey=True)
        ax.scatter(s["z"][:, 0], s["z"][:, 1], c=s["z"][:, 0], s=3, cmap="viridis")
        ax.set(title="z (independent coordinates)", xlabel="z1", ylabel="z2", xlim=(0, 5), ylim=(0, 1))
        ax2.scatter(s["fz"][:, 0], s["fz"][:, 1], c=s["z"][:, 0], s=3, cmap="viridis")
        ax2.set(title=f"f(z), alpha = {s['alpha']:.0f} deg (colour: z1)", xlabel="f1")

    def describe(s):
        r = s["spearman"]
        return (f"rank correlation of f1 with (z1, z2) = ({r[0, 0]:+.2f}, {r[0, 1]:+.2f}), of f2 = ({r[1, 0]:+.2f}, "
                f"{r[1, 1]:+.2f}); KS distance of the marginals to fresh z: ({s['ks'][0]:.3f}, {s['ks'][1]:.3f})")

    return Explorer([Knob("alpha", -180.0, 180.0, 30.0, step=5.0, label="alpha (degrees)")],
                    lambda alpha: rotation_state(alpha, n=n), draw, describe, figsize=(8, 3.2))
