"""Disentanglement: the impossibility construction of Locatello et al. (2019) and six metrics.

**The construction.** Let ``z`` have a factorized density ``p(z) = prod_i p_i(z_i)``, ``d > 1``.
With ``g_i(v) = P(z_i <= v)`` (the marginal CDFs: ``g(z)`` is uniform on ``[0, 1]^d``),
``h_i(u) = Phi^{-1}(u)`` (``h(g(z))`` is standard normal) and any orthogonal ``A`` with no zero
entry, the map

    f(z) = g^{-1}( h^{-1}( A h(g(z)) ) )

is a bijection with ``f(z) ~ p`` (an orthogonal map keeps ``N(0, I)``) and
``df_i / dz_j = (g_i^{-1})' * phi-terms * A_ij != 0`` for every ``i, j``: the code ``f(z)`` is as
good a factorized latent as ``z`` and yet mixes every coordinate of it. A model that only sees
``x`` cannot tell the two apart.

**The metrics** take a code ``(N, K)`` and discrete ground-truth factors ``(N, F)`` (integer
indices), or, where their definition samples images by factor (BetaVAE, FactorVAE), a function
``represent(factors) -> codes``. Their defaults follow the reference papers and, where the papers
leave a choice open, ``disentanglement_lib`` (Locatello et al.): 20 histogram bins for mutual
information, 10,000 training and 5,000 evaluation points, batches of 64. One exception: SAP
defaults to the paper's R^2 for ordinal factors, where disentanglement_lib's study uses a linear
SVM (:func:`sap` says what each gives). Notebooks may use fewer points on a laptop and say so.

Rooms: ``marginals`` (1-D distributions with CDFs), ``entangling`` (the bijection ``f``),
``two_sample`` (the energy test), ``information`` (MIG, modularity), ``predictors`` (SAP, DCI),
``scores`` (BetaVAE, FactorVAE, all six at once), ``tcvae`` (the beta-TCVAE objective).

References: Locatello et al., *Challenging Common Assumptions in the Unsupervised Learning of
Disentangled Representations*, ICML 2019.
"""

from .entangling import entangling_map, random_dense_orthogonal, warped_grid
from .information import mig, modularity, mutual_information_matrix
from .marginals import Marginal, exponential, gaussian_mixture, kumaraswamy
from .predictors import dci, sap
from .scores import METRIC_NAMES, all_metrics, beta_vae_score, factor_vae_score, representation_from_encoder
from .tcvae import beta_tcvae_loss, gaussian_total_correlation, total_correlation_terms
from .two_sample import energy_distance, energy_test

__all__ = [
    "Marginal",
    "exponential",
    "kumaraswamy",
    "gaussian_mixture",
    "random_dense_orthogonal",
    "entangling_map",
    "mutual_information_matrix",
    "mig",
    "modularity",
    "sap",
    "dci",
    "beta_vae_score",
    "factor_vae_score",
    "representation_from_encoder",
    "energy_distance",
    "energy_test",
    "total_correlation_terms",
    "beta_tcvae_loss",
    "gaussian_total_correlation",
    "METRIC_NAMES",
    "all_metrics",
    "warped_grid",
]
