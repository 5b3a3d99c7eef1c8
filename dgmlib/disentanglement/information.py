"""Scores from mutual information between code dimensions and factors: MIG and modularity.

    I(c_k; v_j) = sum_{a, b} p(a, b) log p(a, b) / (p(a) p(b))     (nats, codes binned into 20 bins)

The plug-in estimate bins each code dimension into equal-width bins over its range, as
disentanglement_lib does (20 bins by default).
"""

from __future__ import annotations

import numpy as np

from .. import checks
from .inputs import check_codes_factors

__all__ = ["mutual_information_matrix", "mig", "modularity"]


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
    """H(v) = -sum_a p(a) log p(a) in nats, of a discrete label array."""
    p = np.unique(labels, return_counts=True)[1] / len(labels)
    return float(-(p * np.log(p)).sum())


def mutual_information_matrix(codes, factors, bins: int = 20) -> np.ndarray:
    """``I(c_k; v_j)`` in nats, shape ``(K, F)``, codes discretized into ``bins`` histogram bins."""
    codes, factors = check_codes_factors(codes, factors)
    disc = _discretize(codes, checks.positive_int(bins, "bins"))
    return np.array([[_mutual_info(disc[:, k], factors[:, j]) for j in range(factors.shape[1])]
                     for k in range(codes.shape[1])])


def mig(codes, factors, bins: int = 20) -> float:
    """Mutual Information Gap (Chen et al., 2018):
    ``MIG = 1/F sum_j (I(c_(1); v_j) - I(c_(2); v_j)) / H(v_j)``, with ``c_(1), c_(2)`` the two
    code dimensions most informative about factor ``v_j``. 1: each factor in exactly one dimension.

    Example:
        >>> factors = torch.randint(4, (5000, 2))
        >>> round(mig(factors.double(), factors, bins=4), 2)      # the factors themselves as the code
        1.0

    References: Chen et al., *Isolating Sources of Disentanglement in VAEs*, NeurIPS 2018, Eq. (5).
    """
    codes, factors = check_codes_factors(codes, factors)
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
    score is the mean of ``1 - delta_k`` (dimensions that carry no information count 0).

    References: Ridgeway & Zemel, *Learning Deep Disentangled Embeddings With the F-Statistic
    Loss*, NeurIPS 2018, Sec. 3.
    """
    codes, factors = check_codes_factors(codes, factors)
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
