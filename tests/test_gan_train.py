"""The adversarial contract and its one loop, train_gan: the order of the steps, the regularizers as
model options, training that moves each model towards its data, and the messages for bad input."""

import copy

import pytest
import torch
from torch import nn

from dgmlib import gan
from dgmlib.training import TrainingDiverged, fit


def _gan(kind="non_saturating", dropout=0.0, seed=0, **options):
    torch.manual_seed(seed)
    g = gan.MLPGenerator(1, 1, hidden=(16, 16), batch_norm=False, output=None)
    d = gan.MLPDiscriminator(1, hidden=(16, 16), dropout=dropout)
    return gan.GAN(g, d, 1, kind=kind, **options)


def _models_and_batches():
    torch.manual_seed(0)
    x = torch.randn(8, 2)
    return [(_gan(), torch.randn(8, 1)), (gan.BiGAN(2, 2, hidden=(8,)), x), (gan.CycleGAN(2, hidden=(8,)), (x, x + 1))]


@pytest.mark.parametrize("index", range(3), ids=["GAN", "BiGAN", "CycleGAN"])
def test_every_adversarial_model_offers_two_losses_with_loss_first_and_splits_its_parameters(index):
    model, batch = _models_and_batches()[index]
    for terms in (model.d_loss(batch), model.g_loss(batch)):
        assert next(iter(terms)) == "loss" and terms["loss"].ndim == 0 and terms["loss"].requires_grad
        assert all(not v.requires_grad for k, v in terms.items() if k != "loss")
    assert not hasattr(model, "loss")
    g_ids = {id(p) for p in model.generator_parameters()}
    d_ids = {id(p) for p in model.discriminator_parameters()}
    assert not g_ids & d_ids and g_ids | d_ids == {id(p) for p in model.parameters()}
    with pytest.raises(TypeError, match="dgmlib.gan.train_gan"):
        fit(model, batch, epochs=1)


def test_train_gan_takes_a_d_step_then_every_n_critic_th_batch_a_g_step_as_written_by_hand():
    x = torch.randn(64, 1, generator=torch.Generator().manual_seed(1)) + 2
    model = _gan(dropout=0.3)
    by_hand = copy.deepcopy(model)
    torch.manual_seed(5)
    gan.train_gan(model, x, epochs=1, batch_size=16, n_critic=2, lr_g=1e-3, lr_d=1e-3, progress=False, seed=0)

    G, D = by_hand.generator, by_hand.discriminator
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    order = torch.randperm(64, generator=torch.Generator().manual_seed(0))
    by_hand.train()
    torch.manual_seed(5)
    for i in range(4):
        batch = x[order[16 * i: 16 * (i + 1)]]
        with torch.no_grad():
            fake = G(torch.randn(16, 1))
        d_loss = gan.discriminator_loss(D(batch), D(fake))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        if i % 2 == 0:
            g_loss = gan.generator_loss(D(G(torch.randn(16, 1))))
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
    for p, q in zip(model.parameters(), by_hand.parameters()):
        assert torch.equal(p, q)


def test_train_gan_moves_a_generator_onto_a_one_dimensional_gaussian():
    data = 2.0 + 0.5 * torch.randn(4096, 1, generator=torch.Generator().manual_seed(0))
    model = _gan(seed=0)

    def w1(samples):  # W_1 between two equal-size 1-D samples: match them in sorted order
        return float((samples.flatten().sort().values - data[:4000].flatten().sort().values).abs().mean())

    before = w1(model.sample(4000))
    history = gan.train_gan(model, data, epochs=10, batch_size=128, lr_g=1e-3, lr_d=1e-3, progress=False, seed=0)
    after = model.sample(4000)
    assert list(history.keys())[:4] == ["d_loss", "d_real", "d_fake", "g_loss"]
    assert abs(float(after.mean()) - 2.0) < 0.3
    assert w1(after) < 0.25 * before, (before, w1(after))


def test_the_gradient_penalty_and_label_smoothing_are_part_of_the_discriminator_loss():
    x = torch.randn(32, 1)
    model = _gan("wasserstein", gp_weight=10.0)
    torch.manual_seed(3)
    terms = model.d_loss(x)
    torch.manual_seed(3)
    fake = model.generator(torch.randn(32, 1)).detach()
    d_real, d_fake = model.discriminator(x), model.discriminator(fake)
    gp = gan.gradient_penalty(model.discriminator, x, fake)
    assert list(terms) == ["loss", "real", "fake", "gp"]
    assert torch.allclose(terms["gp"], gp)
    assert torch.allclose(terms["loss"], gan.discriminator_loss(d_real, d_fake, "wasserstein") + 10.0 * gp)

    model = _gan("minimax", label_smoothing=0.2)
    torch.manual_seed(3)
    terms = model.d_loss(x)
    torch.manual_seed(3)
    fake = model.generator(torch.randn(32, 1)).detach()
    expected = gan.discriminator_loss(model.discriminator(x), model.discriminator(fake), "minimax", label_smoothing=0.2)
    assert torch.allclose(terms["loss"], expected)


def test_feature_matching_historical_averaging_and_clipping_act_through_the_losses_and_hooks():
    x = torch.randn(32, 1)
    model = _gan(feature_matching=True)
    torch.manual_seed(3)
    loss = model.g_loss(x)["loss"]
    torch.manual_seed(3)
    f = model.discriminator.features
    expected = (f(x).mean(0) - f(model.generator(torch.randn(32, 1))).mean(0)).pow(2).sum()
    assert torch.allclose(loss, expected)
    with pytest.raises(TypeError, match="feature_matching compares features of data and samples"):
        model.g_loss(32)

    model = _gan(historical_averaging=0.5)
    torch.manual_seed(3)
    first = model.g_loss(x)["loss"]  # the running mean starts at the current parameters: no penalty yet
    torch.manual_seed(3)
    assert torch.allclose(first, gan.generator_loss(model.discriminator(model.generator(torch.randn(32, 1)))))
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(0.1)
    torch.manual_seed(3)
    moved = model.g_loss(x)["loss"]
    n_params = sum(p.numel() for p in model.generator.parameters())
    torch.manual_seed(3)
    plain = gan.generator_loss(model.discriminator(model.generator(torch.randn(32, 1))))
    assert torch.allclose(moved, plain + 0.5 * n_params * 0.1**2, rtol=1e-5)
    model.after_g_step()  # theta_bar <- (theta_0 + theta_1) / 2
    torch.manual_seed(3)
    assert torch.allclose(model.g_loss(x)["loss"], plain + 0.5 * n_params * 0.05**2, rtol=1e-4)

    model = _gan("wasserstein", clip_value=0.01)
    model.after_d_step()
    assert max(p.abs().max().item() for p in model.discriminator.parameters()) <= 0.01


def test_decay_lr_lowers_both_learning_rates_linearly_to_lr_over_the_number_of_steps(tmp_path):
    data = torch.randn(64, 1)
    model = _gan()
    gan.train_gan(model, data, epochs=2, batch_size=16, lr_g=1e-3, lr_d=2e-3, decay_lr=True, progress=False,
                  checkpoint=tmp_path / "gan.pt")
    state = torch.load(tmp_path / "gan.pt", weights_only=False)
    opt_g, opt_d = state["optimizer"]  # the generator's first, then the discriminator's
    # 8 steps: the last one ran at lr_0 (1 - 7/8)
    assert opt_g["param_groups"][0]["lr"] == pytest.approx(1e-3 / 8)
    assert opt_d["param_groups"][0]["lr"] == pytest.approx(2e-3 / 8)


def test_train_gan_stops_before_an_update_on_a_nan_loss_and_says_which():
    model = _gan()
    before = [p.detach().clone() for p in model.parameters()]
    data = torch.full((16, 1), float("nan"))
    with pytest.raises(TrainingDiverged, match=r"d_loss = nan at epoch 1, step 1"):
        gan.train_gan(model, data, epochs=1, batch_size=16, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters()))


def test_adversarial_models_and_train_gan_refuse_bad_arguments_with_messages():
    g, d = nn.Linear(1, 1), gan.MLPDiscriminator(1)
    bad_options = [
        (dict(gp_weight=-1.0), ValueError, "gp_weight must be a non-negative number, got -1.0"),
        (dict(clip_value=0), ValueError, "clip_value must be a positive number, got 0"),
        (dict(label_smoothing=1.0), ValueError, r"label_smoothing must be a number in \[0, 1\), got 1.0"),
        (dict(kind="hinge", label_smoothing=0.1), ValueError, "label_smoothing applies to the minimax/non_saturating"),
        (dict(feature_matching=1), TypeError, "feature_matching must be True or False, got 1"),
        (dict(historical_averaging=float("nan")), ValueError, "historical_averaging must be a non-negative number"),
    ]
    for options, error, message in bad_options:
        with pytest.raises(error, match=message):
            gan.GAN(g, d, 1, **options)
    with pytest.raises(TypeError, match="feature_matching needs a discriminator with a features"):
        gan.GAN(g, nn.Linear(1, 1), 1, feature_matching=True)
    with pytest.raises(ValueError, match="latent_dim must be a positive int, got 0"):
        gan.GAN(g, d, 0)

    model, x = _gan(), torch.zeros(8, 1)
    with pytest.raises(ValueError, match="n_critic must be a positive int, got 0"):
        gan.train_gan(model, x, epochs=1, n_critic=0)
    with pytest.raises(ValueError, match="lr_d must be a positive number, got 0"):
        gan.train_gan(model, x, epochs=1, lr_d=0)
    with pytest.raises(TypeError, match="decay_lr must be True or False"):
        gan.train_gan(model, x, epochs=1, decay_lr="yes")
    with pytest.raises(TypeError, match=r"train_gan trains adversarial models .* Linear lacks d_loss, g_loss"):
        gan.train_gan(nn.Linear(1, 1), x, epochs=1)
    with pytest.raises(TypeError, match=r"GAN.d_loss takes a tensor x of data, got tuple"):
        gan.train_gan(model, (x, torch.zeros(8)), epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 2\), got \(8, 1\)"):
        gan.train_gan(gan.BiGAN(2, 2), x, epochs=1, progress=False)
