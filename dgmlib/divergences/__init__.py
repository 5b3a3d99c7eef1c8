"""How far apart are two distributions: KL, JSD, f-divergences and the Wasserstein (earth mover's) distance.

Notation of the lectures: ``pi`` is the data distribution, ``p`` the model. Rooms, one idea each:

- ``discrete``: :func:`kl` and :func:`jsd` of two *discrete* distributions, or of two densities
  tabulated on the same grid with cell volume ``dx`` (then the sums are Riemann sums of the
  integrals); :func:`histograms` bins two samples on a common grid, for sample estimates of both.
- ``transport``: :func:`wasserstein_1d`, the exact W1 between two 1-D samples (sorting, no
  optimization), and :func:`emd`, the exact optimal transport cost between two point clouds (a
  linear program), differentiable in the points.
- ``f_divergences``: :data:`f_divergences`, the f-GAN table (generator f, Fenchel conjugate f*,
  output activation) of six f-divergences, and :func:`train_f_critic`, which estimates one by its
  variational lower bound.
"""

from .discrete import histograms, jsd, kl
from .f_divergences import FDivergence, f_divergence, f_divergences, train_f_critic
from .transport import emd, wasserstein_1d

__all__ = ["kl", "jsd", "wasserstein_1d", "emd", "histograms", "FDivergence", "f_divergences", "f_divergence",
           "train_f_critic"]
