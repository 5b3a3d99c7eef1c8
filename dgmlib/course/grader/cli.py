"""``python -m dgmlib.course grade PATH... [--csv gradebook.csv] [--jobs N] [--json results.json]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .batch import SANDBOX_MODES, grade_paths, sandbox_for, submission_paths
from .submission import LABS
from .reports import format_report, points_text, write_gradebook, write_written_answers

__all__ = ["main"]

PROG = "python -m dgmlib.course grade"


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Run submitted lab notebooks and grade them with "
                                     "the labs' hidden checks; print a report per submission, write a gradebook.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="submitted notebooks, or folders of them")
    parser.add_argument("--csv", help="gradebook to write (default for a folder or several notebooks: gradebook.csv)")
    parser.add_argument("--json", help="also write every result, check by check, as JSON to this file")
    parser.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: the number of cores)")
    parser.add_argument("--timeout-cell", type=float, default=120, help="seconds one cell may run (default 120)")
    parser.add_argument("--timeout-notebook", type=float, default=900,
                        help="seconds all of a notebook's cells may run (default 900)")
    parser.add_argument("--lab", default=None,
                        help="grade every submission as this lab (lab1_vae, lab2_gan, lab3_flows), whatever its "
                             "metadata, questions and file name say; disagreements are reported either way")
    parser.add_argument("--timeout-scale", type=float, default=1.0,
                        help="multiplies each hidden check's own time limit (default 1; raise it on a slow machine)")
    parser.add_argument("--sandbox", choices=SANDBOX_MODES, default="required",
                        help="required (default): run every notebook in its own bubblewrap sandbox and refuse to grade "
                             "when bwrap is missing; off: run them as this user (same as --no-sandbox)")
    parser.add_argument("--no-sandbox", dest="sandbox", action="store_const", const="off",
                        help="grade without the sandbox: only for notebooks you trust (a warning goes into the "
                             "report and the CSV)")
    parser.add_argument("--memory-gb", type=float, default=8.0,
                        help="address space a sandboxed kernel may use, in GiB (default 8)")
    return parser


def _progress(done: list, csv_path: Path | None):
    """Called as each submission finishes: a line on stderr, and the gradebook rewritten with the rows so
    far (atomically), so that a grader killed half-way leaves what it graded."""

    def progress(r: dict) -> None:
        done.append(r)
        print(f"graded {r['submission']}: {points_text(r['total'])}/{points_text(r['max'])} ({r['seconds']:.0f} s)",
              file=sys.stderr, flush=True)
        if csv_path is not None:
            partial = csv_path.with_name(csv_path.name + ".partial")
            write_gradebook(done, partial)
            partial.replace(csv_path)

    return progress


def _print_reports(results: list[dict], full: bool) -> None:
    """Each submission's report; with ``full`` (one submission, no CSV) its written answers too."""
    for r in results:
        print(format_report(r))
        if full and r["written"]:
            for w in r["written"]:
                body = "\n".join("   " + line for line in w["text"].strip().splitlines())
                print(f"\n   --- written answer {w['question']} ---\n{body}")
        print()


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    parser = _parser(prog)
    args = parser.parse_args(argv)
    try:
        submissions = submission_paths(args.paths)
    except ValueError as err:
        parser.error(str(err))
    if not submissions:
        parser.error("no .ipynb files found in the given PATHs")
    if args.lab is not None and args.lab not in LABS:
        parser.error(f"--lab must be one of {', '.join(LABS)}, got {args.lab!r}")
    try:
        sandbox_for(args.sandbox, args.memory_gb)
    except RuntimeError as err:
        print(f"{prog}: refusing to grade: {err}", file=sys.stderr)
        return 2
    if args.sandbox == "off":
        print(f"{prog}: WARNING: --no-sandbox: the notebooks run as this user, with access to everything it can reach",
              file=sys.stderr)
    gradebook = args.csv or len(submissions) > 1 or any(Path(p).is_dir() for p in args.paths)
    csv_path = Path(args.csv or "gradebook.csv") if gradebook else None
    results = grade_paths(submissions, jobs=args.jobs, progress=_progress([], csv_path), timeout_cell=args.timeout_cell,
                          timeout_notebook=args.timeout_notebook, timeout_scale=args.timeout_scale, lab=args.lab,
                          sandbox=args.sandbox, memory_gb=args.memory_gb)
    _print_reports(results, full=len(results) == 1 and not args.csv)
    if csv_path is not None:
        csv_path = write_gradebook(results, csv_path)
        md_path = write_written_answers(results, csv_path.with_name(csv_path.stem + "_written.md"))
        print(f"gradebook: {csv_path}   written answers to grade by hand: {md_path}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0
