"""One sandbox per submission: bubblewrap (``bwrap``, the sandbox Flatpak uses) around its kernel.

What the kernel sees and may do (:func:`sandbox_command`):

- the system (``/usr``, ``/etc``...), the Python installation, the venv and the ``dgmlib`` package,
  all read-only; ``dgmlib/course`` (the grader, the hidden checks) is not there at all, and the
  library functions that answer a lab question are replaced by stubs that raise
  ``ReferenceUnavailable`` (:func:`poisoned_modules`); ``solutions/``, the other submissions, the
  gradebook: not there;
- one writable folder, its own work folder (a copy of its notebook, its private ``HOME``), and an
  empty private ``/tmp``;
- no network (its own empty network namespace), its own PID namespace (it sees and can signal
  only its own processes), IPC and UTS namespaces, no capabilities;
- limits: address space (``memory``), CPU seconds, file size, open files, no core dumps, a
  512 MiB ``/tmp``, and,
  when the grader runs as root, its own user id (different for every sandbox) with a process
  limit (``RLIMIT_NPROC``, counted per user id);
- ``--die-with-parent``: when the grader kills ``bwrap`` (the end of a submission, a time limit),
  the namespace's first process dies and the kernel takes every process of the namespace with it.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BWRAP", "Limits", "bwrap_path", "sandbox_missing", "poisoned_modules", "sandbox_command"]

BWRAP = "/usr/bin/bwrap"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
HIDDEN_IN_PACKAGE = ("course",)  # dgmlib/course: the grader and its hidden checks


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 8 * 2**30  # RLIMIT_AS: address space (torch alone reserves ~3.5 GB of it)
    cpu_seconds: int = 3600  # RLIMIT_CPU of the kernel (the wall-clock limits come first)
    processes: int = 256  # RLIMIT_NPROC (threads count), with a user id of its own
    file_bytes: int = 256 * 2**20  # RLIMIT_FSIZE: no file bigger than this
    open_files: int = 1024
    tmp_bytes: int = 512 * 2**20  # the private /tmp is memory: its size


def bwrap_path() -> str | None:
    """The bubblewrap binary, or None."""
    return shutil.which("bwrap") or (BWRAP if os.access(BWRAP, os.X_OK) else None)


def sandbox_missing() -> str | None:
    """Why there is no sandbox here (None when there is one)."""
    if sys.platform != "linux":
        return f"the sandbox needs Linux (bubblewrap), this is {sys.platform}"
    bwrap = bwrap_path()
    if bwrap is None:
        return ("bubblewrap (bwrap) is not installed: `apt-get install bubblewrap` (Debian/Ubuntu), or grade with "
                "--no-sandbox (unsafe with untrusted notebooks)")
    return _bwrap_fails(bwrap, os.geteuid() == 0)


@functools.lru_cache(maxsize=4)
def _bwrap_fails(bwrap: str, root: bool) -> str | None:
    """None when ``bwrap`` can build the namespaces the grader needs here (a container may forbid them)."""
    cmd = [bwrap, "--ro-bind", "/", "/", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--die-with-parent",
           "--proc", "/proc", "--dev", "/dev", *([] if root else ["--unshare-user"]), "true"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bubblewrap does not run here ({err})"
    if done.returncode != 0:
        return f"bubblewrap cannot create its namespaces here ({done.stderr.strip()[:200]})"
    return None


_POSTLUDE = '''

# ---- added by the course's grader: this is the sandboxed copy, the references are not here ----
class ReferenceUnavailable(RuntimeError):
    """A graded answer called the course's own implementation of its question."""


def _dgm_unavailable(qualname, question, is_class):
    message = (f"{qualname} is the course's reference answer to question {question}; it cannot be called "
               "while the grader runs a notebook (write your own)")

    def unavailable(*args, **kwargs):
        raise ReferenceUnavailable(message)

    if not is_class:
        unavailable.__name__ = unavailable.__qualname__ = qualname.rsplit(".", 1)[1]
        return unavailable
    return type(qualname.rsplit(".", 1)[1], (), {"__new__": unavailable, "__init__": unavailable,
                                                 "__init_subclass__": classmethod(lambda cls, **kw: None)})

'''


def poisoned_modules(api: dict[str, str], folder: str | os.PathLike) -> dict[str, str]:
    """Write a copy of each module that defines one of ``api`` (``{"dgmlib.gaussian.kl_normal_std": "1.5"}``)
    whose last lines replace those names by stubs that raise ``ReferenceUnavailable`` naming the
    question; return ``{original file: copy}`` (bound over the originals in the sandbox)."""
    by_module: dict[str, list[tuple[str, str]]] = {}
    for qualname, question in api.items():
        module, name = qualname.rsplit(".", 1)
        by_module.setdefault(module, []).append((name, question))
    out = {}
    for module, names in sorted(by_module.items()):
        origin = importlib.util.find_spec(module).origin
        mod = importlib.import_module(module)
        lines = [f"{name} = _dgm_unavailable({module + '.' + name!r}, {question!r}, "
                 f"{inspect.isclass(getattr(mod, name))})" for name, question in names]
        copy = Path(folder) / f"{module}.py"
        source = Path(origin).read_text(encoding="utf-8")
        copy.write_text(source + _POSTLUDE + "\n".join(lines) + "\n", encoding="utf-8")
        out[str(Path(origin).resolve())] = str(copy)
    return out


_LAUNCHER = """
import os, resource, sys
uid, memory, cpu, nproc, fsize, nofile = map(int, sys.argv[1:7])
for limit, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_FSIZE, fsize), (resource.RLIMIT_NOFILE, nofile),
                     (resource.RLIMIT_CORE, 0)):
    resource.setrlimit(limit, (value, value))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
if uid >= 0:
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    os.setgroups([]); os.setgid(uid); os.setuid(uid)
os.execv(sys.executable, [sys.executable] + sys.argv[7:])
"""


def _dirs_for(path: str, made: set) -> list[str]:
    """bwrap arguments creating the parents of ``path`` readable by anyone (bwrap makes them 0700)."""
    args = []
    parts = Path(path).parts
    for i in range(2, len(parts)):
        parent = str(Path(*parts[:i]))
        if parent not in made:
            made.add(parent)
            args += ["--perms", "0755", "--dir", parent]
    return args


def sandbox_command(argv: list[str], workdir: str, env: dict, overrides: dict[str, str],
                    limits: Limits = Limits()) -> tuple[list[str], int | None]:
    """The command that runs ``argv`` (the kernel) in a sandbox whose only writable folder is ``workdir``;
    returns it and the user id the kernel runs as (None when the grader is not root)."""
    import dgmlib

    bwrap = bwrap_path()
    root = os.geteuid() == 0
    uid = 200_000 + secrets.randbelow(800_000) if root else None
    package = str(Path(dgmlib.__file__).resolve().parent)
    python = [str(Path(sys.base_prefix).resolve()), str(Path(sys.prefix).resolve())]
    cmd = [bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net", "--unshare-ipc",
           "--unshare-uts", "--hostname", "sandbox"]
    cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"] if root else ["--unshare-user"]
    for d in SYSTEM_DIRS:
        if os.path.exists(d):
            cmd += ["--ro-bind", d, d] if not os.path.islink(d) else ["--symlink", os.readlink(d), d]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "01777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
    made = {"/tmp"}
    for p in [*python, package]:
        cmd += _dirs_for(p, made) + ["--ro-bind", p, p]
    for hidden in HIDDEN_IN_PACKAGE:
        cmd += ["--tmpfs", os.path.join(package, hidden)]
    for original, copy in overrides.items():
        cmd += ["--ro-bind", copy, original]
    cmd += _dirs_for(workdir, made) + ["--bind", workdir, workdir, "--chdir", workdir, "--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    cmd += [sys.executable, "-c", _LAUNCHER, str(uid if uid is not None else -1), str(limits.memory_bytes),
            str(limits.cpu_seconds), str(limits.processes), str(limits.file_bytes), str(limits.open_files), *argv]
    return cmd, uid


def private_workdir() -> str:
    """A fresh folder for one submission (its copy, its HOME, the kernel's sockets)."""
    return tempfile.mkdtemp(prefix="dgm-grade-")
