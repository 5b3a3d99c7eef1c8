"""PixelCNN: causality by autograd, an exact and normalized likelihood, sampling from the same model."""

import itertools
import math

import pytest
import torch
from scipy import stats

from dgmlib.autoregressive import MaskedConv2d, PixelCNN, dependency_mask
from dgmlib.training import fit


def _random(model, scale=0.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def test_masks_keep_the_rows_above_and_the_left_of_the_centre():
    a, b = MaskedConv2d(1, 1, 3, "A").mask[0, 0], MaskedConv2d(1, 1, 3, "B").mask[0, 0]
    assert torch.equal(a, torch.tensor([[1.0, 1, 1], [1, 0, 0], [0, 0, 0]]))
    assert torch.equal(b, torch.tensor([[1.0, 1, 1], [1, 1, 0], [0, 0, 0]]))


def test_output_i_depends_only_on_inputs_before_i_and_stacked_3x3_masks_leave_a_blind_spot():
    model = _random(PixelCNN(9, 9, channels=4, layers=3, first_kernel=3).double())
    D = dependency_mask(model.net, 9, 9)
    assert torch.equal(D, D.tril(-1))                               # never j >= i (the chain rule's condition)
    assert D[40, 39] == 1 and D[40, 31] == 1                         # left neighbour, pixel above
    i, r, c = 4 * 9 + 4, 4, 4                                        # pixel (4, 4): above-right of it, unseen
    above_right = [(r - k) * 9 + (c + k + 1) for k in range(1, 4)]
    assert all(D[i, j] == 0 for j in above_right) and D[i, :i].sum() < i   # the blind spot


def test_log_prob_is_a_normalized_distribution_over_all_binary_images():
    model = _random(PixelCNN(2, 3, channels=4, layers=1, first_kernel=3).double())
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=6)), dtype=torch.float64).view(64, 1, 2, 3)
    total = torch.logsumexp(model.log_prob(images), 0).exp().item()
    assert total == pytest.approx(1.0, abs=1e-12)


def test_sequential_samples_follow_the_model_probabilities():
    model = _random(PixelCNN(2, 2, channels=4, layers=1, first_kernel=3).double(), scale=0.8)
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4)), dtype=torch.float64).view(16, 1, 2, 2)
    probs = model.log_prob(images).exp().detach()
    draws = model.sample(20_000, generator=torch.Generator().manual_seed(1))
    index = (draws.view(-1, 4) * torch.tensor([8.0, 4, 2, 1], dtype=torch.float64)).sum(1).long()
    counts = torch.bincount(index, minlength=16).double()
    assert stats.chisquare(counts.numpy(), (probs * 20_000).numpy()).pvalue > 0.001


def test_loss_terms_and_a_short_training_beats_the_uniform_model():
    torch.manual_seed(0)
    x = (torch.rand(256, 1, 8, 8) < torch.linspace(0.1, 0.9, 8).view(1, 1, 1, 8)).float()   # columns differ
    model = PixelCNN(8, 8, channels=16, layers=2, first_kernel=3)
    terms = model.loss(x)
    assert list(terms) == ["loss", "nll", "bits_per_dim"]
    assert terms["bits_per_dim"].item() == pytest.approx(terms["nll"].item() / (64 * math.log(2)))
    fit(model, x, epochs=30, lr=3e-3, progress=False, seed=0)
    nll = -model.log_prob(x).mean().item()
    column_entropy = sum(float(stats.bernoulli(p).entropy()) for p in torch.linspace(0.1, 0.9, 8).tolist()) * 8
    assert nll < 64 * math.log(2) - 5 and nll < column_entropy + 6      # near the true entropy, far from uniform


def test_bad_input_names_the_argument():
    model = PixelCNN(4, 4, channels=2, layers=0, first_kernel=3)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 4, 4\)"):
        model.log_prob(torch.zeros(2, 1, 4, 5))
    with pytest.raises(ValueError, match="x must be binary"):
        model.log_prob(torch.full((1, 1, 4, 4), 0.5))
    with pytest.raises(ValueError, match="x must be finite"):
        model.log_prob(torch.full((1, 1, 4, 4), float("nan")))
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        MaskedConv2d(1, 1, 4)
    with pytest.raises(ValueError, match="mask_type"):
        MaskedConv2d(1, 1, 3, "C")


def _naive_sample(model, n, generator, temperature=1.0, context=None):
    """Sequential sampling with one full pass of the network per pixel (no window): the reference."""
    x = torch.zeros(n, 1, model.height, model.width, dtype=torch.float64)
    for r in range(model.height):
        for c in range(model.width):
            logit = model.logits(x, context)[:, 0, r, c]
            u = torch.rand(n, generator=generator)
            x[:, 0, r, c] = (u < torch.sigmoid(logit / temperature)).double()
    return x


@pytest.mark.parametrize("layers, first_kernel, context", [(2, 5, 0), (1, 3, 2), (0, 3, 0)])
def test_windowed_sampling_draws_exactly_what_full_passes_draw(layers, first_kernel, context):
    model = _random(PixelCNN(9, 11, channels=4, layers=layers, first_kernel=first_kernel,
                             context_channels=context).double(), scale=0.7)
    assert model.receptive_field() == first_kernel // 2 + layers
    c = torch.randn(6, context, 9, 11, dtype=torch.float64) if context else None
    fast = model.sample(6, 0.8, generator=torch.Generator().manual_seed(3), context=c)
    slow = _naive_sample(model, 6, torch.Generator().manual_seed(3), 0.8, c)
    assert torch.equal(fast, slow) and 0 < fast.mean() < 1


def test_a_window_one_pixel_narrower_than_the_receptive_field_changes_logits():
    """The window of ``sample`` is no larger than it must be: R - 1 rows up would change a logit."""
    model = _random(PixelCNN(12, 12, channels=4, layers=2, first_kernel=5).double())
    x = torch.bernoulli(torch.full((1, 1, 12, 12), 0.5, dtype=torch.float64),
                        generator=torch.Generator().manual_seed(0))
    full = model.logits(x)[0, 0, 10, 6]
    reach = model.receptive_field()
    exact = model.net(x[:, :, 10 - reach:11, 6 - reach:7 + reach])[0, 0, reach, reach]
    short = model.net(x[:, :, 10 - reach + 1:11, 6 - reach + 1:7 + reach - 1])[0, 0, reach - 1, reach - 1]
    assert exact.item() == pytest.approx(full.item(), abs=1e-12) and abs(short.item() - full.item()) > 1e-6


def test_tempered_samples_follow_the_tempered_conditionals():
    model = _random(PixelCNN(2, 2, channels=4, layers=1, first_kernel=3).double(), scale=0.8)
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4)), dtype=torch.float64).view(16, 1, 2, 2)
    from dgmlib.vae import log_bernoulli
    probs = log_bernoulli(images, model.logits(images) / 0.5).exp().detach()      # prod_i Bern(x_i; sigmoid(l_i / T))
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-12)
    draws = model.sample(20_000, temperature=0.5, generator=torch.Generator().manual_seed(2))
    index = (draws.view(-1, 4) * torch.tensor([8.0, 4, 2, 1], dtype=torch.float64)).sum(1).long()
    counts = torch.bincount(index, minlength=16).double()
    assert stats.chisquare(counts.numpy(), (probs * 20_000).numpy()).pvalue > 0.001


def test_a_context_map_changes_the_logits_but_not_the_causality():
    model = _random(PixelCNN(7, 7, channels=4, layers=2, first_kernel=3, context_channels=3).double())
    context = torch.randn(1, 3, 7, 7, dtype=torch.float64)

    class WithContext(torch.nn.Module):          # x -> logits(x, c) for a fixed c, for dependency_mask
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, x):
            return model._net(x, context)

    D = dependency_mask(WithContext(), 7, 7)
    assert torch.equal(D, D.tril(-1)) and D.sum() > 0
    x = torch.bernoulli(torch.full((1, 1, 7, 7), 0.5, dtype=torch.float64))
    assert not torch.allclose(model.logits(x, context), model.logits(x, torch.zeros_like(context)))


def test_bad_context_and_temperature_name_the_argument():
    plain = PixelCNN(4, 4, channels=2, layers=0, first_kernel=3)
    conditional = PixelCNN(4, 4, channels=2, layers=0, first_kernel=3, context_channels=2)
    x = torch.zeros(2, 1, 4, 4)
    with pytest.raises(ValueError, match="context must be None"):
        plain.log_prob(x, torch.zeros(2, 2, 4, 4))
    with pytest.raises(ValueError, match=r"context must have shape \(2, 2, 4, 4\)"):
        conditional.log_prob(x, torch.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="context must be finite"):
        conditional.log_prob(x, torch.full((2, 2, 4, 4), float("nan")))
    with pytest.raises(ValueError, match="temperature must be"):
        plain.sample(2, temperature=0.0)
