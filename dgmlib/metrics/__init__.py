"""Numbers that judge a generative model from its samples.

Rooms, one idea each:

- ``coverage``: :func:`mode_coverage`, the modes of a known mixture that the samples reach
  (mode collapse).
- ``frechet``: :func:`fid` (the Fréchet distance between Gaussians fitted to features),
  :func:`frechet_distance`, :func:`trace_sqrt_product`, :func:`gaussian_stats`.
- ``inception``: :func:`inception_score`.
- ``precision_recall``: :func:`precision_recall` (k-NN manifolds), :func:`knn_radii`.
- ``parzen``: :class:`ParzenWindow` (a kernel density with exact likelihood and sampler) and
  :func:`mixture_with_noise_log_prob`: likelihood and sample quality part ways (Theis et al.).
- ``feature_net``: :class:`FeatureNet`, a small MNIST classifier whose features and class
  probabilities the scores use; :func:`feature_net` loads the checkpoint the course ships
  (``dgmlib.pretrained``; no Inception network is downloaded); :func:`embed` runs it over images.

Every score refuses features with NaN or inf (a ``ValueError`` naming the argument): a score of
broken features would look like a normal number.
"""

from .coverage import mode_coverage
from .feature_net import FeatureNet, embed, feature_net, train_feature_net
from .frechet import fid, frechet_distance, gaussian_stats, trace_sqrt_product
from .inception import inception_score
from .parzen import ParzenWindow, mixture_with_noise_log_prob
from .precision_recall import knn_radii, precision_recall

__all__ = [
    "mode_coverage",
    "fid",
    "frechet_distance",
    "trace_sqrt_product",
    "gaussian_stats",
    "inception_score",
    "precision_recall",
    "knn_radii",
    "ParzenWindow",
    "mixture_with_noise_log_prob",
    "FeatureNet",
    "feature_net",
    "train_feature_net",
    "embed",
]
