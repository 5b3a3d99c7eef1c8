"""The course map: every notebook of the course, its topic and whether it is there yet.

``python -m dgmlib.course map`` prints it as the Markdown table that ``README.md`` carries (a test
keeps the two equal). A new notebook gets an :class:`Entry` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["ROOT", "COURSE_MAP", "Entry", "course_map_markdown"]

ROOT = Path(__file__).resolve().parents[2]  # the repository: dgmlib/course/ -> dgmlib/ -> root


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
    Entry("lectures/03_gan_optimality.ipynb", "GANs: the optimal discriminator, JSD, saturation, mode collapse and its cures (packing, feature matching), DCGAN"),
    Entry("lectures/04_wasserstein_vs_jsd.ipynb", "KL vs JSD vs Wasserstein; Lipschitz critics (clipping, gradient penalty, spectral norm)"),
    Entry("lectures/05_gan_evaluation.ipynb", "GAN evaluation: f-divergences, IS, FID, precision/recall; density ratios, AVB, BiGAN, CycleGAN"),
    Entry("lectures/06_normalizing_flows.ipynb", "Normalizing flows: change of variables, MAF/IAF, RealNVP, Glow, i-ResNets"),
    Entry("lectures/07_flows_on_images.ipynb", "Flows on images: dequantization, bits per dimension, a multi-scale flow on MNIST"),
    Entry("lectures/08_disentanglement.ipynb", "The impossibility of unsupervised disentanglement, constructed and measured"),
    Entry("lectures/09_autoregressive_and_hybrid.ipynb", "Autoregressive and hybrid models: masked convolutions and PixelCNN, PixelVAE, a VAE with a flow"),
    Entry("lectures/10_gan_evolution.ipynb", "GAN evolution: progressive growing, StyleGAN, BigGAN's pieces, the Standard Equation, unrolled GANs"),
    Entry("solutions/lab1_vae.ipynb", "Lab 1: build and train a VAE (student version in labs/)"),
    Entry("solutions/lab2_gan.ipynb", "Lab 2: build and train a GAN (student version in labs/)"),
    Entry("solutions/lab3_flows.ipynb", "Lab 3: a coupling flow with dequantization (student version in labs/)"),
)


def course_map_markdown() -> str:
    """The course map as the Markdown table that README.md carries (a test keeps them equal)."""
    lines = ["| notebook | topic | status |", "| --- | --- | --- |"]
    lines += [f"| `{e.path}` | {e.topic} | {e.status} |" for e in COURSE_MAP]
    return "\n".join(lines)
