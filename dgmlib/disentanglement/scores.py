"""Scores that sample images by factor (BetaVAE, FactorVAE), and all six scores of one representation.

A representation is a function ``represent(factors) -> codes``: factor indices ``(B, F)`` (a long
tensor, one row per image) to codes ``(B, K)``; :func:`representation_from_encoder` makes one from
an encoder and a data set that renders images from factors (``dataset.images_from_factors``).

Example:
    >>> represent = representation_from_encoder(model.encoder, sprites.dataset)
    >>> all_metrics(represent, DSprites.factor_sizes, n_points=2000)    # {"BetaVAE": ..., "SAP": ...}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from .. import checks
from ..runtime import module_device
from .information import mig, modularity
from .predictors import dci, sap

__all__ = ["representation_from_encoder", "beta_vae_score", "factor_vae_score", "all_metrics", "METRIC_NAMES"]

METRIC_NAMES = ("BetaVAE", "FactorVAE", "MIG", "DCI", "Modularity", "SAP")


def representation_from_encoder(encoder: Callable, dataset, batch_size: int = 1024, *, sample: bool = False,
                                seed: int = 0) -> Callable:
    """``factors -> codes``: render images with ``dataset.images_from_factors`` and encode them.

    ``encoder(images)`` may return the code or ``(mu, logvar, ...)``. The representation is the
    mean ``mu`` (what inference uses), or with ``sample=True`` a draw ``mu + sigma * eps`` (what
    training factorizes). Runs under ``torch.no_grad`` on the encoder's device, in batches.
    """
    batch_size = checks.positive_int(batch_size, "batch_size")
    sample = checks.flag(sample, "sample")
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


def _check_factor_sizes(factor_sizes) -> list[int]:
    """``factor_sizes`` as a list of Python ints, at least 2 factors with at least 2 values each."""
    sizes = factor_sizes.tolist() if torch.is_tensor(factor_sizes) else factor_sizes
    if not isinstance(sizes, (Sequence, np.ndarray)) or len(sizes) < 2:
        raise ValueError(f"factor_sizes must list at least 2 factors (the number of values of each), got {factor_sizes!r}")
    return [checks.int_at_least(s, f"factor_sizes[{j}]", 2, " (a factor takes at least 2 values)")
            for j, s in enumerate(sizes)]


def _check_represent(represent, factor_sizes, n_train, n_eval, batch_size) -> list[int]:
    if not callable(represent):
        raise TypeError("represent must be a callable mapping factor indices (B, F) to codes (B, K)")
    for name, value in (("n_train", n_train), ("n_eval", n_eval), ("batch_size", batch_size)):
        checks.positive_int(value, name)
    return _check_factor_sizes(factor_sizes)


def _codes_of(represent: Callable, factors: torch.Tensor) -> torch.Tensor:
    """``represent(factors)`` as a float64 CPU tensor ``(B, K)``, one finite code per factor row."""
    codes = represent(factors)
    if isinstance(codes, np.ndarray):
        codes = torch.from_numpy(codes)
    if not torch.is_tensor(codes):
        raise TypeError(f"represent must return a tensor (or NumPy array) of codes (B, K), got {type(codes).__name__}")
    if codes.ndim != 2 or len(codes) != len(factors):
        raise ValueError(f"represent must map factors of shape ({len(factors)}, F) to codes of shape "
                         f"({len(factors)}, K), got codes of shape {tuple(codes.shape)}")
    return checks.finite_tensor(codes.detach().double().cpu(), "the codes returned by represent")


def _uniform_factors(sizes: list[int], shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """Factor vectors ``(*shape, F)`` with each factor uniform over its values."""
    return (torch.rand(*shape, len(sizes), generator=gen) * torch.tensor(sizes)).long()


def _sample_fixed_pairs(factor_sizes, n_points, batch_size, gen):
    """For each point a factor k and ``batch_size`` pairs of factor vectors sharing factor k."""
    F = len(factor_sizes)
    k = torch.randint(F, (n_points,), generator=gen)
    v = _uniform_factors(factor_sizes, (2, n_points, batch_size), gen)  # uniform indices per factor
    v[1, torch.arange(n_points), :, k] = v[0, torch.arange(n_points), :, k]
    return k, v


def beta_vae_score(represent: Callable, factor_sizes: Sequence[int], *, n_train: int = 10_000, n_eval: int = 5_000,
                   batch_size: int = 64, seed: int = 0) -> dict:
    """BetaVAE score (Higgins et al., 2017): the accuracy of a linear classifier that predicts
    which factor ``k`` was held fixed from ``z_diff = 1/L sum_l |r(v_l) - r(w_l)|``, the mean
    absolute code difference over ``L = batch_size`` pairs ``(v_l, w_l)`` that share factor ``k``.

    Returns ``{"train_accuracy", "eval_accuracy"}``; the score is the evaluation accuracy.

    References: Higgins et al., *beta-VAE: Learning Basic Visual Concepts with a Constrained
    Variational Framework*, ICLR 2017, Sec. 3.
    """
    from sklearn.linear_model import LogisticRegression

    sizes = _check_represent(represent, factor_sizes, n_train, n_eval, batch_size)
    gen = torch.Generator().manual_seed(seed)

    def points(n):
        k, v = _sample_fixed_pairs(sizes, n, batch_size, gen)
        codes = _codes_of(represent, v.reshape(-1, len(sizes))).reshape(2, n, batch_size, -1)
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

    References: Kim & Mnih, *Disentangling by Factorising*, ICML 2018, Sec. 4.
    """
    sizes = _check_represent(represent, factor_sizes, n_train, n_eval, batch_size)
    checks.int_at_least(batch_size, "batch_size", 2, " (a variance within each batch needs two points)")
    checks.int_at_least(n_variance, "n_variance", 2, " (a standard deviation needs two points)")
    prune_threshold = checks.non_negative_number(prune_threshold, "prune_threshold")
    gen = torch.Generator().manual_seed(seed)
    F = len(sizes)
    scale = _codes_of(represent, _uniform_factors(sizes, (n_variance,), gen)).std(0)
    active = scale >= prune_threshold
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "active_dims": 0}

    def votes(n):
        k = torch.randint(F, (n,), generator=gen)
        v = _uniform_factors(sizes, (n, batch_size), gen)
        rows = torch.arange(n)
        v[rows, :, k] = v[rows, :1, k]  # the whole batch shares one value of factor k
        codes = _codes_of(represent, v.reshape(-1, F)).reshape(n, batch_size, -1) / scale
        var = codes.var(1, unbiased=True)
        var[:, ~active] = float("inf")
        return var.argmin(1).numpy(), k.numpy()

    d_tr, k_tr = votes(n_train)
    d_ev, k_ev = votes(n_eval)
    table = np.zeros((len(scale), F))  # (K, F): votes of dimension d for factor k
    np.add.at(table, (d_tr, k_tr), 1)
    rule = table.argmax(1)
    return {"train_accuracy": float((rule[d_tr] == k_tr).mean()),
            "eval_accuracy": float((rule[d_ev] == k_ev).mean()),
            "active_dims": int(active.sum())}


def all_metrics(represent: Callable, factor_sizes: Sequence[int], *, n_points: int = 10_000,
                n_train: int = 10_000, n_eval: int = 5_000, batch_size: int = 64, seed: int = 0) -> dict[str, float]:
    """The six scores of one representation, in the order of :data:`METRIC_NAMES`.

    ``represent(factors) -> codes`` (see :func:`representation_from_encoder`). MIG, DCI
    disentanglement, modularity and SAP use ``n_points`` uniformly drawn factor vectors; BetaVAE
    and FactorVAE sample their own batches (``n_train``/``n_eval`` points of ``batch_size``).

    References: Locatello et al., *Challenging Common Assumptions in the Unsupervised Learning of
    Disentangled Representations*, ICML 2019 (the six scores, side by side).
    """
    sizes = _check_represent(represent, factor_sizes, n_train, n_eval, batch_size)
    n_points = checks.int_at_least(n_points, "n_points", 2)
    gen = torch.Generator().manual_seed(seed)
    factors = _uniform_factors(sizes, (n_points,), gen)
    codes = _codes_of(represent, factors)
    kw = dict(n_train=n_train, n_eval=n_eval, batch_size=batch_size, seed=seed)
    return {
        "BetaVAE": beta_vae_score(represent, sizes, **kw)["eval_accuracy"],
        "FactorVAE": factor_vae_score(represent, sizes, n_variance=n_points, **kw)["eval_accuracy"],
        "MIG": mig(codes, factors),
        "DCI": dci(codes, factors, seed=seed)["disentanglement"],
        "Modularity": modularity(codes, factors),
        "SAP": sap(codes, factors, seed=seed),
    }
