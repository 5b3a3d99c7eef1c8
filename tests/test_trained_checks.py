"""Asserts that can fail: with training switched off, every ``trained-check`` cell must fail.

Each notebook that trains a model runs again at test size with ``DGMLIB_NO_TRAIN=1`` (every
optimizer step a no-op, see :func:`dgmlib.runtime.apply_training_switch`); each of its cells
tagged ``trained-check`` must then raise ``AssertionError``, which proves that the assert checks
what training achieved and not something an untrained model satisfies too. A notebook that
trains and has no tagged cell fails here as well.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from dgmlib import runtime
from dgmlib.course.trained_checks import TAG, untrained_run

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "lectures").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))
TRAINS = re.compile(r"\bfit\(|\btrain_gan\(|\.step\(\)|\btrain_\w+\(")


def _code(nb) -> str:
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def _trains(path: Path) -> bool:
    return bool(TRAINS.search(_code(json.loads(path.read_text()))))


TRAINING_NOTEBOOKS = [p for p in NOTEBOOKS if _trains(p)]


def test_the_notebooks_that_train_are_found():
    names = {p.name for p in TRAINING_NOTEBOOKS}
    assert {"01_vae_derivations.ipynb", "03_gan_optimality.ipynb", "07_flows_on_images.ipynb",
            "lab1_vae.ipynb"} <= names


@pytest.mark.parametrize("path", TRAINING_NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_notebook_that_trains_has_a_trained_check_cell(path):
    nb = json.loads(path.read_text())
    tagged = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and TAG in c["metadata"].get("tags", [])]
    assert tagged, f"{path.name} trains a model but no cell is tagged {TAG!r}"


@pytest.mark.parametrize("path", TRAINING_NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_trained_check_fails_when_training_is_off(path):
    report = untrained_run(path)
    not_failing = [(c.index, c.error, c.first_line) for c in report if not c.failed_as_it_should]
    assert report and not not_failing, (
        f"{path.name}: these trained-check cells did not fail with AssertionError on untrained models "
        f"(cell, error, first line): {not_failing}")


def test_the_switch_leaves_weights_untouched_and_restores_training(monkeypatch):
    net = torch.nn.Linear(3, 1)
    before = net.weight.detach().clone()
    opt = torch.optim.AdamW(net.parameters(), lr=0.1, weight_decay=0.1)

    def one_step():
        opt.zero_grad()
        net(torch.ones(4, 3)).sum().backward()
        opt.step()

    monkeypatch.setenv("DGMLIB_NO_TRAIN", "1")
    assert runtime.apply_training_switch()
    try:
        one_step()
        assert torch.equal(net.weight, before)          # no update and no weight decay
    finally:
        monkeypatch.delenv("DGMLIB_NO_TRAIN")
        assert not runtime.apply_training_switch()
    one_step()
    assert not torch.equal(net.weight, before)


def test_the_switch_refuses_a_value_it_does_not_understand(monkeypatch):
    monkeypatch.setenv("DGMLIB_NO_TRAIN", "maybe")
    with pytest.raises(ValueError, match=r"DGMLIB_NO_TRAIN='maybe' is not understood"):
        runtime.training_disabled()
