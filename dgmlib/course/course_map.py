"""The course itself: its map, and the command that refreshes the notebooks' stored outputs.

    python -m dgmlib.course map                      # the course map as a Markdown table
    python -m dgmlib.course run-notebooks [PATH...]  # full run, outputs stored in place
    python -m dgmlib.course make-labs [--check]      # labs/ (student versions) from solutions/

``run-notebooks`` (what ``make notebooks`` calls) executes each notebook top to bottom in a
fresh kernel with the *full* budget (``DGMLIB_FAST`` unset) and no progress bars, and writes it
back with its outputs, so notebooks read well on GitHub and nbval has outputs to compare.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["COURSE_MAP", "Entry", "course_map_markdown", "execute_notebook", "run_notebook", "main"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the repository root
    topic: str

    @property
    def status(self) -> str:
        return "ready" if (ROOT / self.path).exists() else "planned"


COURSE_MAP: tuple[Entry, ...] = (
    Entry("lectures/00_welcome.ipynb", "Welcome: check the setup, meet the data, the course map"),
    Entry("lectures/01_vae_derivations.ipynb", "VAEs: autoencoder vs VAE, Gaussian KL, the ELBO, reparameterization"),
    Entry("lectures/02_tighter_bounds.ipynb", "Tighter bounds and richer posteriors: IWAE, hierarchical latents, flows in q"),
    Entry("lectures/03_gan_optimality.ipynb", "GANs: the optimal discriminator, JSD, saturation, mode collapse, DCGAN"),
    Entry("lectures/04_wasserstein_vs_jsd.ipynb", "KL vs JSD vs Wasserstein; Lipschitz critics (clipping, gradient penalty, spectral norm)"),
    Entry("lectures/05_gan_evaluation.ipynb", "GAN evaluation: f-divergences, IS, FID, precision/recall; density ratios, BiGAN, CycleGAN"),
    Entry("lectures/06_normalizing_flows.ipynb", "Normalizing flows: change of variables, MAF/IAF, RealNVP, Glow, i-ResNets"),
    Entry("lectures/07_flows_on_images.ipynb", "Flows on images: dequantization, bits per dimension, a multi-scale flow on MNIST"),
    Entry("lectures/08_disentanglement.ipynb", "The impossibility of unsupervised disentanglement, constructed and measured"),
    Entry("solutions/lab1_vae.ipynb", "Lab 1: build and train a VAE (student version in labs/)"),
    Entry("solutions/lab2_gan.ipynb", "Lab 2: build and train a GAN (student version in labs/)"),
    Entry("solutions/lab3_flows.ipynb", "Lab 3: a coupling flow with dequantization (student version in labs/)"),
)


def course_map_markdown() -> str:
    """The course map as the Markdown table that README.md carries (a test keeps them equal)."""
    lines = ["| notebook | topic | status |", "| --- | --- | --- |"]
    lines += [f"| `{e.path}` | {e.topic} | {e.status} |" for e in COURSE_MAP]
    return "\n".join(lines)


def execute_notebook(nb, cwd, fast: bool = False, timeout: int = 1800) -> float:
    """Execute a notebook object in place in a fresh ``python3`` kernel run in ``cwd``.

    ``fast``: set ``DGMLIB_FAST=1`` (the test run) or unset it (the full run). Progress bars are
    off (``TQDM_DISABLE=1``). The environment is restored afterwards. Returns the wall time in
    seconds, kernel start included.
    """
    from nbclient import NotebookClient

    saved = {k: os.environ.get(k) for k in ("DGMLIB_FAST", "TQDM_DISABLE")}
    if fast:
        os.environ["DGMLIB_FAST"] = "1"
    else:
        os.environ.pop("DGMLIB_FAST", None)
    os.environ["TQDM_DISABLE"] = "1"  # progress bars are noise in stored outputs
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}},
                       record_timing=False).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return time.perf_counter() - start


def run_notebook(path: str | os.PathLike, timeout: int = 1800) -> float:
    """Execute one notebook in place with the full budget; return the wall time in seconds."""
    import nbformat

    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    elapsed = execute_notebook(nb, path.parent, fast=False, timeout=timeout)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return elapsed


def _notebooks(paths: list[str]) -> list[Path]:
    if not paths:
        paths = ["lectures", "solutions"]
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(q for q in p.glob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
        elif p.suffix == ".ipynb" and p.exists():
            found.append(p)
        else:
            raise SystemExit(f"not a notebook or folder of notebooks: {p}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dgmlib.course", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("map", help="print the course map as a Markdown table")
    run = sub.add_parser("run-notebooks", help="execute notebooks with the full budget and store their outputs")
    run.add_argument("paths", nargs="*", help="notebooks or folders (default: lectures/ and solutions/)")
    run.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    labs = sub.add_parser("make-labs", help="generate the student labs/ from solutions/ (see dgmlib.labs)")
    labs.add_argument("--check", action="store_true", help="write nothing; exit 1 when labs/ is out of date")
    args = parser.parse_args(argv)

    if args.command == "map":
        print(course_map_markdown())
        return 0
    if args.command == "make-labs":
        from .labs import make_labs, stale_labs

        if args.check:
            stale = stale_labs()
            for name in stale:
                print(f"labs/{name} is out of date: run `python -m dgmlib.course make-labs`")
            return 1 if stale else 0
        for path in make_labs():
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    for nb in _notebooks(args.paths):
        print(f"running {nb} ...", flush=True)
        seconds = run_notebook(nb, timeout=args.timeout)
        print(f"  done in {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
