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

One module per lecture topic, next to the machinery in :mod:`~dgmlib.widgets.explorer`:
``data`` (00, binarization), ``vae`` (01, beta and latent traversals), ``bounds`` (02, F_k),
``gan`` (03, the optimal discriminator), ``wasserstein`` (04, parallel lines), ``evaluation``
(05, precision and recall), ``flows`` (06-07, depth and temperature), ``disentanglement`` (08,
the entangling rotation), ``autoregressive`` (09, a PixelCNN's receptive field), ``gan_evolution``
(10, the Standard Equation's q* and truncation in W). A new explorer
goes into its lecture's module: a state function, then
an ``*_explorer`` that wraps it in an :class:`Explorer`.

Notation of the lectures: ``pi`` data, ``p`` model, ``q`` posterior.

Example:
    >>> from dgmlib.widgets import parallel_lines_explorer, parallel_lines_state
    >>> parallel_lines_state(0.3)["w"]
    0.3
    >>> explorer = parallel_lines_explorer()  # a notebook cell ending in it shows the sliders and the figure
    >>> explorer.update(theta=-0.5)["w"]
    0.5
"""

from .autoregressive import receptive_field_explorer, receptive_field_image, receptive_field_state
from .bounds import importance_bound_explorer, importance_bound_state
from .data import binarization_explorer, binarization_state
from .disentanglement import rotation_explorer, rotation_matrix, rotation_state
from .evaluation import precision_recall_explorer, precision_recall_state
from .explorer import Explorer, Knob
from .flows import flow_explorer, flow_state, image_flow_explorer, image_flow_state
from .gan import gan_optimum_explorer, gan_optimum_state
from .gan_evolution import (standard_equation_explorer, standard_equation_state, style_truncation_explorer,
                            style_truncation_state)
from .vae import beta_posterior_state, beta_vae_explorer, latent_traversal_explorer, latent_traversal_state
from .wasserstein import parallel_lines_explorer, parallel_lines_state

__all__ = [
    "Knob", "Explorer",
    "binarization_state", "binarization_explorer",
    "beta_posterior_state", "beta_vae_explorer", "latent_traversal_state", "latent_traversal_explorer",
    "importance_bound_state", "importance_bound_explorer",
    "gan_optimum_state", "gan_optimum_explorer",
    "parallel_lines_state", "parallel_lines_explorer",
    "precision_recall_state", "precision_recall_explorer",
    "flow_state", "flow_explorer", "image_flow_state", "image_flow_explorer",
    "rotation_matrix", "rotation_state", "rotation_explorer",
    "receptive_field_state", "receptive_field_image", "receptive_field_explorer",
    "standard_equation_state", "standard_equation_explorer", "style_truncation_state", "style_truncation_explorer",
]
