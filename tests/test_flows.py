"""dgmlib.flows, part 1: the base, Flow, planar/radial, MADE and masked autoregressive layers.

Identities are checked in float64 on random inputs and random parameters against
torch.autograd.functional.jacobian.
"""

import math

import pytest
import torch
from torch import nn

from dgmlib.flows import (
    MADE, Compose, DiagonalGaussian, Flow, MaskedAutoregressive, Planar, Radial, Reverse,
    StandardNormal, bits_per_dim,
)


def randomize(module, scale=0.5, seed=0):
    """Random values for every parameter (float64), so identities are not checked at the identity map."""
    g = torch.Generator().manual_seed(seed)
    module.double()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=g, dtype=torch.float64))
    return module


def autograd_log_det(fn, x):
    """log|det J| per sample from the full autograd Jacobian of a per-sample map (B, D) -> (B, D)."""
    out = []
    for xi in x:
        jac = torch.autograd.functional.jacobian(lambda v: fn(v.unsqueeze(0)).squeeze(0), xi, vectorize=True)
        out.append(torch.linalg.slogdet(jac.reshape(xi.numel(), xi.numel()))[1])
    return torch.stack(out)


def check_log_det(layer, x, context=None, method="forward"):
    """The layer's log_det (of ``method``) equals log|det J| of autograd's Jacobian, per sample."""
    fn = getattr(layer, method) if method == "inverse" else layer
    if context is None:
        _, log_det = fn(x)
        expected = autograd_log_det(lambda v: fn(v)[0], x)
    else:
        _, log_det = fn(x, context=context)
        expected = torch.cat([
            autograd_log_det(lambda v, c=c: fn(v, context=c.unsqueeze(0))[0], xi.unsqueeze(0))
            for xi, c in zip(x, context)
        ])
    assert log_det.shape == (x.shape[0],)
    torch.testing.assert_close(log_det, expected, atol=1e-6, rtol=0)


# --- planar and radial ---------------------------------------------------------------------

@pytest.mark.parametrize("cls", [Planar, Radial])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planar_radial_log_det_matches_autograd_jacobian(cls, seed):
    layer = randomize(cls(5), scale=1.0, seed=seed)
    x = torch.randn(7, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + 10))
    check_log_det(layer, x)


def test_planar_constraint_keeps_it_invertible_even_for_adversarial_u():
    layer = Planar(3).double()
    with torch.no_grad():
        layer.w.copy_(torch.tensor([1.0, 0.0, 0.0]))
        layer.u.copy_(torch.tensor([-5.0, 0.0, 0.0]))  # w^T u = -5 < -1: not invertible as given
    wu_hat = float((layer.w @ layer.u_hat()).detach())
    assert wu_hat > -1
    assert wu_hat == pytest.approx(-1 + math.log1p(math.exp(-5.0 + math.log(math.e - 1))), abs=1e-9)
    # monotone along w, so the map is injective: 1 + u_hat^T psi > 0 everywhere
    _, log_det = layer(torch.linspace(-4, 4, 101, dtype=torch.float64).unsqueeze(1) * torch.tensor([[1.0, 0, 0]], dtype=torch.float64))
    assert torch.isfinite(log_det).all()


def test_planar_constraint_leaves_an_orthogonal_u_unchanged():
    layer = Planar(2).double()
    with torch.no_grad():
        layer.w.copy_(torch.tensor([1.0, 0.0]))
        layer.u.copy_(torch.tensor([0.0, 3.0]))
    torch.testing.assert_close(layer.u_hat().detach(), torch.tensor([0.0, 3.0], dtype=torch.float64))


def test_radial_constraint_beta_at_least_minus_alpha():
    layer = Radial(2)
    with torch.no_grad():
        layer.b.fill_(-20.0)
    alpha, beta = layer.alpha_beta()
    assert float(beta.detach()) >= -float(alpha.detach()) - 1e-12


@pytest.mark.parametrize("cls", [Planar, Radial])
def test_planar_radial_inverse_raises_not_implemented_with_an_explanation(cls):
    with pytest.raises(NotImplementedError, match="no analytic inverse"):
        cls(2).inverse(torch.zeros(1, 2))


@pytest.mark.parametrize("cls", [Planar, Radial])
def test_planar_radial_reject_wrong_shape(cls):
    with pytest.raises(ValueError, match=r"x must have shape \(B, 3\)"):
        cls(3)(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="dim must be a positive int"):
        cls(0)


# --- MADE and MAF/IAF ----------------------------------------------------------------------

def test_made_is_autoregressive_in_its_order():
    made = randomize(MADE(5, hidden=(16, 16), params_per_dim=3, order=[3, 0, 4, 1, 2]))
    x = torch.randn(5, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: made(v.unsqueeze(0)).squeeze(0), x)  # (5, 3, 5)
    order = made.order
    dependent = jac.abs().sum(1) > 0  # (out i, in j)
    allowed = order[None, :] < order[:, None]
    assert not (dependent & ~allowed).any(), "an output depends on an input at or after it in the order"
    assert dependent[allowed].float().mean() > 0.9  # and it does use (almost) all allowed inputs


def test_made_context_enters_and_is_checked():
    made = randomize(MADE(3, hidden=8, context_features=4))
    x, c = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    out1, out2 = made(x, c), made(x, c + 1)
    assert not torch.allclose(out1[:, 0], out2[:, 0])  # even the first output sees the context
    with pytest.raises(ValueError, match="pass context="):
        made(x)
    with pytest.raises(ValueError, match=r"context must have shape \(2, 4\)"):
        made(x, torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="built without context_features"):
        MADE(3)(x.float(), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="order must be a permutation"):
        MADE(3, order=[0, 0, 1])


@pytest.mark.parametrize("direction", ["maf", "iaf"])
@pytest.mark.parametrize("method", ["forward", "inverse"])
def test_masked_autoregressive_log_det_matches_autograd_jacobian(direction, method):
    layer = randomize(MaskedAutoregressive(4, hidden=(16,), direction=direction), scale=0.4)
    x = torch.randn(6, 4, dtype=torch.float64)
    check_log_det(layer, x, method=method)


@pytest.mark.parametrize("direction", ["maf", "iaf"])
def test_masked_autoregressive_inverse_undoes_forward(direction):
    layer = randomize(MaskedAutoregressive(5, hidden=(16, 16), direction=direction, order=[4, 2, 0, 1, 3]), scale=0.4)
    x = torch.randn(8, 5, dtype=torch.float64)
    y, ld_f = layer(x)
    x_back, ld_i = layer.inverse(y)
    torch.testing.assert_close(x_back, x, atol=1e-6, rtol=0)
    torch.testing.assert_close(ld_i, -ld_f, atol=1e-6, rtol=0)
    assert not torch.allclose(y, x)


@pytest.mark.parametrize("direction", ["maf", "iaf"])
def test_conditional_iaf_log_det_and_inverse_with_context(direction):
    layer = randomize(MaskedAutoregressive(3, hidden=(16,), direction=direction, context_features=2), scale=0.4)
    x, c = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    check_log_det(layer, x, context=c, method="inverse")
    y, ld = layer(x, context=c)
    x_back, ld_back = layer.inverse(y, context=c)
    torch.testing.assert_close(x_back, x, atol=1e-6, rtol=0)
    torch.testing.assert_close(ld_back, -ld, atol=1e-6, rtol=0)
    y2, _ = layer(x, context=c + 1)
    assert not torch.allclose(y, y2)


def test_maf_forward_is_one_pass_and_iaf_inverse_is_one_pass():
    calls = {"n": 0}
    for direction, fast in [("maf", "forward"), ("iaf", "inverse")]:
        layer = MaskedAutoregressive(6, hidden=8, direction=direction)
        layer.made.register_forward_hook(lambda *a: calls.__setitem__("n", calls["n"] + 1))
        x = torch.randn(3, 6)
        calls["n"] = 0
        getattr(layer, fast)(x)
        assert calls["n"] == 1
        calls["n"] = 0
        getattr(layer, "inverse" if fast == "forward" else "forward")(x)
        assert calls["n"] == 6 + 1


def test_masked_autoregressive_starts_as_identity_and_checks_arguments():
    layer = MaskedAutoregressive(3)
    x = torch.randn(5, 3)
    y, ld = layer(x)
    torch.testing.assert_close(y, x)
    torch.testing.assert_close(ld, torch.zeros(5))
    with pytest.raises(ValueError, match=r"direction must be one of \('maf', 'iaf'\)"):
        MaskedAutoregressive(3, direction="forward")
    with pytest.raises(ValueError, match=r"x must have shape \(B, 3\)"):
        layer(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="hidden must be a positive int"):
        MaskedAutoregressive(3, hidden=(0,))


# --- base distributions, Compose, Flow ------------------------------------------------------

def test_base_log_probs_match_torch_distributions():
    z = torch.randn(5, 2, 3, dtype=torch.float64)
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum((1, 2))
    torch.testing.assert_close(StandardNormal((2, 3)).double().log_prob(z), expected)
    diag = randomize(DiagonalGaussian(3))
    z = torch.randn(4, 3, dtype=torch.float64)
    expected = torch.distributions.Normal(diag.loc, diag.log_scale.exp()).log_prob(z).sum(1)
    torch.testing.assert_close(diag.log_prob(z), expected)


def test_base_sample_temperature_scales_the_spread():
    torch.manual_seed(0)
    z = StandardNormal(2).sample(20000, temperature=0.5)
    assert z.std().item() == pytest.approx(0.5, abs=0.01)
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        StandardNormal(2).sample(3, temperature=0.0)
    with pytest.raises(ValueError, match="n must be a positive int"):
        StandardNormal(2).sample(0)


def test_flow_log_prob_is_base_plus_sum_of_layer_log_dets():
    layers = [randomize(MaskedAutoregressive(3, hidden=8), 0.4, seed=s) for s in range(2)]
    layers.insert(1, Reverse())
    flow = Flow(StandardNormal(3).double(), layers)
    x = torch.randn(5, 3, dtype=torch.float64)
    h, total = x, torch.zeros(5, dtype=torch.float64)
    for layer in layers:
        h, ld = layer(h)
        total = total + ld
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(h).sum(1) + total
    torch.testing.assert_close(flow.log_prob(x), expected)
    # and against autograd on the whole stack
    torch.testing.assert_close(flow(x)[1], autograd_log_det(lambda v: flow(v)[0], x), atol=1e-6, rtol=0)
    out = flow.loss(x)
    assert list(out) == ["loss", "bits_per_dim"]
    torch.testing.assert_close(out["loss"], -expected.mean())
    torch.testing.assert_close(out["bits_per_dim"], -expected.mean() / (3 * math.log(2)))
    assert out["loss"].requires_grad and not out["bits_per_dim"].requires_grad


def test_flow_sample_inverts_the_stack_and_checks_arguments():
    flow = Flow(StandardNormal(2), [MaskedAutoregressive(2, direction="iaf"), Reverse()])
    randomize(flow, 0.3)
    torch.manual_seed(1)
    x = flow.sample(10, temperature=0.7)
    assert x.shape == (10, 2) and x.dtype == torch.float64
    assert not x.requires_grad  # sampling runs under no_grad
    z, _ = flow(x)
    torch.manual_seed(1)
    torch.testing.assert_close(z, flow.base.sample(10, temperature=0.7))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 2\) for this flow, got \(4, 3\)"):
        flow.log_prob(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="temperature must be a positive number, got -1"):
        flow.sample(4, temperature=-1)
    with pytest.raises(TypeError, match="layers\\[0\\] must be a flow layer"):
        Flow(StandardNormal(2), [nn.Linear(2, 2)])
    with pytest.raises(ValueError, match="n must be a positive int, got 0"):
        flow.sample(0)


def test_compose_passes_context_to_conditional_layers_only():
    layers = [MaskedAutoregressive(2, hidden=8, context_features=3), Reverse(), Planar(2)]
    randomize(layers[0], 0.4)
    for layer in layers[1:]:
        layer.double()
    stack = Compose(layers)
    x, c = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    y, ld = stack(x, context=c)
    h, expected = layers[0](x, context=c)
    h, l2 = layers[1](h)
    h, l3 = layers[2](h)
    torch.testing.assert_close(y, h)
    torch.testing.assert_close(ld, expected + l2 + l3)


def test_bits_per_dim_converts_nats():
    lp = torch.tensor([-784 * math.log(2.0) * 1.5])
    torch.testing.assert_close(bits_per_dim(lp, 784), torch.tensor([1.5]))
    with pytest.raises(ValueError, match="num_dims must be a positive int"):
        bits_per_dim(lp, 0)


def test_diagonal_gaussian_samples_have_its_mean_and_tempered_std():
    torch.manual_seed(0)
    base = DiagonalGaussian(2)
    with torch.no_grad():
        base.loc.copy_(torch.tensor([1.0, -2.0]))
        base.log_scale.copy_(torch.tensor([0.0, math.log(3.0)]))
        z = base.sample(40000, temperature=0.5)
    torch.testing.assert_close(z.mean(0), torch.tensor([1.0, -2.0]), atol=0.03, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([0.5, 1.5]), atol=0.03, rtol=0)


def test_coupling_with_zero_scale_is_additive_volume_preserving_and_inverts_exactly():
    """NICE's additive coupling as AffineCoupling with s = 0: log|det J| = 0 everywhere (also by
    autograd's Jacobian), the inverse exact, and the layer still moves the points."""
    from dgmlib.flows import AffineCoupling, alternating_mask

    torch.manual_seed(0)
    layer = AffineCoupling(alternating_mask(4, 0), hidden=(16,)).double()
    with torch.no_grad():
        for name, p in layer.named_parameters():
            p.copy_(torch.zeros_like(p) if name == "scale" else 0.5 * torch.randn_like(p))
    x = torch.randn(64, 4, dtype=torch.float64)
    y, log_det = layer(x)
    back, log_det_inv = layer.inverse(y)
    jac = torch.func.vmap(torch.func.jacrev(lambda v: layer(v.unsqueeze(0))[0][0]))(x)
    assert torch.equal(log_det, torch.zeros(64, dtype=torch.float64)) and torch.equal(log_det_inv, log_det)
    assert torch.allclose(torch.linalg.slogdet(jac)[1], torch.zeros(64, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(back, x, atol=1e-12) and (y - x).abs().mean() > 0.05


def test_reduced_temperature_samples_follow_the_scaled_latent_density_not_p_to_the_power():
    """x = f^{-1}(z), z ~ N(0, T^2 I) has log p~_T(x) = log N(f(x); 0, T^2 I) + log|det J_f(x)|, which is
    p(x)^(1/T^2) (normalized) only when log|det J_f| is constant: 2-D histograms of the samples of a
    random affine RealNVP against both densities, computed on the same cells."""
    from dgmlib.flows import realnvp_flow

    torch.manual_seed(2)
    flow = realnvp_flow(2, n_layers=4, hidden=(16,)).double().eval()
    with torch.no_grad():
        for name, p in flow.named_parameters():
            p.copy_(0.4 * torch.randn_like(p))
    T, cells, bound = 0.5, 40, 4.0
    edges = torch.linspace(-bound, bound, cells + 1, dtype=torch.float64)
    centres = (edges[1:] + edges[:-1]) / 2
    grid = torch.cartesian_prod(centres, centres)                      # (x1, x2), x2 fastest
    with torch.no_grad():
        z, log_det = flow(grid)
        log_p = flow.log_prob(grid)
        draws = flow.sample(100_000, temperature=T)
    inside = (draws.abs() < bound).all(1)
    hist = torch.histogramdd(draws[inside], bins=[edges, edges]).hist.flatten()
    empirical = hist / hist.sum()
    scaled = torch.softmax(-0.5 * (z**2).sum(1) / T**2 + log_det, 0)
    powered = torch.softmax(log_p / T**2, 0)
    tv = lambda a, b: 0.5 * (a - b).abs().sum().item()  # noqa: E731
    assert log_det.max() - log_det.min() > 0.5                                    # not volume-preserving
    assert tv(empirical, scaled) < 0.05 and tv(empirical, powered) > 3 * tv(empirical, scaled)   # 0.03 (noise) vs 0.16
