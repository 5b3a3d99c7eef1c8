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
