"""The lecture explorers show what the math says, and bad input gives a message, not a traceback."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from dgmlib import widgets as W
from dgmlib.data import toy2d_modes
from dgmlib.flows.models import mnist_flow, realnvp_flow
from dgmlib.widgets.vae import _toy_linear_gaussian


def _scatter_x(ax, index):
    return ax.collections[index].get_offsets()[:, 0]


# ---------------------------------------------------------------------------------------------
# The machinery
# ---------------------------------------------------------------------------------------------
def test_knob_checks_range_type_and_whole_numbers():
    knob = W.Knob("theta", -1.0, 1.0, 0.0)
    assert knob.check(0.25) == 0.25
    with pytest.raises(ValueError, match=r"theta must be between -1 and 1, got 3"):
        knob.check(3.0)
    with pytest.raises(ValueError, match="theta must be a finite number, got nan"):
        knob.check(float("nan"))
    with pytest.raises(ValueError, match="theta must be a finite number, got True"):
        knob.check(True)
    with pytest.raises(ValueError, match="k must be a whole number, got 2.5"):
        W.Knob("k", 1, 10, 1, integer=True).check(2.5)


def test_out_of_range_typed_value_shows_a_message_and_keeps_the_figure():
    ex = W.parallel_lines_explorer()
    image, state = ex.image.value, ex.state
    ex.boxes["theta"].value = 3.0  # what a student types into the box
    assert "theta must be between -1 and 1, got 3" in ex.message.value
    assert "Not updated" in ex.message.value and ex.error
    assert ex.state is state and ex.image.value == image and ex.sliders["theta"].value == 0.5
    ex.boxes["theta"].value = -0.25  # a valid value moves the slider and clears the message
    assert ex.sliders["theta"].value == -0.25 and ex.error == ""
    assert ex.state["w"] == 0.25


def test_update_reports_unknown_knobs_and_state_errors_as_messages():
    ex = W.parallel_lines_explorer()
    assert ex.update(phi=1.0) is None and "unknown knob 'phi'" in ex.error

    def compute(x):
        raise ValueError("x is not allowed here")

    failing = W.Explorer([W.Knob("x", 0.0, 1.0, 0.5)], compute, lambda fig, s: None, str)
    assert failing.state is None and "x is not allowed here" in failing.message.value


# ---------------------------------------------------------------------------------------------
# 04 · parallel lines
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("theta", [-0.8, -0.05, 0.3, 1.0])
def test_parallel_lines_state_matches_the_closed_forms(theta):
    s = W.parallel_lines_state(theta)
    assert s["w"] == pytest.approx(abs(theta)) and s["jsd"] == pytest.approx(math.log(2)) and s["kl"] == math.inf
    assert s["grad_w"] == math.copysign(1.0, theta) and s["grad_jsd"] == 0.0 and math.isnan(s["grad_kl"])
    # the samples agree: x-coordinates 0 and theta, W of the x-coordinates exactly |theta|
    assert np.allclose(s["x_pi"][:, 0], 0.0) and np.allclose(s["x_p"][:, 0], theta)
    assert s["w_sample"] == pytest.approx(abs(theta), abs=1e-6)
    assert s["jsd_sample"] == pytest.approx(math.log(2), abs=1e-6) and s["kl_sample"] == math.inf


def test_parallel_lines_state_at_zero_is_all_zero():
    s = W.parallel_lines_state(0.0)
    assert s["kl"] == s["jsd"] == s["w"] == s["grad_w"] == 0.0
    assert s["kl_sample"] == pytest.approx(0.0, abs=1e-9) and s["jsd_sample"] == pytest.approx(0.0, abs=1e-9)


def test_parallel_lines_slider_moves_the_segment_and_the_markers():
    ex = W.parallel_lines_explorer()
    before = ex.image.value
    ex.sliders["theta"].value = -0.4
    segments, divergences, gradients = ex.figure.axes
    assert np.allclose(_scatter_x(segments, 1), -0.4)  # the model's segment sits at x = theta
    markers = {tuple(line.get_color()): line.get_ydata()[0] for line in divergences.lines if len(line.get_xdata()) == 1}
    assert sorted(markers.values()) == pytest.approx(sorted([2.0, math.log(2), 0.4]))  # KL capped, JSD, W
    grad_markers = [line.get_ydata()[0] for line in gradients.lines if len(line.get_xdata()) == 1]
    assert grad_markers == [0.0, -1.0]
    assert ex.image.value != before
    assert "W = 0.4000" in ex.message.value and "JSD = 0.6931" in ex.message.value


# ---------------------------------------------------------------------------------------------
# 03 · the optimal discriminator
# ---------------------------------------------------------------------------------------------
def test_gan_optimum_when_the_generator_matches_the_data():
    s = W.gan_optimum_state(0.0, 3.0, 0.5)
    assert np.allclose(s["d_star"], 0.5)
    assert s["value"] == pytest.approx(-math.log(4), abs=1e-6) and s["jsd"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("center,gap,std", [(1.0, 1.0, 1.0), (-2.0, 0.0, 0.3), (0.5, 4.0, 0.8)])
def test_gan_value_at_d_star_is_minus_log4_plus_twice_jsd(center, gap, std):
    s = W.gan_optimum_state(center, gap, std)
    x = np.linspace(-8, 8, 4001)
    pi = 0.5 * stats.norm.pdf(x, -1.5, 0.5) + 0.5 * stats.norm.pdf(x, 1.5, 0.5)
    p = 0.5 * stats.norm.pdf(x, center - gap / 2, std) + 0.5 * stats.norm.pdf(x, center + gap / 2, std)
    assert np.allclose(s["pi"], pi) and np.allclose(s["p"], p)
    m = (pi + p) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        js = 0.5 * integrate.trapezoid(np.where(pi > 0, pi * np.log(pi / m), 0), x) + \
             0.5 * integrate.trapezoid(np.where(p > 0, p * np.log(p / m), 0), x)
    assert s["jsd"] == pytest.approx(js, abs=1e-5)
    assert s["value"] == pytest.approx(-math.log(4) + 2 * js, abs=1e-4)
    i = 2000  # x = 0
    assert s["d_star"][i] == pytest.approx(pi[i] / (pi[i] + p[i]))


def test_gan_explorer_redraws_the_generator_density():
    ex = W.gan_optimum_explorer()
    ex.sliders["center"].value = 0.0
    ex.sliders["gap"].value = 3.0
    ex.sliders["std"].value = 0.5
    density_ax, d_ax = ex.figure.axes
    assert np.allclose(density_ax.lines[0].get_ydata(), ex.state["pi"])  # p now equals pi
    assert np.allclose(d_ax.lines[0].get_ydata(), 0.5)
    assert "V(G, D*) = -1.3863" in ex.message.value
    ex.boxes["std"].value = 0.0
    assert "std must be between 0.1 and 2" in ex.message.value


# ---------------------------------------------------------------------------------------------
# 01 · beta and latent traversals
# ---------------------------------------------------------------------------------------------
def _beta_objective(m, S, beta, W_, b, sigma, x):
    D, d = W_.shape
    r = x - W_ @ m - b
    recon = -0.5 * D * math.log(2 * math.pi * sigma**2) - (r @ r + np.trace(W_.T @ W_ @ S)) / (2 * sigma**2)
    kl = 0.5 * (np.trace(S) + m @ m - d - np.linalg.slogdet(S)[1])
    return recon - beta * kl


def _toy():
    model, x = _toy_linear_gaussian()
    return model.W.numpy(), model.b.numpy(), model.sigma, x.numpy()


def test_beta_one_gives_the_exact_posterior_and_elbo_equal_to_log_px():
    s = W.beta_posterior_state(1.0)
    W_, b, sigma, x = _toy()
    cov = np.linalg.inv(np.eye(2) + W_.T @ W_ / sigma**2)
    assert np.allclose(s["cov"], cov) and np.allclose(s["mean"], cov @ W_.T @ (x - b) / sigma**2)
    log_px = stats.multivariate_normal(b, W_ @ W_.T + sigma**2 * np.eye(4)).logpdf(x)
    assert s["log_px"] == pytest.approx(log_px) and s["elbo"] == pytest.approx(log_px)


@pytest.mark.parametrize("beta", [0.05, 0.5, 4.0, 50.0])
def test_beta_posterior_is_the_maximizer_of_the_beta_objective(beta):
    s = W.beta_posterior_state(beta)
    W_, b, sigma, x = _toy()
    best = _beta_objective(s["mean"], s["cov"], beta, W_, b, sigma, x)
    assert best == pytest.approx(s["objective"])
    rng = np.random.default_rng(0)
    for _ in range(50):
        dm, L = 0.05 * rng.standard_normal(2), 0.05 * rng.standard_normal((2, 2))
        S = s["cov"] + L @ L.T
        assert _beta_objective(s["mean"] + dm, S, beta, W_, b, sigma, x) < best


@pytest.mark.parametrize("beta", [0.25, 0.5, 1.0, 2.0, 4.0, 16.0])
def test_every_beta_at_least_one_objective_is_a_lower_bound_on_log_px_and_beta_below_one_is_not(beta):
    """max_q E_q log p(x|z) - beta KL(q || p) against log p(x) from scipy: <= for beta >= 1, > for beta < 1."""
    s = W.beta_posterior_state(beta)
    W_, b, sigma, x = _toy()
    log_px = stats.multivariate_normal(b, W_ @ W_.T + sigma**2 * np.eye(4)).logpdf(x)
    best = _beta_objective(s["mean"], s["cov"], beta, W_, b, sigma, x)   # the maximum over q (test above)
    if beta > 1:
        assert best < log_px - 1e-3          # looser as beta grows
    elif beta == 1:
        assert best == pytest.approx(log_px, abs=1e-10)
    else:
        assert best > log_px + 1e-3          # no longer a bound: the objective overshoots log p(x)


def test_beta_slider_trades_kl_for_reconstruction():
    ex = W.beta_vae_explorer()
    kls, recons = [], []
    for beta in (0.1, 1.0, 10.0):
        ex.sliders["beta"].value = beta
        kls.append(ex.state["kl"])
        recons.append(ex.state["recon"])
        marker = ex.figure.axes[1].lines[1]
        assert marker.get_xdata()[0] == pytest.approx(ex.state["kl"])
    assert kls[0] > kls[1] > kls[2] and recons[0] > recons[1] > recons[2]
    ex.boxes["beta"].value = -1.0
    assert "beta must be between 0.01 and 100" in ex.message.value


def test_latent_traversal_decodes_the_moved_code():
    weight = torch.randn(3, 4 * 4)

    def decode(z):
        return torch.sigmoid(z @ weight)

    ex = W.latent_traversal_explorer(decode, latent_dim=3, image_shape=(4, 4))
    ex.sliders["dim"].value = 2
    ex.sliders["value"].value = 1.5
    z = torch.tensor([[0.0, 0.0, 1.5]])
    assert np.allclose(ex.state["image"], decode(z).reshape(4, 4).numpy(), atol=1e-6)
    assert np.allclose(ex.figure.axes[0].images[0].get_array(), decode(z).reshape(4, 4).numpy(), atol=1e-6)
    assert ex.state["strip_values"][0] == -3.0 and ex.state["strip_values"][-1] == 3.0
    ex.boxes["dim"].value = 7
    assert "dim must be between 0 and 2, got 7" in ex.message.value
    with pytest.raises(TypeError, match="decode must be a callable"):
        W.latent_traversal_state("not a function", 0, 1.0, 3)


# ---------------------------------------------------------------------------------------------
# 02 · F_k
# ---------------------------------------------------------------------------------------------
def test_importance_bound_with_the_exact_posterior_is_log_px_for_every_draw():
    s = W.importance_bound_state(5, q_shift=0.0, q_scale=1.0)
    log_px = stats.norm.logpdf(1.5, 0.0, math.sqrt(1 + 0.5**2))
    assert s["log_px"] == pytest.approx(log_px)
    assert np.allclose(s["estimates"], log_px, atol=1e-10) and s["elbo"] == pytest.approx(log_px)


@pytest.mark.parametrize("q_shift,q_scale,x,sigma", [(0.0, 1.0, 1.5, 0.5), (1.0, 0.7, 1.5, 0.5), (-0.4, 2.5, -0.3, 1.3)])
def test_importance_bound_elbo_is_the_closed_form(q_shift, q_scale, x, sigma):
    # E_q [log p(z) + log p(x|z)] + H(q), written out for q = N(m, s^2), p(z) = N(0, 1), p(x|z) = N(z, sigma^2)
    s = W.importance_bound_state(1, q_shift, q_scale, x=x, sigma=sigma)
    m, sd = s["q_mean"], s["q_std"]
    assert m == pytest.approx(x / (1 + sigma**2) + q_shift) and sd == pytest.approx(q_scale * sigma / math.sqrt(1 + sigma**2))
    elbo = (-0.5 * math.log(2 * math.pi) - (m**2 + sd**2) / 2 - 0.5 * math.log(2 * math.pi * sigma**2)
            - ((x - m) ** 2 + sd**2) / (2 * sigma**2) + 0.5 * math.log(2 * math.pi * math.e * sd**2))
    assert s["elbo"] == pytest.approx(elbo, abs=1e-12)


def test_importance_bound_grows_with_k_from_the_elbo_towards_log_px():
    means = [W.importance_bound_state(k, q_shift=1.0, q_scale=0.7, repeats=2000)["mean"] for k in (1, 10, 100)]
    s1 = W.importance_bound_state(1, q_shift=1.0, q_scale=0.7, repeats=20000)
    assert s1["mean"] == pytest.approx(s1["elbo"], abs=4 * s1["stderr"])  # F_1 is the ELBO, on average
    assert s1["elbo"] < means[0] + 0.1 and means[0] < means[1] < means[2] < s1["log_px"]
    ex = W.importance_bound_explorer()
    ex.sliders["k"].value = 50
    assert ex.figure.axes[1].patches and ex.state["k"] == 50
    ex.boxes["k"].value = 0
    assert "k must be between 1 and 500, got 0" in ex.message.value


# ---------------------------------------------------------------------------------------------
# 00 · binarization
# ---------------------------------------------------------------------------------------------
def test_binarization_state_counts_pixels_as_numpy_does():
    image = torch.rand(1, 6, 5, generator=torch.Generator().manual_seed(3))
    s = W.binarization_state(image, 0.3, seed=1)
    grey = image[0].numpy().astype(np.float64)
    assert s["share_on_threshold"] == pytest.approx((grey > 0.3).mean())
    assert np.array_equal(s["stochastic"], (np.random.default_rng(1).random(grey.shape) < grey).astype(float))
    with pytest.raises(ValueError, match=r"image must lie in \[0, 1\], got values in \[0.0\d*, 1.9\d*\]"):
        W.binarization_state(2 * image, 0.3)


def test_binarization_explorer_moves_through_digits():
    images = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    ex = W.binarization_explorer(images, labels=torch.tensor([4, 7, 1]))
    ex.sliders["index"].value = 1
    assert np.allclose(ex.figure.axes[0].images[0].get_array(), images[1, 0].numpy())
    assert ex.figure.axes[0].get_title() == "grey (label 7)"
    ex.sliders["threshold"].value = 0.0
    assert ex.state["share_on_threshold"] == pytest.approx(float((images[1] > 0).float().mean()))
    ex.boxes["index"].value = 99
    assert "index must be between 0 and 2, got 99" in ex.message.value


# ---------------------------------------------------------------------------------------------
# 06, 07 · flows
# ---------------------------------------------------------------------------------------------
def test_flow_state_pushes_through_the_last_layers():
    torch.manual_seed(0)
    flow = realnvp_flow(dim=2, n_layers=4, hidden=(8,)).eval()
    depth = len(flow.layers)
    zero = W.flow_state(flow, 0, 0.5, n=50)
    assert np.allclose(zero["h"], zero["z"]) and np.allclose(zero["z"], 0.5 * zero["eps"])
    full = W.flow_state(flow, depth, 0.5, n=50)
    with torch.no_grad():
        expected = flow.inverse(torch.from_numpy(full["z"]))[0].numpy()
    assert np.allclose(full["h"], expected, atol=1e-6)
    one = W.flow_state(flow, 1, 0.5, n=50)
    with torch.no_grad():
        expected = flow.layers[-1].inverse(torch.from_numpy(one["z"]))[0].numpy()
    assert np.allclose(one["h"], expected, atol=1e-6)
    with pytest.raises(ValueError, match=rf"n_layers must be a number in \[0, {depth}\], got {depth + 1}"):
        W.flow_state(flow, depth + 1, 1.0)


def test_flow_explorer_slider_changes_the_plotted_points():
    torch.manual_seed(0)
    flow = realnvp_flow(dim=2, n_layers=2, hidden=(8,)).eval()
    ex = W.flow_explorer(flow, n=100)
    ex.sliders["n_layers"].value = 0
    ex.sliders["temperature"].value = 0.5
    pushed = ex.figure.axes[1].collections[0].get_offsets()
    assert np.allclose(pushed, 0.5 * ex.state["eps"], atol=1e-6)
    ex.boxes["temperature"].value = 5.0
    assert "temperature must be between 0 and 1.5, got 5" in ex.message.value
    with pytest.raises(ValueError, match="2-D flow"):
        W.flow_explorer(mnist_flow(hidden=4, steps=1))


def test_image_flow_at_zero_temperature_gives_one_image():
    torch.manual_seed(0)
    flow = mnist_flow(hidden=4, steps=1).eval()
    cold = W.image_flow_state(flow, 0.0, n=4)
    assert cold["images"].shape == (4, 1, 28, 28) and np.allclose(cold["images"], cold["images"][:1])
    warm = W.image_flow_state(flow, 1.0, n=4)
    assert 0.0 <= warm["images"].min() and warm["images"].max() <= 1.0
    assert not np.allclose(warm["images"], warm["images"][:1])


# ---------------------------------------------------------------------------------------------
# 08 · rotation
# ---------------------------------------------------------------------------------------------
def test_rotation_zero_is_the_identity_and_ninety_swaps_the_factors():
    s0 = W.rotation_state(0.0, n=500)
    assert np.allclose(s0["fz"], s0["z"], atol=1e-6) and np.allclose(np.diag(s0["spearman"]), 1.0)
    independent = stats.spearmanr(s0["z"][:, 0], s0["z"][:, 1]).statistic  # sample noise only
    assert np.allclose(s0["spearman"][[0, 1], [1, 0]], independent) and abs(independent) < 0.1
    s90 = W.rotation_state(90.0, n=500)
    assert s90["spearman"][0, 1] == pytest.approx(-1.0) and s90["spearman"][1, 0] == pytest.approx(1.0)


def test_rotation_keeps_the_marginals_and_entangles():
    s = W.rotation_state(30.0, n=2000)
    assert (s["ks"] < 0.05).all()  # same marginals (KS distance at n = 2000)
    assert (np.abs(s["spearman"]) > 0.3).all()  # every output depends on every factor
    ex = W.rotation_explorer(n=300)
    ex.sliders["alpha"].value = 0.0
    assert np.allclose(ex.figure.axes[1].collections[0].get_offsets(), ex.state["z"], atol=1e-5)
    ex.boxes["alpha"].value = 400.0
    assert "alpha must be between -180 and 180, got 400" in ex.message.value


# ---------------------------------------------------------------------------------------------
# 05 · precision and recall
# ---------------------------------------------------------------------------------------------
def test_dropping_modes_costs_recall_and_noise_costs_precision():
    full = W.precision_recall_state(0, 0.0)
    dropped = W.precision_recall_state(4, 0.0)
    noisy = W.precision_recall_state(0, 0.5)
    assert full["precision"] > 0.9 and full["recall"] > 0.9
    assert dropped["recall"] == pytest.approx(0.5, abs=0.1) and dropped["precision"] > 0.9
    assert noisy["precision"] == pytest.approx(0.5, abs=0.1) and noisy["recall"] > 0.9
    with pytest.raises(ValueError, match=r"dropped must be a number in \[0, 7\], got 8"):
        W.precision_recall_state(8, 0.0)
    ex = W.precision_recall_explorer(n=300)
    ex.sliders["dropped"].value = 6
    assert np.allclose(ex.figure.axes[0].collections[1].get_offsets(), ex.state["fake"])
    centers, _ = toy2d_modes("8gaussians")
    nearest = np.linalg.norm(ex.state["fake"][:, None] - centers.numpy()[None], axis=2).argmin(1)
    assert set(nearest.tolist()) == {6, 7}  # two modes are kept, the six others dropped
    ex.boxes["off_manifold"].value = 1.5
    assert "off_manifold must be between 0 and 1, got 1.5" in ex.message.value


# ---------------------------------------------------------------------------------------------
# Bad arguments to the state functions: a message that names the argument
# ---------------------------------------------------------------------------------------------
def _small_flow():
    torch.manual_seed(0)
    return realnvp_flow(dim=2, n_layers=2, hidden=(8,)).eval()


@pytest.mark.parametrize("call,error,message", [
    (lambda: W.importance_bound_state(True), ValueError, "k must be a positive int, got True"),
    (lambda: W.importance_bound_state(2.0), ValueError, "k must be a positive int, got 2.0"),
    (lambda: W.importance_bound_state(3, q_scale=0.0), ValueError, "q_scale must be a positive number, got 0.0"),
    (lambda: W.importance_bound_state(3, repeats=1), ValueError, "repeats must be an int >= 2, got 1"),
    (lambda: W.beta_posterior_state(0.0), ValueError, "beta must be a positive number, got 0.0"),
    (lambda: W.beta_posterior_state(float("nan")), ValueError, "beta must be a positive number, got nan"),
    (lambda: W.beta_posterior_state(1.0, x=np.zeros(3)), ValueError, r"x must have shape \(4,\)"),
    (lambda: W.latent_traversal_state(torch.sigmoid, 1.5, 0.0, 3), ValueError, "dim must be an int >= 0, got 1.5"),
    (lambda: W.latent_traversal_state(torch.sigmoid, 3, 0.0, 3), ValueError, r"dim must be a number in \[0, 2\], got 3"),
    (lambda: W.gan_optimum_state(0.0, 1.0, 0.0), ValueError, "std must be a positive number, got 0.0"),
    (lambda: W.parallel_lines_state(float("nan")), ValueError, "theta must be a finite number, got nan"),
    (lambda: W.precision_recall_state(True, 0.0), ValueError, "dropped must be an int >= 0, got True"),
    (lambda: W.precision_recall_state(0, 1.5), ValueError, r"off_manifold must be a number in \[0, 1\], got 1.5"),
    (lambda: W.binarization_state(torch.rand(4, 4), 1.2), ValueError, r"threshold must be a number in \[0, 1\], got 1.2"),
    (lambda: W.flow_state(_small_flow(), 1, -0.1), ValueError, "temperature must be a non-negative number, got -0.1"),
    (lambda: W.flow_state(torch.nn.Linear(2, 2), 1, 1.0), TypeError, "flow must be a dgmlib.flows.Flow, got Linear"),
    (lambda: W.rotation_state(float("inf")), ValueError, "alpha_deg must be a finite number, got inf"),
])
def test_state_functions_refuse_bad_arguments_with_a_message(call, error, message):
    with pytest.raises(error, match=message):
        call()
