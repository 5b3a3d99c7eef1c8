"""Grading submissions: one notebook to a result, a list of paths graded in parallel."""

from __future__ import annotations

import concurrent.futures
import ctypes
import functools
import multiprocessing
import os
import signal
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from ... import checks as argchecks
from ..checks import load_lab, questions
from .kernel import run_submission
from .submission import LABS, identify_lab, lab_disagreement, read_submission, written_answers

__all__ = ["grade_notebook", "grade_paths", "submission_paths", "SANDBOX_MODES", "UNSANDBOXED"]

SANDBOX_MODES = ("required", "off")
UNSANDBOXED = "WARNING: graded without the sandbox (--no-sandbox): the notebook ran as the grader's user"
WORKER_RETRIES = 2  # fresh pools for the submissions of a worker that died


@functools.lru_cache(maxsize=4)
def _sandbox_setup(memory_gb: float) -> dict:
    """The sandbox of this process's submissions: the references to replace by stubs, the limits."""
    from ..checks import reference_api
    from .sandbox import Limits

    return {"api": reference_api(), "limits": Limits(memory_bytes=int(memory_gb * 2**30))}


def sandbox_for(mode: str, memory_gb: float = 8.0) -> dict | None:
    """The sandbox settings for ``mode`` (``required``: bubblewrap, refused when missing; ``off``: None)."""
    from .sandbox import sandbox_missing

    argchecks.one_of(mode, "sandbox", SANDBOX_MODES)
    if mode == "off":
        return None
    missing = sandbox_missing()
    if missing:
        raise RuntimeError(f"--sandbox required, but {missing}")
    return _sandbox_setup(float(memory_gb))


def _result(path, lab, status="ok"):
    return {"submission": str(path), "lab": lab, "status": status, "questions": {}, "written": [],
            "cell_errors": [], "total": 0.0, "max": 0.0, "seconds": 0.0}


def _fill(result: dict, checks: list[dict], reason: str) -> dict:
    """Score ``result`` from the check records; the checks that never ran get 0 with ``reason``."""
    lab = result["lab"]
    done = {(c["question"], c["check"]): c for c in checks}
    per_q: dict[str, dict] = {q: {"points": 0.0, "max": m, "checks": []} for q, m in questions(lab).items()}
    for c in load_lab(lab).CHECKS:
        record = done.get((c.question, c.name)) or {"question": c.question, "check": c.name, "points": 0.0,
                                                    "max": c.points, "feedback": reason}
        per_q[c.question]["points"] += record["points"]
        per_q[c.question]["checks"].append(record)
    result["questions"] = per_q
    result["total"] = sum(q["points"] for q in per_q.values())
    result["max"] = sum(q["max"] for q in per_q.values())
    return result


def grade_notebook(path: str | os.PathLike, *, timeout_cell: float = 120, timeout_notebook: float = 900,
                   timeout_scale: float = 1.0, lab: str | None = None, sandbox: str = "required",
                   memory_gb: float = 8.0) -> dict:
    """Run and grade one submission; never raises for a broken submission (its status says why).

    ``lab`` grades it as that lab whatever it says (``--lab``); otherwise the lab is identified
    (:func:`identify_lab`). Either way, sources that disagree (metadata, question numbers, file name)
    are reported in the status: ``"ok; the lab sources disagree: ..."``.

    Returns ``{submission, lab, status, questions: {q: {points, max, checks: [...]}}, written,
    cell_errors, total, max, seconds}``. ``timeout_cell``/``timeout_notebook``: seconds for one cell
    and for all the notebook's cells; ``timeout_scale`` multiplies every check's own time limit.
    ``sandbox``: ``"required"`` (bubblewrap; RuntimeError when it is missing) or ``"off"`` (the kernel
    runs as the grader: the status says so); ``memory_gb``: the sandbox's address-space limit.
    """
    start = time.perf_counter()
    path = Path(path)
    if lab is not None and lab not in LABS:
        raise ValueError(f"lab must be one of {', '.join(LABS)}, got {lab!r}")
    box = sandbox_for(sandbox, memory_gb)
    try:
        nb = read_submission(path)
    except Exception as err:  # not JSON, not a notebook, unreadable
        result = _result(path, identify_lab({}, path), f"not a valid notebook ({type(err).__name__}: {str(err)[:150]})")
        if result["lab"]:
            _fill(result, [], "not graded: the file is not a valid notebook")
    else:
        chosen = lab if lab is not None else identify_lab(nb, path)
        if chosen is None:
            result = _result(path, None, "cannot tell which lab this is (no dgm metadata, no labN in the file name)")
        else:
            disagreement = lab_disagreement(nb, path)
            result = _result(path, chosen)
            result["written"] = written_answers(nb)
            checks = run_submission(nb, path, chosen, result, timeout_cell, timeout_notebook, timeout_scale, box)
            _fill(result, checks, "not graded")
            if disagreement is not None:   # never silent: the instructor sees it in the report and the CSV
                result["status"] += f"; {disagreement}; graded as {chosen}" + (" (--lab)" if lab is not None else "")
    if box is None:
        result["status"] = f"{result['status']}; {UNSANDBOXED}"
    result["seconds"] = time.perf_counter() - start
    return result


def _grade_one(args):
    path, kwargs = args
    try:
        return grade_notebook(path, **kwargs)
    except Exception as err:  # a bug of the grader itself must not stop the others
        return _result(path, None, f"grader error: {type(err).__name__}: {err}")


def submission_paths(paths) -> list[Path]:
    """The notebooks named by ``paths``: files as given, folders as their ``*.ipynb``, sorted."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(q for q in p.glob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
        elif p.exists():
            found.append(p)
        else:
            raise ValueError(f"PATH must be a notebook or a folder of notebooks, got {str(p)!r} (it does not exist)")
    return found


def _die_with_parent():
    """Pool workers die with the grader (Linux: PR_SET_PDEATHSIG), and their sandboxes with them."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _pool_round(todo, jobs, kwargs, results, progress):
    """Grade ``todo`` in a fresh pool; return the submissions whose worker died before finishing them."""
    ctx = multiprocessing.get_context("spawn")
    lost = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=ctx,
                                                initializer=_die_with_parent) as pool:
        futures = {pool.submit(_grade_one, (p, kwargs)): p for p in todo}
        for future in concurrent.futures.as_completed(futures):
            p = futures[future]
            try:
                results[p] = future.result()
            except BrokenProcessPool:  # a worker died (killed, out of memory): graded again in a fresh pool
                lost.append(p)
                continue
            except Exception as err:
                results[p] = _result(p, None, f"grader error: {type(err).__name__}: {err}")
            if progress:
                progress(results[p])
    return lost


def grade_paths(paths, *, jobs: int | None = None, progress=None, **kwargs) -> list[dict]:
    """Grade every notebook in ``paths`` (files or folders), ``jobs`` at a time; results in path order.

    ``progress(result)`` is called as each submission finishes; ``kwargs`` go to :func:`grade_notebook`.
    A submission whose worker process died is graded again in a fresh pool (``WORKER_RETRIES`` times),
    then reported as such: never lost.
    """
    submissions = submission_paths(paths)
    if jobs is not None:
        jobs = argchecks.int_at_least(jobs, "jobs", 1)
    jobs = min(jobs or os.cpu_count() or 1, max(1, len(submissions)))
    sandbox_for(kwargs.get("sandbox", "required"), kwargs.get("memory_gb", 8.0))  # refuse before starting
    results: dict[Path, dict] = {}
    if jobs == 1:
        for p in submissions:
            results[p] = _grade_one((p, kwargs))
            if progress:
                progress(results[p])
        return [results[p] for p in submissions]
    todo = list(submissions)
    for _ in range(WORKER_RETRIES + 1):
        if not todo:
            break
        todo = _pool_round(todo, jobs, kwargs, results, progress)
    for p in todo:
        results[p] = _result(p, None, "grader error: the worker grading it died, in every attempt")
        if progress:
            progress(results[p])
    return [results[p] for p in submissions]
