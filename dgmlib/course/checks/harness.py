"""The part of the grading that runs inside the submission's kernel: probes, and nothing that judges.

The grader sends this file's text, with the probes of one question and their stand-ins, into the
kernel as one cell; :func:`run_probes` calls each probe on the inputs the grader wrote to a file,
under a time limit, from a fixed seed, with the student's prints swallowed, and writes each probe's
outputs (tensors, numbers, strings: ``torch.save``) or the error it met to another file. The grader
reads that file with ``torch.load(weights_only=True)`` and judges it in its own process: nothing
written here can set a verdict or points. This file imports nothing of the course (it must not: the
hidden checks and the references are not in the sandbox).
"""

import contextlib
import io
import signal
import traceback

import torch

EXIT_TYPES = (SystemExit,)


class ProbeTimeout(BaseException):
    """Raised by the alarm; a BaseException, so that ``except Exception`` in student code cannot swallow it."""


class _Sink(io.TextIOBase):
    def writable(self):
        return True

    def write(self, s):
        return len(s)


@contextlib.contextmanager
def _time_limit(seconds):
    def alarm(signum, frame):
        raise ProbeTimeout()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)  # and again every second, should the code swallow it
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _plain(value, depth=0):
    """What may leave the kernel: plain tensors (a copy, no subclass, no graph), numbers, strings, and
    lists/tuples/dicts of them; anything else becomes ``{"__type__": its type name}``."""
    if depth > 6:
        return {"__type__": "nested too deep"}
    if torch.is_tensor(value):
        return value.detach().cpu().as_subclass(torch.Tensor).clone()
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) in (list, tuple):
        return type(value)(_plain(v, depth + 1) for v in list(value)[:10_000])
    if type(value) is dict:
        return {str(k): _plain(v, depth + 1) for k, v in list(value.items())[:1000]}
    return {"__type__": type(value).__name__}


def _where(err):
    cells = [f for f in traceback.extract_tb(err.__traceback__)
             if "ipykernel_" in f.filename or f.filename.startswith("<")]
    return f" (line {cells[-1].lineno} of the cell defining it)" if cells else ""


def _error(err):
    kind = type(err).__name__
    if kind == "ReferenceUnavailable":
        return {"error": "reference", "message": str(err)[:400]}
    if isinstance(err, NotImplementedError):
        return {"error": "not_implemented"}
    if isinstance(err, EXIT_TYPES):
        return {"error": "exit"}
    first = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
    return {"error": "raised", "message": f"raised {kind}: {first}{_where(err)}"}


def _one(ns, probe, inputs, spec, stand_ins):
    for name in spec["needs"]:
        if name not in ns:
            return {"error": "missing", "name": name}
    missing = object()
    saved = {name: ns.get(name, missing) for name in stand_ins}
    try:
        ns.update(stand_ins)
        torch.manual_seed(spec["seed"])
        with torch.enable_grad(), contextlib.redirect_stdout(_Sink()), contextlib.redirect_stderr(_Sink()), \
                _time_limit(spec["limit"]):
            out = probe(ns, inputs)
        return {"ok": _plain(out)}
    except ProbeTimeout:
        return {"error": "timeout", "limit": spec["limit"]}
    except BaseException as err:  # the student's code raised (or exited): say what, briefly
        if isinstance(err, KeyboardInterrupt):
            return {"error": "interrupted"}
        return _error(err)
    finally:
        for name, value in saved.items():
            if value is missing:
                ns.pop(name, None)
            else:
                ns[name] = value


def run_probes(ns, probes, specs, in_path, out_path):
    """Run ``specs`` (``[{id, probe, needs, isolate, seed, limit}]``) against the notebook globals ``ns``;
    ``probes``: the namespace the probes were defined in. The outputs go to ``out_path`` after every probe."""
    inputs = torch.load(in_path, weights_only=True)
    results = {}
    timed_out = False
    for spec in specs:
        if timed_out:
            results[spec["id"]] = {"error": "skipped"}
        else:
            stand_ins = {name: probes[fn] for name, fn in spec["isolate"].items()}
            results[spec["id"]] = _one(ns, probes[spec["probe"]], inputs.get(spec["id"], {}), spec, stand_ins)
            timed_out = results[spec["id"]].get("error") == "timeout"
        torch.save(results, out_path)
    return len(results)
