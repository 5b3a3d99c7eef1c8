"""What a hidden check is, and the assertions a check makes (their messages are the student's feedback)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Check", "CheckFailed", "check", "expect", "expect_shape", "expect_close"]


class CheckFailed(AssertionError):
    """A check's verdict: the message is the feedback the student reads."""


@dataclass(frozen=True)
class Check:
    question: str  # "1.5"
    name: str  # what it proves, e.g. "matches the closed form on random inputs"
    points: float
    run: Callable[[dict], None]  # raises CheckFailed (or anything) when the property fails
    needs: tuple[str, ...]  # names the notebook must define
    timeout: float = 10.0  # seconds


def check(registry: list, question: str, name: str, points: float, needs, timeout: float = 10.0):
    """Decorator: register ``fn(ns)`` as a check of ``question`` in ``registry``."""
    needs = (needs,) if isinstance(needs, str) else tuple(needs)

    def register(fn):
        registry.append(Check(question, name, float(points), fn, needs, float(timeout)))
        return fn

    return register


def expect(condition: bool, message: str) -> None:
    """Fail the check with ``message`` unless ``condition``."""
    if not condition:
        raise CheckFailed(message)


def _as_tensor(value, what: str):
    import torch

    if not torch.is_tensor(value):
        raise CheckFailed(f"{what} must be a torch.Tensor, got {type(value).__name__}")
    return value


def expect_shape(value, shape, what: str):
    """Fail unless ``value`` is a tensor of exactly ``shape``."""
    value = _as_tensor(value, what)
    expect(tuple(value.shape) == tuple(shape), f"{what} should have shape {tuple(shape)}, got {tuple(value.shape)}")
    return value


def expect_close(got, want, what: str, rtol: float = 1e-4, atol: float = 1e-5, hint: str = "") -> None:
    """Fail unless the tensors agree elementwise within ``atol + rtol |want|`` (shape checked first)."""
    import torch

    got = expect_shape(got, want.shape, what)
    got = got.detach().to(device=want.device, dtype=torch.float64)
    want = want.detach().to(torch.float64)
    if not torch.isfinite(got).all():
        raise CheckFailed(f"{what} has inf/nan values where the answer is finite" + (f"; {hint}" if hint else ""))
    err = (got - want).abs()
    tol = atol + rtol * want.abs()
    if not (err <= tol).all():
        i = int((err - tol).flatten().argmax())
        raise CheckFailed(
            f"{what} is wrong: got {got.flatten()[i].item():.6g} where {want.flatten()[i].item():.6g} "
            f"is expected (largest error {err.max().item():.3g})" + (f"; {hint}" if hint else "")
        )
