"""What a submitted notebook is: read safely, which lab it answers, its written answers."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

from ..checks import LABS

__all__ = ["lab_evidence", "lab_disagreement", "UNANSWERED", "read_submission", "identify_lab", "written_answers"]

UNANSWERED = "YOUR ANSWER HERE"
_LAB_BY_NUMBER = {lab[3]: lab for lab in LABS}  # "1" -> "lab1_vae"


def read_submission(path: str | os.PathLike):
    """The notebook at ``path`` (nbformat v4), its code cells given empty outputs where missing.

    Raises (any exception) for a file that is not JSON, not a notebook, or has a cell without a
    ``cell_type`` or ``source``: the grader turns that into the submission's status.
    """
    import nbformat

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small schema slips (a missing cell id...) are Jupyter's business
        nb = nbformat.read(Path(path), as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") not in ("code", "markdown", "raw") or not isinstance(cell.get("source"), str):
            raise ValueError(f"cell {i + 1} has no cell_type or no source")
        if cell.cell_type == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
    return nb


def _question(cell) -> str | None:
    dgm = cell.get("metadata", {}).get("dgm")
    q = dgm.get("question") if isinstance(dgm, dict) else None
    return str(q) if q is not None else None


def lab_evidence(nb, path: str | os.PathLike | None = None) -> dict[str, str]:
    """What each source says the lab is: ``{"metadata": ..., "questions": ..., "file name": ...}``,
    only the sources that name one (the questions' by the majority of their numbers, ``1.x`` -> lab1_vae)."""
    evidence: dict[str, str] = {}
    dgm = nb.get("metadata", {}).get("dgm")
    if isinstance(dgm, dict) and dgm.get("lab") in LABS:
        evidence["metadata"] = dgm["lab"]
    counts: dict[str, int] = {}
    for cell in nb.get("cells", []):
        q = _question(cell)
        if q and q.split(".")[0] in _LAB_BY_NUMBER:
            lab = _LAB_BY_NUMBER[q.split(".")[0]]
            counts[lab] = counts.get(lab, 0) + 1
    if counts:
        evidence["questions"] = max(sorted(counts), key=counts.get)
    if path is not None:
        name = Path(path).name.lower()
        named = [lab for lab in LABS if lab in name]
        found = re.search(r"lab[ _-]?([123])", name)
        if named:
            evidence["file name"] = named[0]
        elif found:
            evidence["file name"] = _LAB_BY_NUMBER[found.group(1)]
    return evidence


def identify_lab(nb, path: str | os.PathLike | None = None) -> str | None:
    """Which lab ``nb`` answers: notebook metadata ``dgm.lab``, else the majority of its question
    numbers (``1.x`` -> lab1_vae ...), else a lab name or ``labN`` in the file name; None if none."""
    evidence = lab_evidence(nb, path)
    for source in ("metadata", "questions", "file name"):
        if source in evidence:
            return evidence[source]
    return None


def lab_disagreement(nb, path: str | os.PathLike | None = None) -> str | None:
    """A sentence naming the sources that disagree about the lab (``None`` when they agree)."""
    evidence = lab_evidence(nb, path)
    if len(set(evidence.values())) <= 1:
        return None
    return "the lab sources disagree: " + ", ".join(f"{source} says {lab}" for source, lab in evidence.items())


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
