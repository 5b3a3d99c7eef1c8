"""Section 4: ``dgmlib.metrics.fid`` and ``precision_recall`` against the textbook computations.

Features: 2,048-dimensional, like Inception's pool layer, drawn as a random linear map of a
64-dimensional Gaussian plus isotropic noise (so the covariances have full rank); the "fake" set
has its map perturbed, its mean shifted and its noise scaled.

- FID reference: numpy mean and ``np.cov``, then ``scipy.linalg.sqrtm(C_a @ C_b)`` (its real
  part), the formula as most FID code writes it.
- Precision/recall reference: the k-NN balls computed with numpy on the full distance matrices
  (squared distances from the Gram expansion ||a||^2 - 2 a.b + ||b||^2, clipped at 0).

``precision_recall`` computes its squared distances by that same expansion, one matrix product
per block of rows, rather than the direct sum_k (a_k - b_k)^2: about 20 times faster at 2,048
dimensions when that choice was made.
"""

from __future__ import annotations

import numpy as np
import torch

from .common import interleaved


def features(n: int, dim: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(64, dim, generator=g) / 8
    real = torch.randn(n, 64, generator=g) @ w + 0.5 * torch.randn(n, dim, generator=g)
    w_fake = w + 0.1 * torch.randn(64, dim, generator=g) / 8
    fake = torch.randn(n, 64, generator=g) @ w_fake + 0.05 + 0.55 * torch.randn(n, dim, generator=g)
    return real, fake


def fid_sqrtm(a: np.ndarray, b: np.ndarray) -> float:
    import scipy.linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(cov_a @ cov_b)
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean))


def _sq_dists(a, b):
    return np.maximum((a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None, :], 0.0)


def precision_recall_numpy(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict:
    r_real = np.sort(_sq_dists(real, real), axis=1)[:, k]
    r_fake = np.sort(_sq_dists(fake, fake), axis=1)[:, k]
    precision = (_sq_dists(fake, real) <= r_real[None, :]).any(1).mean()
    recall = (_sq_dists(real, fake) <= r_fake[None, :]).any(1).mean()
    return {"precision": float(precision), "recall": float(recall)}


def run(sizes: dict, device: torch.device, log=print) -> list[dict]:
    from dgmlib import metrics

    rows = []
    real, fake = features(sizes["fid_n"], sizes["fid_dim"], seed=0)
    real_np, fake_np = real.double().numpy(), fake.double().numpy()
    real_d, fake_d = real.to(device), fake.to(device)
    out = {}
    t = interleaved({
        "dgmlib": lambda: out.__setitem__("dgmlib", metrics.fid(real_d, fake_d)),
        "sqrtm": lambda: out.__setitem__("sqrtm", fid_sqrtm(real_np, fake_np)),
    }, repeats=sizes["metric_repeats"], warmup=0, device=device)
    rows.append({
        "section": "metrics", "metric": "fid", "n": sizes["fid_n"], "dim": sizes["fid_dim"],
        "dgmlib_s": t["dgmlib"], "reference_s": t["sqrtm"], "speedup": t["sqrtm"] / t["dgmlib"],
        "dgmlib_value": out["dgmlib"], "reference_value": out["sqrtm"],
        "rel_diff": abs(out["dgmlib"] - out["sqrtm"]) / abs(out["sqrtm"]),
    })
    log(f"  metrics fid n={sizes['fid_n']} D={sizes['fid_dim']}: dgmlib {t['dgmlib']:.3g} s  sqrtm {t['sqrtm']:.3g} s  "
        f"values {out['dgmlib']:.6f} / {out['sqrtm']:.6f}")

    real, fake = features(sizes["pr_n"], sizes["fid_dim"], seed=1)
    real_np, fake_np = real.double().numpy(), fake.double().numpy()
    real_d, fake_d = real.double().to(device), fake.double().to(device)
    t = interleaved({
        "dgmlib": lambda: out.__setitem__("pr", metrics.precision_recall(real_d, fake_d, k=3)),
        "numpy": lambda: out.__setitem__("pr_ref", precision_recall_numpy(real_np, fake_np, k=3)),
    }, repeats=sizes["metric_repeats"], warmup=0, device=device)
    rows.append({
        "section": "metrics", "metric": "precision_recall(k=3)", "n": sizes["pr_n"], "dim": sizes["fid_dim"],
        "dgmlib_s": t["dgmlib"], "reference_s": t["numpy"], "speedup": t["numpy"] / t["dgmlib"],
        "dgmlib_value": f"{out['pr']['precision']:.4f} / {out['pr']['recall']:.4f}",
        "reference_value": f"{out['pr_ref']['precision']:.4f} / {out['pr_ref']['recall']:.4f}",
        "rel_diff": max(abs(out["pr"][k] - out["pr_ref"][k]) for k in ("precision", "recall")),
    })
    log(f"  metrics precision/recall n={sizes['pr_n']}: dgmlib {t['dgmlib']:.3g} s  numpy {t['numpy']:.3g} s  "
        f"values {rows[-1]['dgmlib_value']} vs {rows[-1]['reference_value']}")
    return rows
