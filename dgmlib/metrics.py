"""Numbers that judge a generative model from its samples.

- :func:`mode_coverage`: modes of a known mixture that the samples reach (mode collapse).
- :func:`fid`, :func:`inception_score`, :func:`precision_recall`: the sample-based scores of the
  evaluation lecture, computed on features of :class:`FeatureNet`, a small MNIST classifier that
  :func:`feature_net` trains once and caches on disk (no pretrained Inception network is
  downloaded).
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "mode_coverage",
    "fid",
    "frechet_distance",
    "trace_sqrt_product",
    "gaussian_stats",
    "inception_score",
    "precision_recall",
    "knn_radii",
    "FeatureNet",
    "feature_net",
    "cache_dir",
    "embed",
]


def mode_coverage(samples: torch.Tensor, centers: torch.Tensor, std: float, threshold: float = 3.0) -> dict:
    """Modes covered and share of high-quality samples of a Gaussian mixture with known modes.

    A sample is *high quality* when it lies within ``threshold`` standard deviations of its
    nearest mode, ``min_k ||x - c_k|| <= threshold * std``; a mode is *covered* when it is the
    nearest mode of at least one high-quality sample (the protocol of Srivastava et al., 2017).
    For a 2-D Gaussian, a true sample is high quality with probability 1 - exp(-threshold^2 / 2)
    (0.989 for 3 std).

    Args:
        samples: ``(N, D)`` generated points; centers: ``(K, D)`` the mixture means; std: the
            common standard deviation of the components.

    Returns:
        ``{"modes_covered": int, "high_quality": float in [0, 1], "counts": (K,) int64}``, where
        ``counts[k]`` is the number of high-quality samples whose nearest mode is ``k``.
    """
    if not torch.is_tensor(samples) or not torch.is_tensor(centers):
        raise TypeError("samples and centers must be tensors")
    if samples.ndim != 2 or samples.shape[0] == 0:
        raise ValueError(f"samples must have shape (N, D) with N > 0, got {tuple(samples.shape)}")
    if centers.ndim != 2 or centers.shape[0] == 0:
        raise ValueError(f"centers must have shape (K, D) with K > 0, got {tuple(centers.shape)}")
    if samples.shape[1] != centers.shape[1]:
        raise ValueError(f"samples and centers must have the same dimension, got {samples.shape[1]} and {centers.shape[1]}")
    if isinstance(std, bool) or not isinstance(std, (int, float)) or not std > 0:
        raise ValueError(f"std must be a positive number, got {std!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
        raise ValueError(f"threshold must be a positive number, got {threshold!r}")
    centers = centers.to(samples.device, samples.dtype)
    distance, nearest = torch.cdist(samples.detach(), centers).min(dim=1)
    good = distance <= threshold * std
    counts = torch.bincount(nearest[good], minlength=len(centers))
    return {
        "modes_covered": int((counts > 0).sum()),
        "high_quality": float(good.float().mean()),
        "counts": counts,
    }


# ---------------------------------------------------------------------------------------------
# Sample-based scores: FID, Inception Score, improved precision and recall
# ---------------------------------------------------------------------------------------------


def _as_features(x, name) -> torch.Tensor:
    if not torch.is_tensor(x):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{name} must be a tensor or an array of shape (N, D), got {type(x).__name__}") from err
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D), got {tuple(x.shape)}")
    if x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"{name} must hold at least 2 samples of dimension >= 1, got {tuple(x.shape)}")
    if not x.is_floating_point():
        x = x.float()
    return x.detach()


def _check_same_dim(a, b, names):
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{names[0]} and {names[1]} must have the same feature dimension, "
                         f"got {a.shape[1]} and {b.shape[1]}")


def _float64_device(x: torch.Tensor) -> torch.device:
    # MPS has no float64: do the linear algebra on the CPU there
    return torch.device("cpu") if x.device.type == "mps" else x.device


def _sqrt_psd(c: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a symmetric PSD matrix (negative round-off eigenvalues clamped)."""
    values, vectors = torch.linalg.eigh(c)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def trace_sqrt_product(cov_a: torch.Tensor, cov_b: torch.Tensor) -> torch.Tensor:
    """Tr sqrt(C_a C_b) for symmetric PSD ``C_a``, ``C_b``: ``(D, D)`` each -> scalar (float64).

    C_a C_b is not symmetric, but with any factor C_a = L L^T it is similar to the symmetric PSD
    matrix L^T C_b L (C_a C_b = L (L^T C_b L) L^{-1}), so Tr sqrt(C_a C_b) = sum_i sqrt(lambda_i) over
    the eigenvalues of L^T C_b L. L is the Cholesky factor (fast) or, when C_a is singular, the
    symmetric square root from an eigendecomposition. Two symmetric factorizations in float64
    replace the general (Schur) matrix square root of scipy's ``sqrtm``.
    """
    cov_a, cov_b = cov_a.double(), cov_b.double()
    cov_a = 0.5 * (cov_a + cov_a.T)
    factor, info = torch.linalg.cholesky_ex(cov_a)
    if int(info) != 0:  # singular (or round-off indefinite) C_a
        factor = _sqrt_psd(cov_a)
    middle = factor.T @ cov_b @ factor
    values = torch.linalg.eigvalsh(0.5 * (middle + middle.T))
    return values.clamp_min(0).sqrt().sum()


def frechet_distance(mean_a, cov_a, mean_b, cov_b) -> float:
    """Squared Fréchet (2-Wasserstein) distance between N(m_a, C_a) and N(m_b, C_b):

        d^2 = ||m_a - m_b||^2 + Tr(C_a + C_b - 2 (C_a C_b)^{1/2}).

    ``mean_*``: ``(D,)``, ``cov_*``: ``(D, D)`` symmetric PSD. Returns a float (computed in float64).
    """
    mean_a, cov_a, mean_b, cov_b = (torch.as_tensor(v).detach() for v in (mean_a, cov_a, mean_b, cov_b))
    d = mean_a.shape[-1] if mean_a.ndim else 0
    if mean_a.ndim != 1 or mean_b.shape != mean_a.shape:
        raise ValueError(f"mean_a and mean_b must be vectors of one length, got {tuple(mean_a.shape)} and {tuple(mean_b.shape)}")
    if cov_a.shape != (d, d) or cov_b.shape != (d, d):
        raise ValueError(f"cov_a and cov_b must be ({d}, {d}) matrices, got {tuple(cov_a.shape)} and {tuple(cov_b.shape)}")
    device = _float64_device(mean_a)
    mean_a, mean_b = mean_a.to(device, torch.float64), mean_b.to(device, torch.float64)
    cov_a, cov_b = cov_a.to(device, torch.float64), cov_b.to(device, torch.float64)
    value = (mean_a - mean_b).pow(2).sum() + torch.trace(cov_a) + torch.trace(cov_b) \
        - 2.0 * trace_sqrt_product(cov_a, cov_b)
    return float(value)


def gaussian_stats(features) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` (divisor N - 1) of ``features: (N, D)``, in float64."""
    x = _as_features(features, "features")
    x = x.to(_float64_device(x), torch.float64)
    mean = x.mean(0)
    centered = x - mean
    return mean, centered.T @ centered / (len(x) - 1)


def fid(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two sets of features (FID, Heusel et al. 2017):

        FID = ||m_a - m_b||^2 + Tr(C_a + C_b - 2 (C_a C_b)^{1/2}),

    with m, C the sample mean and covariance of ``features_a: (N, D)`` and ``features_b: (M, D)``
    (tensors or arrays; features of a classifier's penultimate layer, e.g. :meth:`FeatureNet.features`).
    Zero for identical sets; it is biased upwards for small N, so compare FIDs at equal sample sizes.
    """
    a = _as_features(features_a, "features_a")
    b = _as_features(features_b, "features_b")
    _check_same_dim(a, b, ("features_a", "features_b"))
    mean_a, cov_a = gaussian_stats(a)
    mean_b, cov_b = gaussian_stats(b.to(a.device))
    return max(frechet_distance(mean_a, cov_a, mean_b, cov_b), 0.0)


def inception_score(probs, splits: int = 10) -> tuple[float, float]:
    """Inception Score IS = exp(E_x KL(p(y|x) || p(y))) = exp(H(y) - H(y|x)) (Salimans et al. 2016).

    ``probs: (N, K)``: a classifier's class probabilities p(y|x) for N generated samples; the
    marginal p(y) is their mean. As in the original code the N samples are cut into ``splits``
    equal parts, the score is computed on each, and the function returns ``(mean, std)`` over the
    parts, two floats (``splits=1``: the score of all samples and 0). Between 1 (every x gets the
    same p(y|x), or the uniform one) and K (confident predictions, balanced classes). The splits are
    consecutive blocks: shuffle samples that are sorted by class first.
    """
    if not torch.is_tensor(probs):
        probs = torch.as_tensor(probs)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] < 2:
        raise ValueError(f"probs must have shape (N, K) with N >= 1 and K >= 2 classes, got {tuple(probs.shape)}")
    probs = probs.detach().to(_float64_device(probs), torch.float64)
    if bool((probs < 0).any()) or not torch.allclose(probs.sum(1), torch.ones_like(probs[:, 0]), atol=1e-4):
        raise ValueError("probs must hold probabilities: non-negative rows that sum to 1 (apply softmax to logits)")
    if isinstance(splits, bool) or not isinstance(splits, int) or not 1 <= splits <= len(probs):
        raise ValueError(f"splits must be an int between 1 and the number of samples {len(probs)}, got {splits!r}")
    scores = []
    for part in torch.tensor_split(probs, splits):
        marginal = part.mean(0, keepdim=True)
        kl = (torch.xlogy(part, part) - torch.xlogy(part, marginal)).sum(1)  # KL(p(y|x) || p(y)) per x
        scores.append(kl.mean().exp())
    scores = torch.stack(scores)
    return float(scores.mean()), float(scores.std(unbiased=False))


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared distances ||a_i - b_j||^2 = ||a_i||^2 - 2 a_i.b_j + ||b_j||^2 and their round-off bound.

    One matrix product (20x faster than the direct formula at 2,048 dimensions), clamped at 0;
    :func:`precision_recall` calls it in float64.
    The formula's absolute error is below 4 eps (||a_i||^2 + ||b_j||^2), returned as ``slack``:
    comparisons against a squared radius allow it, so identical points count as inside each
    other's balls even when the radius is 0 (k duplicates).
    """
    a2, b2 = a.pow(2).sum(1)[:, None], b.pow(2).sum(1)[None, :]
    d2 = torch.addmm(a2 + b2, a, b.T, alpha=-2).clamp_min_(0)
    return d2, 4 * torch.finfo(d2.dtype).eps * (a2 + b2)


def knn_radii(features: torch.Tensor, k: int = 3, chunk: int = 1024) -> torch.Tensor:
    """Distance of every point to its k-th nearest neighbour other than itself: ``(N, D) -> (N,)``."""
    x = _as_features(features, "features")
    radii = []
    for start in range(0, len(x), chunk):
        d2, _ = _sq_dists(x[start:start + chunk], x)
        # k + 1 smallest: the point itself (distance 0 up to round-off) comes first
        radii.append(d2.topk(k + 1, dim=1, largest=False).values[:, k].sqrt())
    return torch.cat(radii)


def _inside_union(points: torch.Tensor, centers: torch.Tensor, radii: torch.Tensor, chunk: int) -> torch.Tensor:
    """For each point: is ||point - c_i|| <= r_i for some i?  ``(N,)`` bool."""
    inside = []
    r2 = radii.pow(2)[None, :]
    for start in range(0, len(points), chunk):
        d2, slack = _sq_dists(points[start:start + chunk], centers)
        inside.append((d2 - slack <= r2).any(dim=1))
    return torch.cat(inside)


def precision_recall(real_features, fake_features, k: int = 3, chunk: int = 1024) -> dict:
    """Improved precision and recall (Kynkäänniemi et al., 2019) with k-nearest-neighbour manifolds.

    Each set approximates its manifold by the union of balls B(g, r_k(g)) around its points, r_k(g)
    the distance from g to its k-th nearest neighbour in the same set (not counting g). With
    f(g, G) = 1 if g lies in some ball of G:

        precision = (1/M) sum_{g in fake} f(g, real)    (share of samples that look real)
        recall    = (1/N) sum_{g in real} f(g, fake)    (share of the data the model covers)

    ``real_features: (N, D)``, ``fake_features: (M, D)``; ``k < min(N, M)``. Distances are computed
    in blocks of ``chunk`` rows, as matrix products on the inputs' device, so memory stays
    O(chunk * max(N, M)). Returns ``{"precision": float, "recall": float}``.
    """
    real = _as_features(real_features, "real_features")
    fake = _as_features(fake_features, "fake_features")
    _check_same_dim(real, fake, ("real_features", "fake_features"))
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if k >= min(len(real), len(fake)):
        raise ValueError(f"k must be smaller than the number of samples in real_features ({len(real)}) and "
                         f"fake_features ({len(fake)}), got k={k}")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive int, got {chunk!r}")
    # float64: the matrix-product distances lose ~eps * ||x||^2, which in float32 is a visible share of
    # a k-NN radius in low dimension (2-D toy data); in float64 it is far below any radius
    real, fake = real.double(), fake.to(real.device, torch.float64)
    r_real, r_fake = knn_radii(real, k, chunk), knn_radii(fake, k, chunk)
    precision = _inside_union(fake, real, r_real, chunk).double().mean()
    recall = _inside_union(real, fake, r_fake, chunk).double().mean()
    return {"precision": float(precision), "recall": float(recall)}


# ---------------------------------------------------------------------------------------------
# The feature extractor: a small MNIST classifier, trained once and cached on disk
# ---------------------------------------------------------------------------------------------

FEATURE_NET_VERSION = 1


class FeatureNet(nn.Module):
    """A small MNIST CNN classifier, the course's stand-in for the Inception network.

    ``(B, 1, 28, 28)`` images in [0, 1] -> two conv-ReLU-maxpool blocks (16 and 32 channels) ->
    a ``feature_dim``-unit ReLU layer (:meth:`features`, the FID / precision-recall embedding) ->
    10 logits (:meth:`forward`); :meth:`probs` is the softmax p(y|x) for the Inception Score.
    ``loss(x, y)`` is the cross-entropy (and the batch accuracy), for :func:`dgmlib.training.fit`.
    """

    def __init__(self, feature_dim: int = 64):
        super().__init__()
        self.feature_dim = int(feature_dim)
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 14x14
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 7x7
            nn.Flatten(), nn.Linear(32 * 49, self.feature_dim), nn.ReLU(),
        )
        self.head = nn.Linear(self.feature_dim, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer activations, ``(B, feature_dim)``."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def probs(self, x: torch.Tensor) -> torch.Tensor:
        """p(y|x) = softmax(logits), ``(B, 10)``."""
        return torch.softmax(self(x), dim=1)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> dict:
        logits = self(x)
        return {"loss": nn.functional.cross_entropy(logits, y),
                "accuracy": (logits.argmax(1) == y).float().mean()}


def cache_dir() -> Path:
    """Where trained helper models are kept: ``$DGMLIB_CACHE``, else ``~/.cache/dgmlib``."""
    env = os.environ.get("DGMLIB_CACHE", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dgmlib"


def feature_net(device=None, *, retrain: bool = False, progress: bool | None = None) -> FeatureNet:
    """The course's MNIST feature extractor, loaded from the disk cache or trained and cached.

    Trained with :func:`dgmlib.training.fit` (Adam, learning rate decaying linearly from 3e-3 to 0,
    cross-entropy, seed 0) on ``load_mnist("train")``: ``budget(full=5, fast=1)`` epochs, so the test run trains in seconds
    and the full one in well under a minute; the full model classifies more than 97% of the
    subset's 500 test digits correctly. The file ``featurenet-v{version}-{mnist source}-{run
    size}.pt`` in :func:`cache_dir` holds the weights (written atomically: a temporary file, then
    a rename, so parallel runs never read half a file). Nothing is downloaded.

    Returns the model in ``eval`` mode on ``device`` (default :func:`dgmlib.get_device`).
    """
    from .data import load_mnist, mnist_source
    from .runtime import budget, get_device, is_fast
    from .training import fit

    device = get_device() if device is None else torch.device(device)
    size = "fast" if is_fast() else "full"
    path = cache_dir() / f"featurenet-v{FEATURE_NET_VERSION}-{mnist_source()}-{size}.pt"
    net = FeatureNet()
    if path.exists() and not retrain:
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return net.to(device).eval()
    x, y = load_mnist("train")
    epochs, batch_size, lr = budget(full=5, fast=1), 64, 3e-3
    with torch.random.fork_rng(devices=[]):  # training does not disturb the caller's random stream
        torch.manual_seed(0)
        net = FeatureNet().to(device)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        total, done = epochs * math.ceil(len(x) / batch_size), [0]

        def step(batch):  # Adam with the learning rate decaying linearly to 0
            for group in opt.param_groups:
                group["lr"] = lr * (1 - done[0] / total)
            done[0] += 1
            terms = net.loss(*batch[:2])
            opt.zero_grad(set_to_none=True)
            terms["loss"].backward()
            opt.step()
            return {k: v.detach() for k, v in terms.items()}

        fit(net, (x, y), epochs=epochs, batch_size=batch_size, step=step, optimizer=opt, seed=0, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save({k: v.cpu() for k, v in net.state_dict().items()}, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return net.eval()


@torch.no_grad()
def embed(net: nn.Module, images: torch.Tensor, batch_size: int = 500) -> dict:
    """Run ``net`` over ``images: (N, 1, 28, 28)`` in [0, 1] in batches: ``{"features": (N, F), "probs": (N, 10)}``.

    Results are on the CPU; the images move to the network's device batch by batch.
    """
    from .runtime import module_device

    if not torch.is_tensor(images) or images.ndim != 4:
        raise ValueError(f"images must be a tensor of shape (N, C, H, W), got "
                         f"{tuple(images.shape) if torch.is_tensor(images) else type(images).__name__}")
    device = module_device(net)
    was_training = net.training
    net.eval()
    features, probs = [], []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(device)
        h = net.features(x)
        features.append(h.cpu())
        probs.append(torch.softmax(net.head(h), dim=1).cpu())
    net.train(was_training)
    return {"features": torch.cat(features), "probs": torch.cat(probs)}
