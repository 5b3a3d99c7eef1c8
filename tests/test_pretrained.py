"""The shipped checkpoints: each loads, re-measures its manifest figures, and its recipe still runs."""

import pytest
import torch

from dgmlib import pretrained
from dgmlib.pretrained.__main__ import main as cli_main
from dgmlib.pretrained.__main__ import train

NAMES = sorted(pretrained.RECIPES)
FIELDS = {"command", "seed", "device", "threads", "torch", "train_seconds", "data", "fast", "figures", "dtype", "sha256"}


def test_every_recipe_has_a_shipped_checkpoint_and_a_full_manifest_entry():
    entries = pretrained.manifest()
    assert sorted(entries) == NAMES
    for name, entry in entries.items():
        assert FIELDS <= set(entry), f"{name}: missing {FIELDS - set(entry)}"
        assert entry["command"] == f"make checkpoints NAME={name}" and entry["fast"] is False
        assert (pretrained.WEIGHTS / f"{name}.pt").exists()
    total = sum(f.stat().st_size for f in pretrained.WEIGHTS.glob("*.pt"))
    assert total < 40e6  # all checkpoints together at most 40 MB


HIGHER_IS_BETTER = {"confident_share"}   # the curves' other figures (bits/dim, FID ratio) fall as a model learns


def test_a_manifest_curve_is_the_run_that_ended_at_the_manifest_figures():
    entries = pretrained.manifest()
    assert {"mnist_flow", "lab3_flow", "mnist_gan"} <= {name for name, entry in entries.items() if "curve" in entry}
    for name, entry in entries.items():
        curve = entry.get("curve")
        if curve is None:
            continue
        epochs = curve.pop("epoch")
        assert epochs[0] == 0 and all(a < b for a, b in zip(epochs, epochs[1:])), name
        for key, values in curve.items():
            assert len(values) == len(epochs), (name, key)
            assert values[-1] == pytest.approx(entry["figures"][key], abs=1e-5), (name, key)   # the last point is the end
            learned = values[-1] > values[0] if key in HIGHER_IS_BETTER else values[-1] < values[0]
            assert learned, (name, key)


@pytest.mark.parametrize("name", NAMES)
def test_shipped_checkpoint_reaches_its_manifest_figures(name):
    """A checkpoint that no longer matches its code (architecture, data, measurement) fails here."""
    import hashlib

    entry = pretrained.manifest()[name]
    assert hashlib.sha256((pretrained.WEIGHTS / f"{name}.pt").read_bytes()).hexdigest() == entry["sha256"]
    model = pretrained.load(name, "cpu")
    assert not model.training
    figures = pretrained.RECIPES[name].measure(model)
    for key, value in entry["figures"].items():
        assert figures[key] == pytest.approx(value, rel=pretrained.RECIPES[name].tolerance), key


@pytest.mark.parametrize("name", NAMES)
def test_recipe_runs_at_test_size_and_what_it_writes_loads(name, tmp_path):
    entry = train(name, fast=True, out=tmp_path, measure=False)   # the shipped figures are re-measured above
    assert entry["fast"] is True and entry["threads"] == pretrained.RECIPES[name].threads
    assert pretrained.manifest(tmp_path)[name]["figures"] == entry["figures"]
    model = pretrained.load(name, "cpu", folder=tmp_path)
    shipped = pretrained.load(name, "cpu")
    assert [k for k in model.state_dict()] == [k for k in shipped.state_dict()]
    for written in (tmp_path / f"{name}.pt", tmp_path / "manifest.json"):   # readable by the grader's sandboxes
        assert written.stat().st_mode & 0o777 == 0o644, written.name


def test_the_featurenet_recipe_repeats_bit_for_bit(tmp_path):
    """Same seed, same thread count: the same weights, so `make checkpoints` reproduces the file."""
    a = train("featurenet", fast=True, out=tmp_path / "a")
    train("featurenet", fast=True, out=tmp_path / "b")
    assert set(a["figures"]) == {"test_accuracy", "test_confident_share"}   # the fast run measures, by default
    assert pretrained.manifest(tmp_path / "a")["featurenet"]["sha256"] == \
        pretrained.manifest(tmp_path / "b")["featurenet"]["sha256"]


def test_load_and_the_command_line_explain_bad_names(tmp_path, capsys):
    names = (r"\('dsprites_grid', 'featurenet', 'lab1_vae', 'lab3_flow', 'mnist_flow', 'mnist_gan', "
             r"'mnist_pixelcnn', 'mnist_pixelvae', 'mnist_progan', 'mnist_style_biggan', 'mnist_vae'\)")
    with pytest.raises(ValueError, match=rf"name must be one of {names}, got 'mnist_gann'"):
        pretrained.load("mnist_gann")
    with pytest.raises(FileNotFoundError, match="make checkpoints NAME=featurenet"):
        pretrained.load("featurenet", folder=tmp_path)
    with pytest.raises(SystemExit):
        cli_main(["train", "nope"])
    assert "unknown checkpoint nope" in capsys.readouterr().err


def test_feature_net_is_the_shipped_checkpoint_unless_retrained(monkeypatch):
    from dgmlib.data import load_mnist
    from dgmlib.metrics import embed, feature_net

    net = feature_net("cpu")
    shipped = pretrained.load("featurenet", "cpu")
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), shipped.state_dict().values()))
    x, y = load_mnist("test")
    assert (embed(net, x)["probs"].argmax(1) == y).float().mean() > 0.97
    monkeypatch.setenv("DGMLIB_FAST", "1")
    state = torch.get_rng_state()
    fresh = feature_net("cpu", retrain=True, progress=False)  # one epoch now: a usable, if rough, classifier
    assert torch.equal(torch.get_rng_state(), state)  # training does not disturb the caller's random stream
    assert (embed(fresh, x)["probs"].argmax(1) == y).float().mean() > 0.8


def test_describe_says_where_a_checkpoint_came_from():
    line = pretrained.describe("featurenet")
    entry = pretrained.manifest()["featurenet"]
    assert line.startswith("featurenet: trained by `make checkpoints NAME=featurenet` in ")
    assert f"test_accuracy {entry['figures']['test_accuracy']:g}" in line and f"seed {entry['seed']}" in line


def test_load_or_train_loads_or_retrains_the_same_weights(tmp_path):
    """train=True runs exactly `make checkpoints NAME=...` at full length: the same weights, bit for bit.

    Compared with a run of the command on this machine: the shipped file is reproduced bit for bit
    only on a CPU with the same kernels (vector width) as the one that made it, so against it the
    test asserts the manifest figures instead.
    """
    shipped = pretrained.load_or_train("featurenet", train=False, device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(shipped.state_dict().values(),
                                                pretrained.load("featurenet", "cpu").state_dict().values()))
    threads = torch.get_num_threads()
    torch.set_num_threads(pretrained.RECIPES["featurenet"].threads)
    try:
        fresh = pretrained.load_or_train("featurenet", train=True, device="cpu")
    finally:
        torch.set_num_threads(threads)
    assert not fresh.training
    train("featurenet", out=tmp_path, measure=False)
    made = pretrained.load("featurenet", "cpu", folder=tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), made.state_dict().values()))
    figures = pretrained.RECIPES["featurenet"].measure(fresh)
    for key, value in pretrained.manifest()["featurenet"]["figures"].items():
        assert figures[key] == pytest.approx(value, abs=0.02), key
    with pytest.raises(TypeError, match="train must be"):
        pretrained.load_or_train("featurenet", train="yes")
