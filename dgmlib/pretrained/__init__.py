"""Checkpoints shipped with the course, each with the recipe that makes it and the figures it reaches.

``load(name)`` returns the trained model (nothing is downloaded: the weights are files of this
package); ``manifest()[name]`` says how it was made (command, seed, device, wall time, data) and
what it measured; ``make checkpoints NAME=...`` (``python -m dgmlib.pretrained train NAME``)
re-makes it, deterministically on the CPU with the recipe's seed. The tests load every checkpoint
and re-measure its figures, and run every recipe at test size, so a checkpoint that no longer
matches its code fails CI.

Example:
    >>> from dgmlib import pretrained
    >>> net = pretrained.load("featurenet")
    >>> pretrained.manifest()["featurenet"]["figures"]
"""

from .recipe import Recipe
from .recipes import RECIPES
from .store import WEIGHTS, describe, load, load_or_train, manifest, save

__all__ = ["load", "load_or_train", "describe", "manifest", "save", "RECIPES", "Recipe", "WEIGHTS"]
