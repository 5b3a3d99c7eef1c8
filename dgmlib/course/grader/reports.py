"""What the grader writes: the report a student reads, the gradebook CSV, the written answers."""

from __future__ import annotations

import csv
import os
from pathlib import Path

__all__ = ["format_report", "write_gradebook", "write_written_answers"]


def points_text(x: float) -> str:
    """Points as the reports print them: ``3``, ``0.5``."""
    return f"{x:g}"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(text: str) -> str:
    """A name or status fit for one line: control characters (newlines, tabs) become spaces."""
    return "".join(" " if ch < " " or ch == "\x7f" else ch for ch in str(text))


def csv_cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: one line, and a leading ``'`` where it would read a formula
    (a cell starting with ``=``, ``+``, ``-`` or ``@``: the OWASP advice against CSV injection)."""
    text = str(text)
    one_line = safe_text(text)
    return "'" + one_line if text.startswith(_FORMULA_START) or one_line.startswith(_FORMULA_START) else one_line


def _question_key(q: str):
    return tuple(int(p) if p.isdigit() else 0 for p in q.split("."))


def format_report(result: dict) -> str:
    """The text a student reads: per question the points and, for each lost point, what to fix."""
    pts = points_text
    lines = [f"== {safe_text(result['submission'])}  ({safe_text(result['lab'] or 'unknown lab')})  "
             f"{pts(result['total'])} / {pts(result['max'])} points"]
    if result["status"] != "ok":
        lines.append(f"   status: {result['status']}")
    for q, info in result["questions"].items():
        head = f"   Question {q:<5} {pts(info['points']):>4} / {pts(info['max'])}"
        lost = [c for c in info["checks"] if c["points"] < c["max"]]
        if lost and len(lost) == len(info["checks"]) and len({c["feedback"] for c in lost}) == 1:
            lines.append(f"{head}   {lost[0]['feedback']}")  # one reason for the whole question
            continue
        lines.append(head)
        for c in lost:
            lines.append(f"      - {c['check']} ({pts(c['points'])}/{pts(c['max'])}): {c['feedback']}")
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
            row = [csv_cell(name if names.count(name) == 1 else r["submission"]), csv_cell(r["lab"] or "")]
            row += [points_text(r["questions"][q]["points"]) if q in r["questions"] else "" for q in qs]
            row += [points_text(r["total"]), points_text(r["max"]), csv_cell(r["status"])]
            writer.writerow(row + [""] * len(ws))  # the written answers' points, for the instructor to fill in
    return path


def write_written_answers(results: list[dict], path: str | os.PathLike) -> Path:
    """Markdown: for each submission, each written question and the student's text, to grade by hand."""
    out = ["# Written answers to grade by hand", ""]
    for r in results:
        out += [f"## {safe_text(Path(r['submission']).name)} ({safe_text(r['lab'] or 'unknown lab')})", ""]
        if not r["written"]:
            out += ["(no written answers found)", ""]
        for w in r["written"]:
            out += [f"### Question {w['question']}" + ("" if w["answered"] else " (not answered)"), ""]
            out += ["> " + line if line else ">" for line in w["text"].strip().splitlines()] + [""]
    path = Path(path)
    path.write_text("\n".join(out), encoding="utf-8")
    return path
