"""PixelVAE: its ELBO terms against a by-hand computation, free bits, z-conditioned sampling, errors."""

import math

import pytest
import torch

from dgmlib.autoregressive import PixelVAE
from dgmlib.gaussian import reparameterize


def _model(**kw):
    torch.manual_seed(0)
    return PixelVAE(3, hidden=(16,), features=2, channels=4, layers=1, first_kernel=3, **kw).double()


def _digits(n=5, seed=0):
    return torch.bernoulli(torch.full((n, 1, 28, 28), 0.3, dtype=torch.float64),
                           generator=torch.Generator().manual_seed(seed))


def _by_hand(model, x, eps):
    """recon = -sum_i [x_i log s_i + (1 - x_i) log(1 - s_i)], s = sigmoid(PixelCNN(x, f(z))); kl in closed form."""
    mu, logvar = model.encoder(x)
    z = mu + torch.exp(0.5 * logvar) * eps
    s = torch.sigmoid(model.pixelcnn.logits(x, model.decoder(z)))
    recon = -(x * torch.log(s) + (1 - x) * torch.log1p(-s)).sum((1, 2, 3))
    kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1)
    return recon, kl


def test_elbo_terms_match_a_by_hand_computation():
    model, x = _model(), _digits()
    torch.manual_seed(7)
    terms = model.elbo(x)
    torch.manual_seed(7)
    eps = torch.randn(5, 3, dtype=torch.float64)           # the draw reparameterize makes
    recon, kl = _by_hand(model, x, eps)
    assert torch.allclose(terms["recon"], recon, atol=1e-9) and torch.allclose(terms["kl"], kl, atol=1e-12)
    assert torch.allclose(terms["elbo"], -recon - kl, atol=1e-9)
    loss = model.loss(x)
    assert list(loss) == ["loss", "elbo", "recon", "kl"]


def test_k_draws_of_z_give_the_likelihood_of_each_draw():
    model, x = _model(), _digits(3)
    z = torch.randn(4, 3, 3, dtype=torch.float64)          # (k, B, D)
    together = model.log_px_given_z(x, z)
    one_by_one = torch.stack([model.log_px_given_z(x, z[i]) for i in range(4)])
    assert together.shape == (4, 3) and torch.allclose(together, one_by_one, atol=1e-9)
    assert not torch.allclose(together[0], together[1])     # the decoder listens to z


def test_importance_sampled_log_prob_matches_numerical_integration_over_a_1d_latent():
    torch.manual_seed(0)
    model = PixelVAE(1, hidden=(8,), features=1, channels=2, layers=0, first_kernel=3).double()
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.mul_(0.1)                                       # a smooth p(x|z): a grid of 4001 z integrates it
    x = _digits(2, seed=1)
    grid = torch.linspace(-8, 8, 4001, dtype=torch.float64)
    log_joint = model.log_px_given_z(x, grid.view(-1, 1, 1).expand(-1, 2, 1)) - 0.5 * grid.view(-1, 1) ** 2 \
        - 0.5 * math.log(2 * math.pi)                                               # (G, B)
    exact = torch.logsumexp(log_joint, 0) + math.log(grid[1] - grid[0])
    torch.manual_seed(1)
    estimate = model.log_prob(x, k=4000)
    assert torch.allclose(estimate, exact.detach(), atol=0.05), (estimate, exact)
    assert (model.elbo(x)["elbo"] <= exact + 1e-6).all()


def test_free_bits_floor_each_dimension_kl_and_keep_the_true_elbo():
    lam = 0.4
    model, x = _model(free_bits=lam), _digits()
    torch.manual_seed(3)
    terms = model.loss(x)
    torch.manual_seed(3)
    mu, logvar = model.encoder(x)
    recon, _ = _by_hand(model, x, torch.randn_like(mu))
    kl_dims = (0.5 * (mu ** 2 + logvar.exp() - 1 - logvar)).mean(0)             # E_batch KL_j
    assert terms["loss"].item() == pytest.approx((recon.mean() + kl_dims.clamp(min=lam).sum()).item(), abs=1e-9)
    assert terms["elbo"].item() == pytest.approx(-(recon.mean() + kl_dims.sum()).item(), abs=1e-9)
    assert terms["loss"].item() > -terms["elbo"].item()                           # untrained: KL_j < lambda
    model.free_bits = 0.0
    torch.manual_seed(3)
    assert model.loss(x)["loss"].item() == pytest.approx(-terms["elbo"].item(), abs=1e-9)


def test_sampling_with_z_fixed_draws_from_p_x_given_that_z():
    model = _model()
    z = torch.randn(1, 3, dtype=torch.float64).expand(4, 3)
    a = model.sample(4, z=z, generator=torch.Generator().manual_seed(0))
    b = model.pixelcnn.sample(4, generator=torch.Generator().manual_seed(0), context=model.decoder(z))
    assert a.shape == (4, 1, 28, 28) and torch.equal(a, b)
    assert set(a.unique().tolist()) <= {0.0, 1.0}


def test_bad_input_names_the_argument():
    model = _model()
    with pytest.raises(ValueError, match="free_bits must be"):
        PixelVAE(3, free_bits=-1.0)
    with pytest.raises(ValueError, match=r"z must have shape \(n, 3\)"):
        model.decode(torch.zeros(2, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="z must hold n = 3"):
        model.sample(3, z=torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 28, 28\)"):
        model.loss(torch.zeros(2, 1, 28, 27, dtype=torch.float64))
    with pytest.raises(ValueError, match="z must be finite"):
        model.sample(2, z=torch.full((2, 3), float("nan"), dtype=torch.float64))
    with pytest.raises(ValueError, match="NaN"):
        model.loss(torch.full((2, 1, 28, 28), float("nan"), dtype=torch.float64))
    with pytest.raises(ValueError, match="x must be binary"):
        model.loss(torch.full((2, 1, 28, 28), 0.5, dtype=torch.float64))
