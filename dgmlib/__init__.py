"""dgmlib: the small PyTorch library behind the dgm-course notebooks.

Modules are named after the ideas of the course: ``runtime`` (device, seed, run size), ``data``
(offline data sets), ``training`` (the one training loop), ``plotting`` (the course's pictures),
and, as the lectures land, ``vae``, ``gan``, ``flows``, ``divergences``, ``metrics`` and
``disentanglement``. Submodules load on first use: ``import dgmlib`` stays fast.
"""

import importlib

from .runtime import budget, get_device, is_fast, seed_everything

__version__ = "0.1.0"
__all__ = ["budget", "get_device", "is_fast", "seed_everything", "__version__"]

_SUBMODULES = {
    "runtime", "data", "training", "plotting", "course",
    "vae", "gan", "flows", "divergences", "metrics", "disentanglement", "widgets", "grade",
}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'dgmlib' has no attribute {name!r}")
