import math

import pytest
import torch
from scipy import stats

from dgmlib.data import MIXTURE_NAMES, TOY2D_NAMES, parallel_lines, toy2d, toy2d_modes


@pytest.mark.parametrize("name", TOY2D_NAMES)
def test_every_toy_has_shape_dtype_range_and_seeding(name):
    x = toy2d(name, 2000, seed=3)
    assert x.shape == (2000, 2) and x.dtype == torch.float32
    assert torch.isfinite(x).all() and x.abs().max() < 4.6
    assert torch.equal(x, toy2d(name, 2000, seed=3))
    assert not torch.equal(x, toy2d(name, 2000, seed=4))
    torch.manual_seed(7)
    a = toy2d(name, 100)
    torch.manual_seed(7)
    assert torch.equal(a, toy2d(name, 100))


def test_8gaussians_centres_are_on_the_radius_2_circle():
    centers, std = toy2d_modes("8gaussians")
    assert centers.shape == (8, 2) and std == 0.05
    assert torch.allclose(centers.norm(dim=1), torch.full((8,), 2.0))
    angles = torch.atan2(centers[:, 1], centers[:, 0]) % (2 * math.pi)
    assert torch.allclose(angles.sort().values, torch.arange(8) * (math.pi / 4), atol=1e-6)


def test_25gaussians_centres_form_the_grid():
    centers, _ = toy2d_modes("25gaussians")
    assert centers.shape == (25, 2)
    assert set(centers[:, 0].tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    assert len({tuple(c) for c in centers.tolist()}) == 25


@pytest.mark.parametrize("name", MIXTURE_NAMES)
def test_mixture_modes_are_equally_frequent_with_the_stated_std(name):
    centers, std = toy2d_modes(name)
    x, labels = toy2d(name, 50_000, seed=0, return_labels=True)
    nearest = torch.cdist(x, centers).argmin(dim=1)
    assert torch.equal(nearest, labels)  # components are far apart relative to std
    counts = torch.bincount(nearest, minlength=len(centers)).numpy()
    assert stats.chisquare(counts).pvalue > 1e-3  # uniform over modes
    residual = x - centers[labels]
    assert residual.mean(0).abs().max() < 3 * std / math.sqrt(50_000) * 3
    assert torch.allclose(residual.std(0), torch.full((2,), std), rtol=0.02)


def test_mixture_std_override_is_used_and_reported():
    centers, std = toy2d_modes("8gaussians", std=0.2)
    x, labels = toy2d("8gaussians", 20_000, seed=0, std=0.2, return_labels=True)
    assert std == 0.2
    assert abs((x - centers[labels]).std().item() - 0.2) < 0.005


def test_moons_halves_have_unit_radius_and_noise_01():
    x, half = toy2d("moons", 40_000, seed=0, return_labels=True)
    shift = torch.tensor([0.5, 0.25])
    upper = (x[half == 0] + shift).norm(dim=1)  # centre (0, 0) before shifting
    lower = (x[half == 1] + shift - torch.tensor([1.0, 0.5])).norm(dim=1)  # centre (1, 0.5)
    for r in (upper, lower):
        assert abs(r.mean().item() - 1.0) < 0.02
        assert abs(r.std().item() - 0.1) < 0.01
    assert abs(x.mean(0)).max() < 0.02  # centred


def test_circles_and_rings_radii():
    x, which = toy2d("circles", 20_000, seed=0, return_labels=True)
    r = x.norm(dim=1)
    assert abs(r[which == 0].mean().item() - 2.0) < 0.01 and abs(r[which == 1].mean().item() - 1.0) < 0.01
    x, ring = toy2d("rings", 40_000, seed=0, return_labels=True)
    share = torch.bincount(ring, minlength=4).float() / len(ring)
    assert torch.allclose(share, torch.tensor([0.1, 0.2, 0.3, 0.4]), atol=0.01)
    assert torch.allclose(torch.stack([x[ring == k].norm(dim=1).mean() for k in range(4)]),
                          torch.tensor([1.0, 2.0, 3.0, 4.0]), atol=0.01)


def test_checkerboard_is_uniform_on_the_dark_squares():
    x = toy2d("checkerboard", 40_000, seed=0)
    col = ((x[:, 0] + 4) // 2).long()
    row = ((x[:, 1] + 4) // 2).long()
    assert ((col + row) % 2 == 0).all()  # never on a light square
    counts = torch.bincount(row * 4 + col, minlength=16)
    dark = counts[(torch.arange(16) // 4 + torch.arange(16) % 4) % 2 == 0]
    assert stats.chisquare(dark.numpy()).pvalue > 1e-3


def test_spirals_are_point_symmetric():
    x, arm = toy2d("spirals", 20_000, seed=0, return_labels=True)
    # the second arm is the first rotated by pi: compare radial distributions
    r0, r1 = x[arm == 0].norm(dim=1), x[arm == 1].norm(dim=1)
    assert stats.ks_2samp(r0.numpy(), r1.numpy()).pvalue > 1e-3


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown toy2d name 'swissroll'; valid names: 8gaussians, 25gaussians, moons"):
        toy2d("swissroll", 10)


@pytest.mark.parametrize("n", [0, -5])
def test_non_positive_n_is_rejected(n):
    with pytest.raises(ValueError, match=f"n must be a positive number of samples, got {n}"):
        toy2d("moons", n)


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="n must be an int"):
        toy2d("moons", 10.0)
    with pytest.raises(ValueError, match="std only applies to the mixtures"):
        toy2d("moons", 10, std=0.1)
    with pytest.raises(ValueError, match="toy2d_modes is defined for the mixtures"):
        toy2d_modes("moons")
    with pytest.raises(TypeError, match="seed must be an int or None"):
        toy2d("moons", 10, seed=1.5)


def test_parallel_lines_samples_and_gradient_in_theta():
    x_pi, x_p = parallel_lines(0.7, 5000, seed=0)
    assert x_pi.shape == x_p.shape == (5000, 2)
    assert (x_pi[:, 0] == 0).all() and torch.allclose(x_p[:, 0], torch.full((5000,), 0.7))
    for u in (x_pi[:, 1], x_p[:, 1]):
        assert stats.kstest(u.numpy(), "uniform").pvalue > 1e-3
    theta = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    _, x_p = parallel_lines(theta, 100)
    assert x_p.dtype == torch.float64
    x_p[:, 0].sum().backward()
    assert theta.grad.item() == 100.0  # d/dtheta of sum_i theta


def test_parallel_lines_rejects_non_scalar_theta():
    with pytest.raises(ValueError, match="theta must be a scalar"):
        parallel_lines(torch.ones(2), 10)
    with pytest.raises(ValueError, match="n must be a positive number of samples"):
        parallel_lines(0.5, 0)
