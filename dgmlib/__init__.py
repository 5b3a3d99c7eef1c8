"""dgmlib: the small PyTorch library behind the dgm-course notebooks.

Modules are named after the ideas of the course: ``runtime`` (device, seed, run size), ``data``
(offline data sets), ``training`` (the one training loop), ``plotting`` (the course's pictures),
``gaussian`` (Gaussian log-densities, KL, reparameterization), ``nets`` (the MLP builder),
``checks`` (argument checks), and one per family or topic: ``vae``, ``gan``, ``flows``,
``autoregressive``, ``divergences``, ``metrics``, ``disentanglement``, ``widgets``; ``pretrained`` holds the shipped
checkpoints. Submodules load on first use:
``import dgmlib`` stays fast.

The course's own tooling (course map, notebook runner, lab generator, grader and its hidden
checks) lives in ``dgmlib.course``, which ``import dgmlib`` never loads: import it explicitly.
"""

import importlib

from .runtime import budget, get_device, is_fast, seed_everything, train_yourself

__version__ = "0.1.0"
__all__ = ["budget", "get_device", "is_fast", "seed_everything", "train_yourself", "__version__"]

_SUBMODULES = {
    "runtime", "data", "training", "plotting", "gaussian", "nets", "checks",
    "vae", "gan", "flows", "autoregressive", "divergences", "metrics", "disentanglement", "widgets", "pretrained",
}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'dgmlib' has no attribute {name!r}")
