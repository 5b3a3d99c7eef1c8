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
``represent(factors) -> codes``. Their defaults follow the reference papers and
``disentanglement_lib`` (Locatello et al.): 20 histogram bins for mutual information, 10,000 training
and 5,000 evaluation points, batches of 64. Notebooks may use fewer points on a laptop and say so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .runtime import module_device
from .vae import log_normal_std, reparameterize

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
    "METRIC_NAMES",
    "all_metrics",
    "warped_grid",
]


# ----------------------------------------------------------------------------------------------
# Marginals with closed-form (or differentiable numerical) CDF and inverse CDF
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Marginal:
    """A 1-D distribution given by its CDF, inverse CDF, log density and sampler (elementwise)."""

    name: str
    cdf: Callable[[torch.Tensor], torch.Tensor]
    icdf: Callable[[torch.Tensor], torch.Tensor]
    log_prob: Callable[[torch.Tensor], torch.Tensor]

    def sample(self, n: int, generator: torch.Generator | None = None, dtype=torch.float64) -> torch.Tensor:
        """Inverse-CDF sampling: ``z = F^{-1}(u)``, ``u ~ U(0, 1)``."""
        u = torch.rand(n, generator=generator, dtype=dtype)
        return self.icdf(u.clamp(1e-12, 1 - 1e-12))


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def exponential(rate: float = 1.0) -> Marginal:
    """Exp(rate) on (0, inf): ``F(z) = 1 - exp(-rate z)``, ``F^{-1}(u) = -log(1 - u) / rate``."""
    rate = _positive(rate, "rate")
    return Marginal(
        f"Exponential({rate:g})",
        cdf=lambda z: -torch.expm1(-rate * z),
        icdf=lambda u: -torch.log1p(-u) / rate,
        log_prob=lambda z: math.log(rate) - rate * z,
    )


def kumaraswamy(a: float, b: float) -> Marginal:
    """Kumaraswamy(a, b) on (0, 1), a Beta look-alike with closed forms:
    ``F(z) = 1 - (1 - z^a)^b``, ``F^{-1}(u) = (1 - (1 - u)^{1/b})^{1/a}``."""
    a, b = _positive(a, "a"), _positive(b, "b")
    return Marginal(
        f"Kumaraswamy({a:g}, {b:g})",
        cdf=lambda z: 1 - (1 - z.pow(a)).pow(b),
        icdf=lambda u: (1 - (1 - u).pow(1 / b)).pow(1 / a),
        log_prob=lambda z: math.log(a * b) + (a - 1) * torch.log(z) + (b - 1) * torch.log1p(-z.pow(a)),
    )


def gaussian_mixture(weights: Sequence[float], means: Sequence[float], stds: Sequence[float]) -> Marginal:
    """A 1-D mixture ``sum_k w_k N(mu_k, s_k^2)``: ``F(z) = sum_k w_k Phi((z - mu_k) / s_k)``.

    ``F^{-1}`` has no closed form: it is found by bisection (60 halvings) and then one Newton step
    ``z <- z - (F(z) - u) / p(z)`` through which gradients flow, so ``dz/du = 1 / p(z)`` as the
    inverse function theorem demands.
    """
    w = torch.as_tensor(weights, dtype=torch.float64)
    mu = torch.as_tensor(means, dtype=torch.float64)
    s = torch.as_tensor(stds, dtype=torch.float64)
    if not (w.ndim == mu.ndim == s.ndim == 1 and len(w) == len(mu) == len(s) and len(w) > 0):
        raise ValueError("weights, means and stds must be 1-D sequences of the same, non-zero length")
    if (w <= 0).any() or abs(w.sum().item() - 1) > 1e-8:
        raise ValueError(f"weights must be positive and sum to 1, got {w.tolist()}")
    if (s <= 0).any():
        raise ValueError(f"stds must be positive, got {s.tolist()}")
    normal = torch.distributions.Normal(0.0, 1.0)

    def params(z):
        return w.to(z), mu.to(z), s.to(z)

    def cdf(z):
        w_, mu_, s_ = params(z)
        return (w_ * normal.cdf((z.unsqueeze(-1) - mu_) / s_)).sum(-1)

    def log_prob(z):
        w_, mu_, s_ = params(z)
        comp = torch.log(w_) + normal.log_prob((z.unsqueeze(-1) - mu_) / s_) - torch.log(s_)
        return torch.logsumexp(comp, dim=-1)

    def icdf(u):
        lo = torch.full_like(u, (mu - 12 * s).min().item()).detach()
        hi = torch.full_like(u, (mu + 12 * s).max().item()).detach()
        target = u.detach()
        with torch.no_grad():
            for _ in range(60):  # halvings of an interval, not a loop over samples
                mid = (lo + hi) / 2
                below = cdf(mid) < target
                lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
        z0 = (lo + hi) / 2
        return z0 - (cdf(z0) - u) / log_prob(z0).exp()

    label = " + ".join(f"{wk:g} N({mk:g}, {sk:g}^2)" for wk, mk, sk in zip(w.tolist(), mu.tolist(), s.tolist()))
    return Marginal(label, cdf=cdf, icdf=icdf, log_prob=log_prob)


# ----------------------------------------------------------------------------------------------
# The entangling bijection
# ----------------------------------------------------------------------------------------------
def random_dense_orthogonal(d: int, generator: torch.Generator | None = None, *, min_abs: float | None = None,
                            max_tries: int = 10_000, dtype=torch.float64) -> torch.Tensor:
    """A Haar-random orthogonal ``(d, d)`` matrix with every ``|A_ij| >= min_abs``.

    Draws ``G`` with i.i.d. N(0, 1) entries, takes ``G = QR`` and returns ``Q diag(sign(diag R))``
    (Mezzadri, 2007: exactly Haar-distributed), redrawing until no entry is smaller than
    ``min_abs`` (default ``0.01 / d``; exact zeros have probability 0, the threshold keeps the
    Jacobian entries numerically visible). Rejection keeps the draw Haar-distributed conditioned on
    that event.
    """
    if isinstance(d, bool) or not isinstance(d, int) or d < 2:
        raise ValueError(f"d must be an int >= 2 (the theorem needs d > 1), got {d!r}")
    min_abs = 0.01 / d if min_abs is None else float(min_abs)
    if not 0 <= min_abs < 1 / math.sqrt(d):
        raise ValueError(f"min_abs must be in [0, 1/sqrt(d)) = [0, {1 / math.sqrt(d):.3g}), got {min_abs}")
    for _ in range(max_tries):
        g = torch.randn(d, d, generator=generator, dtype=dtype)
        q, r = torch.linalg.qr(g)
        q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
        if q.abs().min() >= min_abs:
            return q
    raise RuntimeError(f"no orthogonal matrix with all |entries| >= {min_abs} in {max_tries} draws; lower min_abs")


def _check_orthogonal(A: torch.Tensor, tol: float = 1e-6) -> None:
    if not torch.is_tensor(A) or A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be a square matrix (tensor of shape (d, d)), got {getattr(A, 'shape', type(A))}")
    eye = torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
    err = (A @ A.T - eye).abs().max().item()
    if err > tol:
        raise ValueError(f"A must be orthogonal (A A^T = I); max |A A^T - I| = {err:.3g}")


def entangling_map(cdfs: Sequence[Callable], icdfs: Sequence[Callable], A: torch.Tensor):
    """``f = g^{-1} o h^{-1} o A o h o g`` and its inverse, as callables on batches ``(B, d)``.

    ``cdfs[i]``/``icdfs[i]`` are the CDF ``g_i`` and inverse CDF ``g_i^{-1}`` of the marginal of
    ``z_i`` (elementwise torch functions); ``h = Phi^{-1}`` elementwise; ``A`` is orthogonal. The
    inverse is the same map with ``A^T``. Both are differentiable, so ``torch.func.jacrev`` gives
    ``df_i/dz_j``. Uniforms are clamped to ``[eps, 1 - eps]`` (``eps`` = 1e-12 in float64, 1e-6 in
    float32) so that ``Phi^{-1}`` stays finite in the far tails.
    """
    cdfs, icdfs = list(cdfs), list(icdfs)
    _check_orthogonal(A)
    d = A.shape[0]
    if d < 2:
        raise ValueError("the construction needs d > 1")
    if len(cdfs) != d or len(icdfs) != d:
        raise ValueError(f"need one cdf and one icdf per dimension: A is {d}x{d}, got {len(cdfs)} cdfs and {len(icdfs)} icdfs")
    if not all(callable(c) for c in cdfs + icdfs):
        raise TypeError("cdfs and icdfs must be callables (elementwise torch functions)")
    normal = torch.distributions.Normal(0.0, 1.0)

    def make(matrix):
        def mapping(z: torch.Tensor) -> torch.Tensor:
            if not torch.is_tensor(z) or z.ndim != 2 or z.shape[1] != d:
                raise ValueError(f"z must be a tensor of shape (B, {d}), got {tuple(getattr(z, 'shape', ()))}")
            eps = 1e-12 if z.dtype == torch.float64 else 1e-6
            u = torch.stack([cdf(z[:, i]) for i, cdf in enumerate(cdfs)], dim=1)  # g: to uniforms
            n = normal.icdf(u.clamp(eps, 1 - eps))  # h: to standard normals
            n = n @ matrix.to(z).T  # A: a rotation keeps N(0, I)
            u = normal.cdf(n).clamp(eps, 1 - eps)  # h^{-1}
            return torch.stack([icdf(u[:, i]) for i, icdf in enumerate(icdfs)], dim=1)  # g^{-1}

        return mapping

    return make(A), make(A.T)


# ----------------------------------------------------------------------------------------------
# Two-sample test on the joint distribution
# ----------------------------------------------------------------------------------------------
def energy_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Energy distance (Szekely & Rizzo) between samples ``x (n, d)`` and ``y (m, d)``:
    ``E = 2 E|X - Y| - E|X - X'| - E|Y - Y'|`` (V-statistic), zero iff the distributions agree."""
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must be (n, d) and (m, d) with the same d, got {tuple(x.shape)} and {tuple(y.shape)}")
    return 2 * torch.cdist(x, y).mean() - torch.cdist(x, x).mean() - torch.cdist(y, y).mean()


def energy_test(x: torch.Tensor, y: torch.Tensor, n_permutations: int = 200, seed: int = 0) -> tuple[float, float]:
    """Permutation test of ``x ~ y`` with the energy distance: ``(statistic, p_value)``.

    The p-value is ``(1 + #{permuted statistic >= observed}) / (1 + n_permutations)``; all
    permutations reuse one pairwise-distance matrix of the pooled sample."""
    if isinstance(n_permutations, bool) or not isinstance(n_permutations, int) or n_permutations < 1:
        raise ValueError(f"n_permutations must be a positive int, got {n_permutations!r}")
    energy_distance(x[:2], y[:2])  # shape checks
    pooled = torch.cat([x, y]).double()
    dist = torch.cdist(pooled, pooled)
    n, total = len(x), len(pooled)
    gen = torch.Generator().manual_seed(seed)
    perms = torch.stack([torch.arange(total)] + [torch.randperm(total, generator=gen) for _ in range(n_permutations)])
    x_ind = torch.zeros(len(perms), total, dtype=dist.dtype)
    x_ind.scatter_(1, perms[:, :n], 1.0)  # row r: indicator of the first group under permutation r
    m = total - n
    # with indicator x and distances D: x'Dx, x'D(1-x) = x'D1 - x'Dx, (1-x)'D(1-x) = 1'D1 - 2x'D1 + x'Dx
    quad = ((x_ind @ dist) * x_ind).sum(1)
    lin = x_ind @ dist.sum(1)
    cross = (lin - quad) / (n * m)
    within_x = quad / (n * n)
    within_y = (dist.sum() - 2 * lin + quad) / (m * m)
    stats = 2 * cross - within_x - within_y
    observed = stats[0]
    p_value = (1 + (stats[1:] >= observed).sum().item()) / (1 + n_permutations)
    return float(observed), float(p_value)


# ----------------------------------------------------------------------------------------------
# Metrics on (codes, factors)
# ----------------------------------------------------------------------------------------------
def _as_numpy_2d(x, name) -> np.ndarray:
    if torch.is_tensor(x):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"{name} must be a 2-D array (N, columns) with N > 0, got shape {x.shape}")
    return x


def _check_codes_factors(codes, factors):
    codes = _as_numpy_2d(codes, "codes").astype(np.float64)
    factors = _as_numpy_2d(factors, "factors")
    if len(codes) != len(factors):
        raise ValueError(f"codes and factors must have the same length, got {len(codes)} and {len(factors)}")
    if not np.issubdtype(factors.dtype, np.integer):
        if not np.all(np.equal(np.mod(factors, 1), 0)):
            raise ValueError("factors must be discrete (integer indices)")
        factors = factors.astype(np.int64)
    constant = [j for j in range(factors.shape[1]) if np.unique(factors[:, j]).size < 2]
    if constant:
        raise ValueError(f"factor(s) {constant} are constant: a metric cannot measure what a code says about them")
    if not np.isfinite(codes).all():
        raise ValueError("codes contain NaN or inf")
    return codes, factors


def _discretize(codes: np.ndarray, bins: int) -> np.ndarray:
    """Each code column into ``bins`` equal-width bins over its range (as disentanglement_lib)."""
    out = np.zeros(codes.shape, dtype=np.int64)
    for k in range(codes.shape[1]):  # over code dimensions
        edges = np.histogram(codes[:, k], bins)[1]
        out[:, k] = np.digitize(codes[:, k], edges[:-1])
    return out


def _mutual_info(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in mutual information (nats) of two discrete label arrays, from their joint histogram."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    joint = np.zeros((ai.max() + 1, bi.max() + 1))
    np.add.at(joint, (ai, bi), 1.0)
    joint /= joint.sum()
    pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])).sum())


def _entropy(labels: np.ndarray) -> float:
    p = np.unique(labels, return_counts=True)[1] / len(labels)
    return float(-(p * np.log(p)).sum())


def mutual_information_matrix(codes, factors, bins: int = 20) -> np.ndarray:
    """``I(c_k; v_j)`` in nats, shape ``(K, F)``, codes discretized into ``bins`` histogram bins."""
    codes, factors = _check_codes_factors(codes, factors)
    disc = _discretize(codes, bins)
    return np.array([[_mutual_info(disc[:, k], factors[:, j]) for j in range(factors.shape[1])]
                     for k in range(codes.shape[1])])


def mig(codes, factors, bins: int = 20) -> float:
    """Mutual Information Gap (Chen et al., 2018):
    ``MIG = 1/F sum_j (I(c_(1); v_j) - I(c_(2); v_j)) / H(v_j)``, with ``c_(1), c_(2)`` the two
    code dimensions most informative about factor ``v_j``. 1: each factor in exactly one dimension."""
    codes, factors = _check_codes_factors(codes, factors)
    if codes.shape[1] < 2:
        raise ValueError("MIG needs a code with at least 2 dimensions")
    m = mutual_information_matrix(codes, factors, bins)
    top2 = -np.sort(-m, axis=0)[:2]
    h = np.array([_entropy(factors[:, j]) for j in range(factors.shape[1])])
    return float(np.mean((top2[0] - top2[1]) / h))


def modularity(codes, factors, bins: int = 20) -> float:
    """Modularity (Ridgeway & Zemel, 2018): each code dimension should inform about one factor.

    For dimension ``k`` with ``theta_k = max_j I(c_k; v_j)`` and the template ``t_kj = theta_k`` at
    that factor and 0 elsewhere: ``delta_k = sum_j (I_kj - t_kj)^2 / (theta_k^2 (F - 1))`` and the
    score is the mean of ``1 - delta_k`` (dimensions that carry no information count 0)."""
    codes, factors = _check_codes_factors(codes, factors)
    m = mutual_information_matrix(codes, factors, bins)
    n_factors = m.shape[1]
    if n_factors < 2:
        raise ValueError("modularity needs at least 2 factors")
    theta = m.max(axis=1)
    template = np.zeros_like(m)
    template[np.arange(len(m)), m.argmax(axis=1)] = theta
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = ((m - template) ** 2).sum(1) / (theta**2 * (n_factors - 1))
        score = 1.0 - delta
    score[theta == 0] = 0.0
    return float(score.mean())


def _split(n: int, test_fraction: float, seed: int):
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, int(round(n * test_fraction)))
    return order[n_test:], order[:n_test]


def sap(codes, factors, *, continuous: bool = True, test_fraction: float = 1 / 3, seed: int = 0) -> float:
    """Separated Attribute Predictability (Kumar et al., 2018).

    Score matrix ``S_kj``: how well code dimension ``k`` alone predicts factor ``j`` on held-out
    points (``continuous=True``: the R^2 of a 1-D linear regression, the paper's choice for ordinal
    factors; ``False``: the accuracy of a linear SVM with C = 0.01, as disentanglement_lib does for
    categorical ones). SAP is the mean over factors of the gap between the best and the
    second-best dimension.
    """
    codes, factors = _check_codes_factors(codes, factors)
    if codes.shape[1] < 2:
        raise ValueError("SAP needs a code with at least 2 dimensions")
    train, test = _split(len(codes), test_fraction, seed)
    K, F = codes.shape[1], factors.shape[1]
    scores = np.zeros((K, F))
    if continuous:
        for j in range(F):
            y_tr, y_te = factors[train, j].astype(np.float64), factors[test, j].astype(np.float64)
            x_tr, x_te = codes[train], codes[test]
            # closed-form 1-D least squares for all K dimensions at once
            xm, ym = x_tr.mean(0), y_tr.mean()
            var = ((x_tr - xm) ** 2).sum(0)
            slope = np.where(var > 0, ((x_tr - xm) * (y_tr - ym)[:, None]).sum(0) / np.where(var > 0, var, 1), 0.0)
            pred = ym + (x_te - xm) * slope
            ss_res = ((y_te[:, None] - pred) ** 2).sum(0)
            ss_tot = ((y_te - y_te.mean()) ** 2).sum()
            scores[:, j] = np.clip(1 - ss_res / ss_tot, 0, 1) if ss_tot > 0 else 0
    else:
        from sklearn.svm import LinearSVC

        for k in range(K):
            for j in range(F):
                clf = LinearSVC(C=0.01, class_weight="balanced")
                clf.fit(codes[train, k : k + 1], factors[train, j])
                scores[k, j] = (clf.predict(codes[test, k : k + 1]) == factors[test, j]).mean()
    top2 = -np.sort(-scores, axis=0)[:2]
    return float(np.mean(top2[0] - top2[1]))


def dci(codes, factors, *, test_fraction: float = 1 / 3, seed: int = 0, n_estimators: int = 50) -> dict:
    """DCI (Eastwood & Williams, 2018) from the feature importances ``R_kj`` of one tree ensemble
    (scikit-learn's random forest, one of the paper's two regressors) per factor:

    - disentanglement ``D = sum_k rho_k (1 - H_F(P_k.))`` with ``P_kj = R_kj / sum_j R_kj``,
      ``H_F`` the entropy in base F and ``rho_k = sum_j R_kj / sum R``;
    - completeness ``C = sum_j rho_j (1 - H_K(P~_.j))`` with ``P~_kj = R_kj / sum_k R_kj``;
    - informativeness: mean held-out accuracy of the per-factor classifiers.

    Returns ``{"disentanglement", "completeness", "informativeness", "importance" (K, F)}``.
    """
    from sklearn.ensemble import RandomForestClassifier

    codes, factors = _check_codes_factors(codes, factors)
    train, test = _split(len(codes), test_fraction, seed)
    K, F = codes.shape[1], factors.shape[1]
    importance = np.zeros((K, F))
    accuracy = np.zeros(F)
    for j in range(F):  # one classifier per factor
        # max_features=None: every split may use any dimension, so an irrelevant dimension is only
        # chosen when it helps, and its importance stays near zero
        forest = RandomForestClassifier(n_estimators=n_estimators, max_depth=8, max_features=None,
                                        random_state=seed, n_jobs=1)
        forest.fit(codes[train], factors[train, j])
        importance[:, j] = forest.feature_importances_
        accuracy[j] = forest.score(codes[test], factors[test, j])

    def one_minus_entropy(p, base):
        p = p / np.clip(p.sum(axis=0, keepdims=True), 1e-12, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -np.nansum(np.where(p > 0, p * np.log(p), 0.0), axis=0) / math.log(base)
        return 1 - h

    total = importance.sum()
    if K > 1 and F > 1:
        d = one_minus_entropy(importance.T, F)  # per code dimension
        rho = importance.sum(1) / total
        c = one_minus_entropy(importance, K)  # per factor
        rho_f = importance.sum(0) / total
        disentanglement, completeness = float((rho * d).sum()), float((rho_f * c).sum())
    else:
        disentanglement = completeness = 1.0
    return {"disentanglement": disentanglement, "completeness": completeness,
            "informativeness": float(accuracy.mean()), "importance": importance}


# ----------------------------------------------------------------------------------------------
# Metrics that sample by factor
# ----------------------------------------------------------------------------------------------
def representation_from_encoder(encoder: Callable, dataset, batch_size: int = 1024, *, sample: bool = False,
                                seed: int = 0) -> Callable:
    """``factors -> codes``: render images with ``dataset.images_from_factors`` and encode them.

    ``encoder(images)`` may return the code or ``(mu, logvar, ...)``. The representation is the
    mean ``mu`` (what inference uses), or with ``sample=True`` a draw ``mu + sigma * eps`` (what
    training factorizes). Runs under ``torch.no_grad`` on the encoder's device, in batches.
    """
    device = module_device(encoder) if isinstance(encoder, torch.nn.Module) else torch.device("cpu")
    gen = torch.Generator().manual_seed(seed)

    def represent(factors: torch.Tensor) -> torch.Tensor:
        outs = []
        with torch.no_grad():
            for chunk in factors.split(batch_size):
                out = encoder(dataset.images_from_factors(chunk.to(device)))
                code = out[0] if isinstance(out, (tuple, list)) else out
                if sample:
                    if not isinstance(out, (tuple, list)) or len(out) < 2:
                        raise ValueError("sample=True needs an encoder that returns (mu, logvar)")
                    eps = torch.randn(code.shape, generator=gen, dtype=code.dtype).to(code.device)
                    code = code + eps * torch.exp(0.5 * out[1])
                outs.append(code.float().cpu())
        return torch.cat(outs)

    return represent


def _sample_fixed_pairs(factor_sizes, n_points, batch_size, gen):
    """For each point a factor k and ``batch_size`` pairs of factor vectors sharing factor k."""
    sizes = torch.tensor(factor_sizes)
    F = len(factor_sizes)
    k = torch.randint(F, (n_points,), generator=gen)
    u = torch.rand(2, n_points, batch_size, F, generator=gen)
    v = (u * sizes).long()  # uniform indices per factor
    v[1, torch.arange(n_points), :, k] = v[0, torch.arange(n_points), :, k]
    return k, v


def _check_represent(represent, factor_sizes, n_train, n_eval, batch_size):
    if not callable(represent):
        raise TypeError("represent must be a callable mapping factor indices (B, F) to codes (B, K)")
    sizes = list(factor_sizes)
    if len(sizes) < 2 or any((not isinstance(s, int)) or s < 2 for s in sizes):
        raise ValueError(f"factor_sizes must list at least 2 factors, each with >= 2 values, got {factor_sizes}")
    for name, value in (("n_train", n_train), ("n_eval", n_eval), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return sizes


def beta_vae_score(represent: Callable, factor_sizes: Sequence[int], *, n_train: int = 10_000, n_eval: int = 5_000,
                   batch_size: int = 64, seed: int = 0) -> dict:
    """BetaVAE score (Higgins et al., 2017): the accuracy of a linear classifier that predicts
    which factor ``k`` was held fixed from ``z_diff = 1/L sum_l |r(v_l) - r(w_l)|``, the mean
    absolute code difference over ``L = batch_size`` pairs ``(v_l, w_l)`` that share factor ``k``.

    Returns ``{"train_accuracy", "eval_accuracy"}``; the score is the evaluation accuracy.
    """
    from sklearn.linear_model import LogisticRegression

    sizes = _check_represent(represent, factor_sizes, n_train, n_eval, batch_size)
    gen = torch.Generator().manual_seed(seed)

    def points(n):
        k, v = _sample_fixed_pairs(sizes, n, batch_size, gen)
        codes = represent(v.reshape(-1, len(sizes))).reshape(2, n, batch_size, -1).double()
        return (codes[0] - codes[1]).abs().mean(1).numpy(), k.numpy()

    x_tr, y_tr = points(n_train)
    x_ev, y_ev = points(n_eval)
    clf = LogisticRegression(max_iter=2000)
    clf.fit(x_tr, y_tr)
    return {"train_accuracy": float(clf.score(x_tr, y_tr)), "eval_accuracy": float(clf.score(x_ev, y_ev))}


def factor_vae_score(represent: Callable, factor_sizes: Sequence[int], *, n_train: int = 10_000,
                     n_eval: int = 5_000, batch_size: int = 64, n_variance: int = 10_000,
                     prune_threshold: float = 0.05, seed: int = 0) -> dict:
    """FactorVAE score (Kim & Mnih, 2018).

    Divide each code dimension by its standard deviation over ``n_variance`` random points
    (dimensions with std < ``prune_threshold`` are collapsed and ignored); for a batch sharing
    factor ``k`` the vote is the dimension with the smallest variance; a majority-vote classifier
    maps dimension -> factor. Returns ``{"train_accuracy", "eval_accuracy", "active_dims"}``.
    """
    sizes = _check_represent(represent, factor_sizes, n_train, n_eval, batch_size)
    gen = torch.Generator().manual_seed(seed)
    F = len(sizes)
    random_factors = (torch.rand(n_variance, F, generator=gen) * torch.tensor(sizes)).long()
    scale = represent(random_factors).double().std(0)
    active = scale >= prune_threshold
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "active_dims": 0}

    def votes(n):
        k = torch.randint(F, (n,), generator=gen)
        v = (torch.rand(n, batch_size, F, generator=gen) * torch.tensor(sizes)).long()
        rows = torch.arange(n)
        v[rows, :, k] = v[rows, :1, k]  # the whole batch shares one value of factor k
        codes = represent(v.reshape(-1, F)).reshape(n, batch_size, -1).double() / scale
        var = codes.var(1, unbiased=True)
        var[:, ~active] = float("inf")
        return var.argmin(1).numpy(), k.numpy()

    d_tr, k_tr = votes(n_train)
    d_ev, k_ev = votes(n_eval)
    K = len(scale)
    table = np.zeros((K, F))
    np.add.at(table, (d_tr, k_tr), 1)
    rule = table.argmax(1)
    return {"train_accuracy": float((rule[d_tr] == k_tr).mean()),
            "eval_accuracy": float((rule[d_ev] == k_ev).mean()),
            "active_dims": int(active.sum())}


# ----------------------------------------------------------------------------------------------
# The beta-TCVAE objective
# ----------------------------------------------------------------------------------------------
def _log_normal_pairs(z, mu, logvar):
    """log N(z_i,d; mu_j,d, exp(logvar_j,d)) for every pair (i, j) of a batch: (B, B, D)."""
    z, mu, logvar = z.unsqueeze(1), mu.unsqueeze(0), logvar.unsqueeze(0)
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu).pow(2) * torch.exp(-logvar))


def total_correlation_terms(z, mu, logvar, dataset_size: int) -> dict[str, torch.Tensor]:
    """The KL's three parts (Chen et al., 2018), estimated on a batch:

    ``E_x KL(q(z|x) || p(z)) = I_q(x; z) + TC(z) + sum_d KL(q(z_d) || p(z_d))``, where the aggregate
    posterior ``q(z) = 1/N sum_n q(z|x_n)`` is estimated by minibatch stratified sampling: for
    ``z_i ~ q(z|x_i)`` in a batch of ``M`` among ``N = dataset_size`` points,
    ``q(z_i) ~ 1/N q(z_i|x_i) + (N - 1) / (N (M - 1)) sum_{j != i} q(z_i|x_j)``, and the same per
    dimension for ``q(z_id)``. ``z, mu, logvar: (M, D)``; returns batch means ``{"mi", "tc", "dim_kl"}``.
    """
    m = z.shape[0]
    if m < 2:
        raise ValueError("the total-correlation estimate needs a batch of at least 2")
    if isinstance(dataset_size, bool) or not isinstance(dataset_size, int) or dataset_size < m:
        raise ValueError(f"dataset_size must be an int >= the batch size {m}, got {dataset_size!r}")
    pairs = _log_normal_pairs(z, mu, logvar)  # (M, M, D): log q(z_i,d | x_j)
    log_w = torch.full((m, m), math.log((dataset_size - 1) / (dataset_size * (m - 1))), dtype=z.dtype, device=z.device)
    log_w.fill_diagonal_(-math.log(dataset_size))
    log_q_z = torch.logsumexp(pairs.sum(2) + log_w, dim=1)  # log q(z_i)
    log_prod_q = torch.logsumexp(pairs + log_w.unsqueeze(2), dim=1).sum(1)  # sum_d log q(z_id)
    log_q_zx = torch.diagonal(pairs.sum(2))  # log q(z_i|x_i)
    log_p = log_normal_std(z)
    return {"mi": (log_q_zx - log_q_z).mean(), "tc": (log_q_z - log_prod_q).mean(),
            "dim_kl": (log_prod_q - log_p).mean()}


def beta_tcvae_loss(model, x, beta: float, dataset_size: int) -> dict[str, torch.Tensor]:
    """beta-TCVAE (Chen et al., 2018): ``-E_q log p(x|z) + I(x; z) + beta TC(z) + sum_d KL(q(z_d)||p(z_d))``:
    only the total correlation is up-weighted. ``model`` is a :class:`dgmlib.vae.VAE`; use as
    ``fit(model, x, loss_fn=lambda m, b: beta_tcvae_loss(m, b, beta, len(x)))``."""
    mu, logvar = model.encode(x)[:2]
    z = reparameterize(mu, logvar)
    recon = model.log_px_given_z(x, z).mean()
    parts = total_correlation_terms(z, mu, logvar, dataset_size)
    loss = -recon + parts["mi"] + beta * parts["tc"] + parts["dim_kl"]
    return {"loss": loss, "recon_loss": -recon.detach(), **{k: v.detach() for k, v in parts.items()}}


METRIC_NAMES = ("BetaVAE", "FactorVAE", "MIG", "DCI", "Modularity", "SAP")


def all_metrics(represent: Callable, factor_sizes: Sequence[int], *, n_points: int = 10_000,
                n_train: int = 10_000, n_eval: int = 5_000, batch_size: int = 64, seed: int = 0) -> dict[str, float]:
    """The six scores of one representation, in the order of :data:`METRIC_NAMES`.

    ``represent(factors) -> codes`` (see :func:`representation_from_encoder`). MIG, DCI
    disentanglement, modularity and SAP use ``n_points`` uniformly drawn factor vectors; BetaVAE
    and FactorVAE sample their own batches (``n_train``/``n_eval`` points of ``batch_size``).
    """
    gen = torch.Generator().manual_seed(seed)
    factors = (torch.rand(n_points, len(factor_sizes), generator=gen) * torch.tensor(factor_sizes)).long()
    codes = represent(factors)
    kw = dict(n_train=n_train, n_eval=n_eval, batch_size=batch_size, seed=seed)
    return {
        "BetaVAE": beta_vae_score(represent, factor_sizes, **kw)["eval_accuracy"],
        "FactorVAE": factor_vae_score(represent, factor_sizes, n_variance=n_points, **kw)["eval_accuracy"],
        "MIG": mig(codes, factors),
        "DCI": dci(codes, factors, seed=seed)["disentanglement"],
        "Modularity": modularity(codes, factors),
        "SAP": sap(codes, factors, seed=seed),
    }


def warped_grid(f: Callable, bounds=(0.02, 0.98), n_lines: int = 11, n_points: int = 200, dtype=torch.float64):
    """Images under ``f`` of the lines of a square grid on ``[lo, hi]^2``, for pictures of a 2-D map:
    returns ``(vertical, horizontal)``, each ``(n_lines, n_points, 2)``."""
    lo, hi = bounds
    levels = torch.linspace(lo, hi, n_lines, dtype=dtype)
    t = torch.linspace(lo, hi, n_points, dtype=dtype)
    vertical = torch.stack([levels[:, None].expand(-1, n_points), t[None].expand(n_lines, -1)], -1)
    horizontal = vertical.flip(-1)
    with torch.no_grad():
        return tuple(f(lines.reshape(-1, 2)).reshape(n_lines, n_points, 2) for lines in (vertical, horizontal))
