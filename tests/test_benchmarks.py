"""The benchmark command runs end to end: ``python -m benchmarks --quick`` on tiny sizes.

It writes its tables to a temporary folder (never over the committed results) and must produce
one row per (architecture, library) for the flows, the transport, VAE, metric and notebook rows,
with the dgmlib values agreeing with the peers' on the exact quantities.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("zuko")
pytest.importorskip("normflows")
pytest.importorskip("ot")


@pytest.mark.slow
def test_quick_benchmark_writes_markdown_and_json_with_every_row(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "DGMLIB_DEVICE": "cpu"}
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--device", "cpu", "--out", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = sorted(p.name for p in tmp_path.iterdir())
    machine = files[0].rsplit(".", 1)[0]
    assert machine.startswith("cpu-") and files == [f"{machine}.json", f"{machine}.md"]
    result = json.loads((tmp_path / f"{machine}.json").read_text())
    rows = result["rows"]
    assert result["quick"] is True and result["environment"]["torch"]

    flows = {(r["arch"], r["library"]) for r in rows if r["section"] == "flows"}
    assert flows == {(a, lib) for a in ("coupling", "maf") for lib in ("dgmlib", "zuko", "normflows")}
    for r in rows:
        if r["section"] == "flows":
            assert r["s_per_1000_steps"] > 0 and r["samples_per_s"] > 0 and r["log_prob_per_s"] > 0
            assert 0 < r["test_nll"] < 10

    transport = [r for r in rows if r["section"] == "transport"]
    assert {r["function"] for r in transport} == {"wasserstein_1d", "emd"}
    for r in transport:  # exact distances: dgmlib equals POT and scipy up to round-off
        assert r["max_rel_diff"] < 1e-9, r

    (vae,) = [r for r in rows if r["section"] == "vae"]
    assert vae["fit_s_per_epoch"] > 0 and vae["plain_s_per_epoch"] > 0
    assert abs(vae["fit_test_elbo"] - vae["plain_test_elbo"]) < 50  # same model, same data, same budget

    metrics = {r["metric"]: r for r in rows if r["section"] == "metrics"}
    assert set(metrics) == {"fid", "precision_recall(k=3)"}
    assert metrics["fid"]["rel_diff"] < 1e-6
    assert metrics["precision_recall(k=3)"]["rel_diff"] == 0  # same k-NN balls, same counts

    (nb,) = [r for r in rows if r["section"] == "notebooks"]
    assert nb["under_test_s"] > 0

    md = (tmp_path / f"{machine}.md").read_text()
    for title in ("1. Flows", "2. Optimal transport", "3. VAE training", "4. Metrics", "5. Whole course", "Acceptance"):
        assert f"## {title}" in md
    assert md.count("| coupling |") == 3 and md.count("| maf |") == 3
