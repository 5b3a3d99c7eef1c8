"""Progressive growing (lecture 10): fade-in at alpha = 0 and 1 is exactly the smaller and the larger network."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dgmlib import gan


def _nets(seed=0):
    torch.manual_seed(seed)
    return gan.ProgressiveGenerator(8, channels=(8, 6, 4)), gan.ProgressiveDiscriminator(channels=(8, 6, 4))


@pytest.mark.parametrize("stage", [1, 2])
def test_generator_fade_in_is_the_smaller_network_at_0_and_the_larger_at_1(stage):
    G, _ = _nets()
    z = torch.randn(8, 8)
    smaller = G(z, stage - 1, 1.0)                       # the previous stage's complete network
    assert torch.equal(G(z, stage, 0.0), F.interpolate(smaller, scale_factor=2, mode="nearest"))
    # alpha = 1: the larger network, computed here layer by layer without the fade-in code path
    h = G._base(z)
    for s in range(1, stage + 1):
        conv_a, conv_b = G.blocks[s - 1]
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = G.norm(F.leaky_relu(conv_b(G.norm(F.leaky_relu(conv_a(h), 0.2))), 0.2))
    larger = torch.tanh(G.to_image[stage](h))
    assert torch.equal(G(z, stage, 1.0), larger)
    mid = G(z, stage, 0.3)
    assert torch.allclose(mid, 0.7 * F.interpolate(smaller, scale_factor=2, mode="nearest") + 0.3 * larger, atol=1e-6)


@pytest.mark.parametrize("stage", [1, 2])
def test_discriminator_fade_in_is_the_smaller_network_at_0_and_the_larger_at_1(stage):
    _, D = _nets()
    size = 7 * 2**stage
    x = torch.randn(8, 1, size, size)
    assert torch.allclose(D(x, stage, 0.0), D(F.avg_pool2d(x, 2), stage - 1, 1.0), atol=1e-6)
    h = F.leaky_relu(D.from_image[stage](x), 0.2)       # alpha = 1, layer by layer
    for s in range(stage, 0, -1):
        conv_a, conv_b = D.blocks[s - 1]
        h = F.avg_pool2d(F.leaky_relu(conv_b(F.leaky_relu(conv_a(h), 0.2)), 0.2), 2)
    h = F.leaky_relu(D.head_conv(D.stddev(h)), 0.2)
    assert torch.allclose(D(x, stage, 1.0), D.head(h).squeeze(1), atol=1e-6)


def test_real_images_fade_like_the_generator():
    x = torch.rand(4, 1, 28, 28)
    at_14 = F.avg_pool2d(x, 2)
    assert torch.allclose(gan.resize_to_stage(x, 1, 1.0, 3), at_14)
    assert torch.allclose(gan.resize_to_stage(x, 1, 0.0, 3), F.interpolate(F.avg_pool2d(x, 4), scale_factor=2))
    assert torch.equal(gan.resize_to_stage(x, 2, 1.0, 3), x)


def test_growth_schedule_raises_alpha_linearly():
    G, D = _nets()
    model = gan.ProgressiveGAN(G, D, latent_dim=8)
    assert (int(model.stage), float(model.alpha)) == (0, 1.0)
    assert model.sample(4).shape == (4, 1, 28, 28)
    model.grow(fade_steps=4)
    alphas = []
    for _ in range(5):
        model.after_g_step()
        alphas.append(float(model.alpha))
    assert alphas == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0])
    model.grow(fade_steps=1)
    with pytest.raises(ValueError, match="already at its last stage"):
        model.grow(fade_steps=1)


def test_equalized_layers_scale_by_he_constant_and_pixel_norm_and_stddev_formulas():
    torch.manual_seed(0)
    layer = gan.EqualizedConv2d(3, 5, 3)
    x = torch.randn(2, 3, 6, 6)
    assert torch.allclose(layer(x), F.conv2d(x, layer.weight * math.sqrt(2 / 27), layer.bias, padding=1), atol=1e-6)
    lin = gan.EqualizedLinear(10, 4)
    assert lin.weight.std().item() == pytest.approx(1.0, abs=0.3) and lin.scale == pytest.approx(math.sqrt(2 / 10))
    a = torch.randn(3, 7, 4, 4)
    b = gan.PixelNorm()(a)
    assert torch.allclose(b.pow(2).mean(1), torch.ones(3, 4, 4), atol=1e-5)
    h = torch.randn(8, 3, 2, 2, dtype=torch.float64)
    out = gan.MinibatchStdDev(group_size=4)(h)
    assert out.shape == (8, 4, 2, 2)
    for i in range(8):  # sample i is in the group {i mod 2, i mod 2 + 2, ...}
        group = h[i % 2::2]
        expected = group.std(0, unbiased=False).mean()
        assert out[i, 3].flatten().allclose(expected.expand(4), atol=1e-6)


def test_progressive_bad_inputs():
    G, D = _nets()
    with pytest.raises(ValueError, match="stage must be between 0 and 2"):
        G(torch.randn(2, 8), 3)
    with pytest.raises(ValueError, match="alpha"):
        G(torch.randn(2, 8), 1, 1.5)
    with pytest.raises(ValueError, match="z must have shape"):
        G(torch.randn(2, 5))
    with pytest.raises(ValueError, match="images .* at stage 1"):
        D(torch.randn(4, 1, 28, 28), 1)
    with pytest.raises(ValueError, match="group_size"):
        gan.MinibatchStdDev(4)(torch.randn(6, 2, 3, 3))
    with pytest.raises(ValueError, match="kernel must be odd"):
        gan.EqualizedConv2d(1, 1, 2)
    with pytest.raises(TypeError, match="ProgressiveGenerator"):
        gan.ProgressiveGAN(gan.MLPGenerator(2, 2), D, latent_dim=2)
    with pytest.raises(ValueError, match="same number of stages"):
        gan.ProgressiveGAN(G, gan.ProgressiveDiscriminator(channels=(8, 4)), latent_dim=8)
