import math

import pytest
import torch

from dgmlib.data import toy2d, toy2d_modes
from dgmlib.metrics import mode_coverage


def test_true_ring_samples_cover_every_mode_at_the_rayleigh_rate():
    centers, std = toy2d_modes("8gaussians")
    x = toy2d("8gaussians", 20000, seed=0)
    result = mode_coverage(x, centers, std)
    assert result["modes_covered"] == 8
    # ||x - c|| / std is Rayleigh in 2-D: P(r <= 3) = 1 - exp(-9/2)
    assert result["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.003)
    assert int(result["counts"].sum()) == round(result["high_quality"] * 20000)


def test_a_collapsed_generator_covers_one_mode_and_far_points_are_not_high_quality():
    centers, std = toy2d_modes("8gaussians")
    collapsed = centers[3] + 0.01 * torch.randn(500, 2)
    result = mode_coverage(collapsed, centers, std)
    assert result["modes_covered"] == 1 and result["high_quality"] == 1.0
    assert result["counts"].tolist() == [0, 0, 0, 500, 0, 0, 0, 0]
    origin = torch.zeros(100, 2)  # distance 2 = 40 std from every mode
    result = mode_coverage(torch.cat([collapsed, origin]), centers, std)
    assert result["modes_covered"] == 1
    assert result["high_quality"] == pytest.approx(500 / 600)


def test_the_threshold_is_three_standard_deviations_by_default():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    samples = torch.tensor([[0.29, 0.0], [10.31, 0.0]])
    result = mode_coverage(samples, centers, std=0.1)
    assert result["counts"].tolist() == [1, 0] and result["high_quality"] == 0.5
    assert mode_coverage(samples, centers, std=0.1, threshold=3.2)["modes_covered"] == 2


def test_mode_coverage_rejects_bad_input():
    centers, std = toy2d_modes("8gaussians")
    with pytest.raises(ValueError, match="same dimension"):
        mode_coverage(torch.zeros(5, 3), centers, std)
    with pytest.raises(ValueError, match="samples must have shape"):
        mode_coverage(torch.zeros(0, 2), centers, std)
    with pytest.raises(ValueError, match="std must be a positive number"):
        mode_coverage(torch.zeros(5, 2), centers, 0.0)


# --- FID, Inception Score, precision and recall, the feature network -----------------------------

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402

from dgmlib.metrics import (  # noqa: E402
    FeatureNet,
    embed,
    feature_net,
    fid,
    frechet_distance,
    inception_score,
    knn_radii,
    precision_recall,
    trace_sqrt_product,
)


def _random_cov(d, rank=None, seed=0):
    g = np.random.default_rng(seed)
    a = g.standard_normal((d, rank or d))
    return a @ a.T / d + (0 if rank else 0.1 * np.eye(d))


def _scipy_frechet(m1, c1, m2, c2):
    root = scipy.linalg.sqrtm(c1 @ c2).real
    return float(((m1 - m2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.trace(root))


def test_frechet_distance_matches_scipy_sqrtm_for_known_gaussians():
    d = 20
    m1, m2 = np.zeros(d), np.linspace(-1, 1, d)
    c1, c2 = _random_cov(d, seed=1), _random_cov(d, seed=2)
    expected = _scipy_frechet(m1, c1, m2, c2)
    assert frechet_distance(torch.tensor(m1), torch.tensor(c1), torch.tensor(m2), torch.tensor(c2)) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_closed_form_for_commuting_covariances():
    # diagonal covariances: d^2 = ||m1 - m2||^2 + sum_i (s1_i - s2_i)^2 with s the standard deviations
    s1, s2 = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64), torch.tensor([3.0, 1.0, 0.5], dtype=torch.float64)
    m1, m2 = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64), torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)
    value = frechet_distance(m1, torch.diag(s1**2), m2, torch.diag(s2**2))
    assert value == pytest.approx(float((m1 - m2).pow(2).sum() + (s1 - s2).pow(2).sum()), rel=1e-12)


def test_trace_sqrt_product_handles_singular_covariances_like_sqrtm():
    c1, c2 = _random_cov(12, rank=4, seed=3), _random_cov(12, rank=6, seed=4)
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(c1)  # the Cholesky path cannot be used here
    expected = np.trace(scipy.linalg.sqrtm(c1 @ c2).real)
    assert float(trace_sqrt_product(torch.tensor(c1), torch.tensor(c2))) == pytest.approx(expected, rel=1e-7)


def test_fid_of_samples_agrees_with_the_direct_formula_and_with_the_population_value():
    g = torch.Generator().manual_seed(0)
    d, n = 8, 50_000
    mix = torch.randn(d, d, generator=g, dtype=torch.float64) / math.sqrt(d)
    a = torch.randn(n, d, generator=g, dtype=torch.float64)
    b = torch.randn(n, d, generator=g, dtype=torch.float64) @ mix.T + 0.5
    an, bn = a.numpy(), b.numpy()
    direct = _scipy_frechet(an.mean(0), np.cov(an, rowvar=False), bn.mean(0), np.cov(bn, rowvar=False))
    assert fid(a, b) == pytest.approx(direct, rel=1e-9)
    assert fid(an, bn) == pytest.approx(direct, rel=1e-9)  # NumPy arrays work too
    population = _scipy_frechet(np.zeros(d), np.eye(d), np.full(d, 0.5), (mix @ mix.T).numpy())
    assert fid(a, b) == pytest.approx(population, rel=0.05)


def test_fid_of_a_set_with_itself_is_zero_and_float32_input_works():
    x = torch.randn(300, 16)
    assert fid(x, x) == pytest.approx(0.0, abs=1e-9)
    assert fid(x, x + 1.0) == pytest.approx(16.0, rel=1e-6)  # a shift by the all-ones vector


def test_inception_score_is_the_number_of_classes_for_confident_balanced_predictions():
    k = 10
    probs = torch.eye(k).repeat(50, 1)  # 500 one-hot predictions, 50 per class
    mean, std = inception_score(probs, splits=10)
    assert mean == pytest.approx(k, rel=1e-9) and std == pytest.approx(0.0, abs=1e-9)
    uniform = torch.full((500, k), 1.0 / k)
    assert inception_score(uniform) == pytest.approx((1.0, 0.0), abs=1e-9)
    collapsed = torch.eye(k)[torch.zeros(500, dtype=torch.long)]  # confident but always class 0
    assert inception_score(collapsed, splits=1)[0] == pytest.approx(1.0, abs=1e-9)


def test_inception_score_matches_exp_of_entropy_difference():
    logits = torch.randn(400, 5, dtype=torch.float64)
    probs = torch.softmax(logits, 1)
    marginal = probs.mean(0)
    h_y = -(marginal * marginal.log()).sum()
    h_y_given_x = -(probs * probs.log()).sum(1).mean()
    assert inception_score(probs, splits=1)[0] == pytest.approx(float(torch.exp(h_y - h_y_given_x)), rel=1e-12)


def test_knn_radius_is_the_distance_to_the_kth_other_point():
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert knn_radii(x, k=1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert knn_radii(x, k=2).tolist() == [3.0, 2.0, 3.0, 6.0]


def test_precision_and_recall_by_hand_on_a_line():
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])  # k = 1 radii: 1, 1, 1, 1
    fake = torch.tensor([[0.5], [2.9], [10.0], [11.0]])  # radii: 2.4, 2.4, 1, 1
    result = precision_recall(real, fake, k=1)
    assert result["precision"] == pytest.approx(0.5)  # 0.5 and 2.9 lie in real balls; 10 and 11 do not
    assert result["recall"] == pytest.approx(1.0)  # every real point lies within 2.4 of 0.5 or 2.9


def test_precision_and_recall_are_one_on_identical_sets_and_chunking_does_not_matter():
    x = toy2d("8gaussians", 1000, seed=0)
    assert precision_recall(x, x) == {"precision": 1.0, "recall": 1.0}
    y = toy2d("moons", 700, seed=1)
    assert precision_recall(x, y, k=3) == precision_recall(x, y, k=3, chunk=7)


def test_dropping_half_the_modes_halves_recall_and_keeps_precision():
    centers, std = toy2d_modes("8gaussians")
    real, labels = toy2d("8gaussians", 4000, seed=0, return_labels=True)
    fake, fake_labels = toy2d("8gaussians", 8000, seed=1, return_labels=True)
    fake = fake[fake_labels < 4][:4000]  # four of the eight modes
    result = precision_recall(real, fake, k=3)
    assert result["recall"] == pytest.approx(float((labels < 4).float().mean()), abs=0.02)
    assert result["recall"] == pytest.approx(0.5, abs=0.03)
    assert result["precision"] > 0.97


def test_off_manifold_samples_lower_precision_by_their_share():
    real = toy2d("8gaussians", 4000, seed=0)
    good = toy2d("8gaussians", 3000, seed=1)
    off = 0.3 * torch.randn(1000, 2, generator=torch.Generator().manual_seed(2))  # around the empty centre
    result = precision_recall(real, torch.cat([good, off]), k=3)
    assert result["precision"] == pytest.approx(0.75, abs=0.02)
    assert result["recall"] > 0.97


def test_scores_reject_bad_input():
    with pytest.raises(ValueError, match="features_a and features_b must have the same feature dimension"):
        fid(torch.zeros(10, 3), torch.zeros(10, 4))
    with pytest.raises(ValueError, match="real_features and fake_features must have the same feature dimension"):
        precision_recall(torch.zeros(10, 3), torch.zeros(10, 4))
    with pytest.raises(ValueError, match="k must be smaller than the number of samples"):
        precision_recall(torch.randn(10, 2), torch.randn(3, 2), k=3)
    with pytest.raises(ValueError, match="k must be a positive int"):
        precision_recall(torch.randn(10, 2), torch.randn(10, 2), k=0)
    with pytest.raises(ValueError, match="probs must hold probabilities"):
        inception_score(torch.full((20, 4), 0.3))
    with pytest.raises(ValueError, match="probs must hold probabilities"):
        inception_score(torch.tensor([[1.5, -0.5], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="splits must be an int"):
        inception_score(torch.full((5, 2), 0.5), splits=6)
    with pytest.raises(ValueError, match="features_a must have shape"):
        fid(torch.zeros(10), torch.zeros(10, 1))


def test_feature_net_shapes_and_probabilities():
    net = FeatureNet()
    x = torch.rand(6, 1, 28, 28)
    assert net.features(x).shape == (6, 64) and net(x).shape == (6, 10)
    assert torch.allclose(net.probs(x).sum(1), torch.ones(6))
    out = embed(net, x, batch_size=4)
    assert torch.allclose(out["features"], net.features(x), atol=1e-6)
    assert torch.allclose(out["probs"], net.probs(x), atol=1e-6)


