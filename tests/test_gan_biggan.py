"""BigGAN's pieces (lecture 10): conditional BN, skip-z, the shared embedding and the projection discriminator."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dgmlib import gan


def test_generator_feeds_each_block_its_chunk_and_the_shared_embedding():
    torch.manual_seed(0)
    G = gan.BigGANGenerator(12, 5, (1, 4, 4), hidden=(6, 8), embed_dim=3).double()
    with torch.no_grad():
        for norm in G.norms:  # non-trivial conditional gains and biases
            for layer in (norm.gain, norm.bias):
                layer.weight.normal_()
                layer.bias.normal_()
    z, y = torch.randn(9, 12, dtype=torch.float64), torch.arange(9) % 5
    out = G(z, y)                                              # training mode: batch statistics
    z0, z1, z2 = z[:, :4], z[:, 4:8], z[:, 8:]
    e = G.embed.weight[y]                                      # one table for every block
    h = z0 @ G.input.weight.T + G.input.bias
    for norm, linear, z_l in zip(G.norms, G.linears, (z1, z2)):
        c = torch.cat([z_l, e], 1)
        normed = (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) + norm.norm.eps)
        h = (1 + c @ norm.gain.weight.T + norm.gain.bias) * normed + c @ norm.bias.weight.T + norm.bias.bias
        h = F.leaky_relu(h, 0.2) @ linear.weight.T + linear.bias
    assert torch.allclose(out, torch.tanh(h).reshape(9, 1, 4, 4), atol=1e-10)


def test_generator_bad_inputs():
    with pytest.raises(ValueError, match="equal chunks"):
        gan.BigGANGenerator(10, 5, hidden=(6, 8))
    G = gan.BigGANGenerator(12, 5, (1, 4, 4), hidden=(6, 8))
    with pytest.raises(ValueError, match="class indices"):
        G(torch.randn(3, 12), torch.zeros(3))
    with pytest.raises(ValueError, match="z must have shape"):
        G(torch.randn(3, 10), torch.zeros(3, dtype=torch.long))


def test_projection_discriminator_is_head_plus_inner_product():
    torch.manual_seed(0)
    D = gan.ProjectionDiscriminator((2, 3), 4, hidden=(5,), spectral_norm=False).double()
    x, y = torch.randn(6, 2, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 3, 0, 1])
    phi = F.leaky_relu(x.flatten(1) @ D.body[1].weight.T + D.body[1].bias, 0.2)
    expected = (phi @ D.head.weight.T + D.head.bias).squeeze(1) + (D.embed.weight[y] * phi).sum(1)
    assert torch.allclose(D(x, y), expected, atol=1e-12)
    # the class enters only through v_y . phi(x): two classes differ by (v_a - v_b) . phi(x)
    a, b = D(x, torch.zeros(6, dtype=torch.long)), D(x, torch.ones(6, dtype=torch.long))
    assert torch.allclose(a - b, phi @ (D.embed.weight[0] - D.embed.weight[1]), atol=1e-12)
    with pytest.raises(ValueError, match="class indices"):
        D(x, y[:3])


def test_conditional_gan_losses_and_truncated_sampling():
    torch.manual_seed(0)
    model = gan.ConditionalGAN(gan.BigGANGenerator(8, 3, (1, 4, 4), hidden=(8,)),
                               gan.ProjectionDiscriminator((1, 4, 4), 3, hidden=(8,)), latent_dim=8, n_classes=3,
                               ortho_weight=0.5)
    x, y = torch.rand(16, 1, 4, 4) * 2 - 1, torch.arange(16) % 3
    torch.manual_seed(1)
    g = model.g_loss((x, y))["loss"]
    torch.manual_seed(1)
    fake = model.generator(torch.randn(16, 8), y)
    expected = gan.generator_loss(model.discriminator(fake, y), "hinge") \
        + 0.5 * gan.orthogonal_regularization(model.generator)
    assert g.item() == pytest.approx(expected.item(), rel=1e-5)
    z = gan.truncated_normal(10, 8, 0.5, generator=torch.Generator().manual_seed(2))
    a = model.eval().sample(10, y=torch.zeros(10, dtype=torch.long), threshold=0.5,
                            generator=torch.Generator().manual_seed(2))
    assert torch.allclose(a, model.generator(z, torch.zeros(10, dtype=torch.long)))
    with pytest.raises(TypeError, match="pass train_gan the pair"):
        model.d_loss(x)
    with pytest.raises(ValueError, match="labels must be"):
        model.d_loss((x, y.float()))
