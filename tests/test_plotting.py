import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dgmlib.plotting import density_grid, plot_density_2d, plot_history, plot_samples_2d, show_images
from dgmlib.training import History

pytestmark = pytest.mark.usefixtures("close_figures")


def test_course_style_gives_opaque_white_figures():
    fig = plt.figure()
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0) and fig.get_facecolor()[3] == 1.0
    assert plt.rcParams["savefig.transparent"] is False


def test_show_images_lays_out_a_grid_with_make_grid():
    x = torch.zeros(10, 1, 28, 28)
    x[3] = 1.0
    ax = show_images(x, nrow=5)
    image = ax.get_images()[0].get_array()
    pad = 2
    assert image.shape == (2 * 28 + 3 * pad, 5 * 28 + 6 * pad)
    # image 3 is the 4th of the first row: its pixels are white, image 2's are black
    assert image[pad + 5, pad + 3 * (28 + pad) + 5] == 1.0
    assert image[pad + 5, pad + 2 * (28 + pad) + 5] == 0.0


def test_show_images_maps_value_range_and_accepts_flat_input():
    x = torch.full((4, 784), -1.0)
    ax = show_images(x, nrow=2, shape=(1, 28, 28), value_range=(-1, 1))
    image = ax.get_images()[0].get_array()
    assert image[5, 5] == 0.0  # -1 maps to black


def test_show_images_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"x must be images of shape \(B, C, H, W\)"):
        show_images(torch.zeros(4, 2, 8, 8))
    with pytest.raises(ValueError, match="nrow must be a positive int"):
        show_images(torch.zeros(4, 1, 8, 8), nrow=0)


def test_plot_history_groups_train_and_validation():
    h = History([{"epoch": e, "loss": 1.0 / e, "val_loss": 1.2 / e, "kl": 0.1 * e, "time": 0.5} for e in range(1, 6)])
    axes = plot_history(h)
    visible = [ax for ax in axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["loss", "kl"]
    lines = visible[0].get_lines()
    assert [l.get_label() for l in lines] == ["train", "validation"]
    assert np.allclose(lines[1].get_ydata(), [1.2 / e for e in range(1, 6)])
    assert list(lines[0].get_xdata()) == [1, 2, 3, 4, 5]


def test_plot_history_accepts_a_dict_and_reports_unknown_keys():
    axes = plot_history({"loss": [3, 2, 1]})
    assert list(axes[0].get_lines()[0].get_ydata()) == [3, 2, 1]
    with pytest.raises(KeyError, match="no numeric history for \\['elbo'\\]"):
        plot_history({"loss": [1.0]}, keys=["elbo"])


def test_plot_samples_2d_draws_each_set():
    ax = plot_samples_2d({"data": torch.randn(50, 2), "model": np.ones((30, 2))}, bounds=3)
    offsets = [c.get_offsets() for c in ax.collections]
    assert [len(o) for o in offsets] == [50, 30]
    assert ax.get_xlim() == (-3.0, 3.0)
    with pytest.raises(ValueError, match=r"samples must have shape \(N, 2\)"):
        plot_samples_2d(torch.zeros(5, 3))


def test_density_grid_of_a_gaussian_integrates_to_one():
    dist = torch.distributions.MultivariateNormal(torch.zeros(2), torch.eye(2) * 0.5)
    xs, ys, log_p = density_grid(dist.log_prob, bounds=5, resolution=300)
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    assert log_p.shape == (300, 300)
    assert (log_p.exp().sum() * dx * dy).item() == pytest.approx(1.0, abs=1e-3)
    # rows follow y: the log density at (x, y) sits at [row of y, column of x]
    i, j = 40, 250
    assert log_p[i, j].item() == pytest.approx(dist.log_prob(torch.stack([xs[j], ys[i]])).item(), abs=1e-5)


def test_density_grid_evaluates_on_the_modules_device():
    class Density(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mu = torch.nn.Parameter(torch.zeros(2))

        def log_prob(self, x):
            assert x.device == self.mu.device
            return -0.5 * ((x - self.mu) ** 2).sum(1) - math.log(2 * math.pi)

    _, _, log_p = density_grid(Density().log_prob, bounds=(-6, 6, -6, 6), resolution=200)
    assert log_p.device.type == "cpu"


def test_plot_density_2d_places_the_mode():
    ax = plot_density_2d(lambda x: -((x - torch.tensor([1.0, -2.0])) ** 2).sum(1) * 8, bounds=4, resolution=81)
    image = ax.get_images()[0]
    values = np.asarray(image.get_array())
    row, col = np.unravel_index(values.argmax(), values.shape)
    xmin, xmax, ymin, ymax = image.get_extent()
    cell = (xmax - xmin) / 81
    assert xmin + (col + 0.5) * cell == pytest.approx(1.0, abs=cell)
    assert ymin + (row + 0.5) * cell == pytest.approx(-2.0, abs=cell)  # origin="lower"


def test_density_grid_checks_its_arguments():
    with pytest.raises(ValueError, match="bounds must satisfy xmin < xmax"):
        density_grid(lambda x: x[:, 0], bounds=(1, 0, 0, 1))
    with pytest.raises(ValueError, match="one value per point"):
        density_grid(lambda x: x, bounds=1, resolution=4)
    with pytest.raises(TypeError, match="log_prob_fn must be callable"):
        density_grid(3)
