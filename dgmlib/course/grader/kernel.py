"""Running one submission: its cells in a (sandboxed) kernel, then each question's probes; judged here.

The kernel's working directory is a private folder holding a copy of the notebook (the submission
file itself is only read), with ``DGMLIB_FAST=1``, no progress bars, errors allowed, a time limit
per cell (an endless cell is interrupted and the next one runs; one that ignores the interrupt is
killed with its kernel and skipped in a fresh one) and one for the whole notebook (later cells are
skipped). ``exit()``/``quit()`` raise in the cell that calls them instead of ending the kernel. At
most ``MAX_OUTPUT_CHARS`` of output per cell is kept. A cell that kills the kernel is skipped in a
fresh kernel (``MAX_RESTARTS`` times).

Then, one question at a time, the grader writes the inputs of the question's checks to a file, runs
the question's probes in the kernel (:func:`dgmlib.course.checks.question_cell`), reads what they
returned with ``torch.load(weights_only=True)`` and judges it in this process. A question whose
probes kill the kernel or outlast their time limit (the kernel is then killed) scores 0 with the
reason, and the next questions run in a fresh kernel (the cells again, their errors not reported twice).
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import time
from pathlib import Path

__all__ = ["MAX_OUTPUT_CHARS", "MAX_RESTARTS", "MAX_OUTPUT_FILE", "run_submission"]

MAX_OUTPUT_CHARS = 20_000  # per cell; the rest is dropped
MAX_RESTARTS = 3  # fresh kernels after a cell that kills one (then one more with only the question cells)
MAX_OUTPUT_FILE = 256 * 2**20  # bytes of probe outputs read back per question
INTERRUPT_GRACE = 10  # seconds a cell has to stop after the interrupt before its kernel is killed
REFERENCE_ERROR = "ReferenceUnavailable"
PREAMBLE = """\
def _dgm_no_exit(*args, **kwargs):
    raise SystemExit("exit() and quit() are disabled while grading")
exit = quit = _dgm_no_exit
import builtins as _dgm_builtins
_dgm_builtins.exit = _dgm_builtins.quit = _dgm_no_exit
get_ipython().ask_exit = _dgm_no_exit
del _dgm_builtins"""


class KernelLost(Exception):
    """The kernel died or was killed: ``cell`` (an index) or ``question`` says where."""

    def __init__(self, reason, cell=None, question=None):
        super().__init__(reason)
        self.reason, self.cell, self.question = reason, cell, question


def _kernel_env(home: str) -> dict:
    env = {"DGMLIB_FAST": "1", "TQDM_DISABLE": "1", "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "HOME": home,
           "MPLCONFIGDIR": f"{home}/.matplotlib", "IPYTHONDIR": f"{home}/.ipython",
           "JUPYTER_RUNTIME_DIR": f"{home}/.runtime", "PYTHONDONTWRITEBYTECODE": "1",
           "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    if os.environ.get("DGMLIB_DATA"):
        env["DGMLIB_DATA"] = os.environ["DGMLIB_DATA"]
    return env


def _font_cache(home: Path) -> None:
    """Matplotlib's font list, copied into the private HOME (building it costs seconds per kernel)."""
    for folder in (os.environ.get("MPLCONFIGDIR"), Path.home() / ".cache" / "matplotlib"):
        if folder and Path(folder).is_dir():
            for f in Path(folder).glob("fontlist-*.json"):
                (home / ".matplotlib").mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, home / ".matplotlib" / f.name)
            return


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


class _Run:
    """One submission's run: its work folder, the kernels it starts, what it has learnt so far."""

    def __init__(self, nb, lab, result, timeouts, sandbox):
        self.nb, self.lab, self.result, self.sandbox = nb, lab, result, sandbox
        self.timeout_cell, self.timeout_notebook, self.timeout_scale = timeouts
        self.killers: dict[int, str] = {}  # cells skipped in later kernels, and why
        self.errors: list[str] | None = None  # the cells' errors, from the first kernel that ran them all
        self.references = 0  # cells stopped by a reference stub
        self.questions_only = False  # after MAX_RESTARTS killers: only the first code cell and the question cells
        self.overrides: dict[str, str] = {}  # the poisoned copies of the reference modules (sandbox only)

    # -- kernels -----------------------------------------------------------------------------

    def _manager(self, workdir: Path):
        from jupyter_client import AsyncKernelManager as KernelManager

        home = workdir / "home"
        home.mkdir(exist_ok=True)
        _font_cache(home)
        env = _kernel_env(str(home))
        if self.sandbox is None:
            km = KernelManager(kernel_name="python3")
            return km, {**os.environ, **env}
        from jupyter_client.kernelspec import KernelSpec

        from .sandbox import sandbox_command

        conn = workdir / "kernel.json"
        km = KernelManager(kernel_name="python3", transport="ipc", ip=str(workdir / "ipc"), connection_file=str(conn))
        km.write_connection_file()
        argv = ["-m", "ipykernel_launcher", "-f", str(conn), "--HistoryManager.enabled=False"]
        cmd, uid = sandbox_command(argv, str(workdir), env, self.overrides, self.sandbox["limits"])
        if uid is not None:
            for p in [workdir, *workdir.rglob("*")]:
                os.chown(p, uid, uid, follow_symlinks=False)
        km._kernel_spec = KernelSpec(argv=cmd, display_name="sandboxed python3", language="python",
                                     interrupt_mode="message", env={})
        return km, {}

    def _client(self, nb, workdir: Path):
        km, env = self._manager(workdir)
        client = _client_class()(
            nb, km=km, timeout=int(self.timeout_cell), kernel_name="python3", allow_errors=True,
            interrupt_on_timeout=True, shutdown_kernel="graceful",
            error_on_timeout={"ename": "Timeout", "evalue": "the cell ran too long and was stopped", "traceback": []},
            record_timing=False, resources={"metadata": {"path": str(workdir)}}, startup_timeout=120,
        )
        return client, env

    # -- cells -------------------------------------------------------------------------------

    def _execute(self, client, cell, index, timeout, interrupt=True):
        """Run ``cell`` (``index`` None: one of the grader's, appended to the notebook) within ``timeout``."""
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        if index is None:
            client.nb.cells.append(cell)
            index = len(client.nb.cells) - 1
        client.timeout, client.interrupt_on_timeout = int(max(1, timeout)), interrupt
        try:
            client.execute_cell(cell, index)
        except DeadKernelError as err:
            raise KernelLost("the kernel died", cell=index) from err
        except CellTimeoutError as err:
            raise KernelLost("the kernel did not stop", cell=index) from err

    def _alive_after_interrupt(self, client, index):
        """After an interrupted cell: the kernel must answer again within the grace, else it is lost."""
        import nbformat

        try:
            self._execute(client, nbformat.v4.new_code_cell("pass"), None, INTERRUPT_GRACE, interrupt=False)
        except KernelLost as err:
            raise KernelLost(err.reason, cell=index) from err

    def run_cells(self, client, nb):
        import nbformat

        errors, references, cells = [], 0, list(nb.cells)  # the notebook's own cells, not the grader's
        try:
            self._execute(client, nbformat.v4.new_code_cell(PREAMBLE), None, 60, interrupt=False)
        except KernelLost as err:
            raise KernelLost(err.reason) from err
        deadline = time.monotonic() + self.timeout_notebook
        first = next((i for i, c in enumerate(cells) if c.cell_type == "code"), None)
        for index, cell in enumerate(cells):
            if cell.cell_type != "code" or not cell.source.strip() or index in self.killers:
                continue
            if self.questions_only and index != first and not (cell.metadata.get("dgm") or {}).get("question"):
                continue
            left = deadline - time.monotonic()
            if left < 1:
                errors.append(f"notebook time limit ({self.timeout_notebook:.0f} s) reached: cell {index + 1} "
                              "and later cells were not run")
                self.result["status"] = "notebook time limit reached"
                break
            timeout = int(max(1, min(self.timeout_cell, left)))
            began = time.monotonic()
            self._execute(client, cell, index, timeout)
            error = next((o for o in cell.outputs if o.get("output_type") == "error"), None)
            if time.monotonic() - began >= timeout:
                self._alive_after_interrupt(client, index)
                errors.append(f"cell {index + 1} ran longer than {timeout} s and was stopped")
            elif error and error.get("ename") == REFERENCE_ERROR:
                references += 1
            elif error:
                evalue = str(error.get("evalue", "")).strip()[:200]
                errors.append(f"cell {index + 1} raised {error.get('ename')}: {evalue}")
        if self.errors is None:
            self.errors, self.references = errors, references

    # -- questions ---------------------------------------------------------------------------

    def run_question(self, client, workdir: Path, q: str, number: int) -> list[dict]:
        import nbformat
        import torch

        from ..checks import judge_question, question_cell, question_inputs, question_limit

        inputs = question_inputs(self.lab, q)
        in_path, out_path = workdir / f"in_{number}.pt", workdir / f"out_{number}.pt"
        torch.save(inputs, in_path)
        os.chmod(in_path, 0o644)
        cell = nbformat.v4.new_code_cell(question_cell(self.lab, q, str(in_path), str(out_path), self.timeout_scale))
        limit = question_limit(self.lab, q, self.timeout_scale)
        try:
            self._execute(client, cell, None, limit, interrupt=False)
        except KernelLost as err:
            why = "died" if err.reason == "the kernel died" else f"ran past {limit:.0f} s and was killed"
            raise KernelLost(f"not graded: the kernel {why} during question {q}'s checks "
                             "(out of memory, an exit, or code that ignores the time limit)", question=q) from err
        return judge_question(self.lab, q, _read_outputs(out_path), inputs)

    def attempt(self, workdir: Path, pending: list[str], records: dict) -> None:
        """One fresh kernel: the cells, then the pending questions in order (each removed when judged)."""
        nb = copy.deepcopy(self.nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        client, env = self._client(nb, workdir)
        km, launched = client.km, []
        try:
            with client.setup_kernel(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cleanup_kc=True):
                launched.append(getattr(km.provisioner, "process", None))
                self.run_cells(client, nb)
                number = len(records)
                while pending:
                    q = pending[0]
                    records[q] = self.run_question(client, workdir, q, number)
                    number += 1
                    pending.pop(0)
        finally:  # the kernel (with the sandbox: bwrap, and so its whole PID namespace) never outlives its attempt
            for process in launched:
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait()


def _read_outputs(path: Path):
    import torch

    if not path.exists() or path.stat().st_size > MAX_OUTPUT_FILE:
        return {}
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except Exception:  # a file the kernel scribbled over: no outputs
        return {}


def run_submission(nb, path, lab, result, timeout_cell, timeout_notebook, timeout_scale, sandbox=None):
    """Run the cells, then each question's probes, judged here; return the check records.

    ``sandbox``: None (the kernel runs as the grader, unconfined) or ``{"api", "limits"}``: the library
    functions to replace by stubs (written for this submission into a folder outside its work folder,
    removed at the end) and the limits of :func:`dgmlib.course.grader.sandbox.sandbox_command`. Sets ``result["status"]`` and ``result["cell_errors"]``.
    """
    from ..checks import questions, unjudged
    from .sandbox import poisoned_modules, private_workdir

    run = _Run(nb, lab, result, (timeout_cell, timeout_notebook, timeout_scale), sandbox)
    pending, records, lost = list(questions(lab)), {}, []
    workdir, references = Path(private_workdir()), Path(private_workdir())
    try:
        shutil.copyfile(path, workdir / "submission.ipynb")
        if sandbox is not None:  # read-only for the sandbox, and not under the folder it may write
            os.chmod(references, 0o755)
            run.overrides = poisoned_modules(sandbox["api"], references)
            for poisoned in run.overrides.values():
                os.chmod(poisoned, 0o644)
        for _ in range(MAX_RESTARTS + len(pending) + 2):
            if not pending:
                break
            try:
                run.attempt(workdir, pending, records)
            except KernelLost as err:
                if err.question is not None:  # this question scores 0; the next ones in a fresh kernel
                    records[err.question] = unjudged(lab, err.question, err.reason)
                    lost.append(err.question)
                    pending.remove(err.question)
                elif err.cell is not None and (len(run.killers) < MAX_RESTARTS or not run.questions_only):
                    run.questions_only = len(run.killers) >= MAX_RESTARTS
                    run.killers[err.cell] = ("killed the kernel" if err.reason == "the kernel died"
                                             else "ignored the interrupt at its time limit, and its kernel was killed")
                else:
                    reason = "not graded: the kernel died (out of memory, or the notebook exits the interpreter)"
                    result["status"] = "kernel died"
                    break
            except Exception as err:  # the kernel did not start, or the client broke down
                reason = f"not graded: {type(err).__name__}: {str(err)[:200]}"
                result["status"] = f"error: {type(err).__name__}"
                break
        else:
            reason = "not graded"
        for q in pending:
            records[q] = unjudged(lab, q, reason)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(references, ignore_errors=True)
    errors = [f"cell {i + 1} {why}; it was skipped in a fresh kernel" for i, why in run.killers.items()]
    if run.questions_only:
        errors.append(f"{MAX_RESTARTS + 1} cells killed the kernel: the last kernel ran only the first code cell and "
                      "the question cells")
    errors += run.errors or []
    if run.references:
        errors.append(f"{run.references} cell(s) called the course's reference implementations, which are not "
                      "available while grading (those cells were stopped there; they are not graded)")
    result["cell_errors"] = errors
    return [r for q in questions(lab) for r in records.get(q, [])]
