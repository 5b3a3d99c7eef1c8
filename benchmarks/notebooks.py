"""Section 5: the whole course, each notebook's wall time in the full run and under test.

``under test``: the notebook executed by nbclient in a fresh kernel with ``DGMLIB_FAST=1`` (what
``make test`` runs, without nbval's output comparison). ``full``: executed without it (what
``make notebooks`` runs). Notebooks are executed in memory; nothing is written back. Full-run
times are slow to get, so by default they are read from ``<machine>-notebooks-full.json`` next to
the results when an earlier ``--notebooks full`` run recorded them.
"""

from __future__ import annotations

import json
from pathlib import Path

from dgmlib.course.notebooks import execute_notebook

ROOT = Path(__file__).resolve().parent.parent


def notebook_paths() -> list[Path]:
    return sorted(p for d in ("lectures", "solutions") for p in (ROOT / d).glob("*.ipynb"))


def execute(nb, cwd: Path, fast: bool, timeout: int = 1800) -> float:
    """Run a notebook object in a fresh kernel; return the wall time (kernel start included)."""
    return execute_notebook(nb, cwd, fast=fast, timeout=timeout)


def tiny_check() -> list[dict]:
    """The --quick stand-in: one two-cell notebook through the same code path (kernel start + run)."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import dgmlib"),
                                         nbformat.v4.new_code_cell("print(dgmlib.budget(full=1, fast=2))")])
    seconds = execute(nb, ROOT, fast=True, timeout=120)
    printed = nb.cells[1].outputs[0]["text"].strip()
    if printed != "2":
        raise RuntimeError(f"the tiny notebook under DGMLIB_FAST=1 printed {printed!r}, expected '2'")
    return [{"section": "notebooks", "notebook": "(tiny check notebook)", "under_test_s": seconds, "full_s": None}]


def run(mode: str, results_dir: Path, machine: str, log=print) -> list[dict]:
    """mode: ``fast`` (time every notebook under test; full times from the recorded file) or ``full`` (both)."""
    import nbformat

    record = results_dir / f"{machine}-notebooks-full.json"
    recorded = json.loads(record.read_text()) if record.exists() else {}
    rows = []
    for path in notebook_paths():
        rel = str(path.relative_to(ROOT))
        try:
            under_test = execute(nbformat.read(path, as_version=4), path.parent, fast=True)
            full = recorded.get(rel)
            if mode == "full":
                full = execute(nbformat.read(path, as_version=4), path.parent, fast=False)
                recorded[rel] = full
        except Exception as error:  # a failing notebook is a result to report, not a reason to lose the others
            rows.append({"section": "notebooks", "notebook": rel, "under_test_s": None, "full_s": None,
                         "error": f"{type(error).__name__}: {str(error).strip().splitlines()[-1][:200] if str(error).strip() else ''}"})
            log(f"  notebook {rel}: FAILED ({rows[-1]['error']})")
            continue
        rows.append({"section": "notebooks", "notebook": rel, "under_test_s": under_test, "full_s": full})
        log(f"  notebook {rel}: under test {under_test:.1f} s, full " + (f"{full:.1f} s" if full else "not recorded"))
    if mode == "full":
        results_dir.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(recorded, indent=1) + "\n")
    ok = [r for r in rows if r["under_test_s"] is not None]
    total = {"section": "notebooks", "notebook": f"TOTAL ({len(ok)} of {len(rows)} ran)",
             "under_test_s": sum(r["under_test_s"] for r in ok),
             "full_s": sum(r["full_s"] for r in ok) if ok and all(r["full_s"] for r in ok) else None}
    return rows + [total]
