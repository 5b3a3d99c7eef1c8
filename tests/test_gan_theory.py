"""The claims of lecture 03's theory, each computed two independent ways on a 1-D family.

- the game's optimum: p = pi gives D* = 1/2 and V = -log 4 exactly, and any other p gives more;
- maximum likelihood from samples is the minimizer of KL(pi || p) computed by quadrature;
- the non-saturating generator step, D* held fixed, is the gradient of KL(p || pi) - 2 JSD(pi || p)
  (Arjovsky & Bottou, 2017, Theorem 2.5), not the gradient of the JSD the minimax game targets.
"""

import math

import numpy as np
import pytest
import torch
from scipy import optimize, stats

from dgmlib import gan
from dgmlib.divergences import jsd, kl
from dgmlib.gaussian import normal_density

X = torch.linspace(-15, 15, 30_001, dtype=torch.float64)
DX = float(X[1] - X[0])


def _mixture(x):
    return 0.3 * normal_density(x, -1.5, 0.5) + 0.7 * normal_density(x, 1.0, 0.8)


def _value(pi, p):
    """V(G, D*) = int pi log D* + p log(1 - D*) dx, with 1 - D* = p / (pi + p) written without cancellation."""
    d = gan.optimal_discriminator(pi, p)
    return float((torch.xlogy(pi, d) + torch.xlogy(p, p / (pi + p))).sum() * DX)


def test_the_optimum_of_the_game_is_p_equal_pi_with_value_minus_log_4():
    pi = _mixture(X)
    pi = pi / (pi.sum() * DX)
    assert torch.equal(gan.optimal_discriminator(pi, pi), torch.full_like(pi, 0.5))
    assert _value(pi, pi) == pytest.approx(-math.log(4), abs=1e-12)
    # any other generator is strictly worse, by exactly 2 JSD
    for mean, std in [(0.0, 1.0), (0.4, 1.2), (1.0, 0.8)]:
        p = normal_density(X, mean, std)
        p = p / (p.sum() * DX)
        assert _value(pi, p) > -math.log(4) + 1e-3
        assert _value(pi, p) - (-math.log(4)) == pytest.approx(2 * jsd(pi, p, dx=DX).item(), abs=1e-10)


def test_maximum_likelihood_from_samples_minimizes_kl_pi_to_p_by_quadrature():
    """The MLE of N(mu, s^2) from samples of pi, against the minimizer of KL(pi || N(mu, s^2)) on the grid."""
    rng = np.random.default_rng(0)
    n = 400_000
    which = rng.random(n) < 0.3
    samples = np.where(which, rng.normal(-1.5, 0.5, n), rng.normal(1.0, 0.8, n))
    mle_mu, mle_std = stats.norm.fit(samples)   # scipy's maximum likelihood fit

    pi = _mixture(X)

    def kl_to(params):
        mu, log_s = params
        return kl(pi, normal_density(X, float(mu), math.exp(log_s)), dx=DX).item()

    best = optimize.minimize(kl_to, x0=[0.0, 0.0], method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-12})
    kl_mu, kl_std = best.x[0], math.exp(best.x[1])
    # the sampling error of the MLE: about std / sqrt(n) = 0.002
    assert mle_mu == pytest.approx(kl_mu, abs=0.01) and mle_std == pytest.approx(kl_std, abs=0.01)
    # and the minimizer is the moment match (exact for a Gaussian family): mean 0.25, std sqrt(E x^2 - 0.25^2)
    mean = 0.3 * -1.5 + 0.7 * 1.0
    second = 0.3 * (0.5**2 + 1.5**2) + 0.7 * (0.8**2 + 1.0**2)
    assert kl_mu == pytest.approx(mean, abs=1e-5) and kl_std == pytest.approx(math.sqrt(second - mean**2), abs=1e-5)


@pytest.mark.parametrize("mean, std", [(0.0, 1.0), (2.5, 0.6), (-1.0, 2.0)])
def test_the_non_saturating_step_is_the_gradient_of_kl_p_pi_minus_two_jsd(mean, std):
    pi = _mixture(X)
    theta = torch.tensor([mean, math.log(std)], dtype=torch.float64, requires_grad=True)

    def p_of(t):
        return normal_density(X, t[0], t[1].exp())

    with torch.no_grad():   # D* of the current generator, then held fixed while G steps
        d_star = gan.optimal_discriminator(pi, p_of(theta))
    # the non-saturating loss E_p[-log D*(x)], its expectation written over the grid
    ns_loss = (p_of(theta) * -torch.log(d_star)).sum() * DX
    (grad_ns,) = torch.autograd.grad(ns_loss, theta)

    def kl_minus_2jsd(t):
        p = p_of(t)
        m = 0.5 * (p + pi)
        kl_p_pi = (torch.xlogy(p, p) - torch.xlogy(p, pi)).sum() * DX
        js = 0.5 * ((torch.xlogy(p, p) - torch.xlogy(p, m)).sum() + (torch.xlogy(pi, pi) - torch.xlogy(pi, m)).sum()) * DX
        return kl_p_pi - 2 * js, js

    target, js = kl_minus_2jsd(theta)
    (grad_target,) = torch.autograd.grad(target, theta, retain_graph=True)
    (grad_js,) = torch.autograd.grad(js, theta)
    assert torch.allclose(grad_ns, grad_target, atol=1e-8, rtol=1e-6)
    # and it is not the JSD's gradient (the minimax game's target), not even up to a positive factor
    cosine = torch.dot(grad_ns, grad_js) / (grad_ns.norm() * grad_js.norm())
    assert (grad_ns - 2 * grad_js).norm() > 0.05 * grad_ns.norm() and cosine < 0.9999


def test_forward_kl_covers_reverse_kl_and_jsd_seek_a_mode():
    """Lecture 03, section 4, by scipy's optimizer over (mu, log s) on the grid: KL(pi || p) matches the
    moments of a two-mode pi; KL(p || pi) started near a mode locks onto it; JSD has both solutions as
    local minima, and its values at the two differ by far less than the forward KL's."""
    x = torch.linspace(-10, 10, 4001, dtype=torch.float64)
    dx = float(x[1] - x[0])
    pi = 0.5 * normal_density(x, -2.0, 0.5) + 0.5 * normal_density(x, 2.0, 0.5)

    def fit(divergence, start):
        def objective(params):
            p = normal_density(x, float(params[0]), math.exp(params[1])) + 1e-300
            return divergence(p).item()
        result = optimize.minimize(objective, x0=start, method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-12})
        return result.x[0], math.exp(result.x[1]), result.fun

    forward = fit(lambda p: kl(pi, p, dx=dx), [0.5, 0.0])
    reverse = fit(lambda p: kl(p, pi, dx=dx), [1.5, 0.0])
    jsd_cover, jsd_seek = fit(lambda p: jsd(pi, p, dx=dx), [0.0, 0.7]), fit(lambda p: jsd(pi, p, dx=dx), [1.8, -0.5])
    assert forward[0] == pytest.approx(0.0, abs=1e-3) and forward[1] == pytest.approx(math.sqrt(4.25), abs=1e-3)
    assert reverse[0] == pytest.approx(2.0, abs=1e-3) and reverse[1] == pytest.approx(0.5, abs=1e-3)
    assert reverse[2] == pytest.approx(math.log(2), abs=1e-3)            # KL(p || pi) of one mode: log 2
    assert abs(jsd_cover[0]) < 0.05 and abs(jsd_seek[0] - 2.0) < 0.05   # two local minima
    seek_p, cover_p = normal_density(x, 2.0, 0.5), normal_density(x, 0.0, math.sqrt(4.25))
    gap_forward = abs(kl(pi, seek_p, dx=dx).item() - kl(pi, cover_p, dx=dx).item())
    assert abs(jsd_cover[2] - jsd_seek[2]) < 0.03 < 10 < gap_forward
