"""What grading costs: one submission's CPU time, and a class graded in parallel, both sandboxed.

    OMP_NUM_THREADS=1 python -m benchmarks.grading [--class-size 30] [--jobs 2] [--no-class]

1. Each lab's solution graded alone (``python -m dgmlib.course grade``, a subprocess): wall time and
   CPU time of the grader, its kernels and sandboxes together (every process of the run, sampled
   from /proc every 0.2 s: a kernel in its PID namespace is not waited for by the grader, so
   ``RUSAGE_CHILDREN`` would miss it). Goal: under 60 s of CPU each.
2. A class of ``--class-size`` submissions (the three labs in turn; per lab, four in five are the
   solution and one the untouched lab) graded with ``--jobs``: the wall time. Goal, 30 on 2 cores:
   under 15 minutes.

Prints a Markdown table; the grader runs under test settings (its kernels get ``DGMLIB_FAST=1``).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
LABS = ("lab1_vae", "lab2_gan", "lab3_flows")


def _cpu_seconds(pids: dict[int, float], root: int) -> None:
    """Record in ``pids`` the CPU seconds (user + system) used so far by ``root`` and its descendants."""
    parent = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(stat.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS)
    family, todo = {root}, [root]
    while todo:
        p = todo.pop()
        for child, (ppid, _) in parent.items():
            if ppid == p and child not in family:
                family.add(child)
                todo.append(child)
    for p in family:
        if p in parent:
            pids[p] = max(pids.get(p, 0.0), parent[p][1])


def _grade(args: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall and CPU seconds of one ``grade`` run (the grader, its workers, sandboxes and kernels: every
    process of the run sampled from /proc every 0.2 s), and its stdout."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen([sys.executable, "-m", "dgmlib.course", "grade", *args], cwd=cwd, env=env,
                                stdout=out, stderr=subprocess.DEVNULL, text=True)
        pids: dict[int, float] = {}
        while proc.poll() is None:
            _cpu_seconds(pids, proc.pid)
            time.sleep(0.2)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"grade exited with {proc.returncode}")
        out.seek(0)
        return wall, sum(pids.values()), out.read()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--class-size", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-class", action="store_true", help="only the one-submission rows")
    args = parser.parse_args(argv)
    rows = ["| run | submissions | jobs | wall (s) | CPU (s) | points |", "|---|---:|---:|---:|---:|---|"]
    with tempfile.TemporaryDirectory(prefix="dgm-bench-grading-") as tmp:
        tmp = Path(tmp)
        for lab in LABS:
            wall, cpu, out = _grade([str(ROOT / "solutions" / f"{lab}.ipynb"), "--json", str(tmp / "r.json")], tmp)
            points = out.splitlines()[0].rsplit(")", 1)[1].strip()
            rows.append(f"| one submission: solutions/{lab} | 1 | 1 | {wall:.0f} | {cpu:.0f} | {points} |")
            print(rows[-1], flush=True)
        if not args.no_class:
            folder = tmp / "class"
            folder.mkdir()
            for i in range(args.class_size):
                lab = LABS[i % 3]
                source = ROOT / ("labs" if (i // 3) % 5 == 4 else "solutions") / f"{lab}.ipynb"
                (folder / f"student{i:02d}_{lab}.ipynb").write_bytes(source.read_bytes())
            wall, cpu, _ = _grade([str(folder), "--jobs", str(args.jobs), "--csv", str(tmp / "class.csv")], tmp)
            with open(tmp / "class.csv", newline="") as f:
                graded = list(csv.DictReader(f))
            full = sum(row["total"] == row["max"] for row in graded)
            zero = sum(row["total"] == "0" for row in graded)
            rows.append(f"| a class (4/5 solutions, 1/5 untouched) | {args.class_size} | {args.jobs} | {wall:.0f} | "
                        f"{cpu:.0f} | {full} full marks, {zero} zero, {len(graded)} rows |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
