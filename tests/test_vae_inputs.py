"""dgmlib.vae refuses bad input with a message naming the argument (issue 15), instead of a silent
wrong number (NaN pixels, pixels outside [0, 1]) or a matmul error deep inside a layer."""

import pytest
import torch

from dgmlib import vae as V


def _tiny_vae(**kw):
    torch.manual_seed(0)
    return V.VAE(V.MLPEncoder(16, 3, (32,)), V.MLPDecoder(3, (16,), (32,)), **kw)


def _binary(*shape, dtype=torch.float32):
    return torch.bernoulli(torch.full(shape, 0.4, dtype=dtype))


def test_nan_pixels_are_refused_by_every_bernoulli_bound():
    x = _binary(4, 16)
    x[1, 3] = float("nan")
    model = _tiny_vae()
    for call in (model.elbo, model.loss, lambda v: model.log_weights(v, 2), lambda v: model.log_prob(v, k=3)):
        with pytest.raises(ValueError, match=r"Bernoulli targets x must lie in \[0, 1\], got NaN values"):
            call(x)
    h = V.HierarchicalVAE(16, z1=3, z2=2, hidden=16, x_shape=(16,))
    with pytest.raises(ValueError, match="got NaN values"):
        h.loss(x)


def test_log_bernoulli_refuses_targets_outside_the_unit_interval():
    logits = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"Bernoulli targets x must lie in \[0, 1\], got values in \[-1, 1\]"):
        V.log_bernoulli(torch.tensor([[0.0, 1.0, -1.0], [0.0, 0.0, 0.0]]), logits)
    with pytest.raises(ValueError, match=r"Bernoulli targets x must lie in \[0, 1\], got NaN"):
        V.log_bernoulli(torch.tensor([[0.0, float("nan"), 1.0], [0.0, 0.0, 0.0]]), logits)
    # grey levels in [0, 1] are fine (read as probabilities)
    assert V.log_bernoulli(torch.full((2, 3), 0.5), logits).shape == (2,)


def test_vae_refuses_an_x_of_the_wrong_width_naming_the_expected_shape():
    model = _tiny_vae()
    for call in (model.elbo, model.loss, lambda v: model.iwae_bound(v, 2), lambda v: model.log_prob(v, k=2)):
        with pytest.raises(ValueError, match=r"x must have shape \(B, 16\) for this model, got \(2, 15\)"):
            call(_binary(2, 15))
    images = V.make_vae(4)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 28, 28\) for this model, got \(2, 784\)"):
        images.loss(_binary(2, 784))
    with pytest.raises(ValueError, match=r"x must have 16 features per row"):
        V.MLPEncoder(16, 3, (8,))(torch.zeros(2, 12))
    with pytest.raises(ValueError, match=r"x must be images of shape \(B, 1, 28, 28\), got \(2, 3, 28, 28\)"):
        V.ConvEncoder(4, width=8)(torch.zeros(2, 3, 28, 28))
    h = V.HierarchicalVAE(16, z1=3, z2=2, hidden=16, x_shape=(16,))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 16\) for this model, got \(3, 17\)"):
        h.elbo(_binary(3, 17))


def test_float64_input_to_a_float32_model_names_the_dtypes():
    message = r"x has dtype torch.float64 but the model computes in torch.float32"
    model = _tiny_vae()
    x64 = _binary(3, 16, dtype=torch.float64)
    for call in (model.elbo, model.loss, lambda v: model.log_prob(v, k=2)):
        with pytest.raises(TypeError, match=message):
            call(x64)
    with pytest.raises(TypeError, match=message):
        V.HierarchicalVAE(16, z1=3, z2=2, hidden=16, x_shape=(16,)).loss(x64)
    with pytest.raises(TypeError, match=message):
        V.Autoencoder(V.MLPEncoder(16, 3, (8,)), V.MLPDecoder(3, (16,), (8,))).loss(x64)
    with pytest.raises(TypeError, match="x has dtype torch.float64 but the encoder computes in torch.float32"):
        V.MLPEncoder(16, 3, (8,))(x64)
    # the same data in the model's dtype works
    assert model.loss(x64.float())["loss"].shape == ()


def test_linear_gaussian_refuses_wrong_widths_and_dtypes():
    model = V.LinearGaussian.random(6, 2)  # float64, D = 6, d = 2
    x = model.sample(3)
    mu, logvar = torch.zeros(3, 2, dtype=torch.float64), torch.zeros(3, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 6\), got \(3, 5\)"):
        model.elbo(x[:, :5], mu, logvar)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 6\), got \(3, 7\)"):
        model.log_prob(torch.zeros(3, 7, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"mu must have shape \(3, 2\), got \(3, 4\)"):
        model.elbo(x, torch.zeros(3, 4, dtype=torch.float64), torch.zeros(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"mu must have shape \(3, 2\), got \(2, 2\)"):
        model.log_weights(x, mu[:2], logvar[:2], 5)
    with pytest.raises(ValueError, match="mu and logvar must have the same shape"):
        model.elbo(x, mu, logvar[:, :1])
    with pytest.raises(ValueError, match=r"z must have shape \(\.\.\., B, 2\), got \(3, 3\)"):
        model.log_joint(x, torch.zeros(3, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="x has dtype torch.float32 but the model computes in torch.float64"):
        model.log_prob(x.float())
    with pytest.raises(TypeError, match="mu has dtype torch.float32"):
        model.elbo(x, mu.float(), logvar.float())


def test_sample_arguments_are_checked():
    model = _tiny_vae()
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n must be a positive int"):
            model.sample(bad)
    with pytest.raises(TypeError, match="mean must be True or False"):
        model.sample(2, mean=1)
    with pytest.raises(ValueError, match="n must be a positive int"):
        V.LinearGaussian.random(3, 1).sample(0)


def test_model_arguments_are_checked():
    with pytest.raises(ValueError, match="beta must be a non-negative number"):
        _tiny_vae(beta=-1.0)
    with pytest.raises(ValueError, match=r"x_shape \(1, 28, 28\) must hold in_features = 100 values"):
        V.HierarchicalVAE(100)
    with pytest.raises(ValueError, match="sigma must be a positive number"):
        V.LinearGaussian(torch.ones(2, 1), sigma=0.0)
    with pytest.raises(ValueError, match="samples must be a multiple of 5"):
        V.evaluate_bounds(_tiny_vae(), _binary(4, 16), samples=12)
