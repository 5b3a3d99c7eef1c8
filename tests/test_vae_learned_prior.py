"""The learned (Gaussian-mixture) prior of a trained VAE: densities, sampling, fit, the two-stage model, checks."""

import math

import pytest
import torch
from torch import distributions as td

from dgmlib.vae import LearnedPriorVAE, MixturePrior, make_vae


def _mixture(seed=0, K=3, D=4):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(K, D, D, generator=g, dtype=torch.float64)
    cov = a @ a.transpose(-1, -2) + 0.5 * torch.eye(D, dtype=torch.float64)
    weights = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)[:K]
    return weights / weights.sum(), 2 * torch.randn(K, D, generator=g, dtype=torch.float64), cov


def test_log_prob_matches_torch_distributions_mixture():
    w, m, S = _mixture()
    prior = MixturePrior(w, m, S)
    reference = td.MixtureSameFamily(td.Categorical(probs=w), td.MultivariateNormal(m, covariance_matrix=S))
    z = torch.randn(7, 5, 4, dtype=torch.float64)
    assert prior.log_prob(z).shape == (7, 5)
    assert torch.allclose(prior.log_prob(z), reference.log_prob(z), atol=1e-10)


def test_samples_have_the_mixtures_mean_and_covariance():
    w, m, S = _mixture()
    prior = MixturePrior(w, m, S)
    z = prior.sample(200_000, generator=torch.Generator().manual_seed(0))
    mean = (w[:, None] * m).sum(0)
    cov = (w[:, None, None] * (S + m[:, :, None] * m[:, None, :])).sum(0) - mean[:, None] * mean[None, :]
    assert torch.allclose(z.mean(0), mean, atol=0.05)
    assert torch.allclose(torch.cov(z.T), cov, atol=0.15)


def test_fit_recovers_a_two_component_mixture():
    g = torch.Generator().manual_seed(0)
    k = torch.rand(4000, generator=g) < 0.3
    z = torch.where(k[:, None], torch.tensor([3.0, 0.0]) + 0.5 * torch.randn(4000, 2, generator=g),
                    torch.tensor([-1.0, 1.0]) + torch.randn(4000, 2, generator=g))
    prior = MixturePrior.fit(z, components=2, seed=0)
    order = prior.means[:, 0].argsort(descending=True)
    assert torch.allclose(prior.log_weights.exp()[order], torch.tensor([0.3, 0.7]), atol=0.03)
    assert torch.allclose(prior.means[order], torch.tensor([[3.0, 0.0], [-1.0, 1.0]]), atol=0.1)
    truth = torch.logsumexp(torch.stack([math.log(0.3) + td.MultivariateNormal(torch.tensor([3.0, 0.0]), 0.25 * torch.eye(2)).log_prob(z),
                                         math.log(0.7) + td.MultivariateNormal(torch.tensor([-1.0, 1.0]), torch.eye(2)).log_prob(z)]), 0)
    assert abs(prior.log_prob(z).mean() - truth.mean()) < 0.02


def test_with_the_standard_normal_as_prior_it_is_the_vae():
    torch.manual_seed(0)
    vae = make_vae(3, hidden=(16,))
    two_stage = LearnedPriorVAE(vae, MixturePrior(torch.ones(1), torch.zeros(1, 3), torch.eye(3)[None]))
    x = torch.bernoulli(torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(1)))
    torch.manual_seed(3)
    expected = vae.log_weights(x, 5)
    torch.manual_seed(3)
    assert torch.allclose(two_stage.log_weights(x, 5), expected, atol=1e-5)
    loss = two_stage.loss(x)
    assert list(loss)[0] == "loss" and loss["loss"].requires_grad
    assert two_stage.sample(4, mean=True).shape == (4, 1, 28, 28)
    assert set(two_stage.sample(4).unique().tolist()) <= {0.0, 1.0}


def test_fit_uses_codes_of_the_posterior():
    torch.manual_seed(0)
    vae = make_vae(2, hidden=(16,))
    x = torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    two_stage = LearnedPriorVAE.fit(vae, x, components=3, draws=2, seed=0)
    with torch.no_grad():
        mu = vae.encode(x)[0]
    assert two_stage.prior.dim == 2
    assert torch.allclose((two_stage.prior.log_weights.exp()[:, None] * two_stage.prior.means).sum(0), mu.mean(0), atol=0.1)


def test_bad_arguments_are_refused_with_their_names():
    w, m, S = _mixture()
    with pytest.raises(ValueError, match="weights must be positive and sum to 1"):
        MixturePrior(w * 2, m, S)
    with pytest.raises(ValueError, match="covariances must be symmetric positive definite"):
        MixturePrior(w, m, -S)
    with pytest.raises(ValueError, match=r"shapes \(K,\), \(K, D\), \(K, D, D\)"):
        MixturePrior(w, m, S[:, :2, :2])
    prior = MixturePrior(w, m, S)
    with pytest.raises(ValueError, match="z must end in the prior's dimension 4"):
        prior.log_prob(torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="z must be finite"):
        prior.log_prob(torch.full((2, 4), float("nan"), dtype=torch.float64))
    with pytest.raises(ValueError, match="fewer than components = 5"):
        MixturePrior.fit(torch.randn(3, 2), components=5)
    with pytest.raises(TypeError, match="vae must offer posterior_sample"):
        LearnedPriorVAE(torch.nn.Linear(2, 2), prior)
    with pytest.raises(ValueError, match="differs from the VAE's latent_dim 3"):
        LearnedPriorVAE(make_vae(3, hidden=(8,)), prior)
