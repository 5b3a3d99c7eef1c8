import math

import pytest
import torch
from torch import nn

from dgmlib import gan
from dgmlib.data import toy2d, toy2d_modes
from dgmlib.divergences import emd
from dgmlib.metrics import mode_coverage


def test_density_ratio_of_a_trained_classifier_is_within_ten_percent_of_the_gaussian_ratio():
    # q1 = N(1, 1), q2 = N(0, 1): log q1/q2 = x - 1/2
    g = torch.Generator().manual_seed(0)
    x1, x2 = 1.0 + torch.randn(8000, 1, generator=g), torch.randn(8000, 1, generator=g)
    disc = gan.MLPDiscriminator(1, hidden=(32, 32), dropout=0.0)
    gan.train_critic(disc, x1, x2, kind="minimax", steps=300, lr=1e-2, progress=False)
    grid = torch.linspace(-1.0, 2.0, 61)[:, None]
    with torch.no_grad():
        ratio = gan.density_ratio(disc, grid)
    true = torch.exp(grid[:, 0] - 0.5)
    assert float(((ratio - true) / true).abs().max()) < 0.10


def test_density_ratio_is_exp_of_the_logit():
    disc = nn.Linear(1, 1)
    x = torch.randn(5, 1)
    d = torch.sigmoid(disc(x))
    assert torch.allclose(gan.density_ratio(disc, x), d / (1 - d), rtol=1e-5)


def test_self_attention_starts_as_the_identity_and_its_weights_are_a_softmax_over_locations():
    block = gan.SelfAttention2d(16)
    x = torch.randn(2, 16, 5, 6)
    assert torch.equal(block(x), x)  # gamma = 0 at initialization
    a = block.attention
    assert a.shape == (2, 30, 30)
    assert torch.allclose(a.sum(dim=1), torch.ones(2, 30))  # sum over i of a_ij is 1


def test_self_attention_output_matches_the_formula_at_one_location():
    torch.manual_seed(1)
    block = gan.SelfAttention2d(4, key_channels=2)
    with torch.no_grad():
        block.gamma.fill_(0.7)
    x = torch.randn(1, 4, 3, 3, dtype=torch.float32)
    y = block(x)
    flat = x.flatten(2)[0].T  # (N, C): x_i
    wf, wg = block.f.weight[:, :, 0, 0], block.g.weight[:, :, 0, 0]
    wh, wv = block.h.weight[:, :, 0, 0], block.v.weight[:, :, 0, 0]
    j = 4
    s = torch.stack([(wf @ flat[i]) @ (wg @ flat[j]) for i in range(9)])
    a = torch.softmax(s, 0)
    o = wv @ sum(a[i] * (wh @ flat[i]) for i in range(9))
    assert torch.allclose(y.flatten(2)[0][:, j], flat[j] + 0.7 * o, atol=1e-5)


def test_orthogonal_regularization_is_zero_for_orthogonal_rows_and_ignores_their_norms():
    layer = nn.Linear(4, 3, bias=False)
    q, _ = torch.linalg.qr(torch.randn(4, 3))
    with torch.no_grad():
        layer.weight.copy_(q.T * torch.tensor([[1.0], [2.0], [5.0]]))  # orthogonal rows, different norms
    assert float(gan.orthogonal_regularization(layer).detach()) == pytest.approx(0.0, abs=1e-9)
    w = torch.randn(3, 4)
    with torch.no_grad():
        layer.weight.copy_(w)
    gram = w @ w.T
    expected = (gram**2).sum() - (torch.diagonal(gram) ** 2).sum()
    assert float(gan.orthogonal_regularization(layer).detach()) == pytest.approx(float(expected), rel=1e-5)
    with pytest.raises(ValueError, match="no nn.Linear or convolution"):
        gan.orthogonal_regularization(nn.ReLU())


def test_truncated_normal_stays_inside_and_matches_the_truncated_variance():
    z = gan.truncated_normal(20000, 4, threshold=1.0, generator=torch.Generator().manual_seed(0))
    assert z.shape == (20000, 4) and float(z.abs().max()) <= 1.0
    # variance of N(0, 1) truncated to [-1, 1]: 1 - 2 phi(1) / (2 Phi(1) - 1)
    phi = math.exp(-0.5) / math.sqrt(2 * math.pi)
    expected = 1 - 2 * phi / math.erf(1 / math.sqrt(2))
    assert float(z.var()) == pytest.approx(expected, rel=0.02)
    with pytest.raises(ValueError, match="threshold must be a positive number"):
        gan.truncated_normal(3, 2, threshold=0.0)


def test_truncate_interpolates_towards_the_center():
    w, center = torch.tensor([[2.0, -4.0]]), torch.tensor([1.0, 0.0])
    assert torch.equal(gan.truncate(w, 1.0, center), w)
    assert torch.equal(gan.truncate(w, 0.0, center), center[None])
    assert torch.allclose(gan.truncate(w, 0.5), torch.tensor([[1.0, -2.0]]))
    with pytest.raises(ValueError, match="psi must be"):
        gan.truncate(w, -1.0)


def test_bigan_losses_are_the_two_cross_entropies_on_pairs():
    torch.manual_seed(0)
    model = gan.BiGAN(2, 2, hidden=(8,))
    x = torch.randn(16, 2)
    torch.manual_seed(1)
    d_terms = model.d_loss(x)
    torch.manual_seed(1)
    g_terms = model.g_loss(x)
    torch.manual_seed(1)
    z = torch.randn(16, 2)
    d_enc = model.discriminator(x, model.encoder(x))
    d_gen = model.discriminator(model.generator(z), z)
    assert list(d_terms) == ["loss", "real", "fake"] and list(g_terms) == ["loss"]
    assert torch.allclose(d_terms["loss"], gan.discriminator_loss(d_enc, d_gen))
    assert torch.allclose(g_terms["loss"], gan.discriminator_loss(d_gen, d_enc))  # roles swapped
    assert torch.allclose(d_terms["real"], d_enc.mean()) and torch.allclose(d_terms["fake"], d_gen.mean())


def test_bigan_trains_with_train_gan_and_its_generator_moves_towards_the_data():
    moons = toy2d("moons", 2048, seed=12)
    reference = toy2d("moons", 500, seed=1)
    torch.manual_seed(0)
    model = gan.BiGAN(2, 2, hidden=(64, 64))
    z = torch.randn(500, 2, generator=torch.Generator().manual_seed(5))
    before = emd(model.generator(z).detach(), reference).item()

    def inversion_error():  # E ||E(G(z)) - z||^2: the theorem's optimum is E = G^-1
        with torch.no_grad():
            return float((model.encoder(model.generator(z)) - z).pow(2).sum(1).mean())

    inv_before = inversion_error()
    history = gan.train_gan(model, moons, epochs=16, batch_size=64, lr_g=1e-3, lr_d=1e-3, decay_lr=True,
                            progress=False, seed=0)
    after = emd(model.generator(z).detach(), reference).item()
    inv_after = inversion_error()
    random_pairing = float((z - z.roll(1, 0)).pow(2).sum(1).mean())   # no inversion at all: about 2 d = 4
    assert inv_after < 0.85 * inv_before and inv_after < 0.6 * random_pairing   # trained towards E = G^-1
    assert list(history.keys())[:4] == ["d_loss", "d_real", "d_fake", "g_loss"] and len(history) == 16
    assert after < 0.75 * before, (before, after)
    assert model.sample(7).shape == (7, 2) and not model.sample(7).requires_grad


def test_cyclegan_with_the_cycle_loss_keeps_every_mode_of_a_rotated_ring():
    a = toy2d("8gaussians", 2048, seed=0)
    rotation = torch.tensor([[0.0, -1.0], [1.0, 0.0]])
    b = toy2d("8gaussians", 2048, seed=1) @ rotation.T
    torch.manual_seed(0)
    model = gan.CycleGAN(2, hidden=(64, 64), cycle_weight=10.0)
    history = gan.train_gan(model, (a, b), epochs=15, batch_size=128, lr_g=1e-3, lr_d=1e-3, progress=False, seed=0)
    assert set(history.keys()) >= {"g_loss", "g_adversarial", "g_cycle", "d_loss"}
    centers, std = toy2d_modes("8gaussians")
    mapped = model.translate_a_to_b(a)
    back = model.translate_b_to_a(mapped)
    assert float((back - a).norm(dim=1).mean()) < 0.2
    assert mode_coverage(mapped, centers @ rotation.T, std, threshold=6.0)["modes_covered"] == 8


def test_cyclegan_refuses_a_batch_that_is_not_a_pair_of_same_shape_domains():
    model = gan.CycleGAN()
    with pytest.raises(TypeError, match=r"a CycleGAN batch is a pair \(a, b\)"):
        gan.train_gan(model, torch.zeros(10, 2), epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"a and b must both have shape \(B, 2\), got \(10, 2\) and \(10, 3\)"):
        gan.train_gan(model, (torch.zeros(10, 2), torch.zeros(10, 3)), epochs=1, progress=False)
    with pytest.raises(ValueError, match="the tensors in data must have the same, non-zero length"):
        gan.train_gan(model, (torch.zeros(10, 2), torch.zeros(12, 2)), epochs=1, progress=False)


def test_truncation_trades_recall_for_precision_along_the_whole_curve():
    """A generator that over-disperses (G(z) = 1.5 z against data N(0, I)): shrinking z by psi never lowers
    precision and lowers recall at every step, and psi = 1 / 1.5 matches the data best."""
    from dgmlib.metrics import precision_recall

    data = torch.randn(2000, 2, generator=torch.Generator().manual_seed(0))
    z = torch.randn(2000, 2, generator=torch.Generator().manual_seed(1))
    psis = (0.3, 0.5, 0.67, 0.85, 1.0)
    curve = {psi: precision_recall(data, 1.5 * gan.truncate(z, psi), k=5) for psi in psis}
    precision = [curve[p]["precision"] for p in psis]
    recall = [curve[p]["recall"] for p in psis]
    assert all(a >= b for a, b in zip(precision, precision[1:])) and precision[0] - precision[-1] > 0.02  # fidelity up
    assert all(a < b for a, b in zip(recall, recall[1:])) and recall[-1] - recall[0] > 0.15              # variety down
    assert min(curve[0.67].values()) > 0.99 > curve[1.0]["precision"]   # psi = 1 / 1.5 undoes the over-dispersion
