"""The student release: what students get, without what grades them.

    python -m dgmlib.course release OUT      # write the release into the folder OUT (must not exist)

Copied: the tracked files of the course (``git ls-files``, or the working tree without git) except
``solutions/`` (the model answers), ``tests/``, ``benchmarks/``, ``.ci/`` and, inside the library,
``dgmlib/course/checks`` (the hidden checks) and ``dgmlib/course/grader``. ``labs/`` is regenerated
from ``solutions/`` first (:func:`dgmlib.course.labs.stale_labs` must be empty), and the release is
verified: no solution marker and no hidden-check module left in it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .course_map import ROOT
from .labs import stale_labs

__all__ = ["EXCLUDED", "release_files", "make_release"]

EXCLUDED = ("solutions/", "tests/", "benchmarks/", ".ci/", "dgmlib/course/checks/", "dgmlib/course/grader/")
# what a solution or a hidden check module holds (spelt in two pieces so that this file holds neither)
_MARKERS = {".ipynb": ("### BEGIN " + "SOLUTION", "<!-- BEGIN " + "SOLUTION"),
            ".py": ("REFERENCE" + "_API = ", "def judge" + "_question")}


def release_files(root: str | Path = ROOT) -> list[str]:
    """The paths (relative to ``root``) that go into the student release."""
    root = Path(root)
    try:
        done = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True)
        listed = done.stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        listed = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and ".git" not in p.parts]
    return sorted(p for p in listed if p and not p.startswith(EXCLUDED) and (root / p).is_file())


def make_release(out: str | Path, root: str | Path = ROOT) -> list[Path]:
    """Write the student release into the new folder ``out``; return the files written.

    Raises ValueError when ``out`` exists, when ``labs/`` is out of date, or when a copied file still
    holds a solution or a hidden check.
    """
    out, root = Path(out), Path(root)
    if out.exists():
        raise ValueError(f"out must be a new folder, got {str(out)!r} (it exists)")
    stale = stale_labs(root / "solutions", root / "labs")
    if stale:
        raise ValueError(f"labs/ is out of date ({', '.join(stale)}): run `python -m dgmlib.course make-labs` first")
    written = []
    for rel in release_files(root):
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)
        written.append(target)
    leaks = [str(p.relative_to(out)) for p in written
             if any(m in p.read_text(encoding="utf-8", errors="ignore") for m in _MARKERS.get(p.suffix, ()))]
    if leaks:
        shutil.rmtree(out)
        raise ValueError(f"the release would leak solutions or hidden checks: {', '.join(leaks)}")
    return written
