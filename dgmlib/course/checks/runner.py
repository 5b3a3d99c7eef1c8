"""Grading a lab's questions: inputs and judges here, probes in the kernel (or, for tests, in this process).

For one question, :func:`question_cell` gives the code the grader runs in the submission's kernel
(the harness, the question's probes and stand-ins, and the call) and :func:`question_inputs` the
inputs it writes for them; :func:`judge_question` turns the outputs the kernel wrote into points and
feedback. A check's points are its own or 0: nothing the kernel writes can raise them.
:func:`run_checks` does all of it in this process (for tests of the checks themselves).
"""

from __future__ import annotations

import importlib
import inspect
import json
import time
from pathlib import Path

import torch

from ... import checks as argchecks
from . import harness
from .base import Check, CheckFailed

__all__ = ["LABS", "NOT_DEFINED", "load_lab", "questions", "question_checks", "question_cell", "question_inputs",
           "question_limit", "judge_question", "unjudged", "reference_api", "run_checks"]

LABS = ("lab1_vae", "lab2_gan", "lab3_flows")
NOT_DEFINED = "`{name}` is not defined: keep the name and signature the lab gives (was it deleted or renamed?)"
GRACE_SECONDS = 15  # added to a question's time limit before the grader kills its kernel
HEADER = "import math\n\nimport torch\n"
ERRORS = {
    "timeout": "did not finish within {limit:.0f} s (an infinite loop, or far too slow?)",
    "skipped": "skipped: an earlier check of this question ran out of time",
    "not_implemented": "not implemented yet: the stub still raises NotImplementedError",
    "exit": "called exit(), which would stop the notebook: return a value instead",
    "interrupted": "was interrupted",
    "reference": "calls the course's reference implementation, which a graded answer may not use: {message}",
}


def load_lab(lab: str):
    """The check module of ``lab`` (one of :data:`LABS`)."""
    argchecks.one_of(lab, "lab", LABS)
    return importlib.import_module(f"{__package__}.{lab}")


def _key(q: str):
    return tuple(int(p) for p in q.split("."))


def questions(lab: str) -> dict[str, float]:
    """The auto-graded questions of ``lab`` and their maximum points, in question order."""
    out: dict[str, float] = {}
    for c in load_lab(lab).CHECKS:
        out[c.question] = out.get(c.question, 0.0) + c.points
    return dict(sorted(out.items(), key=lambda kv: _key(kv[0])))


def reference_api(labs=LABS) -> dict[str, str]:
    """``{"dgmlib.gaussian.kl_normal_std": "1.5", ...}``: the library's answers to the labs' questions."""
    return {name: q for lab in labs for q, names in load_lab(lab).REFERENCE_API.items() for name in names}


def question_checks(lab: str, question: str) -> list[tuple[str, int, Check]]:
    """``[(id, seed, check)]`` of one question, in order."""
    return [(f"{c.question}#{i}", 1000 + i, c) for i, c in enumerate(load_lab(lab).CHECKS) if c.question == question]


def question_limit(lab: str, question: str, timeout_scale: float = 1.0) -> float:
    """Seconds the grader gives a question's probes before it kills the kernel."""
    return sum(c.timeout for _, _, c in question_checks(lab, question)) * timeout_scale + GRACE_SECONDS


def question_inputs(lab: str, question: str) -> dict:
    """The inputs of every check of ``question``, drawn in this process from each check's seed."""
    out = {}
    for cid, seed, c in question_checks(lab, question):
        torch.manual_seed(seed)
        out[cid] = c.inputs()
    return out


def question_cell(lab: str, question: str, in_path: str, out_path: str, timeout_scale: float = 1.0) -> str:
    """The code run in the kernel for ``question``: the harness, this question's probes, helpers and
    stand-ins (no other question's, no reference), and the call writing the outputs to ``out_path``."""
    parts, seen, specs = [HEADER, inspect.getsource(harness)], set(), []
    for cid, seed, c in question_checks(lab, question):
        for fn in (*c.helpers, *c.isolate.values(), c.probe):
            if fn.__name__ not in seen:
                seen.add(fn.__name__)
                parts.append(inspect.getsource(fn))
        specs.append({"id": cid, "probe": c.probe.__name__, "needs": list(c.needs), "seed": seed,
                      "limit": c.timeout * timeout_scale, "isolate": {k: v.__name__ for k, v in c.isolate.items()}})
    source = "\n\n".join(parts)
    return (f"_dgm_probes = {{'__name__': 'dgm_probes'}}\n"
            f"exec(compile({source!r}, 'dgm_probes.py', 'exec'), _dgm_probes)\n"
            f"_dgm_probes['run_probes'](globals(), _dgm_probes, {specs!r}, {str(in_path)!r}, {str(out_path)!r})\n"
            f"del _dgm_probes")


def _record(c: Check, points: float, feedback: str, seconds: float = 0.0) -> dict:
    return {"question": c.question, "check": c.name, "points": points, "max": c.points, "feedback": feedback,
            "seconds": round(seconds, 2)}


def _feedback(result) -> str | None:
    """The feedback for a probe that did not return (None when it did)."""
    if not isinstance(result, dict):
        return "the kernel returned no result for this check"
    if "ok" in result:
        return None
    kind = result.get("error")
    if kind == "missing":
        return NOT_DEFINED.format(name=str(result.get("name")))
    if kind == "raised":
        return str(result.get("message", "raised an exception"))[:500]
    if kind in ERRORS:
        try:
            message = str(result.get("message", ""))[:400]
            return ERRORS[kind].format(limit=float(result.get("limit", 0)), message=message)
        except (TypeError, ValueError):
            return ERRORS[kind].format(limit=0.0, message="")
    return "the kernel returned no result for this check"


def judge_question(lab: str, question: str, outputs, inputs: dict) -> list[dict]:
    """Points and feedback for each check of ``question`` from the probes' ``outputs`` (untrusted)."""
    records = []
    outputs = outputs if isinstance(outputs, dict) else {}
    for cid, _, c in question_checks(lab, question):
        start = time.perf_counter()
        result = outputs.get(cid)
        feedback = _feedback(result)
        if feedback is None:
            out = result["ok"]
            try:
                if not isinstance(out, dict):
                    raise CheckFailed(f"the check got {type(out).__name__} back instead of the outputs")
                c.judge(out, inputs[cid])
                feedback = "ok"
            except CheckFailed as err:
                feedback = str(err)
            except Exception as err:  # outputs of a shape or type the judge did not foresee
                feedback = f"returned something the check cannot use ({type(err).__name__}: {str(err)[:200]})"
        records.append(_record(c, c.points if feedback == "ok" else 0.0, feedback, time.perf_counter() - start))
    return records


def unjudged(lab: str, question: str, reason: str) -> list[dict]:
    """0 points with ``reason`` for every check of ``question``."""
    return [_record(c, 0.0, reason) for _, _, c in question_checks(lab, question)]


def run_checks(lab: str, ns: dict, path: str, timeout_scale: float = 1.0, only=None) -> list[dict]:
    """Run every check of ``lab`` against the namespace ``ns`` in this process (probes and judges); write
    the records as JSON to ``path``. ``only``: the questions to check (default all)."""
    timeout_scale = argchecks.positive_number(timeout_scale, "timeout_scale")
    results: list[dict] = []
    work = Path(path).parent
    for q in questions(lab):
        if only is not None and q not in only:
            continue
        inputs = question_inputs(lab, q)
        in_path, out_path = work / f".dgm_in_{q}.pt", work / f".dgm_out_{q}.pt"
        torch.save(inputs, in_path)
        exec(question_cell(lab, q, str(in_path), str(out_path), timeout_scale), ns)
        outputs = torch.load(out_path, weights_only=True) if out_path.exists() else {}
        results += judge_question(lab, q, outputs, inputs)
        in_path.unlink(missing_ok=True)
        out_path.unlink(missing_ok=True)
    Path(path).write_text(json.dumps(results), encoding="utf-8")
    return results
