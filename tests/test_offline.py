"""Importing dgmlib and calling every loader must never touch the network."""

import subprocess
import sys
import textwrap

GUARD = textwrap.dedent(
    """
    import socket

    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted: " + repr(args[:2]))

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    """
)

LOADERS = textwrap.dedent(
    """
    import dgmlib
    from dgmlib import data, plotting, training, runtime
    from dgmlib.data import (TOY2D_NAMES, MIXTURE_NAMES, dsprites, load_mnist, mnist_source,
                             parallel_lines, toy2d, toy2d_modes)

    for split in ("train", "test"):
        for binarize in (False, True):
            x, y = load_mnist(split, binarize=binarize)
    mnist_source()
    for name in TOY2D_NAMES:
        toy2d(name, 100, seed=0)
    for name in MIXTURE_NAMES:
        toy2d_modes(name)
    parallel_lines(0.5, 100)
    d = dsprites(200, seed=0)
    d.images_from_factors(d.factors[:10])
    runtime.get_device()
    print("attempts", len(attempts))
    """
)


def _run(code: str, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DGMLIB_FAST": "1", "MPLBACKEND": "Agg",
           "MPLCONFIGDIR": str(tmp_path / "mpl")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_import_and_every_loader_open_no_network_connection(tmp_path):
    result = _run(GUARD + LOADERS, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("attempts 0")


def test_the_network_guard_itself_catches_a_connection(tmp_path):
    # negative control: without it the test above could pass with a guard that never fires
    code = GUARD + "import urllib.request\ntry:\n    urllib.request.urlopen('http://example.com', timeout=2)\nexcept OSError:\n    pass\nprint('attempts', len(attempts))"
    result = _run(code, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "attempts 0" not in result.stdout
