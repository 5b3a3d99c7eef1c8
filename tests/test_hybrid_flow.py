"""The hybrid VAE-flow: its ELBO against the change-of-variables formula computed by hand."""

import math

import pytest
import torch

from dgmlib.flows import Dequantize, Logit
from dgmlib.vae import HybridFlowVAE, make_hybrid_vae, make_vae


def _grey(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 1, 28, 28), generator=g).double() / 255


def test_elbo_is_the_gaussian_elbo_in_feature_space_plus_the_log_det():
    torch.manual_seed(0)
    model = make_hybrid_vae(3, hidden=(16,), steps=2, coupling_hidden=4).double()
    x = _grey()
    with torch.no_grad():
        model.train()
        model.features(x)                                     # ActNorm's data-dependent initialization
    torch.manual_seed(5)
    terms = model.elbo(x)
    torch.manual_seed(5)                                     # by hand: the same noise, layer by layer
    y, log_det = x, torch.zeros(4, dtype=torch.float64)
    for layer in model.flow.layers:
        y, ld = layer(y)
        log_det = log_det + ld
    mu, logvar = model.vae.encoder(y)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    mean, sigma = model.vae.decoder(z), model.vae.log_sigma.exp()
    log_n = (-0.5 * ((y - mean) / sigma) ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)).sum((1, 2, 3))
    kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1)
    assert torch.allclose(terms["log_det"], log_det, atol=1e-9)
    assert torch.allclose(terms["recon"], -log_n, atol=1e-8) and torch.allclose(terms["kl"], kl, atol=1e-10)
    assert torch.allclose(terms["elbo"], log_n - kl + log_det, atol=1e-8)
    loss = model.loss(x)
    assert list(loss) == ["loss", "elbo", "recon", "kl", "bits_per_dim"]
    assert loss["bits_per_dim"].item() == pytest.approx(-loss["elbo"].item() / (784 * math.log(2)))


def test_the_log_det_of_dequantize_and_logit_matches_autograd():
    """log|det df/dx| of the deterministic part (Logit) against the diagonal Jacobian by autograd."""
    logit = Logit(0.05).double()
    u = torch.rand(2, 1, 28, 28, dtype=torch.float64, requires_grad=True)
    y, log_det = logit(u)
    grad = torch.autograd.grad(y.sum(), u)[0]                 # elementwise map: the Jacobian is diagonal
    assert torch.allclose(log_det, grad.abs().log().sum((1, 2, 3)), atol=1e-9)


def test_with_dequantization_alone_it_is_the_plain_gaussian_vae_minus_d_log_256():
    torch.manual_seed(0)
    model = make_hybrid_vae(3, hidden=(16,), steps=0, alpha=None).double()
    x = _grey()
    torch.manual_seed(2)
    hybrid = model.elbo(x)["elbo"]
    torch.manual_seed(2)
    y, _ = Dequantize()(x)
    plain = model.vae.elbo(y)["elbo"]
    assert torch.allclose(hybrid, plain - 784 * math.log(256), atol=1e-9)


def test_log_prob_sits_above_the_elbo_and_samples_are_grey_levels():
    torch.manual_seed(0)
    model = make_hybrid_vae(2, hidden=(16,), steps=2, coupling_hidden=4).double()
    x = _grey()
    torch.manual_seed(1)
    log_p = model.log_prob(x, k=200)
    torch.manual_seed(1)
    y, log_det = model.features(x)
    elbos = torch.stack([model.vae.elbo(y)["elbo"] for _ in range(200)]).mean(0) + log_det
    assert (log_p > elbos).all()
    samples = model.sample(6)
    levels = samples * 255
    assert samples.shape == (6, 1, 28, 28) and torch.allclose(levels, levels.round(), atol=1e-6)
    assert samples.min() >= 0 and samples.max() <= 1


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="vae must have likelihood='gaussian'"):
        HybridFlowVAE([Dequantize()], make_vae(3, hidden=(8,)))
    with pytest.raises(TypeError, match="vae must be a dgmlib.vae.VAE"):
        HybridFlowVAE([Dequantize()], torch.nn.Linear(2, 2))
    model = make_hybrid_vae(3, hidden=(8,), steps=0)
    with pytest.raises(ValueError, match=r"x must be a batch of images \(B, C, H, W\)"):
        model.loss(torch.zeros(4, 784))
    with pytest.raises(ValueError, match="x must lie in"):
        model.loss(torch.full((2, 1, 28, 28), 1.5))
    with pytest.raises(ValueError, match="NaN"):
        model.loss(torch.full((2, 1, 28, 28), float("nan")))
    with pytest.raises(ValueError, match="steps must be"):
        make_hybrid_vae(3, steps=-1)
