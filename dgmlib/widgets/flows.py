"""Lectures 06, 07 · Flows: how many layers the base samples went through, and the temperature."""

from __future__ import annotations

import numpy as np
import torch

from .. import checks
from ..flows import Flow
from .explorer import Explorer, Knob, _generator

__all__ = ["flow_state", "flow_explorer", "image_flow_state", "image_flow_explorer"]


def _check_flow(flow):
    if not isinstance(flow, Flow):
        raise TypeError(f"flow must be a dgmlib.flows.Flow, got {type(flow).__name__}")


@torch.no_grad()
def flow_state(flow, n_layers: int, temperature: float, n: int = 1000, seed: int = 0) -> dict:
    """h = f_{K-m+1}^{-1} o ... o f_K^{-1}(z),  z = T eps,  eps ~ N(0, I): base samples through the
    inverses of the ``m = n_layers`` layers nearest the latent side (of the flow's K layers).

    ``eps`` comes from ``seed``, so one T rescales the same points. ``n_layers = 0`` shows z,
    ``n_layers = K`` the model's samples ``f^{-1}(z)`` at temperature T. Arrays on the CPU.

    Example:
        >>> from dgmlib.flows import realnvp_flow
        >>> s = flow_state(realnvp_flow(dim=2, n_layers=4), 0, 0.5, n=10)  # no layer applied: h = z
        >>> bool((s["h"] == s["z"]).all())
        True
    """
    _check_flow(flow)
    layers = list(flow.layers)
    n_layers = checks.int_at_least(n_layers, "n_layers", 0)
    checks.number_in(n_layers, "n_layers", 0, len(layers))
    temperature = checks.non_negative_number(temperature, "temperature")
    n = checks.positive_int(n, "n")
    anchor = next(iter(flow.parameters()), None)
    device = anchor.device if anchor is not None else torch.device("cpu")
    dtype = anchor.dtype if anchor is not None and anchor.is_floating_point() else torch.float32
    eps = torch.randn(n, *flow.event_shape, generator=_generator(seed), dtype=dtype).to(device)
    z = temperature * eps
    h = z
    for layer in layers[len(layers) - n_layers:][::-1]:
        h = layer.inverse(h)[0]
    return {"z": z.cpu().numpy(), "h": h.float().cpu().numpy(), "eps": eps.cpu().numpy(), "n_layers": n_layers,
            "temperature": temperature, "depth": len(layers)}


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
    """x = f^{-1}(T eps) for one fixed ``eps`` per ``seed`` (so the temperature only rescales the
    same latent codes), clipped to [0, 1] for display: ``images: (n, C, H, W)``."""
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
