import math

import numpy as np
import pytest
import torch
from scipy import stats

from dgmlib import disentanglement as D

SIZES = (3, 6, 40, 32, 32)  # the dSprites factors


def _marginals():
    return [D.exponential(1.5), D.kumaraswamy(2.0, 5.0), D.gaussian_mixture([0.3, 0.7], [-2.0, 1.0], [0.5, 0.8])]


@pytest.mark.parametrize("marginal", _marginals(), ids=lambda m: m.name)
def test_marginal_cdf_icdf_and_density_agree(marginal):
    u = torch.linspace(0.01, 0.99, 99, dtype=torch.float64)
    z = marginal.icdf(u)
    assert torch.allclose(marginal.cdf(z), u, atol=1e-10)
    z = z.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(marginal.cdf(z).sum(), z)
    assert torch.allclose(grad, marginal.log_prob(z).exp(), rtol=1e-6)  # p = dF/dz


def test_mixture_icdf_gradient_is_one_over_density():
    m = D.gaussian_mixture([0.3, 0.7], [-2.0, 1.0], [0.5, 0.8])
    u = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64, requires_grad=True)
    z = m.icdf(u)
    (grad,) = torch.autograd.grad(z.sum(), u)
    assert torch.allclose(grad, 1 / m.log_prob(z.detach()).exp(), rtol=1e-8)


def test_random_dense_orthogonal_is_orthogonal_and_dense():
    g = torch.Generator().manual_seed(0)
    for d in (2, 3, 5, 10):
        A = D.random_dense_orthogonal(d, g)
        assert torch.allclose(A @ A.T, torch.eye(d, dtype=torch.float64), atol=1e-12)
        assert A.abs().min() >= 0.01 / d


def test_random_orthogonal_is_haar_distributed():
    # for Haar-random O(d), A_11^2 ~ Beta(1/2, (d-1)/2)
    g = torch.Generator().manual_seed(1)
    d = 4
    first = torch.stack([D.random_dense_orthogonal(d, g, min_abs=0.0)[0, 0] for _ in range(3000)])
    assert stats.kstest(first.pow(2).numpy(), stats.beta(0.5, (d - 1) / 2).cdf).pvalue > 1e-3
    assert abs((first > 0).float().mean().item() - 0.5) < 0.04  # symmetric signs


def _construction(seed=0):
    g = torch.Generator().manual_seed(seed)
    marginals = _marginals()
    A = D.random_dense_orthogonal(3, g)
    f, f_inv = D.entangling_map([m.cdf for m in marginals], [m.icdf for m in marginals], A)
    z = torch.stack([m.sample(4000, g) for m in marginals], dim=1)
    return marginals, A, f, f_inv, z


def test_entangled_code_has_the_same_marginals_and_joint():
    marginals, _, f, _, z = _construction()
    fz = f(z)
    for i, m in enumerate(marginals):
        cdf = lambda v, m=m: m.cdf(torch.as_tensor(v, dtype=torch.float64)).numpy()
        assert stats.kstest(fz[:, i].numpy(), cdf).pvalue > 0.01
    g = torch.Generator().manual_seed(9)
    fresh = torch.stack([m.sample(4000, g) for m in marginals], dim=1)  # independent coordinates
    _, p_value = D.energy_test(fz[:1000], fresh[:1000], n_permutations=200)
    assert p_value > 0.01
    # and yet each new coordinate depends on all old ones: strong rank correlation off the diagonal
    rho = stats.spearmanr(np.concatenate([z.numpy(), fz.numpy()], 1)).correlation[:3, 3:]
    assert np.abs(rho).min() > 0.05


def test_entangling_map_inverts_and_jacobian_matches_the_chain_rule():
    marginals, A, f, f_inv, z = _construction(1)
    z = z[:50]
    assert torch.allclose(f_inv(f(z)), z, atol=1e-8)
    jac = torch.func.vmap(torch.func.jacrev(lambda v: f(v.unsqueeze(0))[0]))(z)  # (B, d, d)
    # chain rule: J_ij = phi(m_i) / p_i(f_i) * A_ij * p_j(z_j) / phi(n_j)
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0)
    n = normal.icdf(torch.stack([m.cdf(z[:, i]) for i, m in enumerate(marginals)], 1))
    mvec = n @ A.T
    fz = f(z)
    p_out = torch.stack([m.log_prob(fz[:, i]) for i, m in enumerate(marginals)], 1).exp()
    p_in = torch.stack([m.log_prob(z[:, i]) for i, m in enumerate(marginals)], 1).exp()
    expected = (normal.log_prob(mvec).exp() / p_out)[:, :, None] * A * (p_in / normal.log_prob(n).exp())[:, None, :]
    assert torch.allclose(jac, expected, rtol=1e-6, atol=1e-10)
    assert jac.abs().min() > 0  # completely entangled: every partial derivative non-zero


def test_identity_rotation_gives_the_identity_map():
    marginals, _, _, _, z = _construction()
    f, _ = D.entangling_map([m.cdf for m in marginals], [m.icdf for m in marginals], torch.eye(3, dtype=torch.float64))
    assert torch.allclose(f(z[:100]), z[:100], atol=1e-8)


def test_entangling_map_rejects_bad_input():
    m = _marginals()
    with pytest.raises(ValueError, match=r"A must be orthogonal \(A A\^T = I\)"):
        D.entangling_map([x.cdf for x in m], [x.icdf for x in m], torch.ones(3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="need one cdf and one icdf per dimension"):
        D.entangling_map([x.cdf for x in m[:2]], [x.icdf for x in m], torch.eye(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="d must be an int >= 2"):
        D.random_dense_orthogonal(1)
    f, _ = D.entangling_map([x.cdf for x in m], [x.icdf for x in m], torch.eye(3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"z must be a tensor of shape \(B, 3\)"):
        f(torch.zeros(4, 2, dtype=torch.float64))


def test_energy_test_detects_a_shift_and_accepts_equal_distributions():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(300, 2, generator=g), torch.randn(300, 2, generator=g)
    assert D.energy_test(x, y)[1] > 0.05
    assert D.energy_test(x, y + 0.4)[1] < 0.01
    # the statistic is the energy distance
    assert D.energy_test(x, y)[0] == pytest.approx(D.energy_distance(x.double(), y.double()).item(), rel=1e-9)


# --- metrics on sanity codes ---------------------------------------------------------------
def _factors(n=3000, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, len(SIZES), generator=g) * torch.tensor(SIZES)).long()


def _standardize(f):
    f = f.double()
    return (f - f.mean(0)) / f.std(0)


def test_true_factors_score_near_one_and_noise_near_zero():
    f = _factors()
    true, noise = _standardize(f), torch.randn(len(f), 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    # MIG < 1 for the true factors only because 40 orientations fall into 20 bins (log 20 / log 40)
    assert D.mig(true, f) > 0.85 and D.mig(noise, f) < 0.05
    assert D.sap(true, f) > 0.99 and D.sap(noise, f) < 0.05
    assert D.dci(true, f)["disentanglement"] > 0.95 and D.dci(noise, f)["disentanglement"] < 0.1
    assert D.modularity(true, f) > 0.99


def test_duplicated_factor_lowers_mig_and_rotation_lowers_everything_but_modularity():
    f = _factors()
    true = _standardize(f)
    duplicated = torch.cat([true, true[:, :1] * 1.01], 1)
    assert D.mig(true, f) - D.mig(duplicated, f) > 0.15  # the shape factor's gap drops to zero
    A = D.random_dense_orthogonal(5, torch.Generator().manual_seed(0))
    rotated = true @ A.T
    assert D.mig(rotated, f) < 0.4 and D.dci(rotated, f)["disentanglement"] < 0.4 and D.sap(rotated, f) < 0.6


def test_mig_matches_a_hand_computed_case():
    # factor 0 is copied into code 0; code 1 is independent: MIG for factor 0 = H/H = 1,
    # factor 1 (binary, independent of both codes up to sampling noise) ~ 0; mean ~ 0.5
    g = torch.Generator().manual_seed(0)
    f = torch.stack([torch.randint(4, (20000,), generator=g), torch.randint(2, (20000,), generator=g)], 1)
    codes = torch.stack([f[:, 0].double(), torch.rand(20000, generator=g, dtype=torch.float64)], 1)
    assert D.mig(codes, f, bins=4) == pytest.approx(0.5, abs=0.01)
    mi = D.mutual_information_matrix(codes, f, bins=4)
    assert mi[0, 0] == pytest.approx(math.log(4), abs=0.01)


def test_sampling_metrics_on_true_factors_and_noise():
    def true_rep(fac):
        return fac.double() / torch.tensor(SIZES, dtype=torch.float64)

    def noise_rep(fac):
        return torch.randn(len(fac), 5, dtype=torch.float64, generator=torch.Generator().manual_seed(len(fac)))

    kw = dict(n_train=800, n_eval=400, batch_size=32)
    assert D.beta_vae_score(true_rep, SIZES, **kw)["eval_accuracy"] > 0.99
    assert D.factor_vae_score(true_rep, SIZES, n_variance=2000, **kw)["eval_accuracy"] > 0.99
    assert D.beta_vae_score(noise_rep, SIZES, **kw)["eval_accuracy"] < 0.35  # chance is 1/5
    assert D.factor_vae_score(noise_rep, SIZES, n_variance=2000, **kw)["eval_accuracy"] < 0.35


def test_metrics_reject_bad_input():
    f = _factors(200)
    with pytest.raises(ValueError, match="codes and factors must have the same length, got 199 and 200"):
        D.mig(torch.randn(199, 5), f)
    constant = f.clone()
    constant[:, 2] = 0
    with pytest.raises(ValueError, match=r"factor\(s\) \[2\] are constant"):
        D.dci(torch.randn(200, 5), constant)
    with pytest.raises(ValueError, match="factors must be discrete"):
        D.sap(torch.randn(200, 5), f.double() + 0.5)
    with pytest.raises(TypeError, match="represent must be a callable"):
        D.beta_vae_score(None, SIZES)


def test_total_correlation_terms_vanish_where_they_should():
    g = torch.Generator().manual_seed(0)
    m, d = 64, 3
    mu = torch.full((m, d), 0.3, dtype=torch.float64)
    logvar = torch.full((m, d), -0.5, dtype=torch.float64)
    z = mu + torch.randn(m, d, generator=g, dtype=torch.float64) * torch.exp(0.5 * logvar)
    parts = D.total_correlation_terms(z, mu, logvar, dataset_size=1000)
    # q(z|x) does not depend on x: no information, and a factorized aggregate: no total correlation
    assert abs(parts["mi"].item()) < 1e-10 and abs(parts["tc"].item()) < 1e-10
    # what is left is the KL itself, here estimated by log q(z|x) - log p(z) on the same samples
    log_q = (-0.5 * (math.log(2 * math.pi) + logvar + (z - mu) ** 2 / logvar.exp())).sum(1)
    log_p = (-0.5 * (math.log(2 * math.pi) + z**2)).sum(1)
    assert parts["dim_kl"].item() == pytest.approx((log_q - log_p).mean().item(), abs=1e-10)


def test_total_correlation_is_positive_for_a_correlated_aggregate():
    g = torch.Generator().manual_seed(1)
    m = 256
    t = torch.randn(m, 1, generator=g, dtype=torch.float64)
    mu = torch.cat([t, t], 1)  # both coordinates move together across x
    logvar = torch.full((m, 2), -4.0, dtype=torch.float64)
    z = mu + torch.randn(m, 2, generator=g, dtype=torch.float64) * torch.exp(0.5 * logvar)
    parts = D.total_correlation_terms(z, mu, logvar, dataset_size=m)
    assert parts["tc"].item() > 1.0 and parts["mi"].item() > 1.0
    with pytest.raises(ValueError, match=r"dataset_size must be an int >= 256 \(the batch size\), got 10"):
        D.total_correlation_terms(z, mu, logvar, dataset_size=10)


def test_warped_grid_of_the_identity_is_the_grid():
    vertical, horizontal = D.warped_grid(lambda q: q, bounds=(0.0, 1.0), n_lines=3, n_points=5)
    assert vertical.shape == (3, 5, 2) and torch.allclose(vertical[1, :, 0], torch.full((5,), 0.5, dtype=torch.float64))
    assert torch.allclose(horizontal[2, :, 1], torch.ones(5, dtype=torch.float64))


def test_energy_test_sees_dependence_with_equal_marginals():
    g = torch.Generator().manual_seed(2)
    a = torch.randn(400, generator=g)
    dependent = torch.stack([a, a], 1)
    independent = torch.stack([torch.randn(400, generator=g), torch.randn(400, generator=g)], 1)
    assert D.energy_test(dependent, independent)[1] < 0.01


def test_two_latent_models_with_the_same_p_x_one_entangled_with_respect_to_the_other():
    """Locatello et al.'s construction as two generative models: A draws z ~ p(z) and renders x = g(z);
    B draws z' ~ p(z) and renders x = g(f^{-1}(z')) with the entangling f. Their densities of x are equal
    (change of variables, with f's Jacobian from autograd), yet A's code is the factors and B's mixes them."""
    marginals, _, f, f_inv, z = _construction(2)
    W = torch.tensor([[1.0, 0.3, 0.0], [0.0, 1.0, -0.4], [0.2, 0.0, 1.0]], dtype=torch.float64)

    def g(v):  # a fixed invertible renderer shared by both models
        return torch.tanh(v) @ W.T + v

    def log_p_z(v):
        return sum(m.log_prob(v[:, i]) for i, m in enumerate(marginals))

    def log_abs_det(fn, v):
        jac = torch.func.vmap(torch.func.jacrev(lambda u: fn(u.unsqueeze(0))[0]))(v)
        return torch.linalg.slogdet(jac)[1]

    points = z[:200]
    x = g(points)  # evaluate both densities at the same images x
    # p_A(x) = p(z) / |det dg/dz| at z = g^{-1}(x) = points;  p_B(x) = p(z') / |det d(g o f^{-1})/dz'| at z' = f(points)
    log_p_a = log_p_z(points) - log_abs_det(g, points)
    z_b = f(points)
    log_p_b = log_p_z(z_b) - log_abs_det(lambda u: g(f_inv(u)), z_b)
    assert torch.allclose(g(f_inv(z_b)), x, atol=1e-8)
    assert torch.allclose(log_p_a, log_p_b, atol=1e-6)                 # the same p(x), point by point
    # and yet: A's code is the factors (MIG near its maximum), B's code mixes them (MIG far lower)
    factors = torch.stack([torch.bucketize(z[:, i].contiguous(), torch.quantile(z[:, i], torch.linspace(0, 1, 9)[1:-1].double()))
                           for i in range(3)], 1)
    ranks = lambda c: c.argsort(0).argsort(0).double()  # noqa: E731  (equal-width bins of ranks = quantile bins)
    mig_a, mig_b = D.mig(ranks(z), factors, bins=8), D.mig(ranks(f(z)), factors, bins=8)
    assert mig_a > 0.95 and mig_b < 0.5 * mig_a


def test_gaussian_total_correlation_against_scipy_entropies_and_what_noise_does_to_it():
    """TC = sum_d H(z_d) - H(z) of a Gaussian (scipy's entropies of the true covariance), estimated from
    samples; independent per-dimension noise, as in z ~ q(z|x) = N(mu(x), diag s^2), lowers it."""
    g = torch.Generator().manual_seed(3)
    L = torch.tensor([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [-0.5, 0.4, 0.7]], dtype=torch.float64)
    C = L @ L.T
    means = torch.randn(200_000, 3, generator=g, dtype=torch.float64) @ L.T
    exact = sum(stats.norm(scale=math.sqrt(C[d, d])).entropy() for d in range(3)) - stats.multivariate_normal(cov=C.numpy()).entropy()
    assert D.gaussian_total_correlation(means) == pytest.approx(exact, abs=0.01)
    noisy = means + 0.8 * torch.randn(200_000, 3, generator=g, dtype=torch.float64)
    C_noisy = C + 0.64 * torch.eye(3, dtype=torch.float64)
    exact_noisy = (sum(stats.norm(scale=math.sqrt(C_noisy[d, d])).entropy() for d in range(3))
                   - stats.multivariate_normal(cov=C_noisy.numpy()).entropy())
    assert D.gaussian_total_correlation(noisy) == pytest.approx(exact_noisy, abs=0.01) and exact_noisy < 0.5 * exact
    assert abs(D.gaussian_total_correlation(torch.randn(50_000, 4, generator=g, dtype=torch.float64))) < 0.01
    with pytest.raises(ValueError, match="constant dimension"):
        D.gaussian_total_correlation(torch.cat([torch.randn(100, 1), torch.ones(100, 1)], 1))
    with pytest.raises(ValueError, match=r"codes must be \(N, D\) with N > D"):
        D.gaussian_total_correlation(torch.randn(3, 5))
    with pytest.raises(ValueError, match="codes must be finite"):
        D.gaussian_total_correlation(torch.tensor([[float("nan"), 1.0], [0.0, 1.0], [1.0, 2.0]]))
