"""dgmlib.flows, part 4: Compose as a VI posterior's flow (leading dimensions, context), and bad input refused."""

import pytest
import torch
from torch import nn

from dgmlib.flows import (
    MADE, ActNorm, AffineCoupling, Compose, Dequantize, Flow, InvConv1x1, Logit, MaskedAutoregressive, Planar,
    ResidualFlowBlock, Reverse, StandardNormal, alternating_mask, bits_per_dim, checkerboard_mask, mnist_flow,
    power_series_log_det,
)
from test_flows import randomize


def posterior_flow():
    """Two conditional autoregressive steps and a permutation: the shape of a VAE's IAF posterior."""
    layers = [MaskedAutoregressive(3, hidden=(8,), context_features=2), Reverse(),
              MaskedAutoregressive(3, hidden=(8,), direction="iaf", context_features=2), Planar(3)]
    return randomize(Compose(layers), 0.4)


# --- Compose for variational inference --------------------------------------------------------

def test_compose_on_k_samples_per_row_equals_one_call_per_sample_index():
    flows = posterior_flow()
    z0, h = torch.randn(5, 4, 3, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)  # k = 5, B = 4
    z, log_det = flows(z0, context=h)
    assert z.shape == (5, 4, 3) and log_det.shape == (5, 4)
    for i in range(5):  # the context of row b goes with every one of its k samples
        z_i, ld_i = flows(z0[i], context=h)
        torch.testing.assert_close(z[i], z_i)
        torch.testing.assert_close(log_det[i], ld_i)
    torch.testing.assert_close(flows(z0, context=h.expand(5, 4, 2))[1], log_det)  # a full (k, B, C) context too


def test_compose_inverse_undoes_forward_on_leading_dimensions():
    flows = Compose(posterior_flow().layers[:3])  # Planar has no inverse
    z0, h = torch.randn(2, 3, 3, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    z, log_det = flows(z0, context=h)
    z_back, ld_back = flows.inverse(z, context=h)
    torch.testing.assert_close(z_back, z0, atol=1e-6, rtol=0)
    torch.testing.assert_close(ld_back, -log_det, atol=1e-6, rtol=0)


def test_compose_on_a_single_vector_and_with_no_layers():
    flows = posterior_flow()
    z0, h = torch.randn(3, dtype=torch.float64), torch.randn(2, dtype=torch.float64)
    z, log_det = flows(z0, context=h)
    assert z.shape == (3,) and log_det.shape == ()
    torch.testing.assert_close(log_det, flows(z0[None], context=h[None])[1][0])
    y, ld = Compose([])(torch.randn(2, 5, 3))
    assert y.shape == (2, 5, 3) and (ld == 0).all() and ld.shape == (2, 5)


def test_compose_context_reaches_the_conditional_layers_with_gradients():
    flows = posterior_flow()
    h = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    _, log_det = flows(torch.randn(6, 4, 3, dtype=torch.float64), context=h)
    log_det.sum().backward()
    assert h.grad is not None and h.grad.abs().sum() > 0


def test_compose_gives_context_only_to_layers_built_for_it():
    plain = MaskedAutoregressive(3, hidden=(8,))  # no context_features: not conditional
    assert not plain.conditional and MaskedAutoregressive(3, context_features=2).conditional
    x = torch.randn(4, 3)
    torch.testing.assert_close(Compose([plain])(x, context=torch.randn(4, 2))[0], plain(x)[0])


def test_compose_refuses_a_context_that_does_not_broadcast():
    with pytest.raises(ValueError, match=r"context must have shape \(\.\.\., C\) .* batch shape \(5, 4\), got \(3, 2\)"):
        posterior_flow()(torch.randn(5, 4, 3, dtype=torch.float64), context=torch.randn(3, 2, dtype=torch.float64))


def test_compose_accepts_forward_only_layers_and_names_them_on_inverse():
    class Shift(nn.Module):  # a posterior step with no inverse
        def forward(self, z):
            return z + 1, z.new_zeros(z.shape[0])

    flows = Compose([Reverse(), Shift()])
    torch.testing.assert_close(flows(torch.zeros(2, 3))[0], torch.ones(2, 3))
    with pytest.raises(NotImplementedError, match=r"layers\[1\] \(Shift\) has no inverse"):
        flows.inverse(torch.zeros(2, 3))


def test_compose_refuses_a_layer_that_does_not_return_output_and_log_det():
    with pytest.raises(TypeError, match=r"layers\[0\] \(Linear\) must return \(output, log_det\), got Tensor"):
        Compose([nn.Linear(3, 3)])(torch.zeros(2, 3))  # a (2, 3) tensor would unpack silently into two rows
    with pytest.raises(TypeError, match=r"layers\[1\] must be a flow layer"):
        Compose([Reverse(), lambda x: x])
    with pytest.raises(ValueError, match="event_ndim must be a positive int"):
        Compose([], event_ndim=0)


# --- bad input refused ------------------------------------------------------------------------

def test_actnorm_refuses_data_dependent_init_on_one_sample():
    layer = ActNorm(3)  # training mode: the first call initializes
    with pytest.raises(ValueError, match=r"data-dependent initialization needs >= 2 samples per channel.*\(1, 3\)"):
        layer(torch.randn(1, 3))
    assert not bool(layer.initialized)  # nothing half-done: the next good batch initializes it
    y, log_det = layer(torch.tensor([[0.0, 1.0, 2.0], [2.0, 3.0, 6.0]]))
    assert torch.isfinite(layer.log_scale).all() and torch.isfinite(log_det).all()
    torch.testing.assert_close(y.mean(0), torch.zeros(3), atol=1e-6, rtol=0)


def test_actnorm_initializes_on_one_image_from_its_pixels():
    layer = ActNorm(2)
    x = 1.0 + 3.0 * torch.randn(1, 2, 8, 8)
    y, log_det = layer(x)  # 64 values per channel: a fine estimate
    assert torch.isfinite(log_det).all()
    torch.testing.assert_close(y.std((0, 2, 3)), torch.ones(2), atol=1e-4, rtol=0)


def test_actnorm_after_init_takes_any_batch_size():
    layer = ActNorm(3)
    layer(torch.randn(16, 3))
    y, log_det = layer(torch.randn(1, 3))
    assert y.shape == (1, 3) and torch.isfinite(log_det).all()


@pytest.mark.parametrize("bad, shown", [(1.2, r"\[0, 1.2\]"), (-0.1, r"\[-0.1, 0.5\]"), (float("nan"), "NaN")])
def test_logit_refuses_x_outside_the_unit_interval_and_nan(bad, shown):
    x = torch.tensor([[0.0, 0.5, bad]])
    with pytest.raises(ValueError, match=rf"x must lie in \[0, 1\], got (values in )?{shown}.*dequantize first"):
        Logit(0.05)(x)


def test_dequantize_refuses_nan_and_other_input():
    with pytest.raises(ValueError, match=r"x must lie in \[0, 1\], got NaN values"):
        Dequantize()(torch.tensor([[0.5, float("nan")]]))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        Dequantize()([[0.5]])
    with pytest.raises(ValueError, match="num_levels must be an int >= 2, got 1"):
        Dequantize(1)


def test_a_flow_whose_logit_sees_bad_pixels_refuses_them():
    flow = Flow(StandardNormal(3), [Logit(0.05)])
    with pytest.raises(ValueError, match=r"x must lie in \[0, 1\]"):
        flow.log_prob(torch.tensor([[0.1, 0.2, 2.0]]))


# --- argument checks through dgmlib.checks -------------------------------------------------------

@pytest.mark.parametrize("build, error, message", [
    (lambda: StandardNormal(()), ValueError, "event_shape must be a positive int or a non-empty sequence"),
    (lambda: StandardNormal((2, 0)), ValueError, "event_shape must be a positive int, got 0"),
    (lambda: StandardNormal(2.5), TypeError, "event_shape must be a positive int or a sequence of them"),
    (lambda: StandardNormal(2).sample(2, temperature=True), ValueError, "temperature must be a positive number"),
    (lambda: bits_per_dim(torch.zeros(1), True), ValueError, "num_dims must be a positive int, got True"),
    (lambda: Planar(True), ValueError, "dim must be a positive int, got True"),
    (lambda: Planar(2, init_scale=-1.0), ValueError, "init_scale must be a non-negative number"),
    (lambda: MADE(3, params_per_dim=0), ValueError, "params_per_dim must be a positive int, got 0"),
    (lambda: MADE(3, hidden=()), ValueError, "hidden must be a positive int or a non-empty sequence"),
    (lambda: MADE(3, hidden=2.5), TypeError, "hidden must be a positive int or a sequence"),
    (lambda: MaskedAutoregressive(3, context_features=0), ValueError, "context_features must be a positive int, got 0"),
    (lambda: MaskedAutoregressive(3, max_log_scale=0), ValueError, "max_log_scale must be a positive number"),
    (lambda: AffineCoupling(alternating_mask(4), context_features=-1), ValueError, "context_features must be a positive int"),
    (lambda: alternating_mask(4, parity=2), ValueError, r"parity must be one of \(0, 1\), got 2"),
    (lambda: checkerboard_mask(0, 4), ValueError, "height must be a positive int, got 0"),
    (lambda: ActNorm(0), ValueError, "channels must be a positive int, got 0"),
    (lambda: InvConv1x1(3, lu=1), TypeError, "lu must be True or False, got 1"),
    (lambda: ResidualFlowBlock(2, roulette_p=1.0), ValueError, r"roulette_p must be a number in \(0, 1\)"),
    (lambda: ResidualFlowBlock(2, tol=0.0), ValueError, "tol must be a positive number"),
    (lambda: ResidualFlowBlock(2, lipschitz=float("nan")), ValueError, r"lipschitz must be in \(0, 1\)"),
    (lambda: ResidualFlowBlock(2).estimate_log_det(torch.zeros(1, 2), "neumann"), ValueError, "mode must be one of"),
    (lambda: power_series_log_det(lambda v: v, torch.zeros(1, 2), 0), ValueError, "n_terms must be a positive int"),
    (lambda: mnist_flow(steps=0), ValueError, "steps must be a positive int, got 0"),
    (lambda: mnist_flow(alpha=0.5), ValueError, r"alpha must be a number in \[0, 0.5\)"),
])
def test_constructors_and_calls_refuse_bad_arguments(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_layers_refuse_non_tensors_with_a_named_argument():
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        Planar(2)([[0.0, 0.0]])
    with pytest.raises(TypeError, match="y must be a torch.Tensor, got list"):
        MaskedAutoregressive(2).inverse([[0.0, 0.0]])
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got ndarray"):
        Flow(StandardNormal(2), [Reverse()]).log_prob(torch.zeros(1, 2).numpy())


def test_a_float64_batch_into_a_float32_flow_is_refused_with_the_dtypes():
    from dgmlib.flows import realnvp_flow

    flow = realnvp_flow(2, n_layers=2, hidden=(8,))
    with pytest.raises(TypeError, match=r"x has dtype torch.float64 but the flow computes in torch.float32"):
        flow.log_prob(torch.zeros(4, 2, dtype=torch.float64))
    flow = flow.double()  # a float32 batch into a float64 flow is promoted exactly
    assert flow.log_prob(torch.zeros(4, 2)).dtype == torch.float64


def test_iaf_step_without_context_is_not_conditional():
    from dgmlib.vae import IAFStep

    assert IAFStep(3).conditional is False and IAFStep(3, context_features=4).conditional is True
    z, log_det = IAFStep(3)(torch.randn(5, 3))
    assert z.shape == (5, 3) and log_det.shape == (5,)
