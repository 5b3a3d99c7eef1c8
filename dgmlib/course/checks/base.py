"""What a hidden check is, and the assertions a judge makes (their messages are the student's feedback).

A check has three parts, and only one of them ever runs beside the student's code:

- ``inputs()``: the inputs, drawn in the grader's own process from the check's seed;
- ``probe(ns, inp)``: the only part sent into the submission's kernel. It calls the student's
  functions on those inputs and returns what they gave back (tensors, numbers, strings), nothing
  else. It uses torch and nothing of the course: the references never enter the kernel;
- ``judge(out, inp)``: back in the grader's process, compares those outputs with the course's
  references and raises :class:`CheckFailed` with the feedback, or returns: the check's points.

``isolate`` names the notebook functions that the probe replaces, for the duration of the check, by
the given stand-ins (sent with the probe): a wrong KL cannot cost points in the ELBO question.
``helpers`` are more functions the probe calls (sent with it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Check", "CheckFailed", "check", "expect", "expect_shape", "expect_close"]


class CheckFailed(AssertionError):
    """A check's verdict: the message is the feedback the student reads."""


def _no_inputs() -> dict:
    return {}


@dataclass(frozen=True)
class Check:
    question: str  # "1.5"
    name: str  # what it proves, e.g. "matches the closed form on random inputs"
    points: float
    probe: Callable  # probe(ns, inp) -> dict, run in the submission's kernel (torch only)
    judge: Callable  # judge(out, inp), run by the grader; raises CheckFailed
    needs: tuple[str, ...]  # names the notebook must define
    timeout: float = 10.0  # seconds
    inputs: Callable[[], dict] = _no_inputs
    isolate: dict = field(default_factory=dict)  # notebook name -> stand-in function (sent with the probe)
    helpers: tuple = ()  # more functions the probe calls (sent with it)


def check(registry: list, question: str, name: str, points: float, needs, *, probe, inputs=None,
          timeout: float = 10.0, isolate=None, helpers=()):
    """Decorator: register the decorated ``judge(out, inp)`` with its ``probe`` as a check of ``question``."""
    needs = (needs,) if isinstance(needs, str) else tuple(needs)

    def register(judge):
        registry.append(Check(question, name, float(points), probe, judge, needs, float(timeout),
                              inputs or _no_inputs, dict(isolate or {}), tuple(helpers)))
        return judge

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
    if got.is_complex() or got.dtype == torch.bool:
        raise CheckFailed(f"{what} must be a real floating tensor, got dtype {got.dtype}")
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
