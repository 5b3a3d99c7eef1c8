"""Running the course's notebooks: the one executor, and the full run that stores their outputs.

``python -m dgmlib.course run-notebooks [PATH...]`` (what ``make notebooks`` calls) executes each
notebook top to bottom in a fresh kernel with the *full* budget (``DGMLIB_FAST`` unset) and no
progress bars, and writes it back with its outputs, so notebooks read well on GitHub and nbval has
outputs to compare. The benchmarks time the notebooks with the same :func:`execute_notebook`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["execute_notebook", "run_notebook", "notebook_paths"]

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def execute_notebook(nb, cwd, fast: bool = False, timeout: int = 1800, *, allow_errors: bool = False,
                     env: dict[str, str | None] | None = None) -> float:
    """Execute a notebook object in place in a fresh ``python3`` kernel run in ``cwd``.

    ``fast``: set ``DGMLIB_FAST=1`` (the test run) or unset it (the full run). Progress bars are
    off (``TQDM_DISABLE=1``). ``env``: more variables for the kernel (``None`` unsets one).
    ``allow_errors``: keep going past a cell that raises (its error stays in its outputs). The
    environment is restored afterwards. Returns the wall time in seconds, kernel start included.
    """
    from nbclient import NotebookClient

    # no progress bars in stored outputs; training is never switched off unless env asks for it
    values = {"DGMLIB_FAST": "1" if fast else None, "TQDM_DISABLE": "1", "DGMLIB_NO_TRAIN": None, **(env or {})}
    saved = {k: os.environ.get(k) for k in values}
    _set_environment(values)
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}},
                       record_timing=False, allow_errors=allow_errors).execute()
    finally:
        _set_environment(saved)
    return time.perf_counter() - start


def _set_environment(values: dict[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def run_notebook(path: str | os.PathLike, timeout: int = 1800) -> float:
    """Execute one notebook in place with the full budget; return the wall time in seconds."""
    import nbformat

    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    elapsed = execute_notebook(nb, path.parent, fast=False, timeout=timeout)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return elapsed


def notebook_paths(paths: list[str]) -> list[Path]:
    """The notebooks named by ``paths`` (files, or folders: their ``*.ipynb``, sorted); default
    ``lectures/`` and ``solutions/``. Raises ValueError for a path that is neither."""
    if not paths:
        paths = ["lectures", "solutions"]
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(q for q in p.glob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
        elif p.suffix == ".ipynb" and p.exists():
            found.append(p)
        else:
            raise ValueError(f"not a notebook or folder of notebooks: {p}")
    return found
