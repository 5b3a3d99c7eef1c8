"""The explorer machinery: a :class:`Knob` per control, an :class:`Explorer` that redraws a figure.

An explorer is a plain state function ``compute(**knob_values) -> state``, a ``draw(figure, state)``
and a one-line ``describe(state)``; the :class:`Explorer` wires sliders and typed values to them
and shows the figure as a PNG (no ipympl needed).

Example:
    >>> ex = Explorer([Knob("theta", -1.0, 1.0, 0.5)], lambda theta: {"theta": theta},
    ...               lambda fig, s: fig.subplots().axvline(s["theta"]), lambda s: f"theta = {s['theta']}")
    >>> ex.update(theta=0.25)["theta"]
    0.25
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

from .. import checks

__all__ = ["Knob", "Explorer"]


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
        """The value as a number in ``[low, high]``, or a ``ValueError`` that names the knob and
        gives the slider's range as the student sees it (``theta must be between -1 and 1``)."""
        value = checks.number(value, self.name)
        if not self.low <= value <= self.high:
            raise ValueError(f"{self.name} must be between {self.low:g} and {self.high:g}, got {value:g}")
        if self.integer:
            if value != int(value):
                raise ValueError(f"{self.name} must be a whole number, got {value:g}")
            return int(value)
        return value


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

    A value out of range, or a state function's ``ValueError``/``TypeError``, is shown as a
    message under the figure ("Not updated: ..."); the figure keeps the last valid state.
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


# ---------------------------------------------------------------------------------------------
# Small helpers the topic modules share
# ---------------------------------------------------------------------------------------------
def _generator(seed) -> torch.Generator:
    """A CPU generator seeded with ``seed``: the same state function call draws the same points."""
    return torch.Generator().manual_seed(int(seed))


def _as_float_array(x, name) -> np.ndarray:
    """An array or tensor (any device) as a float64 NumPy array; ``TypeError`` naming ``name`` otherwise."""
    if torch.is_tensor(x):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array or tensor of numbers, got {type(x).__name__}") from None


def _fmt(value: float, digits: int = 3) -> str:
    return "inf" if value == math.inf else f"{value:.{digits}f}"
