"""Section 1: normalizing flows in dgmlib, zuko and normflows, same architecture, data and optimizer.

Two architectures, built as alike as the libraries allow:

- ``coupling``: 8 affine couplings on alternating halves, each with one conditioner MLP
  (hidden 64-64, ELU) that outputs the log-scale and the shift together; last layer at zero.
  dgmlib: ``AffineCoupling(alternating_mask)``; zuko: ``NICE`` (affine); normflows:
  ``AffineCouplingBlock`` + ``Permute("swap")``.
- ``maf``: 8 masked affine autoregressive layers, MADE 64-64 (ELU), the order reversed in between.
  dgmlib: ``MaskedAutoregressive`` + ``Reverse``; zuko: ``MAF``; normflows:
  ``MaskedAffineAutoregressive`` + ``Permute("swap")``.

All train on the same ``moons`` sample with Adam (same lr, ``foreach=True`` as in ``fit``), the
same batches in the same order, from the same seed. dgmlib trains through
``dgmlib.training.train_step`` (fit's update), eagerly (``dgmlib``) and with ``compile=True``
(``dgmlib+compile``: the loss, its backward and the Adam update compiled by ``torch.compile``);
zuko and normflows with the plain loop their documentation shows (``-log_prob(x).mean()``,
``backward``, ``step``), eagerly. Training runs in chunks of steps, the libraries in rotation (one chunk each,
then the next round), so background load slows all of them alike; the time per 1,000 steps is the
median over chunks after a warm-up chunk (``warmup_s``: that first chunk's time, which holds the
compilation for ``dgmlib+compile``). Sampling and log-density throughput are measured for the
eager models (``dgmlib+compile`` compiles training only).
"""

from __future__ import annotations

import math
import statistics
import time

import torch
from torch import nn

from .common import interleaved, sync

LIBRARIES = ("dgmlib", "dgmlib+compile", "zuko", "normflows")
PEERS = ("zuko", "normflows")
ARCHITECTURES = ("coupling", "maf")
N_LAYERS = 8
HIDDEN = (64, 64)


class _Model:
    """One library's flow behind a common face: ``nll(x)``, ``log_prob(x)``, ``sample(n)``."""

    def __init__(self, module, log_prob, sample):
        self.module, self.log_prob, self.sample = module, log_prob, sample

    def nll(self, x):
        return -self.log_prob(x).mean()


def build(library: str, arch: str, seed: int = 0) -> _Model:
    torch.manual_seed(seed)
    if library in ("dgmlib", "dgmlib+compile"):
        from dgmlib.flows import AffineCoupling, Flow, MaskedAutoregressive, Reverse, StandardNormal, alternating_mask

        if arch == "coupling":
            layers = [AffineCoupling(alternating_mask(2, i % 2), HIDDEN) for i in range(N_LAYERS)]
        else:
            layers = []
            for _ in range(N_LAYERS):
                layers += [MaskedAutoregressive(2, HIDDEN), Reverse()]
            layers = layers[:-1]
        flow = Flow(StandardNormal(2), layers)
        return _Model(flow, flow.log_prob, flow.sample)
    if library == "zuko":
        import zuko

        cls = zuko.flows.NICE if arch == "coupling" else zuko.flows.MAF
        flow = cls(2, transforms=N_LAYERS, hidden_features=HIDDEN, activation=nn.ELU)
        return _Model(flow, lambda x: flow().log_prob(x), lambda n: flow().sample((n,)))
    if library == "normflows":
        import normflows as nf
        from torch.nn import functional as F

        layers = []
        for _ in range(N_LAYERS):
            if arch == "coupling":
                net = nn.Sequential(nn.Linear(1, HIDDEN[0]), nn.ELU(), nn.Linear(HIDDEN[0], HIDDEN[1]), nn.ELU(),
                                    nn.Linear(HIDDEN[1], 2))
                nn.init.zeros_(net[-1].weight)
                nn.init.zeros_(net[-1].bias)
                layers.append(nf.flows.AffineCouplingBlock(net))
            else:  # MADE: initial layer 2 -> 64, one block 64 -> 64, output: the 64-64 conditioner
                layers.append(nf.flows.MaskedAffineAutoregressive(2, HIDDEN[0], num_blocks=len(HIDDEN) - 1,
                                                                  use_residual_blocks=False, activation=F.elu))
            layers.append(nf.flows.Permute(2, mode="swap"))
        flow = nf.NormalizingFlow(nf.distributions.DiagGaussian(2, trainable=False), layers[:-1])
        return _Model(flow, flow.log_prob, lambda n: flow.sample(n)[0])
    raise ValueError(f"library must be one of {LIBRARIES}, got {library!r}")


def run(sizes: dict, device: torch.device, libraries=LIBRARIES, log=print) -> list[dict]:
    """Train every (architecture, library) pair; return one row per pair."""
    from dgmlib.data import toy2d

    train = toy2d("moons", sizes["train"], seed=0).to(device)
    test = toy2d("moons", sizes["test"], seed=1).to(device)
    steps, chunk, batch, lr = sizes["steps"], sizes["chunk"], sizes["batch"], sizes["lr"]
    g = torch.Generator().manual_seed(0)
    index = torch.randint(len(train), (steps, batch), generator=g).to(device)  # the same batches for all

    rows = []
    for arch in ARCHITECTURES:
        models = {lib: build(lib, arch) for lib in libraries}
        for m in models.values():
            m.module.to(device)
        # the optimizer dgmlib.training.fit builds by default, for every library
        opts = {lib: torch.optim.Adam(m.module.parameters(), lr=lr, foreach=True) for lib, m in models.items()}
        steps_of = {lib: _step(lib, models[lib], opts[lib]) for lib in libraries}
        chunk_times: dict[str, list[float]] = {lib: [] for lib in libraries}
        warmup: dict[str, float] = {}
        n_chunks = math.ceil(steps / chunk)
        for c in range(n_chunks):
            order = list(libraries)[c % len(libraries):] + list(libraries)[: c % len(libraries)]
            for lib in order:
                models[lib].module.train()
                step = steps_of[lib]
                sync(device)
                t0 = time.perf_counter()
                for s in range(c * chunk, min((c + 1) * chunk, steps)):
                    step(train[index[s]])
                sync(device)
                elapsed = time.perf_counter() - t0
                if c == 0:
                    warmup[lib] = elapsed
                if c > 0 or n_chunks == 1:  # the first chunk is the warm-up
                    chunk_times[lib].append(elapsed / (min((c + 1) * chunk, steps) - c * chunk))
        for m in models.values():
            m.module.eval()

        n_eval = sizes["eval"]
        x_eval = test[:n_eval] if len(test) >= n_eval else test.repeat(math.ceil(n_eval / len(test)), 1)[:n_eval]

        def lp_job(m):
            def job():
                with torch.inference_mode():
                    m.log_prob(x_eval)
            return job

        def sample_job(m):
            def job():
                with torch.inference_mode():
                    m.sample(n_eval)
            return job

        eager = {lib: m for lib, m in models.items() if lib != "dgmlib+compile"}
        lp_t = interleaved({lib: lp_job(m) for lib, m in eager.items()}, repeats=sizes["repeats"], device=device)
        sa_t = interleaved({lib: sample_job(m) for lib, m in eager.items()}, repeats=sizes["repeats"], device=device)
        for lib, m in models.items():
            with torch.inference_mode():
                nll = float(-m.log_prob(test).mean())
            row = {
                "section": "flows", "arch": arch, "library": lib,
                "s_per_1000_steps": 1000 * statistics.median(chunk_times[lib]),
                "warmup_s": warmup.get(lib),
                "test_nll": nll,
                "samples_per_s": n_eval / sa_t[lib] if lib in sa_t else None,
                "log_prob_per_s": n_eval / lp_t[lib] if lib in lp_t else None,
            }
            rows.append(row)
            log(f"  flows {arch:8s} {lib:14s} {row['s_per_1000_steps']:.3f} s/1k steps (warm-up chunk "
                f"{row['warmup_s']:.1f} s)  test NLL {nll:.4f}"
                + (f"  sample {row['samples_per_s']:.3g}/s  log_prob {row['log_prob_per_s']:.3g}/s" if lib in sa_t else ""))
        _ratios(rows, arch, libraries)
    return rows


def _step(library: str, model: _Model, opt):
    """One training step on a batch: dgmlib's train_step (eager or compiled), else the peers' plain loop."""
    if library in ("dgmlib", "dgmlib+compile"):
        from dgmlib.training import train_step

        return train_step(model.module, opt, compile=library == "dgmlib+compile")

    def step(x):
        loss = model.nll(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def _ratios(rows, arch, libraries):
    """speedup = the fastest peer's time / this row's time (> 1: faster than the peers)."""
    mine = [r for r in rows if r["arch"] == arch]
    by = {r["library"]: r for r in mine}
    peers = [lib for lib in libraries if lib in PEERS]
    if not peers:
        return
    fastest = min(peers, key=lambda p: by[p]["s_per_1000_steps"])
    for r in mine:
        r["train_speedup_vs_fastest_peer"] = by[fastest]["s_per_1000_steps"] / r["s_per_1000_steps"]
        if r["samples_per_s"] is not None:
            r["sample_ratio_vs_best_peer"] = r["samples_per_s"] / max(by[p]["samples_per_s"] for p in peers)
            r["log_prob_ratio_vs_best_peer"] = r["log_prob_per_s"] / max(by[p]["log_prob_per_s"] for p in peers)
        r["nll_gap_vs_best_peer"] = r["test_nll"] - min(by[p]["test_nll"] for p in peers)
        r["fastest_peer"] = fastest
