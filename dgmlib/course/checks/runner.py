"""Running a lab's hidden checks against a notebook's globals, inside the submission's kernel.

:func:`run_checks` gives every check its points or 0 with feedback; each check runs under its own
time limit (``SIGALRM``), with the student's prints swallowed, from a fixed seed, with gradients
on, and with the *other* questions' functions replaced by the references; the results are written
to a JSON file after every check.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import signal
import time
import traceback

from ... import checks as argchecks
from .base import Check, CheckFailed

__all__ = ["LABS", "PREPARE_SECONDS", "CheckTimeout", "load_lab", "questions", "run_checks"]

LABS = ("lab1_vae", "lab2_gan", "lab3_flows")
PREPARE_SECONDS = 300
NOT_DEFINED = "`{name}` is not defined: keep the name and signature the lab gives (was it deleted or renamed?)"


class CheckTimeout(BaseException):
    """Raised by the alarm; a BaseException, so that ``except Exception`` in student code cannot swallow it."""


def load_lab(lab: str):
    """The check module of ``lab`` (one of :data:`LABS`)."""
    argchecks.one_of(lab, "lab", LABS)
    return importlib.import_module(f"{__package__}.{lab}")


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


def _raised(err: Exception) -> str:
    """Feedback for an exception of the student's code: its type, first line, and where."""
    cells = [f for f in traceback.extract_tb(err.__traceback__) if "ipykernel_" in f.filename or f.filename.startswith("<")]
    where = f" (line {cells[-1].lineno} of the cell defining it)" if cells else ""
    first = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
    return f"raised {type(err).__name__}: {first}{where}"


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
        return 0.0, _raised(err)
    return c.points, "ok"


def _prepare(module) -> None:
    """The lab's own slow work (loading data), before the timed checks; failures show in the checks."""
    prepare = getattr(module, "prepare", None)
    if prepare is None:
        return
    try:
        with contextlib.redirect_stdout(_Sink()), contextlib.redirect_stderr(_Sink()), _time_limit(PREPARE_SECONDS):
            prepare()
    except (Exception, CheckTimeout):
        pass  # the checks that need the data will say what failed


def run_checks(lab: str, ns: dict, path: str, timeout_scale: float = 1.0, only=None) -> list[dict]:
    """Run every check of ``lab`` against the notebook globals ``ns``; write the results as JSON to ``path``.

    The file is rewritten after every check (a list of ``{question, check, points, max, feedback,
    seconds}``), so the grader can read what finished even if the kernel is stopped mid-way.
    ``timeout_scale`` multiplies every check's time limit; ``only``: the questions to check (default all).
    """
    module = load_lab(lab)
    timeout_scale = argchecks.positive_number(timeout_scale, "timeout_scale")
    if only is None:
        _prepare(module)
    results: list[dict] = []
    timed_out: set[str] = set()
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
