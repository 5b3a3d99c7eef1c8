"""Every shipped checkpoint's recipe, one file per model: ``RECIPES[name]``.

A checkpoint named ``name`` is the module ``recipes/name.py`` defining ``RECIPE`` (a
:class:`dgmlib.pretrained.Recipe`); modules without one (shared helpers) are skipped. Adding a
file is all it takes: ``make checkpoints NAME=name`` then trains it.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..recipe import Recipe

__all__ = ["RECIPES"]


def _discover() -> dict[str, Recipe]:
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        recipe = getattr(importlib.import_module(f"{__name__}.{info.name}"), "RECIPE", None)
        if isinstance(recipe, Recipe):
            found[info.name] = recipe
    return found


RECIPES: dict[str, Recipe] = _discover()
