"""One contract for every model class of dgmlib, walked class by class.

- Likelihood models: ``loss(x) -> dict`` whose first key is ``"loss"`` (a scalar with a gradient,
  the other terms detached, named from one vocabulary); ``sample(n)`` without gradients, drawing
  (not the mean) by default; ``log_prob(x) -> (B,)`` exact or estimated; ``fit`` trains them.
- Adversarial models: ``d_loss(x)`` / ``g_loss(x)`` with ``"loss"`` first, each with a gradient for
  its own player only; no ``loss``; ``fit`` refuses them and ``train_gan`` trains them.
- Densities (base distributions, variational posteriors): ``sample(n)`` and ``log_prob``.

``test_every_model_class_is_walked`` finds the classes by looking at the package, so a new model
cannot skip the contract.
"""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil

import pytest
import torch
from torch import nn

import dgmlib
from dgmlib import flows as Fl
from dgmlib import gan as G
from dgmlib import vae as V
from dgmlib.autoregressive import PixelCNN, PixelVAE
from dgmlib.metrics import FeatureNet, ParzenWindow
from dgmlib.training import fit

# The one vocabulary of named loss terms (CONTRIBUTING.md, "The contract").
VOCABULARY = {"loss", "elbo", "recon", "kl", "kl_z1", "kl_z2", "nll", "bits_per_dim", "mi", "tc", "dim_kl"}
ADVERSARIAL_TERMS = {"loss", "real", "fake", "gp", "cycle", "adversarial", "recon", "kl"}


def _binary(n=32, shape=(1, 8, 8), seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.full((n, *shape), 0.3), generator=g)


def _points(n=64, dim=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=g) * 0.5 + 1.0


def _iaf_vae():
    torch.manual_seed(0)
    return V.VAE(V.MLPEncoder(64, 4, hidden=(16,), context_features=8), V.MLPDecoder(4, (1, 8, 8), hidden=(16,)),
                 flows=[V.IAFStep(4, (16,), context_features=8) for _ in range(2)])


def _mixture_prior(dim):
    means = torch.stack([torch.full((dim,), 0.5), torch.full((dim,), -0.5)])
    return V.MixturePrior(torch.tensor([0.3, 0.7]), means, torch.eye(dim).expand(2, dim, dim) * 0.8)


# name -> (class, factory, data factory)
LIKELIHOOD = {
    "VAE": (V.VAE, lambda: V.make_vae(4, x_shape=(1, 8, 8), hidden=(16,)), _binary),
    "VAE-iwae": (V.VAE, lambda: V.make_vae(4, x_shape=(1, 8, 8), hidden=(16,), k=5), _binary),
    "VAE-gaussian": (V.VAE, lambda: V.make_vae(4, x_shape=(1, 8, 8), hidden=(16,), likelihood="gaussian"),
                     lambda: _binary() * 0.8 + 0.1),
    "VAE-iaf": (V.VAE, _iaf_vae, _binary),
    "LearnedPriorVAE": (V.LearnedPriorVAE, lambda: V.LearnedPriorVAE(V.make_vae(4, x_shape=(1, 8, 8), hidden=(16,)),
                                                                     _mixture_prior(4)), _binary),
    "HierarchicalVAE": (V.HierarchicalVAE, lambda: V.HierarchicalVAE(64, z1=4, z2=2, hidden=16, x_shape=(1, 8, 8)),
                        _binary),
    "LinearGaussian": (V.LinearGaussian, lambda: V.LinearGaussian(torch.randn(3, 2)), lambda: _points(dim=3)),
    "Flow-realnvp": (Fl.Flow, lambda: Fl.realnvp_flow(2, n_layers=2, hidden=(8,)), _points),
    "Flow-maf": (Fl.Flow, lambda: Fl.maf_flow(2, n_layers=2, hidden=(8,)), _points),
    "Flow-planar": (Fl.Flow, lambda: Fl.planar_flow(2, n_layers=3), _points),
    "Flow-residual": (Fl.Flow, lambda: Fl.residual_flow(2, n_blocks=1, hidden=(8,)), _points),
    "Flow-mnist": (Fl.Flow, lambda: Fl.mnist_flow(hidden=4, steps=1), lambda: _binary(8, (1, 28, 28)) * 0.9),
    "PixelCNN": (PixelCNN, lambda: PixelCNN(8, 8, channels=4, layers=1, first_kernel=3), _binary),
    "PixelVAE": (PixelVAE, lambda: PixelVAE(2, hidden=(16,), features=1, channels=4, layers=0, first_kernel=3),
                 lambda: _binary(8, (1, 28, 28))),
    "HybridFlowVAE": (V.HybridFlowVAE, lambda: V.make_hybrid_vae(2, hidden=(16,), steps=1, coupling_hidden=4),
                      lambda: _binary(8, (1, 28, 28)) * 0.9),
}
NOT_GENERATIVE = {"Autoencoder": (V.Autoencoder, lambda: V.Autoencoder(V.MLPEncoder(64, 4, hidden=(16,)),
                                                                        V.MLPDecoder(4, (1, 8, 8), hidden=(16,))),
                                  _binary)}
ADVERSARIAL = {
    "GAN": (G.GAN, lambda: G.GAN(G.MLPGenerator(2, 2, hidden=(16,), batch_norm=False, output=None),
                                 G.MLPDiscriminator(2, hidden=(16,)), latent_dim=2), _points),
    "GAN-wgan-gp": (G.GAN, lambda: G.GAN(G.MLPGenerator(2, 2, hidden=(16,), batch_norm=False, output=None),
                                         G.MLPDiscriminator(2, hidden=(16,)), latent_dim=2, kind="wasserstein",
                                         gp_weight=10.0), _points),
    "BiGAN": (G.BiGAN, lambda: G.BiGAN(2, 2, hidden=(16,)), _points),
    "CycleGAN": (G.CycleGAN, lambda: G.CycleGAN(2, hidden=(16,)), lambda: (_points(), _points(seed=1) - 2.0)),
    "AVB": (V.AVB, lambda: V.AVB(2, 2, hidden=(16,)), _points),
    "UnrolledGAN": (G.UnrolledGAN, lambda: G.UnrolledGAN(G.MLPGenerator(2, 2, hidden=(16,), batch_norm=False, output=None),
                                                         G.MLPDiscriminator(2, hidden=(16,)), latent_dim=2,
                                                         unroll_steps=2), _points),
    "FGAN": (G.FGAN, lambda: G.FGAN(G.MLPGenerator(2, 2, hidden=(16,), batch_norm=False, output=None),
                                   G.MLPDiscriminator(2, hidden=(16,)), latent_dim=2, divergence="kl"), _points),
    "ProgressiveGAN": (G.ProgressiveGAN, lambda: G.ProgressiveGAN(G.ProgressiveGenerator(4, (8, 4, 4)),
                                                                 G.ProgressiveDiscriminator((8, 4, 4)), latent_dim=4,
                                                                 start_stage=1),
                       lambda: torch.rand(32, 1, 28, 28) * 2 - 1),
    "ConditionalGAN": (G.ConditionalGAN, lambda: G.ConditionalGAN(G.BigGANGenerator(4, 3, (1, 4, 4), hidden=(8,)),
                                                                 G.ProjectionDiscriminator((1, 4, 4), 3, hidden=(8,)),
                                                                 latent_dim=4, n_classes=3),
                       lambda: (torch.rand(32, 1, 4, 4) * 2 - 1, torch.arange(32) % 3)),
}
DENSITIES = {
    "StandardNormal": (Fl.StandardNormal, lambda: Fl.StandardNormal(3), lambda: _points(dim=3)),
    "DiagonalGaussian": (Fl.DiagonalGaussian, lambda: Fl.DiagonalGaussian(3), lambda: _points(dim=3)),
    "MixturePrior": (V.MixturePrior, lambda: _mixture_prior(3), lambda: _points(dim=3)),
    "ParzenWindow": (ParzenWindow, lambda: ParzenWindow(_points(dim=3, seed=5), 0.5), lambda: _points(dim=3)),
}
# Supervised helpers (the evaluation lecture's stand-in for Inception): loss(x, y), same first key.
SUPERVISED = {"FeatureNet": (FeatureNet, lambda: FeatureNet(8), lambda: (torch.rand(16, 1, 28, 28),
                                                                          torch.arange(16) % 10))}
ALL = {**LIKELIHOOD, **NOT_GENERATIVE, **ADVERSARIAL, **DENSITIES, **SUPERVISED}


def _model_classes():
    """Every nn.Module class defined in dgmlib (not the course tooling) that offers a model's methods."""
    found = set()
    for info in pkgutil.walk_packages(dgmlib.__path__, "dgmlib."):
        if info.name.startswith("dgmlib.course"):
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if not (issubclass(cls, nn.Module) and cls.__module__.startswith("dgmlib.")):
                continue
            if any(callable(getattr(cls, m, None)) for m in ("loss", "d_loss", "g_loss", "sample", "log_prob")):
                found.add(cls)
    return found


def test_every_model_class_is_walked():
    walked = {cls for cls, _, _ in ALL.values()}
    missing = {c.__qualname__ for c in _model_classes()} - {c.__qualname__ for c in walked}
    assert not missing, f"model classes outside the contract test: {sorted(missing)}"


def _check_terms(terms, vocabulary, where, trainable=True):
    assert isinstance(terms, dict) and next(iter(terms)) == "loss", f"{where}: keys {list(terms)}"
    assert set(terms) <= vocabulary, f"{where}: terms outside the vocabulary: {set(terms) - vocabulary}"
    loss = terms["loss"]
    assert torch.is_tensor(loss) and loss.numel() == 1 and math.isfinite(loss.item())
    assert loss.requires_grad == trainable, f"{where}: the loss carries a gradient exactly when there are parameters"
    for key, value in list(terms.items())[1:]:
        assert not (torch.is_tensor(value) and value.requires_grad), f"{where}: {key} should be detached"


@pytest.mark.parametrize("name", sorted(LIKELIHOOD))
def test_likelihood_model_loss_sample_log_prob(name):
    _, make, data = LIKELIHOOD[name]
    torch.manual_seed(0)
    model, x = make(), data()
    trainable = any(p.requires_grad for p in model.parameters())
    _check_terms(model.loss(x), VOCABULARY, f"{name}.loss", trainable)
    log_p = model.log_prob(x)
    assert log_p.shape == (len(x),) and torch.isfinite(log_p).all()
    if name.startswith("Flow"):  # the loss is the mean negative log-likelihood (same noise draws)
        torch.manual_seed(1)
        loss = model.loss(x)["loss"].item()
        torch.manual_seed(1)
        assert loss == pytest.approx(-model.log_prob(x).mean().item(), rel=1e-5)
    if "elbo" in model.loss(x):  # log p(x) >= the ELBO: the estimate sits above the bound on average
        elbo = model.loss(x)["elbo"].item()
        assert log_p.mean().item() > elbo - 0.5
    signature = inspect.signature(model.sample)
    for option, default in (("mean", False), ("temperature", 1.0)):
        if option in signature.parameters:
            assert signature.parameters[option].default == default, f"{name}.sample({option}=) default"
    if name == "Flow-planar":  # planar/radial layers have no inverse: sampling is refused, with a reason
        with pytest.raises(NotImplementedError, match="inverse"):
            model.sample(4)
        return
    samples = model.sample(5)
    assert samples.shape == (5, *x.shape[1:]) and not samples.requires_grad
    assert torch.isfinite(samples).all()


@pytest.mark.parametrize("name", sorted(LIKELIHOOD) + sorted(NOT_GENERATIVE))
def test_fit_trains_every_likelihood_model(name):
    _, make, data = {**LIKELIHOOD, **NOT_GENERATIVE}[name]
    torch.manual_seed(0)
    model, x = make(), data()
    if not any(p.requires_grad for p in model.parameters()):
        pytest.skip(f"{name} has no trainable parameters")

    def held_out_loss():  # the same noise draws (dequantization, stochastic log-dets) before and after
        model.eval()
        torch.manual_seed(1)
        with torch.no_grad():
            return model.loss(x)["loss"].item()

    before = held_out_loss()
    history = fit(model, x, epochs=20, batch_size=16, lr=5e-3, seed=0)
    assert history.keys()[0] == "loss"
    assert held_out_loss() < before  # it learns


def test_not_generative_models_offer_only_the_loss():
    model = NOT_GENERATIVE["Autoencoder"][1]()
    _check_terms(model.loss(_binary()), VOCABULARY, "Autoencoder.loss")
    assert not hasattr(model, "sample") and not hasattr(model, "log_prob")


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_model_two_losses_one_loop(name):
    _, make, data = ADVERSARIAL[name]
    torch.manual_seed(0)
    model, x = make(), data()
    assert not hasattr(model, "loss")
    g_params, d_params = list(model.generator_parameters()), list(model.discriminator_parameters())
    assert g_params and d_params and not {id(p) for p in g_params} & {id(p) for p in d_params}
    for player, own, other in (("d_loss", d_params, g_params), ("g_loss", g_params, d_params)):
        terms = getattr(model, player)(x)
        _check_terms(terms, ADVERSARIAL_TERMS, f"{name}.{player}")
        grads = torch.autograd.grad(terms["loss"], own + other, allow_unused=True)
        assert any(g is not None and g.abs().sum() > 0 for g in grads[: len(own)]), f"{player} moves its player"
    with pytest.raises(TypeError, match="adversarial model.*dgmlib.gan.train_gan"):
        fit(model, x, epochs=1)
    history = G.train_gan(model, x, epochs=2, batch_size=32, seed=0)
    assert {"d_loss", "g_loss"} <= set(history.keys())
    if hasattr(model, "sample"):
        samples = model.sample(7)
        images = x[0] if isinstance(x, tuple) and isinstance(model, G.ConditionalGAN) else x  # (images, labels)
        assert samples.shape == (7, *images.shape[1:]) and not samples.requires_grad


@pytest.mark.parametrize("name", sorted(DENSITIES))
def test_densities_sample_and_log_prob(name):
    _, make, data = DENSITIES[name]
    torch.manual_seed(0)
    model, x = make(), data()
    log_p = model.log_prob(x)
    assert log_p.shape == (len(x),) and torch.isfinite(log_p).all()
    with torch.enable_grad():
        samples = model.sample(6)
    z = samples[0] if isinstance(samples, tuple) else samples
    assert z.shape[0] == 6 and z.shape[1:] == x.shape[1:]


def test_supervised_helpers_follow_the_same_first_key():
    _, make, data = SUPERVISED["FeatureNet"]
    torch.manual_seed(0)
    model, (x, y) = make(), data()
    terms = model.loss(x, y)
    assert next(iter(terms)) == "loss" and terms["loss"].requires_grad
    before = terms["loss"].item()
    fit(model, (x, y), epochs=10, batch_size=16, lr=1e-2, loss_fn=lambda m, b: m.loss(*b))
    assert model.loss(x, y)["loss"].item() < before
