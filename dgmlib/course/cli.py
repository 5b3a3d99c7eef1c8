"""``python -m dgmlib.course COMMAND``: the course's own tools, one command line.

    python -m dgmlib.course map                      # the course map as a Markdown table
    python -m dgmlib.course run-notebooks [PATH...]  # full run, outputs stored in place
    python -m dgmlib.course make-labs [--check]      # labs/ (student versions) from solutions/
    python -m dgmlib.course grade PATH... [--csv gradebook.csv] [--jobs N]   # grade submissions (sandboxed)
    python -m dgmlib.course release OUT              # the student release: no solutions, no hidden checks
    python -m dgmlib.course trained-checks [PATH...] # training off: every trained-check cell must fail
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dgmlib.course",
                                     description="The course's tools: its map, its notebooks, the labs, the grader.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("map", help="print the course map as a Markdown table")
    run = sub.add_parser("run-notebooks", help="execute notebooks with the full budget and store their outputs")
    run.add_argument("paths", nargs="*", help="notebooks or folders (default: lectures/ and solutions/)")
    run.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    labs = sub.add_parser("make-labs", help="generate the student labs/ from solutions/ (see dgmlib.course.labs)")
    labs.add_argument("--check", action="store_true", help="write nothing; exit 1 when labs/ is out of date")
    sub.add_parser("grade", help="grade submitted lab notebooks (`python -m dgmlib.course grade --help`)")
    release = sub.add_parser("release", help="write the student release (labs, lectures, library) without "
                             "solutions/ and the grader's hidden checks")
    release.add_argument("out", help="the folder to create")
    checks = sub.add_parser("trained-checks", help="run notebooks with training off: every trained-check cell must fail")
    checks.add_argument("paths", nargs="*", help="notebooks or folders (default: lectures/ and solutions/)")
    return parser


def _make_labs(check: bool) -> int:
    from .course_map import ROOT
    from .labs import make_labs, stale_labs

    if check:
        stale = stale_labs()
        for name in stale:
            print(f"labs/{name} is out of date: run `python -m dgmlib.course make-labs`")
        return 1 if stale else 0
    for path in make_labs():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


def _run_notebooks(parser, paths: list[str], timeout: int) -> int:
    from .notebooks import notebook_paths, run_notebook

    try:
        notebooks = notebook_paths(paths)
    except ValueError as err:
        parser.error(str(err))
    for nb in notebooks:
        print(f"running {nb} ...", flush=True)
        seconds = run_notebook(nb, timeout=timeout)
        print(f"  done in {seconds:.1f} s", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["grade"]:  # the grader has its own options
        try:
            from .grader.cli import main as grade
        except ImportError:
            print("the grader is not part of the student release", file=sys.stderr)
            return 2

        return grade(argv[1:], prog="python -m dgmlib.course grade")
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "map":
        from .course_map import course_map_markdown

        print(course_map_markdown())
        return 0
    if args.command == "make-labs":
        return _make_labs(args.check)
    if args.command == "release":
        from .release import make_release

        try:
            written = make_release(args.out)
        except ValueError as err:
            parser.error(str(err))
        print(f"wrote the student release: {len(written)} files in {args.out}")
        return 0
    if args.command == "trained-checks":
        from .notebooks import notebook_paths
        from .trained_checks import main as trained_checks

        return trained_checks([str(p) for p in notebook_paths(args.paths)])
    return _run_notebooks(parser, args.paths, args.timeout)
