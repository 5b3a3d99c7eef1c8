"""Argument checks, written once: each raises a ``ValueError``/``TypeError`` that names the argument.

Every public function of ``dgmlib`` validates its inputs with these, so a mistake stops at the
call with a message a student can act on, instead of a silent wrong number or a traceback three
calls deeper. Each check returns the (normalized) value, so it reads inline::

    k = checks.positive_int(k, "k")
    x = checks.finite_tensor(x, "x")
"""

from __future__ import annotations

import numbers

import torch

__all__ = [
    "integer", "positive_int", "int_at_least", "number", "positive_number", "non_negative_number", "number_in",
    "flag", "one_of", "tensor", "floating_tensor", "finite_tensor", "same_shape", "in_unit_interval",
]


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def integer(value, name: str, what: str = "an int") -> int:
    """``value`` as an ``int`` (Python or NumPy integer; ``bool`` refused): a ``TypeError`` otherwise."""
    if not _is_int(value):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}")
    return int(value)


def positive_int(value, name: str) -> int:
    """``value`` as an ``int >= 1`` (Python or NumPy integer; ``bool`` refused)."""
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def int_at_least(value, name: str, minimum: int, why: str = "") -> int:
    """``value`` as an ``int >= minimum``; ``why`` is appended to the message (e.g. ``" (one per factor)"``)."""
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}{why}, got {value!r}")
    return int(value)


def number(value, name: str) -> float:
    """``value`` as a finite real ``float`` (NaN and inf refused)."""
    if not _is_number(value) or not abs(float(value)) < float("inf"):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def positive_number(value, name: str) -> float:
    """``value`` as a finite ``float > 0``."""
    if not _is_number(value) or not 0 < float(value) < float("inf"):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def non_negative_number(value, name: str) -> float:
    """``value`` as a finite ``float >= 0``."""
    if not _is_number(value) or not 0 <= float(value) < float("inf"):
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


def number_in(value, name: str, low: float, high: float, *, closed: str = "both") -> float:
    """``value`` as a ``float`` in the interval from ``low`` to ``high``.

    ``closed``: ``"both"`` ``[low, high]``, ``"left"`` ``[low, high)``, ``"right"`` ``(low, high]``,
    ``"neither"`` ``(low, high)``.
    """
    brackets = {"both": "[]", "left": "[)", "right": "(]", "neither": "()"}[closed]
    ok = _is_number(value)
    if ok:
        v = float(value)
        ok = (v >= low if brackets[0] == "[" else v > low) and (v <= high if brackets[1] == "]" else v < high)
    if not ok:
        raise ValueError(f"{name} must be a number in {brackets[0]}{low}, {high}{brackets[1]}, got {value!r}")
    return float(value)


def flag(value, name: str) -> bool:
    """``value`` as a ``bool`` (``0``/``1`` and strings refused: they hide typos)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def one_of(value, name: str, choices) -> object:
    """``value`` if it is one of ``choices``."""
    if value not in tuple(choices):
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def tensor(value, name: str) -> torch.Tensor:
    """``value`` if it is a ``torch.Tensor``."""
    if not torch.is_tensor(value):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def floating_tensor(value, name: str) -> torch.Tensor:
    """A real floating-point tensor (integer tensors are cast to the default float; complex refused)."""
    value = tensor(value, name)
    if value.is_complex():
        raise TypeError(f"{name} must be a real tensor, got complex dtype {value.dtype}")
    if not value.is_floating_point():
        value = value.to(torch.get_default_dtype())
    return value


def finite_tensor(value, name: str) -> torch.Tensor:
    """A real floating-point tensor without NaN or inf (a NaN in gives an error out, not a number)."""
    value = floating_tensor(value, name)
    if value.numel() and not bool(torch.isfinite(value).all()):
        bad = int((~torch.isfinite(value)).sum())
        raise ValueError(f"{name} must be finite, got {bad} NaN or infinite value(s)")
    return value


def same_shape(**tensors) -> None:
    """All the named tensors have the first one's shape: ``same_shape(mu=mu, logvar=logvar)``."""
    (n1, t1), *rest = tensors.items()
    tensor(t1, n1)
    for name, t in rest:
        tensor(t, name)
        if t.shape != t1.shape:
            raise ValueError(f"{n1} and {name} must have the same shape, got {tuple(t1.shape)} and {tuple(t.shape)}")


def in_unit_interval(value: torch.Tensor, name: str, hint: str = "") -> torch.Tensor:
    """A tensor whose values all lie in [0, 1] (NaN refused); ``hint`` is appended to the message."""
    tensor(value, name)
    if value.numel() and (torch.isnan(value).any() or value.min() < 0 or value.max() > 1):
        if torch.isnan(value).any():
            raise ValueError(f"{name} must lie in [0, 1], got NaN values{hint}")
        raise ValueError(f"{name} must lie in [0, 1], got values in "
                         f"[{value.min().item():.3g}, {value.max().item():.3g}]{hint}")
    return value
