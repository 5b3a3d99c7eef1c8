import math

import pytest
import torch

from dgmlib.divergences import f_divergence, f_divergences, jsd, kl, train_f_critic
from dgmlib.gaussian import normal_density

NAMES = ["kl", "reverse_kl", "jensen_shannon", "pearson", "squared_hellinger", "total_variation"]

grid = torch.linspace(-15, 16, 62_001, dtype=torch.float64)
dx = float(grid[1] - grid[0])


def closed_form(name, delta):
    """D_f(N(delta, 1) || N(0, 1)) in closed form (JSD has none: None)."""
    return {
        "kl": delta**2 / 2,
        "reverse_kl": delta**2 / 2,
        "pearson": math.exp(delta**2) - 1,
        "squared_hellinger": 2 * (1 - math.exp(-(delta**2) / 8)),
        "total_variation": math.erf(delta / (2 * math.sqrt(2))),  # 2 Phi(delta / 2) - 1
        "jensen_shannon": None,
    }[name]


def test_the_table_lists_the_six_divergences():
    assert list(f_divergences) == NAMES
    for name in NAMES:
        assert set(f_divergences[name].formulas) == {"f", "f*", "g", "dom f*"}


@pytest.mark.parametrize("name", NAMES)
def test_every_generator_is_convex_with_f_of_one_zero(name):
    f = f_divergences[name].f
    u = torch.linspace(0.05, 8, 400, dtype=torch.float64)
    assert float(f(torch.tensor(1.0, dtype=torch.float64))) == pytest.approx(0.0, abs=1e-12)
    second = f(u[2:]) - 2 * f(u[1:-1]) + f(u[:-2])
    assert bool((second >= -1e-12).all())


@pytest.mark.parametrize("name", NAMES)
def test_conjugate_is_the_numerical_supremum_of_ut_minus_f(name):
    div = f_divergences[name]
    u = torch.logspace(-6, 4, 400_001, dtype=torch.float64)
    v = torch.linspace(-2.0, 1.5, 15, dtype=torch.float64)
    t = div.activation(v)  # points inside the domain of f*
    numeric = (u[None, :] * t[:, None] - div.f(u)[None, :]).max(dim=1).values
    assert torch.allclose(div.conjugate(t), numeric, atol=2e-4, rtol=1e-4)
    # the stable composition agrees with f*(g(v))
    assert torch.allclose(div.conjugate_of_activation(v), div.conjugate(t), atol=1e-10, rtol=1e-10)


def test_conjugates_are_infinite_outside_their_domain():
    t = torch.tensor([2.0], dtype=torch.float64)
    for name in ["reverse_kl", "jensen_shannon", "squared_hellinger", "total_variation"]:
        assert math.isinf(float(f_divergences[name].conjugate(t)))


@pytest.mark.parametrize("name", NAMES)
def test_divergence_on_a_grid_matches_the_gaussian_closed_form(name):
    pi, p = normal_density(grid, 1.0, 1.0), normal_density(grid, 0.0, 1.0)
    value = float(f_divergences[name].divergence(pi, p, dx))
    expected = closed_form(name, 1.0)
    if expected is None:
        expected = float(jsd(pi, p, dx=dx))
    assert value == pytest.approx(expected, rel=1e-6)
    if name == "kl":
        assert value == pytest.approx(float(kl(pi, p, dx=dx)), rel=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_bound_at_the_optimal_critic_equals_the_divergence(name):
    # T*(x) = f'(pi / p): with pi = N(1, 1), p = N(0, 1) the ratio is exp(x - 1/2)
    div = f_divergences[name]
    pi, p = normal_density(grid, 1.0, 1.0), normal_density(grid, 0.0, 1.0)
    u = (pi / p).requires_grad_(True)
    (t_star,) = torch.autograd.grad(div.f(u).sum(), u)
    value = ((pi * t_star).sum() - (p * div.conjugate(t_star)).sum()) * dx
    expected = closed_form(name, 1.0) or float(jsd(pi, p, dx=dx))
    assert float(value) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", ["kl", "jensen_shannon", "squared_hellinger", "total_variation"])
def test_trained_critic_bound_is_below_and_close_to_the_true_divergence(name):
    g = torch.Generator().manual_seed(0)
    x_pi, x_p = 1.0 + torch.randn(4000, 1, generator=g), torch.randn(4000, 1, generator=g)
    critic = torch.nn.Sequential(torch.nn.Linear(1, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    train_f_critic(critic, x_pi, x_p, name, steps=400, lr=1e-2, progress=False)
    # evaluate the trained T on fresh samples: for a fixed T this estimates a lower bound
    fresh_pi, fresh_p = 1.0 + torch.randn(100_000, 1, generator=g), torch.randn(100_000, 1, generator=g)
    with torch.no_grad():
        bound = float(f_divergences[name].bound(critic(fresh_pi)[:, 0], critic(fresh_p)[:, 0]))
    true = closed_form(name, 1.0) or float(jsd(normal_density(grid, 1.0, 1.0), normal_density(grid, 0.0, 1.0), dx=dx))
    assert bound <= true + 0.01  # below, up to the Monte Carlo error of 10^5 samples
    assert bound >= 0.9 * true


def test_unknown_names_and_bad_samples_are_rejected():
    with pytest.raises(ValueError, match="unknown f-divergence 'chi'"):
        f_divergence("chi")
    with pytest.raises(ValueError, match="x_pi and x_p must be"):
        train_f_critic(torch.nn.Linear(1, 1), torch.zeros(5, 1), torch.zeros(5, 2), steps=1)
    with pytest.raises(ValueError, match="p must be positive"):
        f_divergences["kl"].divergence(torch.ones(3), torch.tensor([1.0, 0.0, 1.0]))
