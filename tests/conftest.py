"""Shared test setup: the fast run size, a headless matplotlib for unit tests, and fixtures."""

import os

# Tests (and the notebook kernels nbval starts from this process) run with the fast budget.
os.environ.setdefault("DGMLIB_FAST", "1")
# Matplotlib's font cache records the absolute font paths of the venv that built it; the shared
# ~/.cache/matplotlib breaks (stderr "findfont" in every kernel) once that venv is deleted. Each
# checkout keeps its own, and the kernels inherit it.
os.environ.setdefault("MPLCONFIGDIR", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                   ".dgmlib_cache", "matplotlib"))

# The attack notebooks of the grader's tests (tests/grader_attacks/) are student submissions that try
# to cheat and to harm other processes: they run only inside the grader's sandbox, in
# test_grader_attacks.py. nbval must never execute them beside the test run (one signals every
# process it can see).
collect_ignore_glob = ["grader_attacks/*"]

import matplotlib  # noqa: E402

matplotlib.use("Agg")  # this process only: nbval's kernels keep the inline backend

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    """Every unit test starts from the same global RNG state."""
    torch.manual_seed(0)
    yield


@pytest.fixture
def close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")
