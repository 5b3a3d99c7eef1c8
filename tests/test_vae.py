"""dgmlib.vae: closed forms against torch.distributions and exact models, bounds, gradients, training.

The Gaussian closed forms live in dgmlib.gaussian; they are checked here, where the VAE uses them."""

import math

import pytest
import torch
from torch.distributions import Independent, Normal, kl_divergence

from dgmlib import gaussian as G
from dgmlib import vae as V


def _rand_gauss(*shape, dtype=torch.float64):
    return torch.randn(*shape, dtype=dtype), torch.randn(*shape, dtype=dtype)


def _diag(mu, logvar):
    return Independent(Normal(mu, torch.exp(0.5 * logvar)), 1)


# --- closed forms ------------------------------------------------------------------------------


def test_kl_normal_std_matches_torch_distributions():
    mu, logvar = _rand_gauss(64, 7)
    expected = kl_divergence(_diag(mu, logvar), _diag(torch.zeros_like(mu), torch.zeros_like(logvar)))
    torch.testing.assert_close(G.kl_normal_std(mu, logvar), expected, rtol=1e-12, atol=1e-12)


def test_kl_normal_matches_torch_distributions():
    mu_q, logvar_q = _rand_gauss(64, 5)
    mu_p, logvar_p = _rand_gauss(64, 5)
    expected = kl_divergence(_diag(mu_q, logvar_q), _diag(mu_p, logvar_p))
    torch.testing.assert_close(G.kl_normal(mu_q, logvar_q, mu_p, logvar_p), expected, rtol=1e-12, atol=1e-12)


def test_kl_normal_std_matches_monte_carlo():
    mu = torch.tensor([[0.5, -1.0]], dtype=torch.float64)
    logvar = torch.tensor([[-0.3, 0.4]], dtype=torch.float64)
    z = G.reparameterize(mu, logvar, k=400_000)
    mc = (G.log_normal(z, mu, logvar) - G.log_normal_std(z)).mean(0)
    torch.testing.assert_close(mc, G.kl_normal_std(mu, logvar), atol=5e-3, rtol=0)


def test_kl_worked_examples_big_and_small():
    """(sigma, mu) = (1+1e5, 1e5) -> ~1.0e10; (1+1e-5, 1e-5) -> ~1.5e-10, exact to float64 precision."""
    for sigma, mu, expected, rel in [(1 + 1e5, 1e5, 1.0e10, 1e-4), (1 + 1e-5, 1e-5, 1.5e-10, 1e-4)]:
        m = torch.tensor([[mu]], dtype=torch.float64)
        lv = torch.tensor([[2 * math.log(sigma)]], dtype=torch.float64)
        assert G.kl_normal_std(m, lv).item() == pytest.approx(expected, rel=rel, abs=0)
    # the exact small value: (s^2 + m^2 - 1)/2 - log s with s = 1 + e, m = e is 3/2 e^2 - 1/3 e^3 + O(e^4)
    e = 1e-5
    m = torch.tensor([[e]], dtype=torch.float64)
    lv = torch.tensor([[2 * math.log1p(e)]], dtype=torch.float64)
    assert G.kl_normal_std(m, lv).item() == pytest.approx(1.5 * e**2 - e**3 / 3, rel=1e-9, abs=0)


def test_log_bernoulli_matches_torch_distributions():
    x = torch.bernoulli(torch.full((6, 1, 4, 4), 0.3, dtype=torch.float64))
    logits = torch.randn(6, 1, 4, 4, dtype=torch.float64)
    expected = torch.distributions.Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(V.log_bernoulli(x, logits), expected)
    # k leading samples broadcast against x
    logits_k = torch.randn(3, 6, 1, 4, 4, dtype=torch.float64)
    expected_k = torch.distributions.Bernoulli(logits=logits_k).log_prob(x).flatten(2).sum(-1)
    torch.testing.assert_close(V.log_bernoulli(x, logits_k), expected_k)


# --- the exact latent model ----------------------------------------------------------------------


@pytest.fixture
def ppca():
    return V.LinearGaussian.random(data_dim=6, latent_dim=3, sigma=0.7, seed=1)


def test_linear_gaussian_log_prob_matches_numerical_integration():
    model = V.LinearGaussian(torch.tensor([[1.5], [-0.5]], dtype=torch.float64), torch.tensor([0.2, 0.1], dtype=torch.float64), 0.6)
    x = torch.tensor([[0.4, -0.3], [2.0, 0.5]], dtype=torch.float64)
    z = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    integrand = torch.exp(model.log_joint(x, z.view(-1, 1, 1).expand(-1, 2, 1)))  # (Z, B)
    numeric = torch.log(torch.trapezoid(integrand, z, dim=0))
    torch.testing.assert_close(model.log_prob(x), numeric, rtol=1e-9, atol=1e-9)


def test_linear_gaussian_posterior_is_bayes_rule(ppca):
    """log p(z|x) = log p(x, z) - log p(x) at random z."""
    x = ppca.sample(5)
    mean, cov = ppca.posterior(x)
    z = torch.randn(5, 3, dtype=torch.float64)
    post = torch.distributions.MultivariateNormal(mean, covariance_matrix=cov).log_prob(z)
    torch.testing.assert_close(post, ppca.log_joint(x, z) - ppca.log_prob(x))


def test_elbo_gap_equals_kl_to_the_exact_posterior(ppca):
    x = ppca.sample(8)
    mu, logvar = _rand_gauss(8, 3)
    mean, cov = ppca.posterior(x)
    q = torch.distributions.MultivariateNormal(mu, covariance_matrix=torch.diag_embed(torch.exp(logvar)))
    kl = kl_divergence(q, torch.distributions.MultivariateNormal(mean, covariance_matrix=cov))
    torch.testing.assert_close(ppca.log_prob(x) - ppca.elbo(x, mu, logvar), kl, rtol=1e-10, atol=1e-10)
    # and the closed-form ELBO is the Monte Carlo average of log p(x, z) - log q(z|x)
    log_w = ppca.log_weights(x, mu, logvar, 200_000)
    stderr = log_w.std(0) / math.sqrt(len(log_w))
    assert torch.all((log_w.mean(0) - ppca.elbo(x, mu, logvar)).abs() < 4 * stderr)


def test_elbo_equals_log_p_when_q_is_the_true_posterior():
    model = V.LinearGaussian(torch.tensor([[2.0, 0.0], [0.0, 0.5], [0.0, 0.0]], dtype=torch.float64), sigma=0.8)
    x = model.sample(4)
    mean, cov = model.posterior(x)
    assert torch.count_nonzero(cov - torch.diag(torch.diag(cov))) == 0  # orthogonal columns: diagonal posterior
    logvar = torch.log(torch.diag(cov)).expand_as(mean)
    torch.testing.assert_close(model.elbo(x, mean, logvar), model.log_prob(x), rtol=1e-12, atol=1e-12)
    # and then every importance weight equals p(x): F_k = log p(x) for any k, without noise
    torch.testing.assert_close(model.iwae_bound(x, mean, logvar, 7), model.log_prob(x), rtol=1e-10, atol=1e-10)


def test_iwae_bound_is_nondecreasing_in_k_and_below_log_p(ppca):
    x = ppca.sample(4)
    mean, _ = ppca.posterior(x)
    mu, logvar = mean + 0.3, torch.full_like(mean, -1.0)  # a mediocre q
    exact = ppca.log_prob(x)
    means, errs = [], []
    for k in [1, 5, 50]:
        repeats = 2000
        log_w = ppca.log_weights(x, mu, logvar, repeats * k).view(repeats, k, -1)
        draws = G.log_mean_exp(log_w, 1)  # (R, B): R independent draws of F_k
        means.append(draws.mean(0))
        errs.append(draws.std(0) / math.sqrt(len(draws)))
    for lo, hi, e_lo, e_hi in zip(means[:-1], means[1:], errs[:-1], errs[1:]):
        assert torch.all(hi > lo - 3 * (e_lo + e_hi))
    assert torch.all(means[-1] - means[0] > 0.05)  # strictly tighter on this q
    assert torch.all(means[-1] < exact + 3 * errs[-1])
    torch.testing.assert_close(means[0], ppca.elbo(x, mu, logvar), atol=float(4 * errs[0].max()), rtol=0)


def test_prior_monte_carlo_is_consistent():
    model = V.LinearGaussian.random(data_dim=3, latent_dim=1, sigma=1.0, seed=2)
    x = model.sample(3)
    torch.testing.assert_close(model.prior_mc_log_prob(x, 400_000), model.log_prob(x), atol=0.02, rtol=0)


def test_prior_monte_carlo_collapses_as_the_latent_dimension_grows():
    """Lecture 01's claim beyond d = 1: with n = 1000 prior draws, fine at d = 1, off by tens of nats at
    d = 16 (against scipy's exact log p(x)), with an effective sample size of about one draw."""
    import numpy as np
    from scipy import stats

    report = {}
    for d in (1, 16):
        model = V.LinearGaussian.random(data_dim=24, latent_dim=d, sigma=1.0, seed=d)
        torch.manual_seed(0)
        x = model.sample(5)
        W, b = model.W.numpy(), model.b.numpy()
        exact = torch.from_numpy(stats.multivariate_normal(b, W @ W.T + model.sigma**2 * np.eye(24)).logpdf(x.numpy()))
        error = torch.stack([model.prior_mc_log_prob(x, 1000) for _ in range(20)]) - exact   # (20, 5)
        log_w = model.log_px_given_z(x, torch.randn(1000, 5, d, dtype=x.dtype))             # weights p(x | z_i)
        ess = (2 * torch.logsumexp(log_w, 0) - torch.logsumexp(2 * log_w, 0)).exp() / 1000    # (sum w)^2 / sum w^2 / n
        report[d] = (error.mean().item(), error.std(0).mean().item(), ess.mean().item())
    (bias_1, spread_1, ess_1), (bias_16, spread_16, ess_16) = report[1], report[16]
    assert abs(bias_1) < 0.1 and ess_1 > 0.05
    assert bias_16 < -20 and spread_16 > 20 * spread_1 and ess_16 < 0.002   # one or two of 1000 draws carry it


# --- gradient estimators ---------------------------------------------------------------------


def test_reparameterized_gradient_is_unbiased_and_matches_score_function():
    """f(z) = sum (z - c)^2: grad_mu E f = 2 (mu - c), grad_logvar E f = exp(logvar)."""
    c = torch.tensor([1.0, -2.0], dtype=torch.float64)
    mu = torch.tensor([0.3, 0.5], dtype=torch.float64)
    logvar = torch.tensor([-0.5, 0.2], dtype=torch.float64)

    def f(z):
        return ((z - c) ** 2).sum(-1)

    exact_mu, exact_logvar = 2 * (mu - c), torch.exp(logvar)
    r_mu, r_lv = V.reparam_gradient(f, mu, logvar, 200_000)
    s_mu, s_lv = V.score_function_gradient(f, mu, logvar, 1_000_000)
    torch.testing.assert_close(r_mu.mean(0), exact_mu, atol=0.02, rtol=0)
    torch.testing.assert_close(r_lv.mean(0), exact_logvar, atol=0.02, rtol=0)
    torch.testing.assert_close(r_mu.mean(0), s_mu.mean(0), atol=0.06, rtol=0)
    torch.testing.assert_close(r_lv.mean(0), s_lv.mean(0), atol=0.06, rtol=0)
    assert torch.all(r_mu.var(0) * 10 < s_mu.var(0))  # the point of the trick: far less variance


# --- the VAE -----------------------------------------------------------------------------------


def _tiny_vae(**kw):
    torch.manual_seed(0)
    return V.VAE(V.MLPEncoder(16, 3, (32,)), V.MLPDecoder(3, (16,), (32,)), **kw)


def test_vae_bounds_shapes_and_identities():
    model = _tiny_vae().double()
    x = torch.bernoulli(torch.full((10, 16), 0.4, dtype=torch.float64))
    terms = model.elbo(x, beta=2.0)
    assert set(terms) == {"elbo", "recon", "kl"} and all(t.shape == (10,) for t in terms.values())
    torch.testing.assert_close(terms["elbo"], -terms["recon"] - 2.0 * terms["kl"])
    assert torch.all(terms["recon"] > 0)  # a loss: -log p(x|z) of binary pixels is positive
    mu, logvar = model.encode(x)
    torch.testing.assert_close(terms["kl"], G.kl_normal_std(mu, logvar))
    assert model.iwae_bound(x, 4).shape == (10,)
    # log p(x) >= F_1 on average, and the chunked estimate equals the unchunked one in distribution
    torch.manual_seed(1)
    ll_small_chunks = model.log_prob(x, k=1000, chunk=7)
    torch.manual_seed(1)
    ll_one_chunk = model.log_prob(x, k=1000, chunk=1000)
    torch.testing.assert_close(ll_small_chunks, ll_one_chunk, atol=0.05, rtol=0)
    elbo_mean = model.log_weights(x, 500).mean(0)
    assert torch.all(ll_one_chunk > elbo_mean - 0.05)


def test_vae_log_prob_is_exact_for_a_decoder_that_ignores_z():
    """With q = p(z) and a decoder that ignores z, every importance weight is p(x): the estimate is exact."""
    model = _tiny_vae().double()
    with torch.no_grad():  # q(z|x) = p(z) = N(0, I) and p(x|z) constant in z: every weight equals p(x)
        model.decoder.net[-1].weight.zero_()
        model.encoder.head.weight.zero_()
        model.encoder.head.bias.zero_()
    x = torch.bernoulli(torch.full((5, 16), 0.5, dtype=torch.float64))
    logits = model.decoder(torch.zeros(1, 3, dtype=torch.float64))
    expected = V.log_bernoulli(x, logits.expand(5, 16))
    torch.testing.assert_close(model.log_prob(x, k=50), expected)


def test_vae_sample_and_reconstruct_shapes():
    model = V.VAE(V.ConvEncoder(4, width=8), V.ConvDecoder(4, width=8))
    x = torch.rand(3, 1, 28, 28)
    assert model.sample(5).shape == (5, 1, 28, 28)
    assert set(model.sample(5).unique().tolist()) <= {0.0, 1.0}
    assert model.reconstruct(x).shape == (3, 1, 28, 28)
    assert model.iwae_bound(x, 2).shape == (3,)
    g = V.VAE(V.MLPEncoder(784, 4), V.MLPDecoder(4), likelihood="gaussian")
    assert g.elbo(x)["elbo"].shape == (3,) and g.sample(2).shape == (2, 1, 28, 28)


def test_loss_terms_follow_the_contract():
    """First key "loss"; then the detached batch means "elbo", "recon", "kl"; loss = recon + beta kl."""
    x = torch.bernoulli(torch.full((6, 16), 0.4, dtype=torch.float64))
    model = _tiny_vae(beta=3.0).double()
    terms = model.loss(x)
    assert list(terms) == ["loss", "elbo", "recon", "kl"]
    assert terms["loss"].requires_grad and not any(t.requires_grad for t in list(terms.values())[1:])
    torch.testing.assert_close(terms["loss"], terms["recon"] + 3.0 * terms["kl"])
    torch.testing.assert_close(terms["elbo"], -terms["recon"] - terms["kl"])
    assert list(_tiny_vae(k=3).double().loss(x)) == ["loss", "elbo", "recon", "kl"]
    torch.manual_seed(0)
    h = V.HierarchicalVAE(16, z1=3, z2=2, hidden=16, x_shape=(16,)).double()
    th = h.loss(x)
    assert list(th) == ["loss", "elbo", "recon", "kl_z1", "kl_z2"]
    torch.testing.assert_close(th["loss"], th["recon"] + th["kl_z1"] + th["kl_z2"])
    ae = V.Autoencoder(V.MLPEncoder(16, 3, (32,)), V.MLPDecoder(3, (16,), (32,))).double()
    assert list(ae.loss(x)) == ["loss", "recon"]
    for m in (model, h):
        assert not m.sample(3).requires_grad and m.log_prob(x, k=7).shape == (6,)


def test_make_vae_builds_the_lectures_model_with_the_same_weights():
    torch.manual_seed(0)
    by_hand = V.VAE(V.MLPEncoder(784, 20, hidden=(512, 256)), V.MLPDecoder(20, hidden=(256, 512)), beta=2.0)
    torch.manual_seed(0)
    built = V.make_vae(20, hidden=(512, 256), beta=2.0)
    assert built.beta == 2.0 and built.x_shape == (1, 28, 28)
    for (name, a), (name_b, b) in zip(by_hand.state_dict().items(), built.state_dict().items()):
        assert name == name_b and torch.equal(a, b)
    assert V.make_vae(6, x_shape=(1, 32, 32)).sample(2).shape == (2, 1, 32, 32)


def test_iwae_loss_is_minus_the_k_sample_bound():
    model = _tiny_vae(k=6).double()
    x = torch.bernoulli(torch.full((4, 16), 0.4, dtype=torch.float64))
    torch.manual_seed(3)
    loss = model.loss(x)
    torch.manual_seed(3)
    torch.testing.assert_close(loss["loss"], -model.iwae_bound(x, 6).mean())


def test_hierarchical_vae_decomposition_matches_monte_carlo_of_the_joint():
    torch.manual_seed(0)
    model = V.HierarchicalVAE(in_features=16, z1=3, z2=2, hidden=16, x_shape=(16,)).double()
    x = torch.bernoulli(torch.full((3, 16), 0.4, dtype=torch.float64))
    with torch.no_grad():
        terms = model.elbo(x)
        torch.testing.assert_close(terms["elbo"], -terms["recon"] - terms["kl_z1"] - terms["kl_z2"])
        xs = x.repeat(20_000, 1)
        decomposed = model.elbo(xs)["elbo"].view(20_000, 3).mean(0)
        mc = model.log_weights(x, 20_000).mean(0)
    torch.testing.assert_close(decomposed, mc, atol=0.1, rtol=0)
    assert model.sample(4).shape == (4, 16)
    assert set(model.sample(4).unique().tolist()) <= {0.0, 1.0}  # draws from the model by default
    probs = model.sample(4, mean=True)
    assert probs.shape == (4, 16) and not probs.requires_grad and 0 < probs.min() and probs.max() < 1


def test_short_vae_training_improves_the_validation_elbo():
    from dgmlib.data import load_mnist
    from dgmlib.training import fit

    x, _ = load_mnist("train", binarize=True)
    x_val, _ = load_mnist("test", binarize=True)
    torch.manual_seed(0)
    model = V.VAE(V.MLPEncoder(784, 10, (128,)), V.MLPDecoder(10, hidden=(128,)))
    history = fit(model, x, epochs=3, val_data=x_val, lr=2e-3, seed=0)
    assert history["val_elbo"][0] < history["val_elbo"][-1]
    assert history["val_elbo"][-1] > -190.0  # an untrained model sits near -543 (784 log 2)


# --- bad input ---------------------------------------------------------------------------------


def test_mismatched_shapes_are_rejected():
    with pytest.raises(ValueError, match="mu and logvar must have the same shape"):
        G.kl_normal_std(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="mu and logvar must have the same shape"):
        G.reparameterize(torch.zeros(2, 3), torch.zeros(3))
    with pytest.raises(ValueError, match="mu_p and logvar_p must broadcast"):
        G.kl_normal(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 6\)"):
        V.LinearGaussian.random(6, 2).log_prob(torch.zeros(2, 5, dtype=torch.float64))
    with pytest.raises(TypeError, match="mu must be a torch.Tensor"):
        G.kl_normal_std([0.0], torch.zeros(1))


def test_k_below_one_is_rejected():
    model = _tiny_vae()
    x = torch.zeros(2, 16)
    for bad in [0, -3, 1.5]:
        with pytest.raises(ValueError, match="k must be an int >= 1"):
            model.iwae_bound(x, bad)
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        model.log_prob(x, k=0)
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        _tiny_vae(k=0)


def test_unknown_likelihood_is_rejected():
    with pytest.raises(ValueError, match=r"likelihood must be one of \('bernoulli', 'gaussian'\), got 'poisson'"):
        _tiny_vae(likelihood="poisson")


def test_bernoulli_targets_outside_unit_interval_are_rejected():
    model = _tiny_vae()
    with pytest.raises(ValueError, match=r"Bernoulli targets x must lie in \[0, 1\]"):
        model.loss(torch.full((2, 16), 2.0))
    with pytest.raises(ValueError, match=r"Bernoulli targets x must lie in \[0, 1\]"):
        model.log_prob(torch.full((2, 16), -0.5), k=3)


def test_the_iwae_gradient_is_the_normalized_weight_average_of_the_per_sample_gradients():
    """grad F_k = sum_i w~_i grad log w_i with w~_i = w_i / sum_j w_j (lecture 02), per sample by autograd."""
    model = V.LinearGaussian.random(data_dim=6, latent_dim=3, sigma=0.5, seed=4)
    x = model.sample(1)
    mu = torch.tensor([[0.3, -0.2, 0.5]], dtype=torch.float64, requires_grad=True)
    logvar = torch.tensor([[-1.0, -0.5, -1.5]], dtype=torch.float64, requires_grad=True)
    torch.manual_seed(0)
    log_w = model.log_weights(x, mu, logvar, k=8)[:, 0]                   # (k,), reparameterized draws
    grad_f = torch.autograd.grad(G.log_mean_exp(log_w, 0), (mu, logvar), retain_graph=True)
    per_sample = [torch.autograd.grad(log_w[i], (mu, logvar), retain_graph=True) for i in range(8)]
    w_tilde = torch.softmax(log_w.detach(), 0)
    for j in range(2):   # d/d mu, d/d logvar
        weighted = sum(w_tilde[i] * per_sample[i][j] for i in range(8))
        uniform = sum(per_sample[i][j] for i in range(8)) / 8              # the ELBO's estimator on the same draws
        torch.testing.assert_close(grad_f[j], weighted, atol=1e-12, rtol=1e-10)
        assert (grad_f[j] - uniform).abs().max() > 1e-3                    # the weights matter
    assert w_tilde.max() > 2 / 8                                           # and are far from uniform here


def test_the_gaussian_decoder_log_likelihood_is_the_scaled_l2_error_plus_a_constant():
    """log p(x|z) = -||x - f(z)||^2 / (2 sigma^2) - D log(sigma sqrt(2 pi)), against torch.distributions."""
    torch.manual_seed(0)
    vae = V.make_vae(3, x_shape=(1, 4, 4), hidden=(8,), likelihood="gaussian").double()
    x, z = torch.rand(5, 1, 4, 4, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    mean, sigma = vae.decode(z), vae.log_sigma.exp()
    expected = Normal(mean, sigma).log_prob(x).flatten(1).sum(1)
    l2 = -((x - mean) ** 2).flatten(1).sum(1) / (2 * sigma**2) - 16 * torch.log(sigma * math.sqrt(2 * math.pi))
    torch.testing.assert_close(vae.log_px_given_z(x, z), expected)
    torch.testing.assert_close(l2, expected)


def test_a_one_branch_proposal_reaches_only_its_branch_log_p_minus_log_2():
    """Lecture 02: p(z) = N(0, I), p(x|z) = N(x; z1 z2, 0.3^2), x = 1.5, is symmetric under z -> -z, so each
    branch of the posterior holds half of p(x). F_k of a Gaussian proposal on one branch climbs to
    log p(x) - log 2 (the branch's mass by quadrature), not to log p(x)."""
    x_obs, noise = 1.5, 0.3

    def log_joint(z):
        return (-0.5 * ((x_obs - z[..., 0] * z[..., 1]) / noise) ** 2 - math.log(noise * math.sqrt(2 * math.pi))
                - 0.5 * (z**2).sum(-1) - math.log(2 * math.pi))

    grid = torch.linspace(-6, 6, 1201, dtype=torch.float64)
    zz = torch.stack(torch.meshgrid(grid, grid, indexing="ij"), -1)
    cell = 2 * math.log(float(grid[1] - grid[0]))
    log_px = (torch.logsumexp(log_joint(zz).flatten(), 0) + cell).item()
    log_branch = (torch.logsumexp(log_joint(zz)[grid > 0].flatten(), 0) + cell).item()   # z1 > 0
    assert log_branch == pytest.approx(log_px - math.log(2), abs=1e-6)
    mu = torch.tensor([1.2, 1.2], dtype=torch.float64)                        # on the z1 > 0 branch
    logvar = torch.full((2,), 2 * math.log(0.6), dtype=torch.float64)          # narrow enough to miss the other
    torch.manual_seed(0)
    z = mu + (0.5 * logvar).exp() * torch.randn(200, 5000, 2, dtype=torch.float64)
    log_w = log_joint(z) - G.log_normal(z, mu, logvar)
    f_k = G.log_mean_exp(log_w, 1).mean().item()   # F_5000
    assert abs(f_k - log_branch) < 0.05 and log_px - f_k > 0.6
