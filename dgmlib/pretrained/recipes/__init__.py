"""Every shipped checkpoint's recipe, one file per model: ``RECIPES[name]``.

A new checkpoint is a new module here with a ``RECIPE`` (see :class:`dgmlib.pretrained.Recipe`)
and one line below; ``make checkpoints NAME=name`` then trains it.
"""

from __future__ import annotations

from ..recipe import Recipe
from . import featurenet

__all__ = ["RECIPES"]

RECIPES: dict[str, Recipe] = {
    "featurenet": featurenet.RECIPE,
}
