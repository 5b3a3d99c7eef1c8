"""The hidden checks of the labs, run by :mod:`dgmlib.grade` inside each submission's own kernel.

One module per lab (``lab1_vae``, ``lab2_gan``, ``lab3_flows``) holds a list ``CHECKS`` of
:class:`Check` (question, what it proves, points, the function that proves it) and a dict
``REFERENCES`` of reference implementations of the lab's functions. The grader executes the
submission, then, in the same kernel, ``run_checks(lab, globals(), path)``:

- every check gets its points or 0, with feedback a student can act on; a question's points are
  the sum of its checks' (partial credit);
- each check runs under its own time limit (``SIGALRM``), with the student's prints swallowed,
  from a fixed seed, with gradients on;
- each question is graded on its own: while its checks run, the *other* questions' functions in
  the notebook are replaced by the reference implementations (a wrong KL cannot cost points in
  the ELBO question), and restored afterwards;
- the results are written to a JSON file after every check, so a kernel that hangs or dies in a
  check loses only the checks after it.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "LABS", "Check", "CheckFailed", "CheckTimeout", "check", "expect", "expect_close", "load_lab",
    "questions", "run_checks",
]

LABS = ("lab1_vae", "lab2_gan", "lab3_flows")
PREPARE_SECONDS = 300
NOT_DEFINED = "`{name}` is not defined: keep the name and signature the lab gives (was it deleted or renamed?)"


class CheckFailed(AssertionError):
    """A check's verdict: the message is the feedback the student reads."""


class CheckTimeout(BaseException):
    """Raised by the alarm; a BaseException, so that ``except Exception`` in student code cannot swallow it."""


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


def load_lab(lab: str):
    """The check module of ``lab`` (one of :data:`LABS`)."""
    if lab not in LABS:
        raise ValueError(f"lab must be one of {LABS}, got {lab!r}")
    return importlib.import_module(f"{__name__}.{lab}")


def questions(lab: str) -> dict[str, float]:
    """The auto-graded questions of ``lab`` and their maximum points, in question order."""
    out: dict[str, float] = {}
    for c in load_lab(lab).CHECKS:
        out[c.question] = out.get(c.question, 0.0) + c.points
    return dict(sorted(out.items(), key=lambda kv: tuple(int(p) for p in kv[0].split("."))))


class _Sink(io.TextIOBase):
    """A stdout/stderr that forgets everything: a student's prints inside a check cost nothing."""

    def writable(self):
        return True

    def write(self, s):
        return len(s)


@contextlib.contextmanager
def _time_limit(seconds: float):
    def alarm(signum, frame):
        raise CheckTimeout()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)  # and again every second, should the code swallow it
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _isolated(ns: dict, references: dict, own: tuple[str, ...]):
    """Replace the notebook's other graded functions by the reference ones; restore them afterwards."""
    missing = object()
    saved = {name: ns.get(name, missing) for name in references if name not in own}
    ns.update({name: references[name] for name in saved})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                ns.pop(name, None)
            else:
                ns[name] = value


def _verdict(c: Check, ns: dict, references: dict, seed: int, scale: float) -> tuple[float, str]:
    import torch

    for name in c.needs:
        if name not in ns:
            return 0.0, NOT_DEFINED.format(name=name)
    limit = c.timeout * scale
    try:
        torch.manual_seed(seed)
        with torch.enable_grad(), _isolated(ns, references, c.needs), contextlib.redirect_stdout(_Sink()), \
                contextlib.redirect_stderr(_Sink()), _time_limit(limit):
            c.run(ns)
    except CheckTimeout:
        return 0.0, f"did not finish within {limit:.0f} s (an infinite loop, or far too slow?)"
    except NotImplementedError:
        return 0.0, "not implemented yet: the stub still raises NotImplementedError"
    except SystemExit:
        return 0.0, "called exit(), which would stop the notebook: return a value instead"
    except CheckFailed as err:
        return 0.0, str(err)
    except Exception as err:  # the student's code raised: say where, briefly
        cells = [f for f in traceback.extract_tb(err.__traceback__) if "ipykernel_" in f.filename or f.filename.startswith("<")]
        where = f" (line {cells[-1].lineno} of the cell defining it)" if cells else ""
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
        return 0.0, f"raised {type(err).__name__}: {first}{where}"
    return c.points, "ok"


def run_checks(lab: str, ns: dict, path: str, timeout_scale: float = 1.0, only=None) -> list[dict]:
    """Run every check of ``lab`` against the notebook globals ``ns``; write the results as JSON to ``path``.

    The file is rewritten after every check (a list of ``{question, check, points, max, feedback,
    seconds}``), so the grader can read what finished even if the kernel is stopped mid-way.
    ``timeout_scale`` multiplies every check's time limit; ``only``: the questions to check (default all).
    """
    module = load_lab(lab)
    if not isinstance(timeout_scale, (int, float)) or isinstance(timeout_scale, bool) or timeout_scale <= 0:
        raise ValueError(f"timeout_scale must be a positive number, got {timeout_scale!r}")
    results: list[dict] = []
    timed_out: set[str] = set()
    prepare = getattr(module, "prepare", None)  # the grader's own slow work (loading data) is not timed
    if prepare is not None and only is None:
        try:
            with contextlib.redirect_stdout(_Sink()), contextlib.redirect_stderr(_Sink()), _time_limit(PREPARE_SECONDS):
                prepare()
        except (Exception, CheckTimeout):
            pass  # the checks that need the data will say what failed
    for i, c in enumerate(module.CHECKS):
        if only is not None and c.question not in only:
            continue
        start = time.perf_counter()
        if c.question in timed_out:
            points, feedback = 0.0, "skipped: an earlier check of this question ran out of time"
        else:
            points, feedback = _verdict(c, ns, module.REFERENCES, seed=1000 + i, scale=timeout_scale)
            if feedback.startswith("did not finish"):
                timed_out.add(c.question)
        results.append({"question": c.question, "check": c.name, "points": points, "max": c.points,
                        "feedback": feedback, "seconds": round(time.perf_counter() - start, 2)})
        with open(path, "w", encoding="utf-8") as f:
            json.dump(results, f)
    return results
