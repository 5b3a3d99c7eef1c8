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
