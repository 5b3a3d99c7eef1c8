"""Scores from predictors of the factors: SAP (one code dimension at a time) and DCI (all at once).

Both fit their predictors on a random ``1 - test_fraction`` of the points and score on the rest
(disentanglement_lib draws two separate sets of 10,000 and 5,000 points instead).
"""

from __future__ import annotations

import math

import numpy as np

from .. import checks
from .inputs import check_codes_factors, train_test_split

__all__ = ["sap", "dci"]


def _r2_per_dimension(x_tr, y_tr, x_te, y_te) -> np.ndarray:
    """Held-out R^2 of the 1-D least-squares fits ``y ~ a_k + b_k x_k``, all K dimensions at once: (K,)."""
    xm, ym = x_tr.mean(0), y_tr.mean()
    var = ((x_tr - xm) ** 2).sum(0)
    slope = np.where(var > 0, ((x_tr - xm) * (y_tr - ym)[:, None]).sum(0) / np.where(var > 0, var, 1), 0.0)
    pred = ym + (x_te - xm) * slope
    ss_res = ((y_te[:, None] - pred) ** 2).sum(0)
    ss_tot = ((y_te - y_te.mean()) ** 2).sum()
    return np.clip(1 - ss_res / ss_tot, 0, 1) if ss_tot > 0 else np.zeros(x_tr.shape[1])


def _svm_accuracy_per_dimension(x_tr, y_tr, x_te, y_te) -> np.ndarray:
    """Held-out accuracy of a linear SVM (C = 0.01, balanced classes) on each code dimension alone: (K,)."""
    from sklearn.svm import LinearSVC

    acc = np.zeros(x_tr.shape[1])
    for k in range(x_tr.shape[1]):
        clf = LinearSVC(C=0.01, class_weight="balanced")
        clf.fit(x_tr[:, k : k + 1], y_tr)
        acc[k] = (clf.predict(x_te[:, k : k + 1]) == y_te).mean()
    return acc


def sap(codes, factors, *, continuous: bool = True, test_fraction: float = 1 / 3, seed: int = 0) -> float:
    """Separated Attribute Predictability (Kumar et al., 2018):
    ``SAP = 1/F sum_j (S_(1)j - S_(2)j)``, the mean over factors of the gap between the best and the
    second-best code dimension in the score matrix ``S_kj``: how well code dimension ``k`` alone
    predicts factor ``j`` on held-out points.

    - ``continuous=True`` (the default, the paper's choice for ordinal factors such as dSprites'
      scale, orientation and position): ``S_kj`` is the R^2 of a 1-D linear regression.
    - ``continuous=False`` (disentanglement_lib's setting in the study of Locatello et al., 2019):
      ``S_kj`` is the accuracy of a linear SVM with C = 0.01 on that dimension alone. A threshold on
      one axis cannot separate 40 ordered classes, so even perfect codes score far below 1: the true
      dSprites factors as the code give 1.00 by default and 0.18 to 0.25 (10,000 points, depending
      on the codes' scale) with ``continuous=False``. Compare scores only within one setting.

    ``codes: (N, K)`` with ``K >= 2``, ``factors: (N, F)`` integer indices; ``test_fraction`` in (0, 1).

    References: Kumar, Sattigeri & Balakrishnan, *Variational Inference of Disentangled Latent
    Concepts from Unlabeled Observations*, ICLR 2018, Sec. 3.
    """
    codes, factors = check_codes_factors(codes, factors)
    continuous = checks.flag(continuous, "continuous")
    if codes.shape[1] < 2:
        raise ValueError("SAP needs a code with at least 2 dimensions")
    train, test = train_test_split(len(codes), test_fraction, seed)
    score_of = _r2_per_dimension if continuous else _svm_accuracy_per_dimension
    scores = np.zeros((codes.shape[1], factors.shape[1]))  # (K, F)
    for j in range(factors.shape[1]):
        y = factors[:, j].astype(np.float64) if continuous else factors[:, j]
        scores[:, j] = score_of(codes[train], y[train], codes[test], y[test])
    top2 = -np.sort(-scores, axis=0)[:2]
    return float(np.mean(top2[0] - top2[1]))


def _one_minus_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """``1 - H_base(p_.j)`` for every column of ``p`` normalized to sum 1 (an all-zero column gives 1)."""
    p = p / np.clip(p.sum(axis=0, keepdims=True), 1e-12, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.nansum(np.where(p > 0, p * np.log(p), 0.0), axis=0) / math.log(base)
    return 1 - h


def _disentanglement_completeness(importance: np.ndarray) -> tuple[float, float]:
    """D and C of an importance matrix ``(K, F)``; NaN where the entropy's base would be 1."""
    K, F = importance.shape
    total = importance.sum()
    if total == 0:  # no dimension predicts anything: nothing is disentangled, nothing complete
        return (0.0 if F > 1 else math.nan), (0.0 if K > 1 else math.nan)
    d = math.nan
    if F > 1:  # per code dimension, weighted by its share of the importance
        d = float((importance.sum(1) / total * _one_minus_entropy(importance.T, F)).sum())
    c = math.nan
    if K > 1:  # per factor, weighted by its share of the importance
        c = float((importance.sum(0) / total * _one_minus_entropy(importance, K)).sum())
    return d, c


def dci(codes, factors, *, test_fraction: float = 1 / 3, seed: int = 0, n_estimators: int = 50) -> dict:
    """DCI (Eastwood & Williams, 2018) from the feature importances ``R_kj`` of one tree ensemble
    (scikit-learn's random forest, one of the paper's two regressors) per factor:

    - disentanglement ``D = sum_k rho_k (1 - H_F(P_k.))`` with ``P_kj = R_kj / sum_j R_kj``,
      ``H_F`` the entropy in base F and ``rho_k = sum_j R_kj / sum R``;
    - completeness ``C = sum_j rho_j (1 - H_K(P~_.j))`` with ``P~_kj = R_kj / sum_k R_kj``;
    - informativeness: mean held-out accuracy of the per-factor classifiers.

    Degenerate shapes: ``H_F`` is normalized by ``log F``, so D is undefined for one factor
    (``F = 1``: 0/0) and C for one code dimension (``K = 1``); these are returned as NaN, as
    disentanglement_lib's formula gives (``scipy.stats.entropy`` in base 1). D needs only
    ``F > 1`` and C only ``K > 1``: one code dimension that holds two factors has D = 0. When no
    dimension carries any importance, D = C = 0 (disentanglement_lib: 0 too).

    Returns ``{"disentanglement", "completeness", "informativeness", "importance" (K, F)}``.

    References: Eastwood & Williams, *A Framework for the Quantitative Evaluation of Disentangled
    Representations*, ICLR 2018, Sec. 2.
    """
    from sklearn.ensemble import RandomForestClassifier

    codes, factors = check_codes_factors(codes, factors)
    n_estimators = checks.positive_int(n_estimators, "n_estimators")
    train, test = train_test_split(len(codes), test_fraction, seed)
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
    disentanglement, completeness = _disentanglement_completeness(importance)
    return {"disentanglement": disentanglement, "completeness": completeness,
            "informativeness": float(accuracy.mean()), "importance": importance}
