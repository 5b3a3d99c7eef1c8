"""Proof that a notebook's training asserts can fail: run it with training switched off.

A code cell tagged ``trained-check`` asserts something that only a *trained* model satisfies,
against a baseline computed in the same run (the untrained model, a trivial model, a shipped
checkpoint's figure) with a margin a broken model would miss. :func:`untrained_run` executes a
notebook at test size (``DGMLIB_FAST=1``) with ``DGMLIB_NO_TRAIN=1``, which turns every optimizer
update into a no-op (see :func:`dgmlib.runtime.apply_training_switch`), keeps going past errors,
and reports, for every tagged cell, the exception it raised. Every tagged cell must then fail with
``AssertionError``; ``tests/test_trained_checks.py`` asserts it for every notebook that trains.

``python -m dgmlib.course trained-checks NB...`` prints the same report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TAG", "TaggedCell", "untrained_run", "tagged_cells"]

TAG = "trained-check"


@dataclass(frozen=True)
class TaggedCell:
    """One ``trained-check`` cell after an untrained run: its index, first line, and the error it raised."""

    index: int
    first_line: str
    error: str | None  # the exception's class name (e.g. "AssertionError"), None if it passed

    @property
    def failed_as_it_should(self) -> bool:
        return self.error == "AssertionError"


def tagged_cells(nb) -> list[int]:
    """Indices of the code cells tagged ``trained-check``."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and TAG in c.metadata.get("tags", [])]


def _error_of(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return out.get("ename")
    return None


def untrained_run(path: str | os.PathLike, timeout: int = 900) -> list[TaggedCell]:
    """Execute notebook ``path`` at test size with training off, past errors, up to its last tagged
    cell; report its tagged cells (none run when none is tagged)."""
    import nbformat

    from .notebooks import execute_notebook

    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    tagged = tagged_cells(nb)
    if tagged:
        nb.cells = nb.cells[: tagged[-1] + 1]  # what follows the last tagged cell cannot change the report
        execute_notebook(nb, path.parent, fast=True, timeout=timeout, allow_errors=True,
                         env={"DGMLIB_NO_TRAIN": "1", "DGMLIB_TRAIN": None})
    return [TaggedCell(i, nb.cells[i].source.strip().splitlines()[0] if nb.cells[i].source.strip() else "",
                       _error_of(nb.cells[i])) for i in tagged_cells(nb)]


def main(paths: list[str]) -> int:
    """Print the report for each notebook; exit status 1 if a tagged cell did not fail with AssertionError."""
    bad = 0
    for p in paths:
        report = untrained_run(p)
        print(f"{p}: {len(report)} trained-check cells")
        for cell in report:
            ok = "ok  " if cell.failed_as_it_should else "FAIL"
            bad += not cell.failed_as_it_should
            print(f"  {ok} cell {cell.index}: {cell.error or 'passed (it should have failed)'} | {cell.first_line[:70]}")
    return 1 if bad else 0
