"""PacGAN's packed discriminator (gan.Packed): the packing, its use in a GAN, its checks."""

import pytest
import torch

from dgmlib import gan


def test_a_pack_is_the_concatenation_of_m_consecutive_samples():
    torch.manual_seed(0)
    D = gan.MLPDiscriminator(3 * 2, hidden=(16,), dropout=0.0)
    packed = gan.Packed(D, m=3)
    x = torch.randn(12, 2)
    expected = torch.stack([torch.cat([x[3 * j], x[3 * j + 1], x[3 * j + 2]]) for j in range(4)])
    assert torch.equal(packed.pack(x), expected)
    assert torch.allclose(packed(x), D(expected))
    assert packed(x).shape == (4,)


def test_images_are_packed_along_their_channels():
    x = torch.randn(6, 1, 28, 28)
    packed = gan.Packed(gan.DCGANDiscriminator(channels=2, width=8), m=2)
    pack = packed.pack(x)
    assert pack.shape == (3, 2, 28, 28)
    for j in range(3):
        assert torch.equal(pack[j, 0], x[2 * j, 0]) and torch.equal(pack[j, 1], x[2 * j + 1, 0])
    assert packed(x).shape == (3,)


def test_m_equal_to_one_is_the_plain_discriminator():
    torch.manual_seed(0)
    D = gan.MLPDiscriminator(2, hidden=(8,), dropout=0.0)
    x = torch.randn(5, 2)
    assert torch.equal(gan.Packed(D, 1)(x), D(x))


def test_a_packed_gan_trains_both_players_and_feature_matching_sees_the_packs():
    torch.manual_seed(0)
    D = gan.Packed(gan.MLPDiscriminator(4 * 2, hidden=(16, 16), dropout=0.0), m=4)
    model = gan.GAN(gan.MLPGenerator(2, 2, hidden=(16,), batch_norm=False, output=None), D, latent_dim=2,
                    feature_matching=True)
    before_d = [p.detach().clone() for p in model.discriminator_parameters()]
    before_g = [p.detach().clone() for p in model.generator_parameters()]
    history = gan.train_gan(model, torch.randn(256, 2), epochs=1, batch_size=64, seed=0, progress=False)
    assert all(not torch.equal(a, b) for a, b in zip(before_d, model.discriminator_parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(before_g, model.generator_parameters()))
    assert torch.isfinite(torch.tensor(history["d_loss"])).all()
    assert D.features(torch.randn(8, 2)).shape == (2, 16)


def test_bad_arguments_are_refused_with_their_names():
    D = gan.MLPDiscriminator(8, hidden=(8,), dropout=0.0)
    with pytest.raises(ValueError, match="not a multiple of the pack size m = 4"):
        gan.Packed(D, 4)(torch.randn(10, 2))
    with pytest.raises(ValueError, match=r"m must be an int >= 1, got 0"):
        gan.Packed(D, 0)
    with pytest.raises(TypeError, match="discriminator must be an nn.Module"):
        gan.Packed(lambda x: x, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(B, features, \.\.\.\)"):
        gan.Packed(D, 2)(torch.randn(8))
