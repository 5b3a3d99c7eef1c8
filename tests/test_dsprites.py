import math

import pytest
import torch
from scipy.stats import chi2_contingency, chisquare

from dgmlib.data.dsprites import DSprites, dsprites

R0 = 0.12  # half-size of a shape at scale 1, in image widths (the documented convention)
SCALES = torch.linspace(0.5, 1.0, 6)


@pytest.fixture(scope="module")
def big():
    return dsprites(10_000, seed=0)


def factor_rows(**columns):
    """Broadcast keyword columns (ints or 1-d sequences) to a (B, 5) index tensor."""
    default = {"shape": 0, "scale": 5, "orientation": 0, "pos_x": 16, "pos_y": 16}
    columns = [torch.as_tensor(columns.get(name, default[name])) for name in DSprites.factor_names]
    return torch.stack(torch.broadcast_tensors(*columns), -1).reshape(-1, 5)


def centre_of_mass(images):
    """images (B, 1, S, S) -> (B, 2) mass-weighted mean of pixel centres (x, y) in [0, 1]."""
    size = images.shape[-1]
    centres = (torch.arange(size, dtype=torch.float64) + 0.5) / size
    mass = images.double().sum((1, 2, 3))
    com_x = (images.double().sum((1, 2)) * centres).sum(-1) / mass  # column profile
    com_y = (images.double().sum((1, 3)) * centres).sum(-1) / mass  # row profile
    return torch.stack([com_x, com_y], -1)


def test_dsprites_gives_n_binary_float32_images_and_int64_factors(big):
    assert len(big) == 10_000
    assert big.images.shape == (10_000, 1, 64, 64) and big.images.dtype == torch.float32
    assert big.factors.shape == (10_000, 5) and big.factors.dtype == torch.int64
    assert ((big.images == 0) | (big.images == 1)).all() and big.images.max() == 1
    assert (big.images.sum((1, 2, 3)) >= 10).all()  # smallest shape: ellipse at s = 0.5, ~23 pixels
    assert big.factor_names == ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert big.factor_sizes == (3, 6, 40, 32, 32)


def test_factors_are_in_range_uniform_and_independent(big):
    for j, (name, k) in enumerate(zip(big.factor_names, big.factor_sizes)):
        column = big.factors[:, j]
        assert column.min() == 0 and column.max() == k - 1, name
        p = chisquare(torch.bincount(column, minlength=k).numpy()).pvalue
        assert p > 1e-3, f"{name} marginal is not uniform (p={p:.2g})"
    table = torch.bincount(big.factors[:, 0] * 6 + big.factors[:, 1], minlength=18).view(3, 6)  # shape x scale
    assert chi2_contingency(table.numpy()).pvalue > 1e-3  # shape and scale independent


def test_every_shape_stays_inside_the_frame_at_the_extreme_positions():
    ds = DSprites(64)
    f = factor_rows(shape=torch.arange(3).view(3, 1, 1, 1), orientation=torch.arange(40).view(40, 1, 1),
                    pos_x=torch.tensor([0, 31]).view(2, 1), pos_y=torch.tensor([0, 31]))
    images = ds.images_from_factors(f)[:, 0]
    border = images[:, [0, -1], :].sum() + images[:, :, [0, -1]].sum()
    assert border == 0


def test_factor_values_map_indices_to_the_documented_grid():
    values = DSprites().factor_values(torch.tensor([[2, 0, 10, 31, 0], [1, 5, 39, 0, 15]]))
    expected = torch.tensor([[2.0, 0.5, math.pi / 2, 1.0, 0.0], [1.0, 1.0, 2 * math.pi * 39 / 40, 0.0, 15 / 31]])
    assert values.dtype == torch.float32
    assert torch.allclose(values, expected)


@pytest.mark.parametrize("size", [64, 32])
def test_centre_of_mass_follows_position_and_is_0_2_plus_0_6_pos(size):
    ds, pos, pixel = DSprites(size), torch.arange(32), 1 / size
    expected = 0.2 + 0.6 * pos.double() / 31
    for shape in range(3):
        com = centre_of_mass(ds.images_from_factors(factor_rows(shape=shape, orientation=3, pos_x=pos, pos_y=10)))
        assert (com[1:, 0] > com[:-1, 0]).all(), f"com_x not increasing with pos_x, shape {shape}"
        assert (com[:, 0] - expected).abs().max() < 0.5 * pixel  # pixelation moves it < 0.3 pixel
        assert com[:, 1].max() - com[:, 1].min() < 0.5 * pixel  # pos_x leaves com_y alone
        com = centre_of_mass(ds.images_from_factors(factor_rows(shape=shape, orientation=3, pos_x=10, pos_y=pos)))
        assert (com[1:, 1] > com[:-1, 1]).all(), f"com_y not increasing with pos_y, shape {shape}"
        assert (com[:, 1] - expected).abs().max() < 0.5 * pixel  # y grows downward, along rows
        assert com[:, 0].max() - com[:, 0].min() < 0.5 * pixel


def test_area_grows_strictly_and_quadratically_with_scale():
    ds = DSprites(64)
    for shape in range(3):
        f = factor_rows(shape=shape, scale=torch.arange(6).view(6, 1), pos_x=torch.arange(0, 32, 3))
        area = ds.images_from_factors(f).sum((1, 2, 3)).view(6, -1).mean(1)
        assert (area[1:] > area[:-1]).all(), f"shape {shape}: areas {area.tolist()}"
        assert area[-1] / area[0] == pytest.approx(4, rel=0.15)


@pytest.mark.parametrize("shape, analytic", [(0, lambda r: (2 * r) ** 2), (1, lambda r: math.pi * r * r / 2)])
def test_square_and_ellipse_areas_match_the_analytic_area(shape, analytic):
    ds = DSprites(64)
    # averaging over positions (sub-pixel offsets) and a few angles removes the pixelation bias
    angles = torch.tensor([0, 3, 7]).view(3, 1, 1)
    f = factor_rows(shape=shape, scale=torch.arange(6).view(6, 1, 1, 1), orientation=angles,
                    pos_x=torch.arange(32).view(32, 1), pos_y=torch.arange(0, 32, 4))
    area = ds.images_from_factors(f).sum((1, 2, 3)).view(6, -1).mean(1)
    for s, a in zip(SCALES.tolist(), area.tolist()):
        assert a == pytest.approx(analytic(s * R0 * 64), rel=0.02), f"scale {s}"


def test_orientation_has_the_symmetries_of_each_shape_and_is_visible():
    ds = DSprites(64)

    def image(shape, orientation):
        return ds.images_from_factors(factor_rows(shape=shape, orientation=orientation, pos_x=13, pos_y=20))[0, 0]

    def n_diff(a, b):
        return (a != b).sum().item()

    assert n_diff(image(0, 0), image(0, 10)) <= 4  # square: period pi/2
    assert n_diff(image(0, 0), image(0, 5)) > 50
    assert n_diff(image(1, 0), image(1, 20)) <= 4  # ellipse: period pi
    assert n_diff(image(1, 0), image(1, 10)) > 50
    heart_area = image(2, 0).sum().item()
    assert n_diff(image(2, 0), image(2, 20)) > 0.15 * heart_area  # heart: no rotational symmetry
    assert n_diff(image(2, 0), image(2, 10)) > 0.15 * heart_area


def test_heart_tip_points_down_at_orientation_0_and_up_after_pi():
    ds = DSprites(64)
    images = ds.images_from_factors(factor_rows(shape=2, orientation=torch.tensor([0, 20])))
    centre_row = centre_of_mass(images)[:, 1] * 64 - 0.5
    occupied = images[:, 0].amax(2)  # (2, S): 1 on rows the heart touches
    top, bottom = occupied.argmax(1), 63 - occupied.flip(1).argmax(1)
    below, above = bottom - centre_row, centre_row - top
    # the tip lies 0.995 body units from the centroid, the top of the lobes 0.725: ~2 pixels apart
    assert below[0] > above[0] + 1.5  # orientation 0: tip at the bottom (rows grow downward)
    assert above[1] > below[1] + 1.5  # orientation pi: tip at the top


def test_positive_orientation_turns_counter_clockwise_on_screen():
    ds = DSprites(64)
    images = ds.images_from_factors(factor_rows(shape=1, orientation=torch.tensor([5, 15])))
    centres = (torch.arange(64, dtype=torch.float64) + 0.5) / 64
    x, y_down = centres.view(1, 1, -1), centres.view(1, -1, 1)
    com = centre_of_mass(images)
    w = images[:, 0].double()
    cov = (w * (x - com[:, 0].view(-1, 1, 1)) * (y_down - com[:, 1].view(-1, 1, 1))).sum((1, 2))
    # at +45 degrees counter-clockwise the long axis runs lower-left to upper-right: x up, y_down down
    assert cov[0] < 0 < cov[1]


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = dsprites(200, size=32, seed=1), dsprites(200, size=32, seed=1), dsprites(200, size=32, seed=2)
    assert torch.equal(a.images, b.images) and torch.equal(a.factors, b.factors)
    assert not torch.equal(a.factors, c.factors)


def test_seed_none_follows_torch_manual_seed_and_int_seed_leaves_global_rng_alone():
    torch.manual_seed(123)
    a = dsprites(100, size=32)
    torch.manual_seed(123)
    b = dsprites(100, size=32)
    assert torch.equal(a.factors, b.factors) and torch.equal(a.images, b.images)
    state = torch.get_rng_state()
    dsprites(100, size=32, seed=5)
    assert torch.equal(state, torch.get_rng_state())


def test_images_from_factors_reproduces_the_sample_exactly(big):
    assert torch.equal(big.images_from_factors(big.factors), big.images)
    assert torch.equal(big.dataset.images_from_factors(big.factors[7]), big.images[7:8])  # (5,) -> batch of 1
    assert torch.equal(big.dataset.images_from_factors(big.factors[:50].int()), big.images[:50])


def test_sample_works_as_a_dataloader_dataset():
    data = dsprites(64, size=32, seed=0)
    image, factors = data[3]
    assert image.shape == (1, 32, 32) and torch.equal(factors, data.factors[3])
    images, factors = next(iter(torch.utils.data.DataLoader(data, batch_size=16)))
    assert images.shape == (16, 1, 32, 32) and torch.equal(factors, data.factors[:16])
    images, factors = DSprites(32).sample(5, generator=torch.Generator().manual_seed(0))
    assert images.shape == (5, 1, 32, 32) and factors.shape == (5, 5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_images_are_rendered_on_the_factors_device():
    factors = dsprites(50, size=32, seed=0)
    images = factors.images_from_factors(factors.factors.cuda())
    assert images.device.type == "cuda" and torch.equal(images.cpu(), factors.images)


@pytest.mark.parametrize(
    "factors, error, match",
    [
        (torch.zeros(4, 4, dtype=torch.long), ValueError, r"shape \(B, 5\) or \(5,\).*got \(4, 4\)"),
        (torch.zeros(2, 3, 5, dtype=torch.long), ValueError, r"got \(2, 3, 5\)"),
        (torch.tensor([[0, 0, 0, 32, 0]]), ValueError, r"factor 'pos_x' must be an index in \[0, 31\]"),
        (torch.tensor([[3, 0, 0, 0, 0]]), ValueError, r"factor 'shape' must be an index in \[0, 2\]"),
        (torch.tensor([[0, 0, -1, 0, 0]]), ValueError, r"factor 'orientation' must be an index in \[0, 39\]"),
        (torch.zeros(2, 5), TypeError, r"factors must be an integer tensor.*torch.float32"),
        (torch.zeros(2, 5, dtype=torch.bool), TypeError, r"integer tensor.*torch.bool"),
    ],
)
def test_bad_factors_raise_a_clear_error(factors, error, match):
    with pytest.raises(error, match=match):
        DSprites(32).images_from_factors(factors)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n": 0}, ValueError, r"n must be an int >= 1, got 0"),
        ({"n": -5}, ValueError, r"n must be an int >= 1, got -5"),
        ({"n": 2.0}, TypeError, r"n must be an int, got float"),
        ({"n": True}, TypeError, r"n must be an int, got bool"),
        ({"n": 4, "size": 8}, ValueError, r"size must be an int >= 16, got 8"),
        ({"n": 4, "size": 32.0}, TypeError, r"size must be an int, got float"),
        ({"n": 4, "seed": "0"}, TypeError, r"seed must be an int, got str"),
        ({"n": 4, "seed": -1}, ValueError, r"seed must be an int >= 0, got -1"),
    ],
)
def test_bad_arguments_raise_a_clear_error(kwargs, error, match):
    with pytest.raises(error, match=match):
        dsprites(**kwargs)


def test_bad_generator_raises_a_clear_error():
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator or None, got int"):
        DSprites().sample(3, generator=0)
