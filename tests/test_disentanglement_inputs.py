"""Degenerate shapes and bad input for the disentanglement metrics: an honest number or a clear error."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from dgmlib import disentanglement as D
from dgmlib.disentanglement.predictors import _disentanglement_completeness

SIZES = (3, 6, 40, 32, 32)  # the dSprites factors
FAST = dict(n_train=100, n_eval=50, batch_size=8)


def _two_factors(n=3000, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(4, (n,), generator=g), torch.randint(3, (n,), generator=g)], 1)


def _unit_codes(fac):
    return (fac.double() + 0.5) / torch.tensor(SIZES, dtype=torch.float64) - 0.5


# --- DCI on degenerate shapes ----------------------------------------------------------------
def test_dci_one_code_holding_two_factors_has_zero_disentanglement():
    f = _two_factors()
    one_code = (3 * f[:, 0] + f[:, 1]).double()[:, None]  # (N, 1): both factors, recoverable from it
    out = D.dci(one_code, f)
    assert out["disentanglement"] == pytest.approx(0.0, abs=1e-9)  # was 1.0
    assert math.isnan(out["completeness"])  # H_K in base K = 1: undefined
    assert out["informativeness"] > 0.9  # the one code does predict both factors (0.955)


def test_dci_one_factor_has_undefined_disentanglement_and_a_real_completeness():
    f = _two_factors()[:, :1]
    codes = torch.stack([f[:, 0].double(), torch.rand(len(f), generator=torch.Generator().manual_seed(1),
                                                       dtype=torch.float64)], 1)
    out = D.dci(codes, f)
    assert math.isnan(out["disentanglement"])  # H_F in base F = 1: undefined (was 1.0)
    assert out["completeness"] > 0.9  # the factor lives in code 0 only
    spread = torch.cat([codes[:, :1] + 0.0, codes[:, :1] * 2.0], 1)  # the factor in two identical codes
    assert D.dci(spread, f)["completeness"] < 0.1


def test_dci_scores_match_disentanglement_libs_formula():
    rng = np.random.default_rng(0)
    for K, F in ((4, 3), (1, 2), (3, 1), (5, 5)):
        importance = rng.random((K, F)) * (rng.random((K, F)) > 0.3)
        importance[0, 0] += 0.1  # not all zero
        total = importance.sum()
        # disentanglement_lib's dci.py: 1 - scipy entropy (with 1e-11 added) in base F (codes) or K (factors)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_code = 1 - stats.entropy(importance.T + 1e-11, base=F)
            per_factor = 1 - stats.entropy(importance + 1e-11, base=K)
        expected_d = np.sum(per_code * importance.sum(1) / total) if F > 1 else math.nan
        expected_c = np.sum(per_factor * importance.sum(0) / total) if K > 1 else math.nan
        d, c = _disentanglement_completeness(importance)
        np.testing.assert_allclose([d, c], [expected_d, expected_c], atol=1e-8, equal_nan=True)
    assert _disentanglement_completeness(np.zeros((3, 2))) == (0.0, 0.0)  # no importance anywhere


# --- SAP --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fraction", [0, 0.0, 1, 1.5, -0.2, float("nan")])
def test_sap_and_dci_refuse_a_test_fraction_outside_zero_one(fraction):
    f = _two_factors(200)
    codes = f.double()
    with pytest.raises(ValueError, match=r"test_fraction must be a number in \(0, 1\)"):
        D.sap(codes, f, test_fraction=fraction)
    with pytest.raises(ValueError, match=r"test_fraction must be a number in \(0, 1\)"):
        D.dci(codes, f, test_fraction=fraction)


def test_sap_refuses_a_split_without_training_points():
    f = _two_factors(6)
    with pytest.raises(ValueError, match="test_fraction=0.95 of 6 points leaves no point to train on"):
        D.sap(f.double(), f, test_fraction=0.95)


def test_sap_default_is_the_papers_r2_and_the_svm_setting_scores_perfect_codes_low():
    # the docstring's statement: perfect codes give ~1 by default, far below 1 with disentanglement_lib's SVM
    g = torch.Generator().manual_seed(0)
    f = (torch.rand(3000, len(SIZES), generator=g) * torch.tensor(SIZES)).long()
    codes = _unit_codes(f)
    assert D.sap(codes, f) > 0.99
    assert D.sap(codes, f, continuous=False) < 0.4
    with pytest.raises(TypeError, match="continuous must be True or False"):
        D.sap(codes, f, continuous=1)


# --- the metrics that sample by factor --------------------------------------------------------
def test_factor_vae_score_refuses_one_point_for_the_variance():
    with pytest.raises(ValueError, match=r"n_variance must be an int >= 2 \(a standard deviation needs two points\), got 1"):
        D.factor_vae_score(_unit_codes, SIZES, n_variance=1, **FAST)
    with pytest.raises(ValueError, match=r"batch_size must be an int >= 2"):
        D.factor_vae_score(_unit_codes, SIZES, n_variance=100, n_train=100, n_eval=50, batch_size=1)
    with pytest.raises(ValueError, match="prune_threshold must be a non-negative number"):
        D.factor_vae_score(_unit_codes, SIZES, n_variance=100, prune_threshold=-1.0, **FAST)


def test_represent_may_return_numpy_and_gives_the_same_scores():
    as_numpy = lambda fac: _unit_codes(fac).numpy()
    assert D.beta_vae_score(as_numpy, SIZES, **FAST) == D.beta_vae_score(_unit_codes, SIZES, **FAST)
    assert (D.factor_vae_score(as_numpy, SIZES, n_variance=200, **FAST)
            == D.factor_vae_score(_unit_codes, SIZES, n_variance=200, **FAST))


@pytest.mark.parametrize("score", [D.beta_vae_score, D.factor_vae_score, D.all_metrics])
def test_represent_with_the_wrong_output_gets_a_clear_error(score):
    with pytest.raises(ValueError, match=r"represent must map factors of shape \(\d+, F\) to codes of shape \(\d+, K\), "
                                         r"got codes of shape \(\d+, 5\)"):
        score(lambda fac: _unit_codes(fac)[:-1], SIZES, **FAST)
    with pytest.raises(TypeError, match="represent must return a tensor \\(or NumPy array\\) of codes \\(B, K\\), got list"):
        score(lambda fac: _unit_codes(fac).tolist(), SIZES, **FAST)
    with pytest.raises(ValueError, match="the codes returned by represent must be finite"):
        score(lambda fac: _unit_codes(fac) * float("nan"), SIZES, **FAST)


def test_factor_sizes_as_numpy_ints_are_accepted():
    expected = D.beta_vae_score(_unit_codes, SIZES, **FAST)
    assert D.beta_vae_score(_unit_codes, np.array(SIZES), **FAST) == expected
    assert D.beta_vae_score(_unit_codes, [np.int64(s) for s in SIZES], **FAST) == expected
    assert D.beta_vae_score(_unit_codes, torch.tensor(SIZES), **FAST) == expected


def test_bad_factor_sizes_are_named():
    with pytest.raises(ValueError, match=r"factor_sizes\[1\] must be an int >= 2 \(a factor takes at least 2 values\), got 1"):
        D.beta_vae_score(_unit_codes, (3, 1, 40), **FAST)
    with pytest.raises(ValueError, match=r"factor_sizes\[0\] must be an int >= 2 .*got 3.0"):
        D.factor_vae_score(_unit_codes, (3.0, 6), **FAST)
    with pytest.raises(ValueError, match="factor_sizes must list at least 2 factors"):
        D.beta_vae_score(_unit_codes, (3,), **FAST)
    with pytest.raises(ValueError, match="n_train must be a positive int, got 0"):
        D.beta_vae_score(_unit_codes, SIZES, n_train=0)


# --- beta-TCVAE -------------------------------------------------------------------------------
class _TinyVAE(torch.nn.Module):
    """q(z|x) = N(W x, diag exp(logvar)), p(x|z) Bernoulli(sigmoid(V z)): enough for the loss's terms."""

    def __init__(self):
        super().__init__()
        self.enc, self.dec = torch.nn.Linear(6, 4), torch.nn.Linear(2, 6)

    def encode(self, x):
        return self.enc(x).chunk(2, dim=-1)

    def log_px_given_z(self, x, z):
        return -torch.nn.functional.binary_cross_entropy_with_logits(self.dec(z), x, reduction="none").sum(-1)


def test_beta_tcvae_loss_speaks_the_contracts_vocabulary():
    model, x = _TinyVAE(), (torch.rand(32, 6) > 0.5).float()
    terms = D.beta_tcvae_loss(model, x, beta=1.0, dataset_size=1000)
    assert list(terms) == ["loss", "elbo", "recon", "kl", "mi", "tc", "dim_kl"]
    assert terms["loss"].requires_grad and not any(v.requires_grad for k, v in terms.items() if k != "loss")
    assert terms["recon"] > 0  # a reconstruction LOSS: -E_q log p(x|z) >= 0 for Bernoulli pixels
    assert terms["kl"] == pytest.approx((terms["mi"] + terms["tc"] + terms["dim_kl"]).item(), abs=1e-6)
    assert terms["elbo"] == pytest.approx(-(terms["recon"] + terms["kl"]).item(), abs=1e-6)
    assert terms["loss"].item() == pytest.approx(-terms["elbo"].item(), abs=1e-5)  # beta = 1: the negative ELBO
    with pytest.raises(ValueError, match="beta must be a non-negative number"):
        D.beta_tcvae_loss(model, x, beta=-1.0, dataset_size=1000)


def test_total_correlation_terms_refuse_mismatched_shapes():
    mu = torch.zeros(8, 3)
    with pytest.raises(ValueError, match=r"z and logvar must have the same shape, got \(8, 3\) and \(8, 2\)"):
        D.total_correlation_terms(mu, mu, torch.zeros(8, 2), dataset_size=100)
