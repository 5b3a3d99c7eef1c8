"""Student versions of the labs, generated from the instructor notebooks in ``solutions/``.

    python -m dgmlib.course make-labs           # write labs/*.ipynb from solutions/*.ipynb
    python -m dgmlib.course make-labs --check   # exit 1 when labs/ is out of date

A solution region becomes a stub, everything else is copied unchanged:

- code: the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` (markers included, each on
  its own line, any indentation) become one line at the marker's indentation,
  ``raise NotImplementedError("Question 1.5: write your code here")``;
- Markdown: ``<!-- BEGIN SOLUTION -->`` ... ``<!-- END SOLUTION -->`` becomes ``YOUR ANSWER HERE``.

The question number comes from the cell metadata ``{"dgm": {"question": "1.5"}}``. Outputs and
execution counts are cleared; cell and notebook metadata (``dgm`` included) are kept. The JSON is
written the way ``nbformat`` writes it (sorted keys, indent 1, source split in lines), so the same
solutions always give the same bytes and a test can compare ``labs/`` with a fresh generation.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from .course_map import ROOT

__all__ = [
    "CODE_STUB", "ANSWER_STUB", "stub_code", "stub_markdown", "make_lab", "lab_text",
    "make_labs", "stale_labs",
]

CODE_STUB = 'raise NotImplementedError("Question {question}: write your code here")'
ANSWER_STUB = "YOUR ANSWER HERE"

_BEGIN_CODE = re.compile(r"^([ \t]*)### BEGIN SOLUTION[ \t]*$")
_END_CODE = re.compile(r"^[ \t]*### END SOLUTION[ \t]*$")
_MD_REGION = re.compile(r"<!--\s*BEGIN SOLUTION\s*-->.*?<!--\s*END SOLUTION\s*-->", re.DOTALL)
_MD_MARKER = re.compile(r"<!--\s*(BEGIN|END) SOLUTION\s*-->")


def _line_body(line: str) -> tuple[str, str]:
    """Split a line into its text and its line ending ('' for the last line without one)."""
    body = line.rstrip("\r\n")
    return body, line[len(body):]


def stub_code(source: str, question: str | None = None) -> str:
    """Replace every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region of ``source`` by a stub.

    The stub is one line, at the BEGIN marker's indentation, that raises ``NotImplementedError``
    naming the question. Raises ValueError for an unbalanced or nested marker.
    """
    if not isinstance(source, str):
        raise TypeError(f"source must be a str, got {type(source).__name__}")
    label = question if question else "?"
    out: list[str] = []
    indent: str | None = None  # inside a region: the BEGIN marker's indentation
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        body, ending = _line_body(line)
        begin = _BEGIN_CODE.match(body)
        if begin:
            if indent is not None:
                raise ValueError(f"question {label}: nested '### BEGIN SOLUTION' on line {number}")
            indent = begin.group(1)
        elif _END_CODE.match(body):
            if indent is None:
                raise ValueError(f"question {label}: '### END SOLUTION' without BEGIN on line {number}")
            out.append(indent + CODE_STUB.format(question=label) + ending)
            indent = None
        elif indent is None:
            out.append(line)
    if indent is not None:
        raise ValueError(f"question {label}: '### BEGIN SOLUTION' without a matching '### END SOLUTION'")
    return "".join(out)


def stub_markdown(source: str, question: str | None = None) -> str:
    """Replace every ``<!-- BEGIN SOLUTION -->`` ... ``<!-- END SOLUTION -->`` region by YOUR ANSWER HERE."""
    if not isinstance(source, str):
        raise TypeError(f"source must be a str, got {type(source).__name__}")
    stubbed = _MD_REGION.sub(ANSWER_STUB, source)
    if _MD_MARKER.search(stubbed):
        raise ValueError(f"question {question or '?'}: unbalanced '<!-- BEGIN/END SOLUTION -->' marker in Markdown")
    return stubbed


def _source_text(source) -> str:
    return "".join(source) if isinstance(source, list) else source


def _same_form(text: str, like):
    """Store ``text`` as the original was stored: a list of lines (nbformat's way) or one string."""
    return text.splitlines(keepends=True) if isinstance(like, list) else text


def make_lab(solution_nb: dict) -> dict:
    """The student version of a solution notebook (a dict as read by ``json``); the input is not changed."""
    if not isinstance(solution_nb, dict) or not isinstance(solution_nb.get("cells"), list):
        raise TypeError("solution_nb must be a notebook dict with a 'cells' list (json.load of an .ipynb)")
    lab = copy.deepcopy(solution_nb)
    for cell in lab["cells"]:
        question = (cell.get("metadata", {}).get("dgm") or {}).get("question")
        text = _source_text(cell.get("source", ""))
        if cell.get("cell_type") == "code":
            cell["source"] = _same_form(stub_code(text, question), cell.get("source", ""))
            cell["outputs"] = []
            cell["execution_count"] = None
        elif cell.get("cell_type") == "markdown":
            cell["source"] = _same_form(stub_markdown(text, question), cell.get("source", ""))
    return lab


def _dumps(nb: dict) -> str:
    """JSON as nbformat writes it: sorted keys, indent 1, non-ASCII kept, a final newline."""
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def lab_text(solution_path: str | Path) -> str:
    """The exact text of the lab generated from the solution notebook at ``solution_path``."""
    with open(solution_path, encoding="utf-8") as f:
        return _dumps(make_lab(json.load(f)))


def _pairs(src: Path, dst: Path) -> list[tuple[Path, Path]]:
    if not src.is_dir():
        raise ValueError(f"src must be a folder of solution notebooks, got {src}")
    return [(p, dst / p.name) for p in sorted(src.glob("*.ipynb"))]


def make_labs(src: str | Path = ROOT / "solutions", dst: str | Path = ROOT / "labs") -> list[Path]:
    """Write ``dst/NAME.ipynb`` for every ``src/NAME.ipynb``; return the paths written."""
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for solution, lab in _pairs(src, dst):
        lab.write_text(lab_text(solution), encoding="utf-8")
        written.append(lab)
    return written


def stale_labs(src: str | Path = ROOT / "solutions", dst: str | Path = ROOT / "labs") -> list[str]:
    """Names of the labs that differ from a fresh generation (missing, changed, or without a solution)."""
    src, dst = Path(src), Path(dst)
    stale = []
    for solution, lab in _pairs(src, dst):
        if not lab.exists() or lab.read_text(encoding="utf-8") != lab_text(solution):
            stale.append(lab.name)
    if dst.is_dir():
        stale += sorted(p.name for p in dst.glob("*.ipynb") if not (src / p.name).exists())
    return stale
