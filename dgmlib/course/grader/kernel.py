"""The autograder of the labs: run a submission, then check its answers where the student cannot see.

    python -m dgmlib.grade alice.ipynb                 # one submission: points and feedback
    python -m dgmlib.grade submissions/ --csv grades.csv --jobs 8 [--json results.json]

For each notebook (a folder: every ``*.ipynb`` in it, sorted):

1. It is read (a file that is not a notebook scores 0, with the reason). Which lab it is comes
   from the notebook metadata ``dgm.lab``, else from the question numbers in the cells' ``dgm``
   metadata, else from the file name (``lab2``, ``lab2_gan``...).
2. It runs top to bottom in a fresh ``python3`` kernel whose working directory is a temporary
   folder holding a copy of it (the submission file itself is only read), with ``DGMLIB_FAST=1``
   (short trainings), no progress bars, errors allowed, a time limit per cell (an endless cell is
   interrupted and the next one runs) and one for the whole notebook (later cells are skipped).
   At most ``MAX_OUTPUT_CHARS`` of output per cell is kept: a cell that prints megabytes costs
   nothing.
3. In the same kernel :func:`dgmlib.grading.run_checks` runs the lab's hidden checks, each with
   its own time limit, and writes the points per check to a JSON file; a kernel that is stopped
   or dies mid-way keeps the points of the checks that finished.

A question's points are the sum of its checks' (partial credit); every lost point comes with the
check's feedback. stderr (warnings, progress bars) is never looked at. Written answers (cells
with ``dgm.written``) are listed for grading by hand. For a folder, or with ``--csv``, a
gradebook is written: one row per submission, one column per auto-graded question, the total,
the maximum, a status, and an empty column per written question for the points given by hand; the
written answers themselves go to ``<csv stem>_written.md`` beside it.
Submissions are graded in parallel, ``--jobs`` at a time (default: the number of cores).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import copy
import csv
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

__all__ = ["identify_lab", "written_answers", "grade_notebook", "grade_paths", "write_gradebook",
           "write_written_answers", "format_report", "main"]

MAX_OUTPUT_CHARS = 20_000  # per cell; the rest is dropped
MAX_RESTARTS = 2  # fresh kernels after a cell that kills one
UNANSWERED = "YOUR ANSWER HERE"
_LAB_NAMES = {"1": "lab1_vae", "2": "lab2_gan", "3": "lab3_flows"}


def _labs():
    from .grading import LABS

    return LABS


# ---------------------------------------------------------------------------------------------
# what a notebook is


def _question(cell) -> str | None:
    dgm = cell.get("metadata", {}).get("dgm")
    q = dgm.get("question") if isinstance(dgm, dict) else None
    return str(q) if q is not None else None


def identify_lab(nb, path: str | os.PathLike | None = None) -> str | None:
    """Which lab ``nb`` answers: notebook metadata ``dgm.lab``, else the majority of its question
    numbers (``1.x`` -> lab1_vae ...), else a lab name or ``labN`` in the file name; None if none."""
    dgm = nb.get("metadata", {}).get("dgm")
    if isinstance(dgm, dict) and dgm.get("lab") in _labs():
        return dgm["lab"]
    counts: dict[str, int] = {}
    for cell in nb.get("cells", []):
        q = _question(cell)
        if q and q.split(".")[0] in _LAB_NAMES:
            lab = _LAB_NAMES[q.split(".")[0]]
            counts[lab] = counts.get(lab, 0) + 1
    if counts:
        return max(sorted(counts), key=counts.get)
    if path is not None:
        name = Path(path).name.lower()
        for lab in _labs():
            if lab in name:
                return lab
        found = re.search(r"lab[ _-]?([123])", name)
        if found:
            return _LAB_NAMES[found.group(1)]
    return None


def written_answers(nb) -> list[dict]:
    """The written answers of ``nb``: ``[{question, text, answered}]`` for cells marked ``dgm.written``."""
    out = []
    for cell in nb.get("cells", []):
        dgm = cell.get("metadata", {}).get("dgm")
        if isinstance(dgm, dict) and dgm.get("written"):
            text = "".join(cell.get("source", ""))
            answered = UNANSWERED not in text
            out.append({"question": _question(cell), "text": text, "answered": answered})
    return out


# ---------------------------------------------------------------------------------------------
# running one notebook


def _kernel_env() -> dict:
    env = dict(os.environ)
    env.update({"DGMLIB_FAST": "1", "TQDM_DISABLE": "1", "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"})
    env.setdefault("OMP_NUM_THREADS", "1")  # parallel kernels must not fight over the cores
    return env


def _client_class():
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """Keeps at most MAX_OUTPUT_CHARS of output per cell: a flood of prints cannot fill the memory."""

        def output(self, outs, msg, display_id, cell_index):
            sizes = getattr(self, "_sizes", None)
            if sizes is None:
                sizes = self._sizes = {}
            content = msg.get("content", {})
            size = len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())
            used = sizes.get(cell_index, 0)
            sizes[cell_index] = used + size
            if used + size > MAX_OUTPUT_CHARS:
                return None
            return super().output(outs, msg, display_id, cell_index)

    return CappedClient


def _result(path, lab, status="ok"):
    return {"submission": str(path), "lab": lab, "status": status, "questions": {}, "written": [],
            "cell_errors": [], "total": 0.0, "max": 0.0, "seconds": 0.0}


def _fill(result: dict, checks: list[dict], reason: str) -> dict:
    """Score ``result`` from the check records; the checks that never ran get 0 with ``reason``."""
    from .grading import load_lab, questions

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
                   timeout_scale: float = 1.0) -> dict:
    """Run and grade one submission; never raises for a broken submission (its status says why).

    Returns ``{submission, lab, status, questions: {q: {points, max, checks: [...]}}, written,
    cell_errors, total, max, seconds}``. ``timeout_cell``/``timeout_notebook``: seconds for one cell
    and for all the notebook's cells; ``timeout_scale`` multiplies every check's own time limit.
    """
    import nbformat

    start = time.perf_counter()
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # small schema slips (a missing cell id...) are Jupyter's business
            nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.get("cell_type") not in ("code", "markdown", "raw") or not isinstance(cell.get("source"), str):
                raise ValueError(f"cell {i + 1} has no cell_type or no source")
            if cell.cell_type == "code":
                cell.setdefault("outputs", [])
                cell.setdefault("execution_count", None)
    except Exception as err:  # not JSON, not a notebook, unreadable
        result = _result(path, identify_lab({}, path), f"not a valid notebook ({type(err).__name__}: {str(err)[:150]})")
        if result["lab"]:
            _fill(result, [], "not graded: the file is not a valid notebook")
        result["seconds"] = time.perf_counter() - start
        return result
    lab = identify_lab(nb, path)
    if lab is None:
        result = _result(path, None, "cannot tell which lab this is (no dgm metadata, no labN in the file name)")
        result["seconds"] = time.perf_counter() - start
        return result
    result = _result(path, lab)
    result["written"] = written_answers(nb)
    checks, reason = _execute(nb, path, lab, result, timeout_cell, timeout_notebook, timeout_scale)
    _fill(result, checks, reason)
    result["seconds"] = time.perf_counter() - start
    return result


def _execute(nb, path, lab, result, timeout_cell, timeout_notebook, timeout_scale):
    """Run the cells, then the checks, in one kernel; return (check records, reason for missing ones).

    A cell that kills the kernel (``os._exit``, ``exit()``, out of memory) is noted and skipped: the
    notebook runs again in a fresh kernel without it (at most ``MAX_RESTARTS`` times).
    """
    from nbclient.exceptions import DeadKernelError

    killers: list[int] = []
    with tempfile.TemporaryDirectory(prefix="dgm-grade-") as tmp:
        shutil.copyfile(path, Path(tmp) / "submission.ipynb")
        results_file = Path(tmp) / ".dgm_checks.json"
        for _ in range(MAX_RESTARTS + 1):
            errors: list[str] = []
            try:
                reason = _run_in_kernel(copy.deepcopy(nb), lab, tmp, results_file, killers, errors, result,
                                        timeout_cell, timeout_notebook, timeout_scale)
                break
            except DeadKernelError as err:
                index = getattr(err, "dgm_cell", None)
                reason = "not graded: the kernel died (out of memory, or the notebook exits the interpreter)"
                result["status"] = "kernel died"
                if index is None or len(killers) >= MAX_RESTARTS:
                    break
                killers.append(index)
                result["status"] = "ok"
            except Exception as err:  # the kernel did not start, or the client broke down
                reason = f"not graded: {type(err).__name__}: {str(err)[:200]}"
                result["status"] = f"error: {type(err).__name__}"
                break
        result["cell_errors"] = [f"cell {i + 1} killed the kernel; it was skipped in a fresh kernel" for i in killers]
        result["cell_errors"] += errors
        checks = []
        if results_file.exists():
            try:
                checks = json.loads(results_file.read_text())
            except ValueError:
                checks = []
    return checks, reason


def _run_in_kernel(nb, lab, tmp, results_file, skip, errors, result, timeout_cell, timeout_notebook, timeout_scale):
    """One attempt: a fresh kernel runs the cells (but ``skip``), then the checks; returns the reason
    for checks that did not finish. A DeadKernelError leaves with the cell index as ``dgm_cell``."""
    import nbformat
    from nbclient.exceptions import DeadKernelError

    from .grading import PREPARE_SECONDS, load_lab

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = _client_class()(
        nb, timeout=int(timeout_cell), kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
        error_on_timeout={"ename": "Timeout", "evalue": "the cell ran too long and was stopped", "traceback": []},
        record_timing=False, resources={"metadata": {"path": tmp}}, startup_timeout=120,
    )
    with client.setup_kernel(env=_kernel_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
        deadline = time.monotonic() + timeout_notebook
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not cell.source.strip() or index in skip:
                continue
            left = deadline - time.monotonic()
            if left < 1:
                errors.append(f"notebook time limit ({timeout_notebook:.0f} s) reached: cell {index + 1} and later "
                              "cells were not run")
                result["status"] = "notebook time limit reached"
                break
            client.timeout = int(max(1, min(timeout_cell, left)))
            began = time.monotonic()
            try:
                client.execute_cell(cell, index)
            except DeadKernelError as err:
                err.dgm_cell = index
                raise
            error = next((f"{o.get('ename')}: {str(o.get('evalue', '')).strip()[:200]}" for o in cell.outputs
                          if o.get("output_type") == "error"), None)
            if time.monotonic() - began >= client.timeout:
                errors.append(f"cell {index + 1} ran longer than {client.timeout} s and was stopped")
            elif error:
                errors.append(f"cell {index + 1} raised {error}")
        client.timeout = int(sum(c.timeout for c in load_lab(lab).CHECKS) * timeout_scale + PREPARE_SECONDS)
        grading = nbformat.v4.new_code_cell(
            "import dgmlib.grading as _dgm_grading\n"
            f"_dgm_grading.run_checks({lab!r}, globals(), {str(results_file)!r}, timeout_scale={timeout_scale!r})"
        )
        nb.cells.append(grading)
        try:
            client.execute_cell(grading, len(nb.cells) - 1)
        except DeadKernelError:
            result["status"] = "kernel died during the checks"
            return "not graded: the kernel died during the checks (out of memory, or the code exits the interpreter)"
        error = next((o for o in grading.outputs if o.get("output_type") == "error"), None)
        if error:
            return f"not graded: the grading stopped ({error.get('ename')}: {str(error.get('evalue'))[:150]})"
    return "not graded"


def _grade_one(args):
    path, kwargs = args
    try:
        return grade_notebook(path, **kwargs)
    except Exception as err:  # a bug of the grader itself must not stop the others
        result = _result(path, None, f"grader error: {type(err).__name__}: {err}")
        return result


def _submissions(paths) -> list[Path]:
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(q for q in p.glob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
        elif p.exists():
            found.append(p)
        else:
            raise ValueError(f"PATH must be a notebook or a folder of notebooks, got {str(p)!r} (it does not exist)")
    return found


def grade_paths(paths, *, jobs: int | None = None, progress=None, **kwargs) -> list[dict]:
    """Grade every notebook in ``paths`` (files or folders), ``jobs`` at a time; results in path order."""
    submissions = _submissions(paths)
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be an int >= 1, got {jobs!r}")
    jobs = min(jobs or os.cpu_count() or 1, max(1, len(submissions)))
    results: dict[Path, dict] = {}
    if jobs == 1:
        for p in submissions:
            results[p] = _grade_one((p, kwargs))
            if progress:
                progress(results[p])
    else:
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = {pool.submit(_grade_one, (p, kwargs)): p for p in submissions}
            for future in concurrent.futures.as_completed(futures):
                p = futures[future]
                try:
                    results[p] = future.result()
                except Exception as err:  # the worker process itself died
                    results[p] = _result(p, None, f"grader error: {type(err).__name__}: {err}")
                if progress:
                    progress(results[p])
    return [results[p] for p in submissions]


# ---------------------------------------------------------------------------------------------
# reports


def _pts(x: float) -> str:
    return f"{x:g}"


def _question_key(q: str):
    return tuple(int(p) if p.isdigit() else 0 for p in q.split("."))


def format_report(result: dict) -> str:
    """The text a student reads: per question the points and, for each lost point, what to fix."""
    lines = [f"== {result['submission']}  ({result['lab'] or 'unknown lab'})  "
             f"{_pts(result['total'])} / {_pts(result['max'])} points"]
    if result["status"] != "ok":
        lines.append(f"   status: {result['status']}")
    for q, info in result["questions"].items():
        head = f"   Question {q:<5} {_pts(info['points']):>4} / {_pts(info['max'])}"
        lost = [c for c in info["checks"] if c["points"] < c["max"]]
        if lost and len(lost) == len(info["checks"]) and len({c["feedback"] for c in lost}) == 1:
            lines.append(f"{head}   {lost[0]['feedback']}")  # one reason for the whole question
            continue
        lines.append(head)
        for c in lost:
            lines.append(f"      - {c['check']} ({_pts(c['points'])}/{_pts(c['max'])}): {c['feedback']}")
    for line in result["cell_errors"][:5]:
        lines.append(f"   notebook: {line}")
    if len(result["cell_errors"]) > 5:
        lines.append(f"   notebook: ... and {len(result['cell_errors']) - 5} more cells raised")
    if result["written"]:
        listed = ", ".join(f"{w['question']}{'' if w['answered'] else ' (not answered)'}" for w in result["written"])
        lines.append(f"   written answers, to grade by hand: {listed}")
    return "\n".join(lines)


def write_gradebook(results: list[dict], path: str | os.PathLike) -> Path:
    """CSV: submission, lab, one column per auto-graded question (``Q1.5``), total, max, status, then one
    empty column per written question (``W1.1``) for the points given by hand."""
    qs = sorted({q for r in results for q in r["questions"]}, key=_question_key)
    ws = sorted({w["question"] for r in results for w in r["written"] if w["question"]}, key=_question_key)
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "lab", *[f"Q{q}" for q in qs], "total", "max", "status",
                         *[f"W{q}" for q in ws]])
        names = [Path(r["submission"]).name for r in results]
        for r, name in zip(results, names):
            row = [name if names.count(name) == 1 else r["submission"], r["lab"] or ""]
            row += [_pts(r["questions"][q]["points"]) if q in r["questions"] else "" for q in qs]
            row += [_pts(r["total"]), _pts(r["max"]), r["status"]]
            writer.writerow(row + [""] * len(ws))  # the written answers' points, for the instructor to fill in
    return path


def write_written_answers(results: list[dict], path: str | os.PathLike) -> Path:
    """Markdown: for each submission, each written question and the student's text, to grade by hand."""
    out = ["# Written answers to grade by hand", ""]
    for r in results:
        out += [f"## {Path(r['submission']).name} ({r['lab'] or 'unknown lab'})", ""]
        if not r["written"]:
            out += ["(no written answers found)", ""]
        for w in r["written"]:
            out += [f"### Question {w['question']}" + ("" if w["answered"] else " (not answered)"), ""]
            out += ["> " + line if line else ">" for line in w["text"].strip().splitlines()] + [""]
    path = Path(path)
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dgmlib.grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", metavar="PATH", help="submitted notebooks, or folders of them")
    parser.add_argument("--csv", help="gradebook to write (default for a folder or several notebooks: gradebook.csv)")
    parser.add_argument("--json", help="also write every result, check by check, as JSON to this file")
    parser.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: the number of cores)")
    parser.add_argument("--timeout-cell", type=float, default=120, help="seconds one cell may run (default 120)")
    parser.add_argument("--timeout-notebook", type=float, default=900,
                        help="seconds all of a notebook's cells may run (default 900)")
    parser.add_argument("--timeout-scale", type=float, default=1.0,
                        help="multiplies each hidden check's own time limit (default 1; raise it on a slow machine)")
    args = parser.parse_args(argv)
    try:
        submissions = _submissions(args.paths)
    except ValueError as err:
        parser.error(str(err))
    if not submissions:
        parser.error("no .ipynb files found in the given PATHs")

    def progress(r):
        print(f"graded {r['submission']}: {_pts(r['total'])}/{_pts(r['max'])} ({r['seconds']:.0f} s)",
              file=sys.stderr, flush=True)

    results = grade_paths(submissions, jobs=args.jobs, progress=progress, timeout_cell=args.timeout_cell,
                          timeout_notebook=args.timeout_notebook, timeout_scale=args.timeout_scale)
    for r in results:
        print(format_report(r))
        if len(results) == 1 and not args.csv and r["written"]:
            for w in r["written"]:
                body = "\n".join("   " + line for line in w["text"].strip().splitlines())
                print(f"\n   --- written answer {w['question']} ---\n{body}")
        print()
    if args.csv or len(results) > 1 or any(Path(p).is_dir() for p in args.paths):
        csv_path = write_gradebook(results, args.csv or "gradebook.csv")
        md_path = write_written_answers(results, csv_path.with_name(csv_path.stem + "_written.md"))
        print(f"gradebook: {csv_path}   written answers to grade by hand: {md_path}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
