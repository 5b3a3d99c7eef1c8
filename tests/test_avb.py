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
