"""The Standard Equation's min over q (lecture 10) and f-GAN: closed forms against independent computations."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dgmlib import gan
from dgmlib.divergences import kl
from dgmlib.gaussian import normal_density

X = torch.linspace(-8, 8, 2001, dtype=torch.float64)
DX = float(X[1] - X[0])


def _objective(q, p, f, alpha, beta):
    """-alpha H(q) + beta KL(q || p) - E_q f, by quadrature."""
    return (alpha * torch.xlogy(q, q).sum() * DX + beta * kl(q, p, dx=DX) - (q * f).sum() * DX)


@pytest.mark.parametrize("alpha,beta", [(0.0, 1.0), (0.5, 1.0), (1.0, 3.0)])
def test_gibbs_minimizer_beats_gradient_descent_over_q(alpha, beta):
    p = normal_density(X, 0.5, 1.2)
    f = torch.sin(X) + 0.3 * X - 0.05 * X**2
    q_star, value = gan.standard_equation_q(p, f, alpha, beta, DX)
    assert abs(q_star.sum().item() * DX - 1) < 1e-10
    assert value.item() == pytest.approx(_objective(q_star, p, f, alpha, beta).item(), abs=1e-8)
    logits = torch.zeros_like(X, requires_grad=True)  # q = softmax(logits) / dx, optimized directly
    opt = torch.optim.Adam([logits], lr=0.1)
    for _ in range(2000):
        q = torch.softmax(logits, 0) / DX
        loss = _objective(q, p, f, alpha, beta)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() >= value.item() - 1e-9          # nothing does better than the closed form
    assert loss.item() == pytest.approx(value.item(), abs=2e-3)


def test_donsker_varadhan_recovers_kl_at_the_log_ratio():
    pi, p = normal_density(X, 1.0, 0.7), normal_density(X, 0.0, 1.0)
    f = torch.log(pi / p) + 2.0  # the optimal experience, up to a constant
    _, value = gan.standard_equation_q(p, f, dx=DX)
    dv = (pi * f).sum() * DX + value  # E_pi f - log E_p e^f
    closed = math.log(1.0 / 0.7) + (0.7**2 + 1.0) / 2 - 0.5
    assert dv.item() == pytest.approx(closed, abs=1e-6)
    f_worse = f + 0.3 * torch.sin(X)
    assert ((pi * f_worse).sum() * DX + gan.standard_equation_q(p, f_worse, dx=DX)[1]).item() < closed


def test_large_beta_ties_q_to_the_model():
    p = normal_density(X, 0.0, 1.0)
    q, _ = gan.standard_equation_q(p, torch.cos(X), 0.0, 1e4, DX)
    assert (q - p).abs().max().item() < 1e-4


def test_standard_equation_bad_inputs():
    p = normal_density(X, 0.0, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        gan.standard_equation_q(p, X, alpha=-1.0)
    with pytest.raises(ValueError, match="alpha \\+ beta"):
        gan.standard_equation_q(p, X, alpha=0.0, beta=0.0)
    with pytest.raises(ValueError, match="same length"):
        gan.standard_equation_q(p, X[:-1])
    with pytest.raises(ValueError, match="p must be positive"):
        gan.standard_equation_q(p - 1.0, X)
    with pytest.raises(ValueError, match="f"):
        gan.standard_equation_q(p, X * float("nan"))


def test_fgan_losses_are_the_variational_bound():
    torch.manual_seed(0)
    D = gan.MLPDiscriminator(1, hidden=(8,), dropout=0.0)
    model = gan.FGAN(nn.Linear(1, 1), D, latent_dim=1, divergence="pearson")
    x = torch.randn(64, 1)
    torch.manual_seed(5)
    d = model.d_loss(x)
    torch.manual_seed(5)
    fake = model.generator(torch.randn(64, 1))
    v_real, v_fake = D(x), D(fake)
    bound = v_real.mean() - (v_fake**2 / 4 + v_fake).mean()   # Pearson: g(v) = v, f*(t) = t^2/4 + t
    assert d["loss"].item() == pytest.approx(-bound.item(), rel=1e-6)
    torch.manual_seed(6)
    g = model.g_loss(x)["loss"]
    torch.manual_seed(6)
    v = D(model.generator(torch.randn(64, 1)))
    assert g.item() == pytest.approx(-(v**2 / 4 + v).mean().item(), rel=1e-6)
    with pytest.raises(ValueError, match="unknown f-divergence"):
        gan.FGAN(nn.Linear(1, 1), D, latent_dim=1, divergence="chi")
    with pytest.raises(ValueError, match="gp_weight"):
        gan.FGAN(nn.Linear(1, 1), D, latent_dim=1, gp_weight=1.0)


def test_fgan_kl_training_reaches_the_data_gaussian():
    data = 1.0 + 0.5 * torch.randn(4096, 1, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    G = nn.Linear(1, 1)
    with torch.no_grad():
        G.weight.fill_(1.0)
        G.bias.fill_(-1.0)
    model = gan.FGAN(G, gan.MLPDiscriminator(1, hidden=(32, 32), dropout=0.0), latent_dim=1, divergence="kl")
    gan.train_gan(model, data, epochs=40, batch_size=256, lr_g=5e-3, lr_d=5e-3, seed=0, progress=False)
    assert abs(G.bias.item() - 1.0) < 0.1 and abs(abs(G.weight.item()) - 0.5) < 0.1  # started at (-1, 1)


def test_standard_equation_widget_state_matches_the_gaussian_closed_form():
    from dgmlib.widgets import standard_equation_explorer, standard_equation_state

    for alpha, beta, slope in [(0.0, 1.0, 1.0), (1.0, 2.0, -1.5), (0.5, 4.0, 0.3)]:
        s = standard_equation_state(alpha, beta, slope)
        assert s["grid_mean"] == pytest.approx(slope / beta, abs=1e-6)
        assert s["grid_var"] == pytest.approx((alpha + beta) / beta, abs=1e-5)
    state = standard_equation_explorer().update(alpha=1.0, beta=1.0, slope=0.0)
    assert state["grid_var"] == pytest.approx(2.0, abs=1e-5)
    with pytest.raises(ValueError, match="beta"):
        standard_equation_state(0.0, 0.0, 1.0)
