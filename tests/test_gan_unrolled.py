"""Unrolled GAN and instance noise (lecture 10): the look-ahead against an independent computation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dgmlib import gan


class _LinearD(nn.Module):
    """d(x) = w . x + b, so that grad_phi L_D has a closed form."""

    def __init__(self, dim):
        super().__init__()
        self.w = nn.Parameter(torch.randn(dim))
        self.b = nn.Parameter(torch.randn(()))

    def forward(self, x):
        return x @ self.w + self.b


def _by_hand(w, b, x, fake, steps, lr):
    """phi_k by the closed-form gradient of L_D = mean softplus(-d(x)) + mean softplus(d(fake))."""
    for _ in range(steps):
        s_real = torch.sigmoid(-(x @ w + b))       # d/dd softplus(-d) = -sigmoid(-d)
        s_fake = torch.sigmoid(fake @ w + b)       # d/dd softplus(d) = sigmoid(d)
        grad_w = -(s_real[:, None] * x).mean(0) + (s_fake[:, None] * fake).mean(0)
        grad_b = -s_real.mean() + s_fake.mean()
        w, b = w - lr * grad_w, b - lr * grad_b
    return w, b


@pytest.mark.parametrize("steps", [1, 3])
def test_unrolled_generator_gradient_matches_closed_form_lookahead(steps):
    torch.manual_seed(0)
    D = _LinearD(2)
    G = nn.Linear(2, 2)
    model = gan.UnrolledGAN(G, D, latent_dim=2, unroll_steps=steps, unroll_lr=0.3)
    x = torch.randn(16, 2) + 1.0
    torch.manual_seed(1)
    loss = model.g_loss(x)["loss"]
    grads = torch.autograd.grad(loss, list(G.parameters()))
    torch.manual_seed(1)
    z = torch.randn(16, 2)  # the same draw as model.prior
    fake = G(z)
    w, b = _by_hand(D.w, D.b, x, fake, steps, 0.3)
    expected = F.softplus(-(fake @ w + b)).mean()
    expected_grads = torch.autograd.grad(expected, list(G.parameters()))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    for g, e in zip(grads, expected_grads):
        assert torch.allclose(g, e, atol=1e-6)
    # the look-ahead changes the generator's gradient: it differs from the vanilla one
    torch.manual_seed(1)
    vanilla = F.softplus(-D(G(torch.randn(16, 2)))).mean()
    vanilla_grads = torch.autograd.grad(vanilla, list(G.parameters()))
    assert max((g - v).abs().max() for g, v in zip(grads, vanilla_grads)) > 1e-3


def test_zero_unrolling_is_the_vanilla_generator_loss():
    torch.manual_seed(0)
    G = gan.MLPGenerator(2, 2, hidden=(16,), batch_norm=False, output=None)
    D = gan.MLPDiscriminator(2, hidden=(16,), dropout=0.0)
    x = torch.randn(32, 2)
    unrolled, vanilla = gan.UnrolledGAN(G, D, 2, unroll_steps=0), gan.GAN(G, D, 2)
    torch.manual_seed(3)
    a = unrolled.g_loss(x)["loss"]
    torch.manual_seed(3)
    b = vanilla.g_loss(x)["loss"]
    assert torch.equal(a, b)


def test_unrolled_parameters_leave_the_discriminator_untouched():
    torch.manual_seed(0)
    D = gan.MLPDiscriminator(2, hidden=(16,), dropout=0.0)
    before = [p.detach().clone() for p in D.parameters()]
    phi = gan.unrolled_parameters(D, torch.randn(8, 2), torch.randn(8, 2), steps=2, lr=0.1)
    assert all(torch.equal(p, q) for p, q in zip(before, D.parameters()))
    assert any(not torch.equal(phi[n], p) for n, p in D.named_parameters())


def test_unrolled_gan_bad_inputs():
    G = gan.MLPGenerator(2, 2, hidden=(8,), batch_norm=False, output=None)
    D = gan.MLPDiscriminator(2, hidden=(8,), dropout=0.0)
    with pytest.raises(ValueError, match="unroll_steps"):
        gan.UnrolledGAN(G, D, 2, unroll_steps=-1)
    with pytest.raises(ValueError, match="unroll_lr"):
        gan.UnrolledGAN(G, D, 2, unroll_lr=0.0)
    with pytest.raises(ValueError, match="gp_weight"):
        gan.UnrolledGAN(G, D, 2, gp_weight=10.0)
    with pytest.raises(TypeError, match="pass a tensor x"):
        gan.UnrolledGAN(G, D, 2).g_loss(8)


def test_instance_noise_adds_noise_of_its_std_in_training_only():
    class Identity(nn.Module):
        def forward(self, x):
            return x

    wrapped = gan.InstanceNoise(Identity(), std=0.5)
    x = torch.zeros(200_000, 1)
    torch.manual_seed(0)
    noisy = wrapped(x)
    assert abs(noisy.std().item() - 0.5) < 0.005 and abs(noisy.mean().item()) < 0.005
    assert torch.equal(wrapped.eval()(x), x)
    with pytest.raises(ValueError, match="std"):
        wrapped.std = -1.0
    with pytest.raises(TypeError, match="discriminator"):
        gan.InstanceNoise("D", 0.1)
