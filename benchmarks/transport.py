"""Section 2: optimal transport, dgmlib.divergences against POT and scipy.

1-D: ``wasserstein_1d`` vs ``ot.wasserstein_1d`` and ``scipy.stats.wasserstein_distance`` on two
samples of n points each (N(0, 1) and N(0.5, 1.5^2)). 2-D: ``emd`` vs ``ot.emd2`` (with the
Euclidean cost matrix built by ``ot.dist(..., metric="euclidean")``, as a POT user would) on
two clouds of n points. ``emd`` runs POT's network simplex itself (the fastest exact solver for
dense costs we found: scipy's ``linear_sum_assignment`` and the LAPJV of the ``lap`` package took
10x and 13x longer at n = 2,000), so that row measures dgmlib's overhead around it and is a tie
up to timing noise. Times are medians of interleaved repeats; agreement is the largest relative
difference to the peers' value.

On the CPU ``wasserstein_1d`` takes its sort order from numpy's ``argsort``: ``torch.sort`` took
10 to 30 times longer at 10^5 to 10^6 floats when that choice was made.
"""

from __future__ import annotations

import numpy as np
import torch

from .common import interleaved


def _rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def run(sizes: dict, device: torch.device, log=print) -> list[dict]:
    import ot
    import scipy.stats

    from dgmlib.divergences import emd, wasserstein_1d

    rows = []
    g = np.random.default_rng(0)
    for n in sizes["n_1d"]:
        x_np = g.standard_normal(n)
        y_np = 0.5 + 1.5 * g.standard_normal(n)
        x = torch.as_tensor(x_np, device=device)
        y = torch.as_tensor(y_np, device=device)
        results = {}
        jobs = {
            "dgmlib": lambda: results.__setitem__("dgmlib", float(wasserstein_1d(x, y))),
            "POT": lambda: results.__setitem__("POT", float(ot.wasserstein_1d(x_np, y_np, p=1))),
            "scipy": lambda: results.__setitem__("scipy", float(scipy.stats.wasserstein_distance(x_np, y_np))),
        }
        # millisecond jobs: more rounds, so one slow call (a cold cache, a context switch) does not decide the median
        t = interleaved(jobs, repeats=sizes["repeats"] * (5 if n <= 10**5 else 1), warmup=2, device=device)
        rows.append(_row("wasserstein_1d", "1-D", n, t, results))
        log(f"  transport 1-D n={n:<8d} " + "  ".join(f"{k} {v * 1e3:.3g} ms" for k, v in t.items()))
    for n in sizes["n_2d"]:
        x_np = g.standard_normal((n, 2))
        y_np = g.standard_normal((n, 2)) * np.array([1.5, 0.5]) + np.array([1.0, 0.0])
        x = torch.as_tensor(x_np, device=device)
        y = torch.as_tensor(y_np, device=device)
        w = np.full(n, 1.0 / n)
        results = {}
        jobs = {
            "dgmlib": lambda: results.__setitem__("dgmlib", float(emd(x, y))),
            "POT": lambda: results.__setitem__("POT", float(ot.emd2(w, w, ot.dist(x_np, y_np, metric="euclidean"),
                                                                   numItermax=10**7))),
        }
        t = interleaved(jobs, repeats=sizes["repeats_2d"], device=device)
        rows.append(_row("emd", "2-D", n, t, results))
        log(f"  transport 2-D n={n:<8d} " + "  ".join(f"{k} {v * 1e3:.3g} ms" for k, v in t.items()))
    return rows


def _row(function, kind, n, times, results):
    peers = [k for k in times if k != "dgmlib"]
    row = {"section": "transport", "function": function, "data": kind, "n": n, "value": results["dgmlib"]}
    for k in times:
        row[f"{k}_ms"] = 1e3 * times[k]
    row["speedup_vs_fastest_peer"] = min(times[p] for p in peers) / times["dgmlib"]
    row["max_rel_diff"] = max(_rel(results["dgmlib"], results[p]) for p in peers)
    return row
