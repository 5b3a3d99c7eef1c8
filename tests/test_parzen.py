"""Parzen windows and the noise mixture (lecture 03, section 8): likelihood and samples part ways."""

import math

import numpy as np
import pytest
import torch
from scipy import special, stats
from sklearn.neighbors import KernelDensity

from dgmlib.data import load_mnist
from dgmlib.metrics.parzen import ParzenWindow, mixture_with_noise_log_prob


def test_log_prob_matches_scikit_learn_kernel_density():
    g = torch.Generator().manual_seed(0)
    points, x = torch.randn(300, 2, 3, generator=g, dtype=torch.float64), torch.randn(50, 2, 3, generator=g, dtype=torch.float64)
    for eps in (0.3, 0.7, 2.0):
        ours = ParzenWindow(points, eps, chunk=7).log_prob(x)
        theirs = KernelDensity(kernel="gaussian", bandwidth=eps).fit(points.reshape(300, -1).numpy())
        assert torch.allclose(ours, torch.from_numpy(theirs.score_samples(x.reshape(50, -1).numpy())), atol=1e-8)


def test_log_prob_stays_exact_where_every_kernel_underflows():
    """At eps = 0.05 most kernel values underflow to 0 in float64 (scikit-learn's tree is hundreds of nats off there)."""
    g = torch.Generator().manual_seed(0)
    points, x = torch.randn(300, 6, generator=g, dtype=torch.float64), torch.randn(50, 6, generator=g, dtype=torch.float64)
    eps = 0.05
    log_kernels = np.array([[stats.multivariate_normal(mean=c.numpy(), cov=eps**2).logpdf(row.numpy()) for c in points]
                            for row in x])
    expected = torch.from_numpy(special.logsumexp(log_kernels, axis=1) - math.log(len(points)))
    assert torch.allclose(ParzenWindow(points, eps).log_prob(x), expected, rtol=1e-10)


def test_samples_are_the_points_plus_eps_noise_and_follow_the_density():
    points = torch.tensor([[0.0], [10.0]], dtype=torch.float64)
    model = ParzenWindow(points, eps=0.5)
    s = model.sample(40_000, generator=torch.Generator().manual_seed(1))
    assert s.shape == (40_000, 1) and s.dtype == torch.float64
    near_zero = s[:, 0] < 5
    assert near_zero.double().mean().item() == pytest.approx(0.5, abs=0.01)
    assert s[near_zero].std().item() == pytest.approx(0.5, abs=0.01) and s[~near_zero].mean().item() == pytest.approx(10, abs=0.01)
    # the density integrates to 1 on a grid
    grid = torch.linspace(-5, 15, 20_001, dtype=torch.float64)[:, None]
    assert (model.log_prob(grid).exp().sum() * (grid[1] - grid[0])).item() == pytest.approx(1.0, abs=1e-9)


def test_a_tiny_bandwidth_gives_perfect_samples_and_a_terrible_test_likelihood():
    x_train, _ = load_mnist("train")
    x_test, _ = load_mnist("test")
    train, test = x_train.double(), x_test[:100].double()
    sharp, smooth = ParzenWindow(train, 0.01), ParzenWindow(train, 0.2)
    # the samples: every one within eps sqrt(D) (about 0.28) of a training digit, against about 5.7
    # from a test digit to its nearest training digit
    samples = sharp.sample(200, generator=torch.Generator().manual_seed(0))
    to_train = torch.cdist(samples.reshape(200, -1), train.reshape(len(train), -1)).min(1).values
    test_to_train = torch.cdist(test.reshape(100, -1), train.reshape(len(train), -1)).min(1).values
    assert to_train.max() < 0.35 and test_to_train.min() > 1.0
    # and the likelihood of held-out digits: far worse than with a wider kernel
    assert sharp.log_prob(test).mean() < smooth.log_prob(test).mean() - 10_000


def test_mixing_in_99_percent_noise_costs_at_most_log_100_nats():
    x_train, _ = load_mnist("train")
    x_test, _ = load_mnist("test")
    log_p = ParzenWindow(x_train.double(), 0.2).log_prob(x_test[:100].double())
    log_p2 = mixture_with_noise_log_prob(log_p, 0.01, 0.0)   # u uniform on [0, 1]^784: log u = 0
    assert ((log_p - log_p2) <= math.log(100) + 1e-9).all()
    # the bound is tight where p dominates u and loose where u rescues a digit that p explains badly
    assert (log_p - log_p2).max() == pytest.approx(math.log(100), abs=1e-6) and (log_p2 > log_p).any()
    # against the formula computed in probabilities where they do not underflow
    small = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64)
    direct = torch.log(0.3 * small.exp() + 0.7 * math.exp(-0.5))
    assert torch.allclose(mixture_with_noise_log_prob(small, 0.3, -0.5), direct, atol=1e-12)
    assert torch.equal(mixture_with_noise_log_prob(small, 1.0, 0.0), small)


def test_bad_input_names_the_argument():
    points = torch.zeros(5, 3)
    with pytest.raises(ValueError, match="eps"):
        ParzenWindow(points, 0.0)
    with pytest.raises(ValueError, match="points must be finite"):
        ParzenWindow(torch.tensor([[float("nan"), 0.0]]), 0.1)
    with pytest.raises(ValueError, match=r"points must be \(N, ...\)"):
        ParzenWindow(torch.zeros(3), 0.1)
    with pytest.raises(ValueError, match="x must be \\(B, 3\\)"):
        ParzenWindow(points, 0.1).log_prob(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="x must be finite"):
        ParzenWindow(points, 0.1).log_prob(torch.full((1, 3), float("inf")))
    with pytest.raises(ValueError, match="weight"):
        mixture_with_noise_log_prob(torch.zeros(2), 0.0, 0.0)
    with pytest.raises(ValueError, match="log_p holds NaN"):
        mixture_with_noise_log_prob(torch.tensor([float("nan")]), 0.5, 0.0)
    with pytest.raises(TypeError, match="log_p"):
        mixture_with_noise_log_prob([0.0], 0.5, 0.0)
