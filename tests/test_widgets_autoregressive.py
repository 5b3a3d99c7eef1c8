"""Lecture 09's explorer: the receptive field read off autograd, against the masks' geometry."""

import numpy as np
import pytest
import torch

from dgmlib.autoregressive import PixelCNN, dependency_mask
from dgmlib.widgets import receptive_field_explorer, receptive_field_image, receptive_field_state


@pytest.mark.parametrize("layers, row, col", [(0, 5, 5), (3, 10, 12), (6, 20, 3)])
def test_the_pixel_sees_only_earlier_pixels_and_its_window_is_the_masks_reach(layers, row, col):
    s = receptive_field_state(layers, row, col)
    assert s["seen_later"] == 0 and s["seen_count"] > 0
    reach = 3 + layers                                              # 7x7 type A, then one row/column per 3x3 block
    rows, cols = np.nonzero(s["seen"])
    assert rows.min() == max(0, row - reach) and cols.min() == max(0, col - reach)
    assert cols.max() == min(27, col + reach)
    assert s["blind_count"] == s["earlier_count"] - s["seen_count"]


def test_the_state_agrees_with_the_full_jacobian_of_dependency_mask():
    s = receptive_field_state(2, 6, 4, first_kernel=3, size=9)
    torch.manual_seed(0)
    net = PixelCNN(9, 9, channels=2, layers=2, first_kernel=3).double()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_().add_(0.1)
    D = dependency_mask(net.net, 9, 9)
    assert np.array_equal(D[6 * 9 + 4].view(9, 9).numpy().astype(bool), s["seen"])


def test_a_deeper_stack_sees_more_and_keeps_a_blind_spot():
    shallow, deep = receptive_field_state(1, 14, 14), receptive_field_state(8, 14, 14)
    assert deep["seen_count"] > shallow["seen_count"] and deep["blind_count"] > 0
    assert deep["blind"][13, 27] and not deep["seen"][13, 27]      # far right of the row above: beyond reach


def test_explorer_updates_and_refuses_bad_values():
    ex = receptive_field_explorer()
    assert ex.update(layers=0, row=0, col=3)["seen_count"] == 3     # row 0: only the 3 pixels to the left
    assert ex.update(row=40) is None and "row must be between 0 and 27" in ex.error
    with pytest.raises(ValueError, match="layers must be"):
        receptive_field_state(-1, 3, 3)
    with pytest.raises(ValueError, match="row must be"):
        receptive_field_state(1, 28, 3)


def test_the_picture_colours_each_pixel_by_its_role():
    s = receptive_field_state(2, 9, 9)
    picture = receptive_field_image(s)
    assert picture.shape == (28, 28, 3)
    assert np.allclose(picture[s["seen"]], (0.2, 0.4, 0.8)) and np.allclose(picture[s["blind"]], (0.95, 0.55, 0.2))
    assert np.allclose(picture[9, 9], (0.8, 0.1, 0.1)) and np.allclose(picture[9, 10], 1.0)
