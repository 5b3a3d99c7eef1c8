import random

import numpy as np
import pytest
import torch

from dgmlib.runtime import budget, get_device, is_fast, seed_everything


def test_budget_returns_fast_value_under_dgmlib_fast(monkeypatch):
    monkeypatch.setenv("DGMLIB_FAST", "1")
    assert budget(full=30, fast=1) == 1
    assert is_fast()


@pytest.mark.parametrize("value", ["", "0", "false"])
def test_budget_returns_full_value_otherwise(monkeypatch, value):
    monkeypatch.setenv("DGMLIB_FAST", value)
    assert budget(full=30, fast=1) == 30
    monkeypatch.delenv("DGMLIB_FAST")
    assert budget(full=(64, 64), fast=(8, 8)) == (64, 64)


def test_budget_rejects_unknown_fast_value(monkeypatch):
    monkeypatch.setenv("DGMLIB_FAST", "maybe")
    with pytest.raises(ValueError, match=r"DGMLIB_FAST='maybe' is not understood"):
        budget(1, 2)


def test_test_run_sets_fast_mode():
    # conftest (and `make test`) put the whole suite, notebooks included, on the fast budget
    assert is_fast()


def test_get_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv("DGMLIB_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert get_device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert get_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device() == torch.device("cuda")


def test_dgmlib_device_overrides(monkeypatch):
    monkeypatch.setenv("DGMLIB_DEVICE", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device() == torch.device("cpu")


def test_dgmlib_device_cuda_without_cuda_says_so(monkeypatch):
    monkeypatch.setenv("DGMLIB_DEVICE", "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"DGMLIB_DEVICE='cuda' but CUDA is not available on this machine"):
        get_device()


def test_dgmlib_device_mps_without_mps_says_so(monkeypatch):
    monkeypatch.setenv("DGMLIB_DEVICE", "mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match="MPS"):
        get_device()


def test_dgmlib_device_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("DGMLIB_DEVICE", "gpu-please")
    with pytest.raises(ValueError, match=r"DGMLIB_DEVICE='gpu-please' is not a device torch knows"):
        get_device()


def test_seed_everything_repeats_python_numpy_and_torch_draws():
    def draws():
        return random.random(), np.random.rand(), torch.rand(3)

    assert seed_everything(123) == 123
    a = draws()
    seed_everything(123)
    b = draws()
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])
    seed_everything(124)
    assert not torch.equal(draws()[2], a[2])


@pytest.mark.parametrize("bad, err", [(1.5, TypeError), ("1", TypeError), (True, TypeError), (-1, ValueError)])
def test_seed_everything_rejects_bad_seed(bad, err):
    with pytest.raises(err, match="seed must be"):
        seed_everything(bad)


def test_module_device_follows_parameters_then_buffers():
    from torch import nn

    from dgmlib.runtime import module_device

    assert module_device(nn.Linear(2, 2)) == torch.device("cpu")
    meta = nn.Linear(2, 2, device="meta")  # a second device type, without a GPU
    assert module_device(meta) == torch.device("meta")
    holder = nn.Module()
    holder.register_buffer("scale", torch.ones(1, device="meta"))
    assert module_device(holder) == torch.device("meta")
    assert module_device(nn.ReLU()) == torch.device("cpu")
    with pytest.raises(TypeError, match="module must be a torch.nn.Module"):
        module_device(torch.ones(1))


def test_module_dtype_follows_parameters_then_floating_buffers():
    from torch import nn

    from dgmlib.runtime import module_dtype

    assert module_dtype(nn.Linear(2, 2).double()) == torch.float64
    holder = nn.Module()
    holder.register_buffer("count", torch.zeros(1, dtype=torch.int64))
    holder.register_buffer("scale", torch.zeros(1, dtype=torch.float16))
    assert module_dtype(holder) == torch.float16
    assert module_dtype(nn.Module()) == torch.get_default_dtype()
    with pytest.raises(TypeError, match="module must be a torch.nn.Module, got str"):
        module_dtype("net")
