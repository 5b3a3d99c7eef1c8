"""dgmlib.flows, part 3: the ready-made flows train, integrate to 1 and invert images exactly."""

import math

import pytest
import torch

from dgmlib.data import load_mnist, toy2d
from dgmlib.flows import ResidualFlowBlock, maf_flow, mnist_flow, mnist_glow, planar_flow, realnvp_flow, residual_flow
from dgmlib.plotting import density_grid
from dgmlib.training import evaluate, fit


def gaussian_nll(x):
    """Test NLL of the best single Gaussian fitted to x: log(2 pi e) + 1/2 log det(Sigma) for D = 2."""
    cov = torch.cov(x.T.double())
    return math.log(2 * math.pi * math.e) + 0.5 * torch.logdet(cov).item()


@pytest.mark.parametrize("build", [lambda: realnvp_flow(2, 6, (32, 32)), lambda: maf_flow(2, 4, (32, 32))])
def test_trained_2d_flow_beats_a_gaussian_and_integrates_to_one(build):
    torch.manual_seed(0)
    x_train, x_test = toy2d("moons", 2000, seed=0), toy2d("moons", 1000, seed=1)
    flow = build()
    fit(flow, x_train, epochs=20, lr=5e-3, batch_size=256, seed=0)
    nll = evaluate(flow, x_test)["loss"]
    assert nll < gaussian_nll(x_test) - 0.3, (nll, gaussian_nll(x_test))
    xs, ys, log_p = density_grid(flow.log_prob, bounds=5.0, resolution=300)
    mass = (log_p.exp().sum() * (xs[1] - xs[0]) * (ys[1] - ys[0])).item()
    assert abs(mass - 1) < 1e-2


def test_residual_flow_trains_with_the_roulette_estimator():
    torch.manual_seed(0)
    x_train, x_test = toy2d("moons", 2000, seed=0), toy2d("moons", 500, seed=1)
    flow = residual_flow(2, n_blocks=2, hidden=(32,))
    fit(flow, x_train, epochs=20, lr=1e-2, batch_size=250, seed=0)
    for m in flow.modules():
        if isinstance(m, ResidualFlowBlock):
            m.log_det = "exact"
    assert evaluate(flow, x_test)["loss"] < gaussian_nll(x_test) - 0.1
    with torch.no_grad():
        z = torch.randn(50, 2)
        x, _ = flow.inverse(z)
        torch.testing.assert_close(flow(x)[0], z, atol=1e-5, rtol=0)


def test_planar_flow_scores_but_cannot_sample():
    flow = planar_flow(2, n_layers=4)
    assert flow.log_prob(torch.randn(5, 2)).shape == (5,)
    with pytest.raises(NotImplementedError, match="no analytic inverse"):
        flow.sample(3)


@pytest.mark.parametrize("build", [lambda: mnist_flow(hidden=8, steps=2), lambda: mnist_glow(hidden=8, steps=(2, 2))],
                         ids=["mnist_flow", "mnist_glow"])
def test_mnist_flow_inverts_real_digits_exactly_and_reports_bits_per_dim(build):
    torch.manual_seed(0)
    x, _ = load_mnist("test")
    flow = build()
    with torch.no_grad():
        flow.train()
        flow.log_prob(x[:64])  # ActNorm initialization
        flow.eval()
        z, log_det = flow(x[:8])
        x_back, _ = flow.inverse(z)
        out = flow.loss(x[:8])
    assert z.shape == (8, 1, 28, 28) and log_det.shape == (8,)
    torch.testing.assert_close(x_back, x[:8], atol=1e-6, rtol=0)  # every pixel back, after dequantization
    assert 2.0 < out["bits_per_dim"].item() < 8.0
    torch.testing.assert_close(out["bits_per_dim"], out["loss"] / (784 * math.log(2)))
    samples = flow.sample(4, temperature=0.5)
    assert samples.shape == (4, 1, 28, 28) and not samples.requires_grad
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 28, 28\) for this flow"):
        flow.log_prob(torch.zeros(2, 784))


def test_model_builders_check_their_arguments():
    with pytest.raises(ValueError, match=r"steps must be two counts \(14x14 scale, 7x7 scale\), got \(3,\)"):
        mnist_glow(steps=(3,))
    with pytest.raises(ValueError, match="n_layers must be a positive int"):
        realnvp_flow(2, n_layers=0)
    with pytest.raises(ValueError, match="hidden must be a positive int"):
        mnist_flow(hidden=0)
