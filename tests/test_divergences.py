import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.optimize import linprog

from dgmlib.data import parallel_lines
from dgmlib.divergences import emd, histograms, jsd, kl, wasserstein_1d


def _random_distribution(k, seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.rand(k, generator=g, dtype=torch.float64) + 0.05
    return w / w.sum()


def test_kl_matches_the_definition_on_random_discrete_distributions():
    pi, p = _random_distribution(7, 0), _random_distribution(7, 1)
    expected = sum(a * math.log(a / b) for a, b in zip(pi.tolist(), p.tolist()))
    assert kl(pi, p).item() == pytest.approx(expected, rel=1e-12)
    assert kl(pi, pi).item() == pytest.approx(0.0, abs=1e-15)
    assert kl(pi, p).item() > 0


def test_kl_is_infinite_where_pi_has_mass_and_p_none_and_ignores_zero_pi():
    pi = torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64)
    p = torch.tensor([0.5, 0.0, 0.5], dtype=torch.float64)
    assert math.isinf(kl(pi, p).item())
    # 0 log 0 = 0: pi's zero cell contributes nothing
    assert kl(pi, torch.tensor([0.25, 0.25, 0.5], dtype=torch.float64)).item() == pytest.approx(math.log(2))


def test_jsd_is_symmetric_bounded_and_matches_its_definition():
    pi, p = _random_distribution(5, 2), _random_distribution(5, 3)
    m = 0.5 * (pi + p)
    expected = 0.5 * float((pi * (pi / m).log()).sum()) + 0.5 * float((p * (p / m).log()).sum())
    assert jsd(pi, p).item() == pytest.approx(expected, rel=1e-12)
    assert jsd(pi, p).item() == pytest.approx(jsd(p, pi).item(), rel=1e-12)
    disjoint = jsd(torch.tensor([1.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert disjoint.item() == pytest.approx(math.log(2), rel=1e-12)


def test_kl_on_a_grid_approximates_the_gaussian_closed_form():
    x = torch.linspace(-12, 12, 20001, dtype=torch.float64)
    dx = float(x[1] - x[0])
    pi = torch.distributions.Normal(0.0, 1.0).log_prob(x).exp()
    p = torch.distributions.Normal(1.0, 2.0).log_prob(x).exp()
    closed_form = math.log(2.0) + (1 + 1) / (2 * 4) - 0.5
    assert kl(pi, p, dx=dx).item() == pytest.approx(closed_form, rel=1e-6)


def test_parallel_lines_histograms_give_infinite_kl_jsd_log2_and_zero_at_theta_0():
    for theta in (0.5, -1.0):
        x_pi, x_p = parallel_lines(theta, 2000, seed=0)
        h_pi, h_p = histograms(x_pi, x_p, bins=10)
        assert math.isinf(kl(h_pi, h_p).item()) and math.isinf(kl(h_p, h_pi).item())
        assert jsd(h_pi, h_p).item() == pytest.approx(math.log(2), rel=1e-6)
    x_pi, x_p = parallel_lines(0.0, 20000, seed=0)
    h_pi, h_p = histograms(x_pi, x_p, bins=10, bounds=[(-0.5, 0.5), (0.0, 1.0)])
    assert jsd(h_pi, h_p).item() < 1e-3


def test_parallel_lines_emd_is_abs_theta_with_gradient_sign_theta():
    for value in (0.7, -0.3):
        theta = torch.tensor(value, dtype=torch.float64, requires_grad=True)
        x_pi, x_p = parallel_lines(theta, 300, seed=1)
        w = emd(x_pi, x_p)
        w.backward()
        # the optimal plan may pair points at slightly different heights: W of the samples >= |theta|
        assert w.item() == pytest.approx(abs(value), abs=0.01)
        assert theta.grad.item() == pytest.approx(math.copysign(1.0, value), abs=0.02)


def _brute_force_w1(x, y):
    """Exact W1 between uniform samples by replicating points to equal size and trying every matching."""
    n, m = len(x), len(y)
    xs = [v for v in x for _ in range(m)]
    ys = [v for v in y for _ in range(n)]
    best = min(sum(abs(a - ys[j]) for a, j in zip(xs, perm)) for perm in itertools.permutations(range(n * m)))
    return best / (n * m)


@pytest.mark.parametrize("n, m", [(3, 3), (2, 3), (4, 2)])
def test_wasserstein_1d_matches_a_brute_force_assignment(n, m):
    g = torch.Generator().manual_seed(n * 10 + m)
    x = torch.randn(n, generator=g, dtype=torch.float64)
    y = torch.randn(m, generator=g, dtype=torch.float64) + 0.5
    expected = _brute_force_w1(x.tolist(), y.tolist())
    assert wasserstein_1d(x, y).item() == pytest.approx(expected, rel=1e-10)


def test_wasserstein_1d_agrees_with_scipy_on_large_unequal_samples_and_is_differentiable():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1000, generator=g, dtype=torch.float64).requires_grad_(True)
    y = 2.0 * torch.randn(737, generator=g, dtype=torch.float64) + 1.0
    w = wasserstein_1d(x, y)
    assert w.item() == pytest.approx(stats.wasserstein_distance(x.detach().numpy(), y.numpy()), rel=1e-10)
    w.backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # shifting one sample by a constant that separates them shifts W by exactly that constant
    assert wasserstein_1d(y + 100.0, y).item() == pytest.approx(100.0, rel=1e-12)


def _emd_dual_lp(x, y, a, b):
    """The dual of optimal transport: max a.f + b.g s.t. f_i + g_j <= C_ij (an independent LP)."""
    cost = np.linalg.norm(x[:, None, :] - y[None, :, :], axis=2)
    n, m = cost.shape
    rows = []
    for i in range(n):
        for j in range(m):
            row = np.zeros(n + m)
            row[i] = row[n + j] = 1.0
            rows.append(row)
    res = linprog(-np.concatenate([a, b]), A_ub=np.array(rows), b_ub=cost.ravel(), bounds=(None, None), method="highs")
    return -res.fun


@pytest.mark.parametrize("n, m, uniform", [(5, 5, True), (4, 6, True), (5, 3, False)])
def test_emd_matches_the_dual_linear_program_on_small_sets(n, m, uniform):
    rng = np.random.default_rng(n + m)
    x, y = rng.normal(size=(n, 2)), rng.normal(size=(m, 2)) + 1.0
    a = np.full(n, 1 / n) if uniform else rng.random(n) + 0.1
    b = np.full(m, 1 / m) if uniform else rng.random(m) + 0.1
    if not uniform:
        a, b = a / a.sum(), b / b.sum()
    expected = _emd_dual_lp(x, y, a, b)
    args = (None, None) if uniform else (torch.tensor(a), torch.tensor(b))
    value, plan = emd(torch.tensor(x), torch.tensor(y), *args, return_plan=True)
    assert value.item() == pytest.approx(expected, rel=1e-8)
    assert torch.allclose(plan.sum(1), torch.tensor(a), atol=1e-9)
    assert torch.allclose(plan.sum(0), torch.tensor(b), atol=1e-9)


def test_emd_of_the_lecture_piles_is_five():
    positions = torch.arange(1.0, 5.0)
    piles_p = torch.tensor([3.0, 2.0, 1.0, 4.0])
    piles_q = torch.tensor([1.0, 2.0, 4.0, 3.0])
    value, plan = emd(positions, positions, piles_p, piles_q, return_plan=True)
    assert value.item() == pytest.approx(5.0, abs=1e-9)
    assert plan.sum().item() == pytest.approx(10.0)


def test_emd_in_one_dimension_equals_wasserstein_1d():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(200, generator=g, dtype=torch.float64)
    y = torch.randn(200, generator=g, dtype=torch.float64) * 0.5 + 1
    assert emd(x, y).item() == pytest.approx(wasserstein_1d(x, y).item(), rel=1e-10)


def test_divergences_reject_mismatched_dimensions_and_empty_samples():
    with pytest.raises(ValueError, match="same dimension"):
        emd(torch.zeros(3, 2), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="x must hold at least one sample"):
        emd(torch.zeros(0, 2), torch.zeros(3, 2))
    with pytest.raises(ValueError, match="y must hold at least one sample"):
        wasserstein_1d(torch.zeros(3), torch.zeros(0))
    with pytest.raises(ValueError, match=r"x must be a 1-D sample"):
        wasserstein_1d(torch.zeros(3, 2), torch.zeros(3))
    with pytest.raises(ValueError, match="same shape"):
        kl(torch.ones(3) / 3, torch.ones(4) / 4)
    with pytest.raises(ValueError, match="pi must not be empty"):
        jsd(torch.ones(0), torch.ones(0))
    with pytest.raises(ValueError, match="same total mass"):
        emd(torch.zeros(2, 1), torch.ones(2, 1), torch.tensor([1.0, 1.0]), torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="p must be non-negative"):
        kl(torch.ones(2) / 2, torch.tensor([1.5, -0.5]))
    with pytest.raises(ValueError, match="dx must be a positive number"):
        kl(torch.ones(2) / 2, torch.ones(2) / 2, dx=0)
    with pytest.raises(ValueError, match="same dimension"):
        histograms(torch.zeros(3, 2), torch.zeros(3, 1))


# --- bad input: refused with a message that names the argument -----------------------------------


def test_emd_refuses_a_nan_point_and_names_the_points_not_the_masses():
    x, y = torch.randn(5, 2), torch.randn(4, 2)
    x[2, 0] = float("nan")
    with pytest.raises(ValueError, match="x must be finite, got 1 NaN or infinite"):
        emd(x, y)  # used to fail in the solver with "Check that a and b are in the simplex"
    with pytest.raises(ValueError, match="y must be finite"):
        emd(y, x)
    with pytest.raises(ValueError, match="b must be finite, got 1 NaN"):
        emd(y, y, None, torch.tensor([0.5, float("nan"), 0.25, 0.25]))
    with pytest.raises(TypeError, match="return_plan must be True or False"):
        emd(y, y, return_plan=1)


def test_wasserstein_1d_of_integer_samples_equals_that_of_their_float_values():
    # integer samples used to fail in l1_loss ("mean(): could not infer output dtype")
    x, y = torch.tensor([0, 1, 2, 7]), torch.tensor([1, 2, 3, 3])
    assert wasserstein_1d(x, y).item() == pytest.approx(stats.wasserstein_distance(x.numpy(), y.numpy()), rel=1e-7)
    assert wasserstein_1d(x, y[:3]).item() == pytest.approx(stats.wasserstein_distance(x.numpy(), [1, 2, 3]), rel=1e-7)
    assert wasserstein_1d(x, y).item() == wasserstein_1d(x.float(), y.float()).item()
    with pytest.raises(TypeError, match="y must be a real tensor"):
        wasserstein_1d(x.float(), y.to(torch.complex64))


def test_histograms_refuse_nan_samples_and_empty_bounds():
    x = torch.randn(50, 2)
    bad = x.clone()
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match="x must be finite, got 1 NaN"):
        histograms(bad, x)  # used to fail in histogramdd ("range [nan, nan] is not finite")
    with pytest.raises(ValueError, match="y must be finite"):
        histograms(x, bad.nan_to_num(nan=float("inf")))
    with pytest.raises(ValueError, match="bounds must give low < high"):
        histograms(x, x, bounds=[(0.0, 1.0), (1.0, 1.0)])
    with pytest.raises(ValueError, match="bins must be a positive int"):
        histograms(x, x, bins=0)


def test_kl_and_jsd_refuse_nan_probabilities():
    pi = torch.tensor([0.5, float("nan")])
    with pytest.raises(ValueError, match="pi must not contain NaN"):
        kl(pi, torch.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match="p must not contain NaN"):
        jsd(torch.tensor([0.5, 0.5]), pi)
    with pytest.raises(ValueError, match="pi and p must have the same shape"):
        jsd(torch.ones(2) / 2, torch.ones(3) / 3)


def test_kl_to_zero_forces_jsd_and_w_to_zero_but_not_the_other_way():
    """Arjovsky et al. (2017), theorem 2, on distributions over the points 0, 0.1, ..., 1 (diameter 1):
    KL(p_n || pi) -> 0 forces TV -> 0 (Pinsker, TV <= sqrt(KL / 2)), hence JSD <= log 2 TV -> 0 and
    W <= diameter TV -> 0. The converse fails: point masses at theta and 0 have W = |theta| -> 0 while
    JSD stays log 2 and KL infinite."""
    from scipy import stats

    support = torch.linspace(0, 1, 11, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    pi = torch.rand(11, generator=g, dtype=torch.float64) + 0.1
    pi = pi / pi.sum()
    noise = torch.rand(11, generator=g, dtype=torch.float64)
    kls, jsds, ws = [], [], []
    for t in (1.0, 0.3, 0.1, 0.03, 0.01):
        p_n = (1 - t) * pi + t * noise / noise.sum()          # -> pi as t -> 0
        kl_n, jsd_n = kl(p_n, pi).item(), jsd(p_n, pi).item()
        w_n = stats.wasserstein_distance(support, support, p_n.numpy(), pi.numpy())
        tv_n = 0.5 * (p_n - pi).abs().sum().item()
        assert tv_n <= math.sqrt(kl_n / 2) + 1e-12                     # Pinsker
        assert jsd_n <= math.log(2) * tv_n + 1e-12 and w_n <= 1.0 * tv_n + 1e-12
        kls.append(kl_n), jsds.append(jsd_n), ws.append(w_n)
    for series in (kls, jsds, ws):
        assert all(b < a for a, b in zip(series, series[1:])) and series[-1] < 0.02 * series[0]   # W ~ t, KL ~ t^2
    for theta in (0.5, 0.1, 0.01):                              # W -> 0 without JSD or KL following
        p_theta, p_zero = (support == round(theta * 10) / 10).double(), (support == 0).double()
        if theta < 0.05:                                        # below the grid: use the exact 1-D W
            assert wasserstein_1d(torch.tensor([theta]), torch.tensor([0.0])).item() == pytest.approx(theta)
            continue
        assert stats.wasserstein_distance(support, support, p_theta.numpy(), p_zero.numpy()) == pytest.approx(theta)
        assert jsd(p_theta, p_zero).item() == pytest.approx(math.log(2)) and kl(p_theta, p_zero).item() == math.inf


def test_w_along_a_path_of_mlp_parameters_is_continuous_and_differentiable():
    """Arjovsky et al. (2017), theorem 1, for a neural generator: |W(t) - W(t')| <= E_z |G_t(z) - G_t'(z)|
    (the coupling through the same z), and autograd's dW/dt equals finite differences."""
    torch.manual_seed(4)
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)).double()
    base = {n: p.detach() for n, p in net.named_parameters()}
    step = {n: torch.randn(p.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64) for n, p in base.items()}
    z = torch.randn(3000, 2, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    data = torch.randn(3000, generator=torch.Generator().manual_seed(7), dtype=torch.float64) - 1.0

    def g(t):
        return torch.func.functional_call(net, {n: base[n] + t * step[n] for n in base}, (z,)).squeeze(1)

    ts = torch.linspace(-1, 1, 101, dtype=torch.float64)
    w = torch.stack([wasserstein_1d(g(t), data) for t in ts])
    bound = torch.stack([(g(b) - g(a)).abs().mean() for a, b in zip(ts, ts[1:])])
    assert ((w[1:] - w[:-1]).abs() <= bound + 1e-12).all() and w.max() - w.min() > 0.5   # it moves, continuously
    for t0 in (-0.5, 0.3):
        t = torch.tensor(t0, dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(wasserstein_1d(g(t), data), t)
        fd = (wasserstein_1d(g(t0 + 1e-5), data) - wasserstein_1d(g(t0 - 1e-5), data)).item() / 2e-5
        assert grad.item() == pytest.approx(fd, rel=1e-4, abs=1e-6)
