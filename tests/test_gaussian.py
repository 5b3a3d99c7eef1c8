"""dgmlib.gaussian against torch.distributions (an independent implementation), and its refusals."""

import math

import pytest
import torch

from dgmlib import gaussian as G


def test_log_normal_matches_torch_distributions_and_broadcasts():
    g = torch.Generator().manual_seed(0)
    z, mu, logvar = (torch.randn(5, 4, 3, generator=g, dtype=torch.float64) for _ in range(3))
    expected = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    assert torch.allclose(G.log_normal(z, mu, logvar), expected, atol=1e-12)
    # (k, B, D) samples against (B, D) parameters, and scalar parameters
    assert torch.allclose(G.log_normal(z, mu[0], logvar[0]), torch.distributions.Normal(
        mu[0], (0.5 * logvar[0]).exp()).log_prob(z).sum(-1), atol=1e-12)
    assert torch.allclose(G.log_normal(z, 0.0, 0.0), G.log_normal_std(z), atol=1e-12)


def test_log_normal_refuses_widths_that_do_not_broadcast():
    with pytest.raises(ValueError, match=r"z, mu, logvar must broadcast to one shape, got z \(2, 3\), mu \(2, 4\)"):
        G.log_normal(torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2, 4))
    with pytest.raises(TypeError, match="z must be a torch.Tensor, got list"):
        G.log_normal_std([0.0, 1.0])


def test_kls_match_torch_distributions():
    g = torch.Generator().manual_seed(1)
    mu_q, lv_q, mu_p, lv_p = (torch.randn(6, 3, generator=g, dtype=torch.float64) for _ in range(4))
    q = torch.distributions.Normal(mu_q, (0.5 * lv_q).exp())
    p = torch.distributions.Normal(mu_p, (0.5 * lv_p).exp())
    assert torch.allclose(G.kl_normal(mu_q, lv_q, mu_p, lv_p), torch.distributions.kl_divergence(q, p).sum(-1))
    std = torch.distributions.Normal(torch.zeros_like(mu_q), torch.ones_like(mu_q))
    assert torch.allclose(G.kl_normal_std(mu_q, lv_q), torch.distributions.kl_divergence(q, std).sum(-1))


def test_log_mean_exp_and_normal_density():
    log_w = torch.tensor([[0.0, 1000.0], [math.log(3.0), 1000.0 + math.log(3.0)]], dtype=torch.float64)
    assert torch.allclose(G.log_mean_exp(log_w, 0), torch.tensor([math.log(2.0), 1000.0 + math.log(2.0)],
                                                                 dtype=torch.float64))
    x = torch.linspace(-20, 20, 40_001, dtype=torch.float64)
    density = G.normal_density(x, 1.5, 0.7)
    assert float(density.sum() * (x[1] - x[0])) == pytest.approx(1.0, abs=1e-10)
    assert torch.allclose(density.log(), torch.distributions.Normal(1.5, 0.7).log_prob(x), atol=1e-9)
    with pytest.raises(ValueError, match="std must be a positive number, got 0"):
        G.normal_density(x, 0.0, 0)
