"""dgmlib.flows, part 2: coupling, Glow's pieces, residual blocks, dequantization and logit.

Float64, random inputs and random parameters; log_det against autograd Jacobians.
"""

import math

import pytest
import torch

from dgmlib.flows import (
    ActNorm, AffineCoupling, Dequantize, Flow, InvConv1x1, Logit, MultiScale, ResidualFlowBlock, Squeeze, Squeezed,
    StandardNormal, alternating_mask, bits_per_dim, channel_mask, checkerboard_mask, power_series_log_det,
)
from test_flows import autograd_log_det, check_log_det, randomize


def flat(layer, shape):
    """The layer as a map of flat vectors, for autograd Jacobians of image layers."""
    return lambda v: layer(v.reshape(len(v), *shape))[0].reshape(len(v), -1)


def check_image_layer(layer, shape, batch=3, atol=1e-6):
    x = torch.randn(batch, *shape, dtype=torch.float64)
    y, log_det = layer(x)
    assert y.shape == x.shape and log_det.shape == (batch,)
    expected = autograd_log_det(flat(layer, shape), x.reshape(batch, -1))
    torch.testing.assert_close(log_det, expected, atol=atol, rtol=0)
    x_back, ld_back = layer.inverse(y)
    torch.testing.assert_close(x_back, x, atol=1e-6, rtol=0)
    torch.testing.assert_close(ld_back, -log_det, atol=1e-6, rtol=0)


# --- coupling ------------------------------------------------------------------------------

@pytest.mark.parametrize("parity", [0, 1])
def test_vector_coupling_log_det_matches_autograd_and_inverts(parity):
    layer = randomize(AffineCoupling(alternating_mask(5, parity), hidden=(16, 16)), scale=0.4)
    x = torch.randn(6, 5, dtype=torch.float64)
    check_log_det(layer, x)
    check_log_det(layer, layer(x)[0], method="inverse")
    y, ld = layer(x)
    x_back, ld_back = layer.inverse(y)
    torch.testing.assert_close(x_back, x, atol=1e-6, rtol=0)
    torch.testing.assert_close(ld_back, -ld, atol=1e-6, rtol=0)
    keep = alternating_mask(5, parity).bool()
    torch.testing.assert_close(y[:, keep], x[:, keep])  # the masked half passes unchanged


def test_coupling_jacobian_is_triangular_in_the_mask_order():
    mask = alternating_mask(4)
    layer = randomize(AffineCoupling(mask, hidden=8), scale=0.5)
    x = torch.randn(4, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: layer(v.unsqueeze(0))[0].squeeze(0), x)
    a, b = mask.bool(), ~mask.bool()
    torch.testing.assert_close(jac[a][:, a], torch.eye(2, dtype=torch.float64))  # y_a = x_a
    assert (jac[a][:, b] == 0).all()  # x_b does not reach y_a
    off = jac[b][:, b] - torch.diag(torch.diagonal(jac[b][:, b]))
    assert (off == 0).all()  # diagonal block diag(exp s)


@pytest.mark.parametrize("mask", [checkerboard_mask(4, 4, 1, channels=2), channel_mask(2, 4, 4)])
def test_conv_coupling_log_det_matches_autograd_and_inverts(mask):
    check_image_layer(randomize(AffineCoupling(mask, hidden=(8,)), scale=0.3), tuple(mask.shape))


def test_conditional_coupling_uses_context():
    layer = randomize(AffineCoupling(alternating_mask(3), hidden=8, context_features=2), scale=0.4)
    x, c = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    check_log_det(layer, x, context=c)
    y, _ = layer(x, context=c)
    torch.testing.assert_close(layer.inverse(y, context=c)[0], x)
    with pytest.raises(ValueError, match="pass context="):
        layer(x)


def test_masks_and_coupling_check_their_arguments():
    torch.testing.assert_close(checkerboard_mask(2, 3), torch.tensor([[[1.0, 0, 1], [0, 1, 0]]]))
    torch.testing.assert_close(channel_mask(4)[:, 0, 0], torch.tensor([1.0, 1, 0, 0]))
    with pytest.raises(ValueError, match="channels must be an even int >= 2 to split into halves, got 3"):
        channel_mask(3)
    with pytest.raises(ValueError, match="dim must be an int >= 2"):
        alternating_mask(1)
    with pytest.raises(ValueError, match="both present"):
        AffineCoupling(torch.ones(3))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 4\)"):
        AffineCoupling(alternating_mask(4))(torch.zeros(2, 3))


# --- Glow ----------------------------------------------------------------------------------

def test_actnorm_data_dependent_init_normalizes_the_first_batch():
    torch.manual_seed(0)
    x = 3.0 + 2.0 * torch.randn(64, 3, 5, 5, dtype=torch.float64)
    layer = ActNorm(3).double()
    y, _ = layer(x)
    torch.testing.assert_close(y.mean((0, 2, 3)), torch.zeros(3, dtype=torch.float64), atol=1e-8, rtol=0)
    torch.testing.assert_close(y.std((0, 2, 3)), torch.ones(3, dtype=torch.float64), atol=1e-5, rtol=0)
    bias = layer.bias.clone()
    layer(x + 10)  # initialized once only
    torch.testing.assert_close(layer.bias, bias)


@pytest.mark.parametrize("shape", [(3, 2, 2), (4,)])
def test_actnorm_log_det_matches_autograd_and_inverts(shape):
    layer = randomize(ActNorm(shape[0]))
    layer.initialized.fill_(True)
    check_image_layer(layer, shape)


@pytest.mark.parametrize("lu", [False, True])
@pytest.mark.parametrize("shape", [(4, 3, 3), (3,)])
def test_invconv_log_det_matches_autograd_and_inverts(lu, shape):
    torch.manual_seed(3)
    layer = InvConv1x1(shape[0], lu=lu).double()
    with torch.no_grad():  # move away from the initial rotation (|det| = 1) to random parameters
        for p in layer.parameters():
            p.add_(0.3 * torch.randn_like(p))
    assert abs(float(layer.log_abs_det().detach())) > 1e-3
    check_image_layer(layer, shape)


def test_invconv_lu_and_dense_agree_on_the_same_matrix():
    torch.manual_seed(0)
    lu = InvConv1x1(5, lu=True).double()
    dense = InvConv1x1(5, lu=False).double()
    with torch.no_grad():
        lu.log_s.add_(torch.randn(5, dtype=torch.float64))
        dense.weight.copy_(lu.matrix())
    torch.testing.assert_close(lu.log_abs_det(), dense.log_abs_det())


def test_squeeze_moves_each_2x2_patch_into_channels_and_inverts():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float64).reshape(2, 1, 4, 4)
    y, ld = Squeeze()(x)
    assert y.shape == (2, 4, 2, 2)
    torch.testing.assert_close(y[0, :, 0, 0], torch.tensor([0.0, 1, 4, 5], dtype=torch.float64))
    torch.testing.assert_close(Squeeze().inverse(y)[0], x)
    assert (ld == 0).all()
    with pytest.raises(ValueError, match="even height and width, got 3x4"):
        Squeeze()(torch.zeros(1, 1, 3, 4))


def test_multiscale_log_det_matches_autograd_and_inverts():
    inner = [AffineCoupling(checkerboard_mask(2, 2, 0, channels=2), hidden=(4,))]
    outer = [AffineCoupling(checkerboard_mask(4, 4, 0), hidden=(4,)), AffineCoupling(checkerboard_mask(4, 4, 1), hidden=(4,))]
    layer = randomize(MultiScale(outer, inner), scale=0.3)
    check_image_layer(layer, (1, 4, 4))
    with pytest.raises(ValueError, match="split needs an even number of channels, got 3"):
        MultiScale.split(torch.zeros(1, 3, 2, 2))


def test_squeezed_layers_see_four_times_the_channels_and_keep_the_log_det():
    steps = [InvConv1x1(4, lu=True), AffineCoupling(channel_mask(4, 2, 2, 0), hidden=(4,)),
             AffineCoupling(channel_mask(4, 2, 2, 1), hidden=(4,))]
    layer = randomize(Squeezed(steps), scale=0.3).double()
    check_image_layer(layer, (1, 4, 4))
    with pytest.raises(ValueError, match="even height and width, got 3x4"):
        layer(torch.zeros(1, 1, 3, 4, dtype=torch.float64))


# --- residual flows ------------------------------------------------------------------------

def residual_block(lipschitz=0.8, **kw):
    torch.manual_seed(2)
    block = ResidualFlowBlock(3, hidden=(16,), lipschitz=lipschitz, **kw).double()
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.randn_like(p))
    return block


def test_residual_branch_is_a_contraction_with_the_asked_lipschitz_constant():
    block = residual_block(0.8)
    x = torch.randn(200, 3, dtype=torch.float64)
    jac = torch.func.vmap(torch.func.jacrev(lambda v: block.g(v.unsqueeze(0)).squeeze(0)))(x)
    norms = torch.linalg.matrix_norm(jac, ord=2)
    assert norms.max() <= 0.8 + 1e-9
    assert norms.max() > 0.3  # and it is not trivially small


def test_residual_exact_log_det_matches_autograd_and_fixed_point_inverse_converges():
    block = residual_block(0.8)
    x = torch.randn(5, 3, dtype=torch.float64)
    check_log_det(block, x)
    y, ld = block(x)
    x_back, ld_back = block.inverse(y)
    torch.testing.assert_close(x_back, x, atol=1e-6, rtol=0)  # tol 1e-8 on the step, c/(1-c) * 1e-8 on x
    torch.testing.assert_close(ld_back, -ld, atol=1e-6, rtol=0)
    errors = (block.inverse_iterates(y, 30) - x).norm(dim=2).max(1).values
    assert errors[30] < 0.8 ** 30 * errors[0] * 10  # linear convergence at rate <= Lip(g)


def test_series_estimator_converges_to_exact_log_det_as_terms_grow():
    block = residual_block(0.8)
    x = torch.randn(1, 3, dtype=torch.float64).repeat(20000, 1)  # one point, 20000 Hutchinson probes
    exact = block.estimate_log_det(x[:1], "exact")
    g = torch.Generator().manual_seed(0)
    bias = []
    for n in (1, 2, 20):
        est = block.estimate_log_det(x, "series", n_terms=n, generator=g)
        err = float(est.std().detach()) / math.sqrt(len(est))
        bias.append(abs(float((est.mean() - exact).detach())))
        if n == 20:
            assert bias[-1] < 4 * err + 0.8 ** 21 / (1 - 0.8) * 3
    assert bias[0] > bias[-1]


def test_roulette_estimator_is_unbiased():
    block = residual_block(0.8, n_exact_terms=1, roulette_p=0.5)
    x = torch.randn(1, 3, dtype=torch.float64).repeat(200, 1)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        exact = block.estimate_log_det(x[:1], "exact").item()
        draws = torch.cat([block.estimate_log_det(x, "roulette", generator=g) for _ in range(60)])
        truncated = block.estimate_log_det(x, "series", n_terms=1).mean().item()  # 1 term: visibly biased
    # one N per call: the calls are the independent units; the probes within a call average first
    per_call = draws.reshape(60, 200).mean(1)
    err = per_call.std().item() / math.sqrt(60)
    assert abs(per_call.mean().item() - exact) < 4 * err
    assert abs(truncated - exact) > 4 * err


def test_residual_block_checks_its_arguments():
    with pytest.raises(ValueError, match=r"lipschitz must be in \(0, 1\) for the residual block to be invertible"):
        ResidualFlowBlock(2, lipschitz=1.0)
    with pytest.raises(ValueError, match="log_det must be one of"):
        ResidualFlowBlock(2, log_det="neumann")


def test_power_series_log_det_on_a_linear_map_matches_log_det():
    a = 0.3 * torch.randn(3, 3, dtype=torch.float64)
    a = 0.7 * a / torch.linalg.matrix_norm(a, ord=2)
    exact = torch.linalg.slogdet(torch.eye(3, dtype=torch.float64) + a)[1]
    x = torch.zeros(50000, 3, dtype=torch.float64)
    est = power_series_log_det(lambda v: v @ a.T, x, 40, generator=torch.Generator().manual_seed(1))
    assert abs(float(est.mean() - exact)) < 4 * float(est.std()) / math.sqrt(len(est))


# --- dequantization, logit, bits/dim --------------------------------------------------------

def test_dequantize_stays_in_the_pixel_cube_and_rounds_back():
    x = torch.randint(0, 256, (4, 1, 3, 3)).double() / 255
    y, ld = Dequantize()(x)
    k = torch.round(x * 255)
    assert ((y >= k / 256) & (y < (k + 1) / 256)).all()
    torch.testing.assert_close(ld, torch.full((4,), -9 * math.log(256), dtype=torch.float64))
    torch.testing.assert_close(Dequantize().inverse(y)[0], x)
    with pytest.raises(ValueError, match=r"x must lie in \[0, 1\], got values in .*grey levels"):
        Dequantize()(x + 2)


def test_logit_log_det_matches_autograd_and_inverts():
    layer = Logit(0.05)
    x = torch.rand(4, 5, dtype=torch.float64)
    x[0, 0], x[1, 1] = 0.0, 1.0  # the end points stay finite
    check_log_det(layer, x)
    y, ld = layer(x)
    torch.testing.assert_close(layer.inverse(y)[0], x)
    torch.testing.assert_close(layer.inverse(y)[1], -ld)
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 0.5\)"):
        Logit(0.5)


def test_uniform_density_on_the_cube_gives_8_bits_per_dim():
    # p(y) = 1 on [0,1]^D: log P(k) = -D log 256, i.e. exactly 8 bits per dimension
    flow = Flow(StandardNormal((1, 2, 2)), [Dequantize()])
    x = torch.rand(3, 1, 2, 2)
    _, ld = flow(x)
    torch.testing.assert_close(bits_per_dim(ld, 4), torch.full((3,), 8.0))


def test_actnorm_compiles_whole_and_keeps_its_initialization_through_a_state_dict():
    """torch.compile(fullgraph=True) raises on a graph break: the initialization check must not read a tensor."""
    torch.manual_seed(0)
    x = 3 + 2 * torch.randn(16, 3, 4, 4)
    layer = ActNorm(3).train()
    y_eager, log_det_eager = layer(x)                       # initializes
    copy = ActNorm(3).train()
    copy.load_state_dict(layer.state_dict())
    compiled = torch.compile(copy, fullgraph=True, dynamic=False)
    y, log_det = compiled(x + 10)                           # initialized: no re-initialization on a shifted batch
    torch.testing.assert_close(y, y_eager + 10 * torch.exp(-layer.log_scale)[None, :, None, None])
    torch.testing.assert_close(log_det, log_det_eager)
    fresh = torch.compile(ActNorm(3).train(), fullgraph=True, dynamic=False)
    y_fresh, _ = fresh(x)                                   # uninitialized: compiled, it initializes on its batch
    torch.testing.assert_close(y_fresh.mean((0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
