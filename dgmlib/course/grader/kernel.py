"""Running one submission in a kernel: its cells top to bottom, then the lab's hidden checks.

The kernel's working directory is a temporary folder holding a copy of the notebook (the
submission file itself is only read), with ``DGMLIB_FAST=1`` (short trainings), no progress bars,
errors allowed, a time limit per cell (an endless cell is interrupted and the next one runs) and
one for the whole notebook (later cells are skipped). At most ``MAX_OUTPUT_CHARS`` of output per
cell is kept. A cell that kills the kernel is skipped in a fresh kernel (``MAX_RESTARTS`` times).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["MAX_OUTPUT_CHARS", "MAX_RESTARTS", "run_submission"]

MAX_OUTPUT_CHARS = 20_000  # per cell; the rest is dropped
MAX_RESTARTS = 2  # fresh kernels after a cell that kills one


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


def run_submission(nb, path, lab, result, timeout_cell, timeout_notebook, timeout_scale):
    """Run the cells, then the checks, in one kernel; return (check records, reason for missing ones).

    Sets ``result["status"]`` and ``result["cell_errors"]``. A cell that kills the kernel
    (``os._exit``, ``exit()``, out of memory) is noted and skipped: the notebook runs again in a fresh
    kernel without it (at most ``MAX_RESTARTS`` times).
    """
    from nbclient.exceptions import DeadKernelError

    killers: list[int] = []
    with tempfile.TemporaryDirectory(prefix="dgm-grade-") as tmp:
        shutil.copyfile(path, Path(tmp) / "submission.ipynb")
        results_file = Path(tmp) / ".dgm_checks.json"
        for _ in range(MAX_RESTARTS + 1):
            errors: list[str] = []
            try:
                reason = _attempt(copy.deepcopy(nb), lab, tmp, results_file, killers, errors, result,
                                  (timeout_cell, timeout_notebook, timeout_scale))
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
        return _read_checks(results_file), reason


def _read_checks(results_file: Path) -> list[dict]:
    if not results_file.exists():
        return []
    try:
        return json.loads(results_file.read_text())
    except ValueError:
        return []


def _attempt(nb, lab, tmp, results_file, skip, errors, result, timeouts):
    """One attempt: a fresh kernel runs the cells (but ``skip``), then the checks; returns the reason
    for checks that did not finish. A DeadKernelError leaves with the cell index as ``dgm_cell``."""
    timeout_cell, timeout_notebook, timeout_scale = timeouts
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = _client_class()(
        nb, timeout=int(timeout_cell), kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
        error_on_timeout={"ename": "Timeout", "evalue": "the cell ran too long and was stopped", "traceback": []},
        record_timing=False, resources={"metadata": {"path": tmp}}, startup_timeout=120,
    )
    with client.setup_kernel(env=_kernel_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
        _run_cells(client, nb, skip, errors, result, timeout_cell, timeout_notebook)
        return _run_checks_cell(client, nb, lab, results_file, result, timeout_scale)


def _run_cells(client, nb, skip, errors, result, timeout_cell, timeout_notebook):
    """Execute the code cells in order (but ``skip``), noting errors and time limits in ``errors``."""
    from nbclient.exceptions import DeadKernelError

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


def _run_checks_cell(client, nb, lab, results_file, result, timeout_scale) -> str:
    """Append and run the cell that calls :func:`dgmlib.course.checks.run_checks`; the reason for
    the checks that did not finish."""
    import nbformat
    from nbclient.exceptions import DeadKernelError

    from ..checks import PREPARE_SECONDS, load_lab

    client.timeout = int(sum(c.timeout for c in load_lab(lab).CHECKS) * timeout_scale + PREPARE_SECONDS)
    grading = nbformat.v4.new_code_cell(
        "import dgmlib.course.checks as _dgm_checks\n"
        f"_dgm_checks.run_checks({lab!r}, globals(), {str(results_file)!r}, timeout_scale={timeout_scale!r})"
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
