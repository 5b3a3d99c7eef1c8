"""Adversarial Variational Bayes against a model whose posterior is known exactly.

p(z) = N(0, 1), p(x|z) = N(x; z, sigma^2): the posterior is N(x / (1 + sigma^2), sigma^2 / (1 + sigma^2)),
the average KL(q || p) at that posterior is E_x[1/2 (v + m(x)^2 - 1) - 1/2 log v], and the ELBO equals
log p(x) = log N(x; 0, 1 + sigma^2). The implicit encoder and the critic must find all three.
"""

import math

import pytest
import torch
from torch import nn

from dgmlib import vae as V
from dgmlib.gan import train_gan

SIGMA = 0.5


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These 1-D models train many tiny steps: one thread is several times faster than two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


SHRINK, VAR = 1 / (1 + SIGMA**2), SIGMA**2 / (1 + SIGMA**2)   # posterior mean = SHRINK x, variance VAR


@pytest.fixture(scope="module")
def trained():
    x = math.sqrt(1 + SIGMA**2) * torch.randn(4096, 1, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    avb = V.AVB(1, 1, sigma=SIGMA, decoder=nn.Identity())
    untrained = _posterior_moments(avb)
    history = train_gan(avb, x, epochs=150, batch_size=128, lr_g=2e-3, lr_d=2e-3, decay_lr=True, seed=0, progress=False)
    return avb, untrained, history


def _posterior_moments(avb, xs=(-1.5, -0.5, 0.5, 1.5)):
    torch.manual_seed(3)
    with torch.no_grad():
        draws = [avb.posterior_sample(torch.full((4000, 1), v)) for v in xs]
    return torch.tensor([[d.mean().item(), d.std().item()] for d in draws]), torch.tensor(xs)


def test_the_implicit_posterior_learns_the_exact_one(trained):
    avb, (before, xs), _ = trained
    after, _ = _posterior_moments(avb)
    exact_mean, exact_std = SHRINK * xs, torch.full_like(xs, math.sqrt(VAR))
    assert (after[:, 0] - exact_mean).abs().max() < 0.1 and (after[:, 1] - exact_std).abs().max() < 0.06
    assert (before[:, 0] - exact_mean).abs().max() > 0.5                          # untrained: far off


def test_the_critic_estimates_the_kl_and_the_elbo_reaches_log_px(trained):
    avb, _, _ = trained
    x = math.sqrt(1 + SIGMA**2) * torch.randn(20_000, 1, generator=torch.Generator().manual_seed(7))
    torch.manual_seed(8)
    with torch.no_grad():
        z = avb.posterior_sample(x)
        kl_estimate = avb.log_ratio(x, z).mean().item()
        elbo = (avb.log_px_given_z(x, z) - avb.log_ratio(x, z)).mean().item()
    kl_exact = (0.5 * (VAR + (SHRINK * x) ** 2 - 1) - 0.5 * math.log(VAR)).mean().item()
    log_px = (-0.5 * x**2 / (1 + SIGMA**2) - 0.5 * math.log(2 * math.pi * (1 + SIGMA**2))).mean().item()
    assert kl_estimate == pytest.approx(kl_exact, abs=0.1)
    assert elbo == pytest.approx(log_px, abs=0.1)


def test_avb_keeps_the_adversarial_contract_and_refuses_bad_input():
    avb = V.AVB(3, 2, hidden=(8,))
    x = torch.randn(5, 3)
    d, g = avb.d_loss(x), avb.g_loss(x)
    assert list(d) == ["loss", "real", "fake"] and list(g) == ["loss", "recon", "kl"]
    assert avb.sample(4).shape == (4, 3) and avb.posterior_sample(x).shape == (5, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 3\), got \(5, 2\)"):
        avb.d_loss(torch.randn(5, 2))
    with pytest.raises(ValueError, match="x must be finite"):
        avb.g_loss(torch.full((2, 3), float("nan")))
    with pytest.raises(TypeError, match="decoder must be a torch.nn.Module"):
        V.AVB(3, 2, decoder=lambda z: z)
    with pytest.raises(ValueError, match="sigma"):
        V.AVB(3, 2, sigma=0.0)


class _Square(nn.Module):
    def forward(self, z):
        return z**2


def test_avb_learns_a_two_mode_posterior_that_no_gaussian_q_can_match():
    """p(z) = N(0, 1), p(x|z) = N(x; z^2, 0.5^2): the posterior of x = 1 has modes at z = +-1. On a grid:
    KL(q || p(z|x)) of AVB's samples (histogram) is small, the best Gaussian q's is not, and the critic
    meets the density-ratio identity T*(x, z) = log p(z|x) - log p(z) where the posterior has its mass."""
    sigma = 0.5
    g = torch.Generator().manual_seed(1)
    z0 = torch.randn(4096, 1, generator=g)
    x = z0**2 + sigma * torch.randn(4096, 1, generator=g)
    torch.manual_seed(0)
    avb = V.AVB(1, 1, sigma=sigma, decoder=_Square(), hidden=(128, 128), noise_dim=4)
    train_gan(avb, x, epochs=120, batch_size=128, lr_g=1e-3, lr_d=1e-3, decay_lr=True, seed=0, progress=False)

    zs = torch.linspace(-4 + 0.025, 4 - 0.025, 160)                       # bin centres, width 0.05
    x_obs = 1.0
    log_post = -0.5 * ((x_obs - zs**2) / sigma) ** 2 - 0.5 * zs**2        # up to a constant
    post = torch.softmax(log_post, 0) / 0.05
    torch.manual_seed(3)
    with torch.no_grad():
        draws = avb.posterior_sample(torch.full((100_000, 1), x_obs))[:, 0]
        t_learned = avb.log_ratio(torch.full((160, 1), x_obs), zs[:, None])
    q = torch.histc(draws, bins=160, min=-4, max=4) / len(draws) / 0.05
    kl_avb = (q[q > 0] * (q[q > 0] / post[q > 0]).log()).sum().item() * 0.05

    mu = torch.tensor(0.5, requires_grad=True)                              # the best Gaussian q: max ELBO
    log_s = torch.tensor(-1.0, requires_grad=True)
    opt = torch.optim.Adam([mu, log_s], lr=0.02)
    eps = torch.randn(4096, generator=torch.Generator().manual_seed(4))
    for _ in range(1500):
        z = mu + log_s.exp() * eps
        elbo = (-0.5 * ((x_obs - z**2) / sigma) ** 2 - 0.5 * z**2).mean() + log_s
        opt.zero_grad()
        (-elbo).backward()
        opt.step()
    with torch.no_grad():   # in log space: the posterior's far tails underflow where the Gaussian still has mass
        log_gauss = torch.distributions.Normal(mu.double(), log_s.exp().double()).log_prob(zs.double())
        log_post_density = torch.log_softmax(log_post.double(), 0) - math.log(0.05)
    kl_gauss = (log_gauss.exp() * (log_gauss - log_post_density)).sum().item() * 0.05

    target = post.log() - (-0.5 * zs**2 - 0.5 * math.log(2 * math.pi))     # log p(z|x) - log p(z)
    bulk = post > 0.1 * post.max()
    assert 0.35 < (draws > 0).float().mean().item() < 0.65                 # both modes, about equally
    assert kl_avb < 0.15 and kl_gauss > 0.5 and kl_gauss > 4 * kl_avb     # one mode is all a Gaussian gets
    assert (t_learned[bulk] - target[bulk]).abs().mean() < 0.3
