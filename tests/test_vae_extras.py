"""dgmlib.vae beyond the Gaussian VAE: flow posteriors, the 2-D energies, helpers for the lectures."""

import math

import pytest
import torch

from dgmlib import gaussian as G
from dgmlib import vae as V


def test_iaf_step_log_det_matches_autograd_jacobian():
    torch.manual_seed(0)
    step = V.IAFStep(4, hidden=(16,), context_features=3).double()
    with torch.no_grad():  # leave the identity start: random output layer
        for p in step.parameters():
            p.add_(0.3 * torch.randn_like(p))
    z, h = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    _, log_det = step(z, context=h)
    for i in range(5):
        jac = torch.autograd.functional.jacobian(lambda v: step(v.unsqueeze(0), context=h[i : i + 1])[0][0], z[i])
        order = step.layer.made.order  # autoregressive: output i depends on inputs j with order[j] <= order[i]
        allowed = order.view(-1, 1) >= order.view(1, -1)
        assert torch.all(jac[~allowed] == 0)
        torch.testing.assert_close(log_det[i], torch.linalg.slogdet(jac)[1])


def test_vae_with_flow_posterior_density_is_change_of_variables():
    """log q(z_K|x) from posterior_sample equals log q_0(z_0) - log|det dz_K/dz_0| computed by autograd."""
    from dgmlib.flows import Planar

    torch.manual_seed(1)
    flows = [Planar(3), Planar(3)]
    model = V.VAE(V.MLPEncoder(8, 3, (16,)), V.MLPDecoder(3, (8,), (16,)), flows=flows).double()
    x = torch.bernoulli(torch.full((1, 8), 0.5, dtype=torch.float64))
    mu, logvar = model.encode(x)
    torch.manual_seed(5)
    z, log_q = model.posterior_sample(x)
    torch.manual_seed(5)
    z0 = G.reparameterize(mu, logvar)

    def push(v):
        for f in flows:
            v = f(v)[0]
        return v

    torch.testing.assert_close(push(z0), z)
    jac = torch.autograd.functional.jacobian(lambda v: push(v.unsqueeze(0))[0], z0[0])
    expected = G.log_normal(z0, mu, logvar) - torch.linalg.slogdet(jac)[1]
    torch.testing.assert_close(log_q, expected)
    # and the ELBO's KL is the one-sample log q - log p(z)
    terms = model.elbo(x)
    assert terms["kl"].shape == (1,) and torch.isfinite(terms["elbo"]).all()


def test_iaf_vae_trains_and_uses_the_context():
    from dgmlib.flows import Reverse

    torch.manual_seed(0)
    flows = [V.IAFStep(4, (16,), context_features=5), Reverse(), V.IAFStep(4, (16,), context_features=5)]
    model = V.VAE(V.MLPEncoder(16, 4, (32,), context_features=5), V.MLPDecoder(4, (16,), (32,)), flows=flows)
    x = torch.bernoulli(torch.full((64, 16), 0.3))
    loss = model.loss(x)["loss"]
    loss.backward()
    grads = [p.grad for p in flows[0].parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    assert model.log_prob(x[:4], k=10).shape == (4,)


def test_energies_match_their_formulas_at_a_point():
    z = torch.tensor([[0.7, -1.3]], dtype=torch.float64)
    z1, z2 = 0.7, -1.3
    w1 = math.sin(2 * math.pi * z1 / 4)
    w2 = 3 * math.exp(-0.5 * ((z1 - 1) / 0.6) ** 2)
    w3 = 3 / (1 + math.exp(-(z1 - 1) / 0.3))
    wall = 0.5 * (z1 / 3.5) ** 8
    r = math.hypot(z1, z2)
    expected = {
        "U1": 0.5 * ((r - 2) / 0.4) ** 2 - math.log(math.exp(-0.5 * ((z1 - 2) / 0.6) ** 2) + math.exp(-0.5 * ((z1 + 2) / 0.6) ** 2)),
        "U2": 0.5 * ((z2 - w1) / 0.4) ** 2 + wall,
        "U3": -math.log(math.exp(-0.5 * ((z2 - w1) / 0.35) ** 2) + math.exp(-0.5 * ((z2 - w1 + w2) / 0.35) ** 2)) + wall,
        "U4": -math.log(math.exp(-0.5 * ((z2 - w1) / 0.4) ** 2) + math.exp(-0.5 * ((z2 - w1 + w3) / 0.35) ** 2)) + wall,
    }
    for name, value in expected.items():
        assert V.energy(name, z).item() == pytest.approx(value, rel=1e-12)


def test_energy_rejects_unknown_names_and_shapes():
    with pytest.raises(ValueError, match=r"name must be one of \('U1', 'U2', 'U3', 'U4'\), got 'U5'"):
        V.energy("U5", torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"z must have shape \(\.\.\., 2\)"):
        V.energy("U1", torch.zeros(1, 3))


def test_reverse_kl_fit_recovers_a_gaussian_target():
    torch.manual_seed(0)
    target_mu, target_std = torch.tensor([1.0, -0.5]), torch.tensor([0.5, 1.5])
    q = V.FlowPosterior([])

    def log_target(z):
        return G.log_normal(z, target_mu, 2 * torch.log(target_std))

    losses = V.fit_reverse_kl(q, log_target, steps=800, n=256, lr=3e-2)
    torch.testing.assert_close(q.mu.detach(), target_mu, atol=0.1, rtol=0)
    torch.testing.assert_close((0.5 * q.logvar.detach()).exp(), target_std, atol=0.1, rtol=0)
    assert abs(sum(losses[-50:]) / 50) < 0.05  # KL - log Z with log Z = 0


def test_latent_grid_is_evenly_spaced_in_probability():
    g = V.latent_grid(5, quantile=0.9, dtype=torch.float64)
    assert g.shape == (25, 2)
    u = torch.special.ndtr(g[:5, 0])
    torch.testing.assert_close(u, torch.linspace(0.1, 0.9, 5, dtype=torch.float64))
    assert torch.all(g[::5, 1][:-1] > g[::5, 1][1:])  # rows go down in z2
    with pytest.raises(ValueError, match=r"quantile must be a number in \(0.5, 1\)"):
        V.latent_grid(3, quantile=1.2)


def test_gaussian_fit_kl_matches_torch_distributions():
    torch.manual_seed(0)
    z = torch.randn(5000, 3, dtype=torch.float64) @ torch.tensor([[1.0, 0.2, 0.0], [0.0, 2.0, 0.3], [0.0, 0.0, 0.5]], dtype=torch.float64) + 0.7
    m, cov = z.mean(0), torch.cov(z.T)
    expected = torch.distributions.kl_divergence(
        torch.distributions.MultivariateNormal(m, cov), torch.distributions.MultivariateNormal(torch.zeros(3, dtype=torch.float64), torch.eye(3, dtype=torch.float64))
    )
    torch.testing.assert_close(V.gaussian_fit_kl(z), expected)
    with pytest.raises(ValueError, match="z must have shape"):
        V.gaussian_fit_kl(torch.zeros(2, 3))


def test_evaluate_bounds_orders_the_bounds():
    torch.manual_seed(0)
    model = V.VAE(V.MLPEncoder(16, 3, (32,)), V.MLPDecoder(3, (16,), (32,)))
    x = torch.bernoulli(torch.full((30, 16), 0.3))
    r = V.evaluate_bounds(model, x, k=300, samples=100, batch_size=7)
    assert set(r) == {"elbo", "iwae_5", "log_prob"}
    assert r["elbo"] < r["iwae_5"] < r["log_prob"]
    h = V.HierarchicalVAE(16, z1=3, z2=2, hidden=16, x_shape=(16,))
    rh = V.evaluate_bounds(h, x, k=200, samples=50)
    assert rh["elbo"] < rh["iwae_5"] < rh["log_prob"]
    with pytest.raises(ValueError, match="samples must be a multiple of 5"):
        V.evaluate_bounds(model, x, samples=7)


def test_autoencoder_is_deterministic_and_rejects_non_binary_targets():
    torch.manual_seed(0)
    ae = V.Autoencoder(V.MLPEncoder(16, 3, (32,)), V.MLPDecoder(3, (16,), (32,)))
    x = torch.bernoulli(torch.full((4, 16), 0.3))
    torch.testing.assert_close(ae.loss(x)["loss"], ae.loss(x)["loss"])
    assert ae.reconstruct(x).shape == (4, 16)
    with pytest.raises(ValueError, match=r"Bernoulli targets x must lie in \[0, 1\]"):
        ae.loss(x + 1)
