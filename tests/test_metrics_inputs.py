"""Bad input to the sample-based scores is refused with a message that names the argument.

Each case here used to return a normal-looking number (or fail deep inside with a message about
something else): NaN features, a covariance that is not one, complex features, k >= N.
"""

import numpy as np
import pytest
import scipy.linalg
import torch

from dgmlib.data import toy2d_modes
from dgmlib.metrics import (
    fid,
    frechet_distance,
    gaussian_stats,
    inception_score,
    knn_radii,
    mode_coverage,
    precision_recall,
    trace_sqrt_product,
)


def _with_nan(n=20, d=3, value=float("nan"), seed=0):
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(seed))
    x[4, 1] = value
    return x


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_precision_recall_refuses_non_finite_features_and_names_the_argument(value):
    good = torch.randn(20, 3)
    with pytest.raises(ValueError, match="real_features must be finite, got 1 NaN or infinite"):
        precision_recall(_with_nan(value=value), good)
    with pytest.raises(ValueError, match="fake_features must be finite"):
        precision_recall(good, _with_nan(value=value))


def test_frechet_distance_refuses_a_covariance_that_is_not_positive_semi_definite():
    zero, eye = torch.zeros(2), torch.eye(2)
    indefinite = torch.diag(torch.tensor([1.0, -1.0]))  # used to give 0.0
    with pytest.raises(ValueError, match="cov_a must be positive semi-definite .* eigenvalue of -1"):
        frechet_distance(zero, indefinite, zero, eye)
    with pytest.raises(ValueError, match="cov_b must be positive semi-definite"):
        frechet_distance(zero, eye, zero, indefinite)
    with pytest.raises(ValueError, match="cov_a must be positive semi-definite"):
        frechet_distance(zero, -eye, zero, -eye)  # used to give -4.0
    with pytest.raises(ValueError, match="cov_b must be positive semi-definite"):
        trace_sqrt_product(eye, indefinite)


def test_round_off_negative_eigenvalues_are_accepted_within_d_eps_max_eigenvalue():
    # tolerance: lambda >= -D * eps * max|lambda|, eps of the covariance's dtype
    zero = torch.zeros(2, dtype=torch.float64)
    tiny = torch.diag(torch.tensor([1.0, -1e-18], dtype=torch.float64))  # 1e-18 < 2 * 2.2e-16
    assert frechet_distance(zero, tiny, zero, tiny) == pytest.approx(0.0, abs=1e-12)
    float32_tiny = torch.diag(torch.tensor([1.0, -1e-7]))  # within 2 * 1.2e-7 for float32 ...
    assert frechet_distance(zero, float32_tiny, zero, torch.eye(2)) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="cov_a must be positive semi-definite"):
        frechet_distance(zero, float32_tiny.double(), zero, torch.eye(2))  # ... but not for float64


def test_fid_of_fewer_samples_than_dimensions_accepts_the_round_off_and_matches_sqrtm():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(6, 20, generator=g, dtype=torch.float64)
    b = torch.randn(8, 20, generator=g, dtype=torch.float64) + 0.3
    (m_a, c_a), (m_b, c_b) = gaussian_stats(a), gaussian_stats(b)
    assert torch.linalg.eigvalsh(c_a)[0] < 0  # rank 5: the zero eigenvalues come out slightly negative
    root = scipy.linalg.sqrtm(c_a.numpy() @ c_b.numpy()).real
    expected = float(((m_a - m_b) ** 2).sum() + c_a.trace() + c_b.trace()) - 2 * np.trace(root)
    assert fid(a, b) == pytest.approx(expected, rel=1e-6)


def test_fid_refuses_complex_features_instead_of_dropping_the_imaginary_part():
    z = torch.randn(10, 2, dtype=torch.complex64)
    with pytest.raises(TypeError, match="features_a must be a real tensor, got complex dtype"):
        fid(z, torch.randn(10, 2))
    with pytest.raises(TypeError, match="features_b must be a real tensor"):
        fid(np.random.default_rng(0).normal(size=(10, 2)), z.numpy())
    with pytest.raises(TypeError, match="cov_a must be a real tensor"):
        frechet_distance(torch.zeros(2), torch.eye(2, dtype=torch.complex128), torch.zeros(2), torch.eye(2))


def test_fid_refuses_nan_with_a_clear_message_before_any_eigendecomposition():
    with pytest.raises(ValueError, match="features_b must be finite, got 1 NaN"):
        fid(torch.randn(20, 3), _with_nan())
    with pytest.raises(ValueError, match="features must be finite"):
        gaussian_stats(_with_nan())
    with pytest.raises(ValueError, match="mean_b must be finite"):
        frechet_distance(torch.zeros(2), torch.eye(2), torch.tensor([0.0, float("nan")]), torch.eye(2))


def test_mode_coverage_refuses_nan_samples_instead_of_reporting_zero_modes():
    centers, std = toy2d_modes("8gaussians")
    with pytest.raises(ValueError, match="samples must be finite, got 10 NaN"):
        mode_coverage(torch.full((5, 2), float("nan")), centers, std)
    with pytest.raises(ValueError, match="centers must be finite"):
        mode_coverage(torch.zeros(5, 2), torch.full((8, 2), float("inf")), std)
    with pytest.raises(ValueError, match="threshold must be a positive number"):
        mode_coverage(torch.zeros(5, 2), centers, std, threshold=True)


def test_mode_coverage_counts_integer_samples_like_float_ones():
    # integer samples used to fail inside cdist ("only supports floating-point dtypes")
    centers = torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    samples = torch.tensor([[0, 0], [4, 1], [4, 0], [9, 9]])
    result = mode_coverage(samples, centers, std=0.5)  # (4, 1) is 2 std from its mode; (9, 9) far from all
    assert result["counts"].tolist() == [1, 2, 0] and result["modes_covered"] == 2 and result["high_quality"] == 0.75
    assert result["counts"].tolist() == mode_coverage(samples.float(), centers, std=0.5)["counts"].tolist()


def test_knn_radii_refuses_k_at_least_the_number_of_points_and_names_both():
    x = torch.randn(3, 2)
    with pytest.raises(ValueError, match=r"k must be smaller than the number of points N = 3 .*got k=3"):
        knn_radii(x, k=3)
    with pytest.raises(ValueError, match="k must be a positive int"):
        knn_radii(x, k=0)
    with pytest.raises(ValueError, match="chunk must be a positive int"):
        knn_radii(x, k=1, chunk=0)
    assert knn_radii(x, k=2).shape == (3,)  # k = N - 1: the farthest other point


def test_inception_score_refuses_nan_probabilities_by_name():
    with pytest.raises(ValueError, match="probs must be finite"):
        inception_score(torch.tensor([[0.5, float("nan")], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="splits must be a positive int"):
        inception_score(torch.full((5, 2), 0.5), splits=0)
