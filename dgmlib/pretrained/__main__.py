"""python -m dgmlib.pretrained train [NAME ...] [--fast] [--out DIR]: re-make shipped checkpoints.

Each checkpoint is trained by its recipe with its seed, measured, and written with its manifest
entry (``make checkpoints`` runs this for all; ``make checkpoints NAME=featurenet`` for one).
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from ..runtime import get_device, seed_everything
from .recipes import RECIPES
from .store import save


def train(name: str, *, fast: bool = False, out=None, measure: bool = True) -> dict:
    """Train checkpoint ``name`` by its recipe, measure it, save it with its manifest entry; return the entry.

    ``measure=False`` leaves the figures empty (the tests' fast runs: the shipped checkpoints' figures
    are re-measured by another test, and some measurements cost more than the fast training).
    """
    recipe = RECIPES[name]
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe.threads)  # the same seed and thread count: the same weights, bit for bit
    try:
        seed_everything(recipe.seed)
        start, cpu_start = time.perf_counter(), time.process_time()
        model = recipe.build().to(get_device())
        curve = recipe.train(model, fast)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    finally:
        torch.set_num_threads(threads)
    model.eval()
    figures = recipe.measure(model) if measure else {}
    command = f"make checkpoints NAME={name}" + (" (fast)" if fast else "")
    entry = {"command": command, "seed": recipe.seed, "device": str(get_device()),
             "threads": recipe.threads, "cpu": platform.processor() or platform.machine(),
             "cpu_kernels": torch.backends.cpu.get_cpu_capability(),   # AVX2 and AVX-512 round differently
             "torch": torch.__version__, "train_seconds": round(wall, 1),
             "train_cpu_seconds": round(cpu, 1), "data": recipe.data,
             "fast": fast, "figures": {k: round(v, 6) for k, v in figures.items()}}
    if curve:
        entry["curve"] = {k: [round(v, 6) for v in values] for k, values in curve.items()}
    save(name, model, entry, out)
    return entry


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dgmlib.pretrained", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train checkpoints by their recipes (all when no NAME is given)")
    p.add_argument("names", nargs="*", metavar="NAME", help=f"one of {', '.join(sorted(RECIPES))}")
    p.add_argument("--fast", action="store_true", help="the test-sized run of the same code")
    p.add_argument("--out", default=None, help="folder for the weights and manifest (default: the shipped one)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(RECIPES))
    if unknown:
        parser.error(f"unknown checkpoint {', '.join(unknown)}; known: {', '.join(sorted(RECIPES))}")
    for name in args.names or sorted(RECIPES):
        entry = train(name, fast=args.fast, out=args.out)
        print(f"{name}: {entry['train_seconds']:.0f} s, {entry['figures']}")


if __name__ == "__main__":
    main()
