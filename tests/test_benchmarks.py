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
pytest.importorskip("pythae")


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

    ttq = {(r["model"], r["library"], r["metric"]): r for r in rows if r["section"] == "time_to_quality"}
    expected = {("flow", "dgmlib", "test_bits_per_dim"), ("flow", "normflows", "test_bits_per_dim"),
                ("vae", "dgmlib", "test_log_px"), ("vae", "pythae", "test_log_px")}
    assert expected <= set(ttq), sorted(ttq)
    for r in ttq.values():
        assert r["mode"] == "eager" and r["error"] is None, r  # no run failed
        assert r["steps"] > 0 and [p["train_s"] for p in r["curve"]] == sorted(p["train_s"] for p in r["curve"])
        assert all(r[f"at_{b}s"] is not None for b in (1, 2, 4)), r
    # training helps within seconds: bits/dim fall, log p(x) rises, from the first budget to the last
    assert ttq["flow", "dgmlib", "test_bits_per_dim"]["at_4s"] < ttq["flow", "dgmlib", "test_bits_per_dim"]["at_1s"] - 0.05
    assert ttq["vae", "dgmlib", "test_log_px"]["at_4s"] > ttq["vae", "dgmlib", "test_log_px"]["at_1s"] + 1.0
    for model, metric in (("flow", "test_bits_per_dim"), ("vae", "test_log_px")):
        r = ttq[model, "dgmlib", metric]
        assert r["peer"] in ("normflows", "pythae") and r["goal_met"] in ("yes", "no")
        assert r["time_to_peer"] is None or 0 < r["time_to_peer"] < 2
    if ("gan", "dgmlib", "fid") in ttq:
        assert ttq["gan", "dgmlib", "fid"]["at_4s"] > 0 and 0 <= ttq["gan", "dgmlib", "confident_share"]["at_4s"] <= 1

    md = (tmp_path / f"{machine}.md").read_text()
    for title in ("1. Flows", "2. Optimal transport", "3. VAE training", "4. Metrics", "5. Whole course",
                  "6. Time to quality", "Acceptance"):
        assert f"## {title}" in md
    assert md.count("| coupling |") == 3 and md.count("| maf |") == 3


def test_time_to_reach_interpolates_between_checkpoints_in_the_metric_direction():
    from benchmarks.time_to_quality import _time_to_reach

    bpd = [{"train_s": 10.0, "test_bits_per_dim": 3.0}, {"train_s": 20.0, "test_bits_per_dim": 2.0},
           {"train_s": 30.0, "test_bits_per_dim": 1.5}]
    assert _time_to_reach(bpd, "test_bits_per_dim", 2.5) == pytest.approx(15.0)   # halfway from 3.0 to 2.0
    assert _time_to_reach(bpd, "test_bits_per_dim", 3.5) == 10.0                  # met at the first checkpoint
    assert _time_to_reach(bpd, "test_bits_per_dim", 1.0) is None                  # never reached
    log_px = [{"train_s": 5.0, "test_log_px": -120.0}, {"train_s": 15.0, "test_log_px": -100.0}]
    assert _time_to_reach(log_px, "test_log_px", -105.0) == pytest.approx(12.5)   # higher is better


def test_time_to_peer_is_dgmlibs_time_to_the_peers_last_figure_over_the_peers_budget():
    from benchmarks.time_to_quality import _rows

    class Run:
        def __init__(self, library, curve):
            self.model, self.library, self.compile, self.curve = "flow", library, False, curve
            self.steps, self.warmup, self.error = 100, 0.1, None

    def curve(values):
        return [{"train_s": 6.0 * (i + 1), "steps": 10 * (i + 1), "test_bits_per_dim": v} for i, v in enumerate(values)]

    rows = _rows([Run("dgmlib", curve([3.0, 2.0, 1.8, 1.7, 1.6, 1.5, 1.4, 1.3, 1.2, 1.1])),
                  Run("normflows", curve([3.5, 3.0, 2.6, 2.3, 2.1, 2.0, 1.95, 1.9, 1.85, 1.8]))], [6.0, 18.0, 60.0])
    mine, peer = rows
    assert (mine["at_6s"], mine["at_18s"], mine["at_1min"]) == (3.0, 1.8, 1.1)
    assert mine["time_to_peer"] == pytest.approx(18.0 / 60.0) and mine["goal_met"] == "yes"   # 1.8 at 18 s of 60
    assert peer.get("time_to_peer") is None and mine["peer"] == "normflows" and mine["peer_final"] == 1.8
