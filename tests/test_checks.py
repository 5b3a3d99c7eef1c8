"""dgmlib.checks: every argument check of the library, with the messages students see."""

import numpy as np
import pytest
import torch

from dgmlib import checks


def test_integers_accept_numpy_and_refuse_bool_and_floats():
    assert checks.positive_int(np.int64(3), "k") == 3 and isinstance(checks.positive_int(np.int64(3), "k"), int)
    with pytest.raises(ValueError, match="k must be a positive int, got True"):
        checks.positive_int(True, "k")
    with pytest.raises(ValueError, match="k must be a positive int, got 2.0"):
        checks.positive_int(2.0, "k")
    with pytest.raises(ValueError, match="d must be an int >= 2 \\(the theorem needs d > 1\\), got 1"):
        checks.int_at_least(1, "d", 2, " (the theorem needs d > 1)")
    with pytest.raises(TypeError, match="seed must be an int, got str"):
        checks.integer("3", "seed")


def test_numbers_refuse_nan_inf_and_out_of_range():
    assert checks.positive_number(np.float32(0.5), "std") == 0.5
    for bad in (0, -1.0, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ValueError, match="std must be a positive number"):
            checks.positive_number(bad, "std")
    with pytest.raises(ValueError, match="beta must be a non-negative number, got nan"):
        checks.non_negative_number(float("nan"), "beta")
    assert checks.number_in(0.0, "alpha", 0, 0.5, closed="left") == 0.0
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 0.5\), got 0.5"):
        checks.number_in(0.5, "alpha", 0, 0.5, closed="left")
    with pytest.raises(ValueError, match=r"test_fraction must be a number in \(0, 1\), got 0"):
        checks.number_in(0, "test_fraction", 0, 1, closed="neither")


def test_tensors_flags_and_choices():
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        checks.tensor([1.0], "x")
    with pytest.raises(TypeError, match="x must be a real tensor, got complex dtype"):
        checks.floating_tensor(torch.ones(2, dtype=torch.complex64), "x")
    assert checks.floating_tensor(torch.arange(3), "x").dtype == torch.get_default_dtype()
    with pytest.raises(ValueError, match=r"x must be finite, got 2 NaN or infinite value\(s\)"):
        checks.finite_tensor(torch.tensor([0.0, float("nan"), float("inf")]), "x")
    with pytest.raises(ValueError, match=r"mu and logvar must have the same shape, got \(2,\) and \(3,\)"):
        checks.same_shape(mu=torch.zeros(2), logvar=torch.zeros(3))
    with pytest.raises(ValueError, match=r"x must lie in \[0, 1\], got NaN values"):
        checks.in_unit_interval(torch.tensor([0.5, float("nan")]), "x")
    with pytest.raises(ValueError, match=r"x must lie in \[0, 1\], got values in \[-0.5, 1\]; rescale"):
        checks.in_unit_interval(torch.tensor([-0.5, 1.0]), "x", "; rescale")
    with pytest.raises(TypeError, match="compile must be True or False, got 1"):
        checks.flag(1, "compile")
    with pytest.raises(ValueError, match=r"kind must be one of \('a', 'b'\), got 'c'"):
        checks.one_of("c", "kind", ("a", "b"))
