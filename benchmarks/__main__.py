"""python -m benchmarks [--quick] [--out DIR] [--device cpu|cuda] [--notebooks skip|fast|full] [--sections ...] [--budgets MIN ...]

Prints each section's table and writes ``<out>/<machine>.md`` and ``<out>/<machine>.json``
(default out: benchmarks/results). Threads: torch uses what ``OMP_NUM_THREADS`` says (set it
before starting; dgmlib and its peers always run in the same process under the same setting).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from . import common

SECTIONS = ("flows", "transport", "vae", "metrics", "notebooks", "time_to_quality")

FULL = dict(
    train=20000, test=5000, steps=3000, chunk=100, batch=256, lr=1e-3, eval=10000, repeats=5,
    n_1d=[1000, 10000, 100000, 1000000], n_2d=[100, 500, 1000, 2000], repeats_2d=5,
    vae_train=4500, vae_batch=128, vae_epochs=7,
    fid_n=10000, fid_dim=2048, pr_n=1000, metric_repeats=1,  # pr_n: see the metrics section's note
    flow_libraries=["dgmlib", "dgmlib+compile", "zuko", "normflows"],
    # time to quality: training seconds per run, evaluation checkpoints per largest budget, seconds of
    # training per turn, test digits, importance samples, GAN samples, modes, models
    ttq_budgets=[60, 180, 600], ttq_grid=10, ttq_slice=30, ttq_test=500, ttq_k=500, ttq_gan_n=2000,
    ttq_modes=["eager", "compile"], ttq_models=["flow", "vae", "gan"],
)
QUICK = dict(
    train=512, test=256, steps=20, chunk=10, batch=64, lr=1e-3, eval=256, repeats=2,
    n_1d=[1000, 10000], n_2d=[50], repeats_2d=2,
    vae_train=256, vae_batch=64, vae_epochs=2,
    fid_n=300, fid_dim=64, pr_n=300, metric_repeats=1,
    flow_libraries=["dgmlib", "zuko", "normflows"],  # no compilation (tens of seconds) in the smoke run
    ttq_budgets=[1, 2, 4], ttq_grid=4, ttq_slice=1, ttq_test=100, ttq_k=50, ttq_gan_n=300,
    ttq_modes=["eager"], ttq_models=["flow", "vae", "gan"],
)

COLUMNS = {
    "flows": ["arch", "library", "s_per_1000_steps", "train_speedup_vs_fastest_peer", "warmup_s", "test_nll",
              "nll_gap_vs_best_peer",
              "samples_per_s", "sample_ratio_vs_best_peer", "log_prob_per_s", "log_prob_ratio_vs_best_peer"],
    "transport": ["function", "data", "n", "dgmlib_ms", "POT_ms", "scipy_ms", "speedup_vs_fastest_peer", "max_rel_diff"],
    "vae": ["n_train", "batch", "epochs", "fit_s_per_epoch", "plain_s_per_epoch", "overhead_pct",
            "fit_test_elbo", "plain_test_elbo"],
    "metrics": ["metric", "n", "dim", "dgmlib_s", "reference_s", "speedup", "dgmlib_value", "reference_value", "rel_diff"],
    "notebooks": ["notebook", "under_test_s", "full_s", "error"],
    "time_to_quality": None,  # the budgets name the columns: time_to_quality.columns(sizes)
}
TITLES = {
    "flows": "1. Flows: 8 affine couplings / 8-layer MAF (MLP 64-64, ELU), moons, Adam, same batches and seed",
    "transport": "2. Optimal transport: time (ms) and agreement",
    "vae": "3. VAE training: dgmlib.training.fit vs a plain loop",
    "metrics": "4. Metrics vs the textbook formulas (sqrtm FID, numpy k-NN precision/recall)",
    "notebooks": "5. Whole course: wall time per notebook (s)",
    "time_to_quality": "6. Time to quality: MNIST flow, VAE and GAN under a training clock, beside normflows and pythae",
}


def acceptance(rows: list[dict]) -> list[dict]:
    """The issue's acceptance lines, checked on these rows."""
    out = []
    for arch in ("coupling", "maf"):
        by = {x["library"]: x for x in rows if x.get("section") == "flows" and x["arch"] == arch}
        best = by.get("dgmlib+compile") or by.get("dgmlib")
        if best:
            ok = best["train_speedup_vs_fastest_peer"] >= 1.5 and best["nll_gap_vs_best_peer"] <= 0.05
            eager = (f" (eager dgmlib: {by['dgmlib']['train_speedup_vs_fastest_peer']:.2f}x)"
                     if best is not by.get("dgmlib") and "dgmlib" in by else "")
            out.append({"check": f"flows {arch}: >= 1.5x faster per step than the fastest peer, NLL not worse by > 0.05",
                        "measured": f"{best['library']}: {best['train_speedup_vs_fastest_peer']:.2f}x, NLL gap "
                                    f"{best['nll_gap_vs_best_peer']:+.3f}{eager}",
                        "pass": ok})
    for function in ("wasserstein_1d", "emd"):
        t = [x for x in rows if x.get("section") == "transport" and x["function"] == function]
        if t:
            worst = min(t, key=lambda x: x["speedup_vs_fastest_peer"])
            out.append({"check": f"transport {function}: never slower than POT/scipy",
                        "measured": f"{min(x['speedup_vs_fastest_peer'] for x in t):.2f}x to "
                                    f"{max(x['speedup_vs_fastest_peer'] for x in t):.2f}x (worst n={worst['n']})",
                        "pass": worst["speedup_vs_fastest_peer"] >= 1.0})
    v = [x for x in rows if x.get("section") == "vae"]
    if v:
        out.append({"check": "fit overhead < 10% of a plain loop", "measured": f"{v[0]['overhead_pct']:+.1f}%",
                    "pass": v[0]["overhead_pct"] < 10})
    f = [x for x in rows if x.get("section") == "metrics" and x["metric"] == "fid"]
    if f:
        out.append({"check": "fid within 1e-4 relative of sqrtm and faster",
                    "measured": f"rel diff {f[0]['rel_diff']:.1e}, {f[0]['speedup']:.1f}x faster",
                    "pass": f[0]["rel_diff"] <= 1e-4 and f[0]["speedup"] > 1})
    for r in rows:
        if r.get("section") == "time_to_quality" and "goal_met" in r:
            ratio = r["time_to_peer"]
            budget = r["peer_budget_s"]
            budget = f"{budget / 60:.3g} min" if budget >= 60 else f"{budget:.3g} s"
            out.append({"check": f"time to quality, {r['model']} ({r['mode']}): dgmlib reaches the {r['metric']} "
                                 f"{r['peer']} has after {budget} in <= half that time",
                        "measured": (f"{ratio:.2f} of the peer's time" if ratio is not None else
                                     f"not reached ({r['peer_final']:.4g})"),
                        "pass": r["goal_met"] == "yes"})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, same code paths: a smoke run in seconds")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results",
                        help="folder for <machine>.md and <machine>.json (default benchmarks/results)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: dgmlib.get_device())")
    parser.add_argument("--notebooks", choices=("skip", "fast", "full"), default=None,
                        help="section 5: skip, time the notebooks under test (default; --quick: a tiny check), "
                             "or also their full runs")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--update", action="store_true",
                        help="re-run only --sections and keep the other sections' rows from the existing results file")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"training steps per flow (default {FULL['steps']}; --quick: {QUICK['steps']})")
    parser.add_argument("--budgets", type=float, nargs="+", default=None,
                        help="time to quality: training budgets in minutes (default 1 3 10)")
    parser.add_argument("--models", nargs="+", choices=("flow", "vae", "gan"), default=None,
                        help="time to quality: which models (default all)")
    parser.add_argument("--modes", nargs="+", choices=("eager", "compile"), default=None,
                        help="time to quality: eager and/or compile=True runs (default both; --quick: eager)")
    args = parser.parse_args(argv)

    from dgmlib.runtime import get_device

    device = torch.device(args.device) if args.device else get_device()
    sizes = dict(QUICK if args.quick else FULL)
    if args.steps is not None:
        if args.steps < 2 * sizes["chunk"]:
            parser.error(f"--steps must be at least {2 * sizes['chunk']} (a warm-up chunk and one timed chunk)")
        sizes["steps"] = args.steps
    if args.budgets is not None:
        sizes["ttq_budgets"] = [60 * b for b in args.budgets]
    if args.models is not None:
        sizes["ttq_models"] = args.models
    if args.modes is not None:
        sizes["ttq_modes"] = args.modes
    machine = common.machine_name(device)
    env = common.environment(device)
    print(f"benchmarks on {machine} ({env['cpu']}, torch {env['torch']}, {env['threads']} threads, "
          f"OMP_NUM_THREADS={env['OMP_NUM_THREADS']}){' [quick]' if args.quick else ''}", flush=True)
    log = lambda s: print(s, flush=True)  # noqa: E731
    rows, seconds = [], {}
    kept: list[str] = []
    kept_ttq_seconds = 0.0
    previous = args.out / f"{machine}.json"
    if args.update and previous.exists():
        old = json.loads(previous.read_text())
        kept = [sec for sec in SECTIONS if sec not in args.sections and sec in old["section_seconds"]]
        rows = [r for r in old["rows"] if r.get("section") in kept]
        seconds = {sec: old["section_seconds"][sec] for sec in kept}
        if "time_to_quality" in args.sections and (args.modes is not None or args.models is not None):
            # a partial time-to-quality run keeps the rows of the (model, mode) pairs it does not re-run
            partial = [r for r in old["rows"] if r.get("section") == "time_to_quality"
                       and not (r.get("model") in sizes["ttq_models"] and r.get("mode") in sizes["ttq_modes"])]
            rows += partial
            if partial:
                kept_ttq_seconds = old["section_seconds"].get("time_to_quality", 0.0)
    def write(final: bool):
        checks = acceptance(rows)
        md = [f"# Benchmarks: {machine}{' (quick smoke run, tiny sizes)' if args.quick else ''}", "",
              "Command: `" + " ".join(["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])]).strip() + "`",
              "", "| setting | value |", "|---|---|"]
        md += [f"| {k} | {v} |" for k, v in env.items()]
        md += ["", "Ratios > 1 favour dgmlib (speedup = the fastest peer's time / dgmlib's time). Peers and dgmlib "
               "run interleaved in one process under the same thread settings; times are medians.", ""]
        if kept:
            md += [f"(Sections {', '.join(kept)}: kept from the previous full run; the others re-run by this command.)", ""]
        if kept_ttq_seconds:
            md += ["(Time to quality: the rows of the models and modes this command does not name are kept from the "
                   "previous run; its section time adds both.)", ""]
        for section in [sec for sec in SECTIONS if sec in args.sections or sec in kept]:
            part = [r for r in rows if r.get("section") == section]
            if part:
                columns = COLUMNS[section]
                if columns is None:
                    from . import time_to_quality
                    columns = time_to_quality.columns(sizes)
                md += [f"## {TITLES[section]}", "", common.markdown_table(part, columns),
                       "", f"(section wall time {seconds[section]:.0f} s)", ""]
                if section == "time_to_quality":
                    md += [time_to_quality.NOTE, ""]
        if checks:
            md += ["## Acceptance (issues #9 and #16)", "", common.markdown_table(
                [{**c, "pass": "PASS" if c["pass"] else "FAIL"} for c in checks], ["check", "measured", "pass"]), ""]
        text = "\n".join(md)
        if final:
            print("\n" + text)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{machine}.md").write_text(text)
        (args.out / f"{machine}.json").write_text(json.dumps(
            {"machine": machine, "quick": args.quick, "environment": env, "sizes": sizes, "section_seconds": seconds,
             "rows": rows, "acceptance": checks}, indent=1, default=str) + "\n")

    for section in args.sections:
        t0 = time.perf_counter()
        print(f"{TITLES[section]} ...", flush=True)
        if section == "flows":
            from . import flows
            rows += flows.run(sizes, device, libraries=tuple(sizes["flow_libraries"]), log=log)
        elif section == "transport":
            from . import transport
            rows += transport.run(sizes, device, log=log)
        elif section == "vae":
            from . import vae
            rows += vae.run(sizes, device, log=log)
        elif section == "metrics":
            from . import metrics
            rows += metrics.run(sizes, device, log=log)
        elif section == "notebooks":
            from . import notebooks
            mode = args.notebooks or ("quick" if args.quick else "fast")
            if mode == "quick":
                rows += notebooks.tiny_check()
            elif mode != "skip":
                rows += notebooks.run(mode, args.out, machine, log=log)
        elif section == "time_to_quality":
            from . import time_to_quality
            rows += time_to_quality.run(sizes, device, log=log, models=tuple(sizes["ttq_models"]))
        seconds[section] = time.perf_counter() - t0 + (kept_ttq_seconds if section == "time_to_quality" else 0.0)
        write(final=False)

    write(final=True)
    print(f"\nwrote {args.out / (machine + '.md')} and {args.out / (machine + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
