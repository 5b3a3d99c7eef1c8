"""StyleGAN's pieces (lecture 10): AdaIN, mapping network, style mixing, truncation in W, by independent computation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dgmlib import gan


def test_adain_matches_the_formula_per_sample_and_channel():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 5, 6, generator=g, dtype=torch.float64) * 3 + 1
    scale = torch.randn(3, 4, generator=g, dtype=torch.float64)
    bias = torch.randn(3, 4, generator=g, dtype=torch.float64)
    out = gan.adain(x, scale, bias, eps=0.0)
    for b in range(3):
        for c in range(4):
            v = x[b, c].flatten()
            mu, sigma = v.mean(), math.sqrt(((v - v.mean()) ** 2).mean())   # biased standard deviation
            expected = scale[b, c] * (x[b, c] - mu) / sigma + bias[b, c]
            assert torch.allclose(out[b, c], expected, atol=1e-12)
    # the output's statistics are the style: mean y_b and standard deviation |y_s| per channel
    assert torch.allclose(out.mean(dim=(2, 3)), bias, atol=1e-12)
    assert torch.allclose(out.std(dim=(2, 3), unbiased=False), scale.abs(), atol=1e-10)


def test_adain_bad_inputs():
    with pytest.raises(ValueError, match="feature map"):
        gan.adain(torch.randn(3, 4), torch.ones(3, 4), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="scale must have shape"):
        gan.adain(torch.randn(2, 3, 4, 4), torch.ones(2, 4), torch.zeros(2, 3))
    with pytest.raises(TypeError, match="bias"):
        gan.adain(torch.randn(2, 3, 4, 4), torch.ones(2, 3), [0.0] * 6)


def test_mapping_network_is_pixel_norm_then_equalized_layers():
    torch.manual_seed(0)
    mapping = gan.MappingNetwork(6, 5, depth=3)
    z = torch.randn(7, 6, dtype=torch.float64)
    mapping = mapping.double()
    h = z / torch.sqrt((z**2).mean(1, keepdim=True) + 1e-8)
    layers = [m for m in mapping.modules() if isinstance(m, gan.EqualizedLinear)]
    assert len(layers) == 3
    for layer in layers:
        fan_in = layer.weight.shape[1]
        h = F.leaky_relu(h @ (layer.weight * math.sqrt(2 / fan_in)).T + layer.bias, 0.2)
    assert torch.allclose(mapping(z), h, atol=1e-12)
    with pytest.raises(ValueError, match="z must have shape"):
        mapping(torch.randn(2, 5, dtype=torch.float64))


def test_style_layer_starts_as_instance_norm_and_noise_is_scaled_per_channel():
    torch.manual_seed(0)
    layer = gan.StyleLayer(3, 3, 4, conv=False)
    x, w = torch.randn(2, 3, 5, 5), torch.randn(2, 4)
    zero = torch.zeros(2, 1, 5, 5)
    scale, bias = layer.affine(w).chunk(2, dim=1)
    assert torch.allclose(layer(x, w, zero), gan.adain(F.leaky_relu(x, 0.2), scale, bias), atol=1e-6)
    with torch.no_grad():
        layer.noise_weight.copy_(torch.tensor([0.0, 1.0, 2.0]))
    noise = torch.randn(2, 1, 5, 5)
    expected = gan.adain(F.leaky_relu(x + torch.tensor([0.0, 1.0, 2.0])[None, :, None, None] * noise, 0.2), scale, bias)
    assert torch.allclose(layer(x, w, noise), expected, atol=1e-5)


def test_style_mixing_takes_coarse_layers_from_one_w_and_fine_from_the_other():
    torch.manual_seed(0)
    G = gan.StyleGenerator(8, w_dim=8, channels=(8, 4, 4)).eval()
    w_a, w_b = torch.randn(3, 8), torch.randn(3, 8)
    ws = G.mix(w_a, w_b, 2)
    assert torch.equal(ws[:, :2], w_a[:, None].expand(3, 2, 8)) and torch.equal(ws[:, 2:], w_b[:, None].expand(3, 4, 8))
    noise = [torch.zeros(3, 1, s, s) for s in (7, 7, 14, 14, 28, 28)]
    assert torch.equal(G.synthesize(G.mix(w_a, w_b, 6), noise), G.synthesize(w_a, noise))
    assert torch.equal(G.synthesize(G.mix(w_a, w_b, 0), noise), G.synthesize(w_b, noise))
    per_sample = G.mix(w_a, w_b, torch.tensor([0, 3, 6]))
    assert torch.equal(per_sample[1, :3], w_a[1].expand(3, 8)) and torch.equal(per_sample[1, 3:], w_b[1].expand(3, 8))
    with pytest.raises(ValueError, match="crossover must be between 0 and 6"):
        G.mix(w_a, w_b, 7)
    with pytest.raises(ValueError, match="ws must have shape"):
        G.synthesize(torch.randn(3, 5))


def test_truncation_in_w_pulls_towards_the_tracked_average():
    torch.manual_seed(0)
    G = gan.StyleGenerator(8, w_dim=8, channels=(8, 4, 4))
    z = torch.randn(256, 8)
    for _ in range(3):
        G(z)                                                   # training mode: w_avg tracks the mean of w
    w = G.mapping(z).detach()
    expected_avg = torch.zeros(8)
    for _ in range(3):
        expected_avg = expected_avg + 0.005 * (w.mean(0) - expected_avg)
    assert torch.allclose(G.w_avg, expected_avg, atol=1e-6)
    psi = 0.3
    assert torch.allclose(G.truncated_w(z, psi), G.w_avg + psi * (w - G.w_avg), atol=1e-6)
    assert torch.allclose(G.truncated_w(z, 0.0), G.w_avg.expand(256, 8))


def test_slerp_keeps_the_sphere_and_ends():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 4, generator=g, dtype=torch.float64), torch.randn(5, 4, generator=g, dtype=torch.float64)
    assert torch.allclose(gan.slerp(a, b, torch.zeros(5, dtype=torch.float64)), a)
    assert torch.allclose(gan.slerp(a, b, torch.ones(5, dtype=torch.float64)), b)
    u, v = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    mid = gan.slerp(u, v, torch.full((5,), 0.5, dtype=torch.float64))
    assert torch.allclose(mid.norm(dim=1), torch.ones(5, dtype=torch.float64))
    assert torch.allclose((mid * u).sum(1), (mid * v).sum(1))          # halfway: equal angles to both ends


def test_path_lengths_of_a_linear_map_are_its_squared_stretch():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(3, 4, generator=g, dtype=torch.float64)
    a, b = torch.randn(6, 4, generator=g, dtype=torch.float64), torch.randn(6, 4, generator=g, dtype=torch.float64)
    lengths = gan.path_lengths(lambda w: w @ A.T, lambda x: x, a, b, eps=1e-3,
                               generator=torch.Generator().manual_seed(1))
    assert torch.allclose(lengths, ((b - a) @ A.T).pow(2).sum(1), rtol=1e-9)   # ||A (b - a)||^2 on every step
    with pytest.raises(ValueError, match="eps"):
        gan.path_lengths(lambda w: w, lambda x: x, a, b, eps=0.0)


def test_truncation_widget_state_scales_the_distance_to_the_average():
    from dgmlib.widgets import style_truncation_explorer, style_truncation_state

    torch.manual_seed(0)
    G = gan.StyleGenerator(8, w_dim=8, channels=(8, 4, 4))
    G(torch.randn(64, 8))                                         # a non-zero w_avg
    G.eval()
    s = style_truncation_state(G, 0.25, n=4)
    assert s["images"].shape == (4, 28, 28)
    assert s["distance"] == pytest.approx(0.25 * s["distance_1"], rel=1e-5)
    assert style_truncation_explorer(G, n=4).update(psi=0.0)["distance"] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(TypeError, match="StyleGenerator"):
        style_truncation_state(gan.MLPGenerator(2, 2), 0.5)
