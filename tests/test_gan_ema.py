"""The moving average of the generator's weights (GAN(ema_decay=beta)): the formula, where it is used, its checks."""

import pytest
import torch

from dgmlib import gan


def _gan(ema_decay=0.9):
    torch.manual_seed(0)
    return gan.GAN(gan.MLPGenerator(2, 2, hidden=(8, 8), batch_norm=True, output=None),
                   gan.MLPDiscriminator(2, hidden=(8,), dropout=0.0), latent_dim=2, ema_decay=ema_decay)


def test_ema_follows_theta_ema_beta_theta_ema_plus_one_minus_beta_theta_after_each_generator_step():
    model = _gan(0.9)
    x = torch.randn(32, 2, generator=torch.Generator().manual_seed(1))
    expected = [p.detach().clone() for p in model.generator.parameters()]  # the average starts at G's weights
    opt = torch.optim.SGD(model.generator_parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        model.g_loss(x)["loss"].backward()
        opt.step()
        model.after_g_step()
        expected = [0.9 * e + 0.1 * p.detach() for e, p in zip(expected, model.generator.parameters())]
    for e, p_ema in zip(expected, model.generator_ema.parameters()):
        assert torch.allclose(p_ema, e, atol=1e-6)
    assert any(not torch.allclose(p_ema, p) for p_ema, p in zip(model.generator_ema.parameters(), model.generator.parameters()))
    # buffers (batch-norm statistics) are copied, not averaged
    for b_ema, b in zip(model.generator_ema.buffers(), model.generator.buffers()):
        assert torch.equal(b_ema, b)


def test_sample_draws_from_the_average_which_no_optimizer_sees_and_stays_in_eval_mode():
    model = _gan(0.5)
    ema_ids = {id(p) for p in model.generator_ema.parameters()}
    assert not ema_ids & {id(p) for p in model.generator_parameters() + model.discriminator_parameters()}
    assert all(not p.requires_grad for p in model.generator_ema.parameters())
    with torch.no_grad():
        for p in model.generator_ema.parameters():
            p.add_(1.0)  # make the average differ from G
    model.train()
    assert not model.generator_ema.training
    z = torch.randn(5, 2)
    assert torch.equal(model.sample(5, z=z), model.generator_ema(z))
    assert not torch.allclose(model.sample(5, z=z), model.generator.eval()(z))
    # the average is part of the state, so a checkpoint keeps it
    assert any(k.startswith("generator_ema.") for k in model.state_dict())


def test_without_ema_nothing_is_kept_and_a_bad_decay_is_named():
    model = _gan(None)
    assert model.generator_ema is None and not any(k.startswith("generator_ema") for k in model.state_dict())
    for bad in (1.0, -0.1, "0.9"):
        with pytest.raises(ValueError, match="ema_decay must be a number in"):
            _gan(bad)
