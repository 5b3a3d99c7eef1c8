"""Section 6: time to quality, the performance students feel: what a model reaches in 1, 3 and 10 CPU minutes.

The course's MNIST models, built by their checkpoint recipes' ``build()`` (``dgmlib/pretrained/recipes``)
and trained with the recipes' optimizer settings, under a wall clock instead of an epoch count,
beside a peer library's equivalent model trained under the same clock, on the same data:

- ``flow``: ``dgmlib.flows.mnist_glow`` (squeeze to 14x14x4, 6 Glow steps, split, 7x7x8, 4 steps,
  3x3-1x1-3x3 conditioners of 64 channels; uniform dequantization, logit). Peer: normflows'
  ``MultiscaleFlow`` of ``GlowBlock``s built as its Glow example does, the same two scales, step
  counts and conditioner widths, its ``GlowBase`` base, ``transforms.Logit(0.05)``, and the
  data dequantized as its example does, y = (k + u) / 256. Adam lr 1e-3, batch 64, gradient norm
  clipped at 20 (both; ``FLOW_LR``, ``FLOW_CLIP``: the recipe's earlier settings, kept so that the runs
  recorded in ``results/`` stay comparable). Quality: test bits/dim on the 500 test digits (one seeded noise draw),
  bpd = (-log p(y) + D log 256) / (D log 2); lower is better.
- ``vae``: ``make_vae(20, hidden=(512, 256))``, Bernoulli pixels. Peer: pythae's ``VAE``
  (``reconstruction_loss="bce"``) with an encoder and decoder of the same sizes (ReLU MLPs
  784-512-256-(20, 20) and 20-256-512-784, sigmoid output), trained with its ``forward(...).loss``.
  Adam lr 1e-3, batch 64, each batch binarized afresh, x_b ~ Bernoulli(grey level) (both).
  Quality: test log p(x) on the 500 statically binarized test digits, by the same importance-
  sampling estimator for both (``dgmlib.vae.importance_log_prob`` on log w = log p(x|z) + log p(z)
  - log q(z|x), pythae's weights computed from its encoder's and decoder's outputs), with
  k = ``ttq_k`` (500 at full size, not the recipe's 5,000: the estimate is lower by a fraction of
  a nat, equally for both); higher is better.
- ``gan``: the ``mnist_gan`` recipe's DCGAN with a generator EMA, both players Adam(lr, betas (0.5,
  0.999)), batch 64, one D and one G step per batch (``train_gan``'s update). No peer library
  trains this model. Quality: FID of FeatureNet features to the test digits' and the FeatureNet's
  confident share (``measure_gan`` of the recipe). Skipped when the recipe is absent.

Differences from the recipes, so that a clock can stop a run anywhere: the learning rate is
constant (the flow recipe decays it over its epochs, the GAN recipe to 0 over its run), and each
run is one run evaluated at checkpoints (``ttq_grid`` = 10: a tenth of the largest budget apart), not one run per
budget. Training time is the sum of the steps' wall times (batch preparation, forward, backward,
update; with ``compile=True`` the compilation too, as a student waits for it); evaluation is
excluded. Runs of one model advance in rotation, ``ttq_slice`` seconds of training each, so
background load hits every library alike.

``compile``: dgmlib's ``train_step(..., compile=True)`` (loss and backward by ``torch.compile``,
``torch.compile(optimizer.step)``); normflows gets exactly the same treatment of its loss and
optimizer step. pythae's loss cannot be traced whole (dynamo mis-reads its ``ModelOutput``: an
AttributeError), so its encoder's and decoder's networks are compiled (forward and backward) and its
optimizer step as dgmlib's. ``train_gan`` has no compile option: the GAN runs eagerly only.

``time_to_peer``: the training time dgmlib needs to reach the peer's figure at the peer's largest
budget (linear interpolation between checkpoints), divided by that budget; the goal is <= 0.5.
None when dgmlib does not reach it within its own largest budget.
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn

from . import mnist_peers as peers
from .common import sync

FLOW_LR, FLOW_CLIP = 1e-3, 20.0   # fixed here: the recorded runs used them (the flow recipe now trains at 4e-3, clip 10)
MODELS = ("flow", "vae", "gan")
PEER = {"flow": "normflows", "vae": "pythae"}
METRICS = {"flow": ("test_bits_per_dim",), "vae": ("test_log_px",), "gan": ("fid", "confident_share")}
LOWER_IS_BETTER = {"test_bits_per_dim", "fid"}
BATCH = 64
NOTE = ("`at_<budget>`: the quality after that much training time (evaluation excluded; with `compile` the "
        "compilation included). Lower is better for test_bits_per_dim and fid, higher for test_log_px "
        "(importance-sampled, the same estimator for both libraries) and confident_share. `time_to_peer`: the "
        "training time dgmlib needs to reach the peer's figure at the peer's largest budget, divided by that "
        "budget (< 1 favours dgmlib; goal <= 0.5); `-` where the peer is absent or not reached. `steps`: "
        "optimizer steps in the largest budget; `warmup_s`: the first step (holds the compilation). Constant "
        "learning rates; one run per row evaluated at checkpoints; see benchmarks/time_to_quality.py.")


def _label(seconds: float) -> str:
    return f"{seconds / 60:g}min" if seconds >= 60 else f"{seconds:g}s"


def columns(sizes: dict) -> list[str]:
    """The section's table columns: the quality at each reported budget, then the ratio to the peer."""
    return (["model", "metric", "library", "mode"] + [f"at_{_label(b)}" for b in sizes["ttq_budgets"]]
            + ["steps", "warmup_s", "time_to_peer", "goal_met", "note"])


# -- the data --------------------------------------------------------------------------------------------


def _epochs_of_batches(x: torch.Tensor, seed: int):
    """Shuffled batches of ``x``, epoch after epoch (fit's batching: the last batch of an epoch is smaller)."""
    from dgmlib.training.batches import batches

    g = torch.Generator().manual_seed(seed)
    while True:
        yield from batches(x, BATCH, shuffle=True, generator=g)


def _plain_step(loss_fn, params, optimizer, grad_clip=None, compile=False, compile_loss=True):
    """A peer's step, compiled exactly as ``train_step(compile=True)`` compiles dgmlib's: the loss with its
    backward by ``torch.compile(dynamic=False)``, and ``torch.compile(optimizer.step)`` (``compile_loss=False``:
    the optimizer step only, the caller has compiled the networks)."""
    compute = torch.compile(loss_fn, dynamic=False) if compile and compile_loss else loss_fn
    update = torch.compile(optimizer.step) if compile else optimizer.step
    params = list(params)

    def step(x):
        loss = compute(x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(params, grad_clip)
        update()

    return step


def _seeded(fn):
    """``fn()`` under ``torch.manual_seed(0)``, the global RNG restored after: figures depend on the weights only."""
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        return fn()


# -- the flows -------------------------------------------------------------------------------------------


def _flow_run(library: str, compile: bool, device, data):
    from dgmlib.pretrained.recipes import mnist_flow as recipe
    from dgmlib.training import train_step

    x_train, x_test = data["flow_train"], data["flow_test"]
    dims = x_test[0].numel()
    if library == "dgmlib":
        torch.manual_seed(0)
        flow = recipe.build().to(device)
        log_prob = flow.log_prob
    else:
        torch.manual_seed(0)
        flow = peers.normflows_glow(recipe.HIDDEN, recipe.STEPS).to(device)

        def log_prob(x):  # normflows' example: y = (k + u) / 256 in the data pipeline, the model on y
            y = (torch.round(x * 255) + torch.rand_like(x)) / 256
            return flow.log_prob(y, None) - dims * math.log(256)
    with torch.no_grad():                                    # ActNorm's data-dependent initialization (both)
        flow.train()
        log_prob(x_train[:512].to(device))
    optimizer = torch.optim.Adam(flow.parameters(), lr=FLOW_LR)
    if library == "dgmlib":
        step = train_step(flow, optimizer, grad_clip=FLOW_CLIP, compile=compile)
    else:
        step = _plain_step(lambda x: -log_prob(x).mean(), flow.parameters(), optimizer, FLOW_CLIP, compile)

    def measure():
        flow.eval()
        nll = _seeded(lambda: torch.cat([-log_prob(b.to(device)) for b in x_test.split(250)]).mean().item())
        flow.train()
        return {"test_bits_per_dim": nll / (dims * math.log(2))}

    return flow, step, measure


# -- the VAEs --------------------------------------------------------------------------------------------


def _vae_run(library: str, compile: bool, device, data, k: int):
    from dgmlib.pretrained.recipes import mnist_vae as recipe
    from dgmlib.training import train_step
    from dgmlib.vae import importance_log_prob

    torch.manual_seed(0)
    if library == "dgmlib":
        model = recipe.build().to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=recipe.LR)
        step = train_step(model, optimizer, loss_fn=lambda m, batch: m.loss(torch.bernoulli(batch)), compile=compile)
        log_weights = model.log_weights
    else:
        model = peers.pythae_vae(recipe.LATENT, recipe.HIDDEN).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=recipe.LR)
        if compile:  # dynamo mis-traces pythae's ModelOutput (AttributeError 'embedding'): compile its networks
            for owner, name in ((model.encoder, "body"), (model.encoder, "embedding"), (model.encoder, "log_var"),
                                (model.decoder, "net")):
                setattr(owner, name, torch.compile(getattr(owner, name), dynamic=False))
        step = _plain_step(lambda x: model({"data": torch.bernoulli(x)}).loss, model.parameters(), optimizer,
                           compile=compile, compile_loss=False)
        log_weights = peers.pythae_log_weights(model)
    x_test = data["vae_test"].to(device)

    def measure():
        model.eval()
        value = _seeded(lambda: importance_log_prob(log_weights, x_test, k).mean().item())
        model.train()
        return {"test_log_px": value}

    model.train()
    return model, step, measure


# -- the GAN ---------------------------------------------------------------------------------------------


def _gan_run(device, data, n: int):
    import importlib

    from dgmlib.gan.train import _player_step  # train_gan's update, one player at a time

    recipe = importlib.import_module("dgmlib.pretrained.recipes.mnist_gan")
    torch.manual_seed(0)
    model = recipe.RECIPE.build().to(device)
    lr = getattr(recipe, "LR", 2e-4)
    opt_g = torch.optim.Adam(model.generator_parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(model.discriminator_parameters(), lr=lr, betas=(0.5, 0.999))

    def step(x):
        _player_step(model.d_loss(x), opt_d, model.after_d_step, "d_loss")
        _player_step(model.g_loss(x), opt_g, model.after_g_step, "g_loss")

    def measure():
        model.eval()
        figures = _seeded(lambda: recipe.measure_gan(model, n=n))
        model.train()
        return {"fid": figures["fid"], "confident_share": figures["confident_share"]}

    model.train()
    return model, step, measure


# -- the clock -------------------------------------------------------------------------------------------


class _Run:
    """One (model, library, mode) run: ``advance(seconds)`` trains until its clock reaches the next checkpoint."""

    def __init__(self, model, library, compile, built, batches, device, checkpoints):
        self.model, self.library, self.compile = model, library, compile
        self.module, self.step, self.measure = built
        self.batches, self.device, self.checkpoints = batches, device, list(checkpoints)
        self.clock, self.steps, self.warmup, self.curve, self.error = 0.0, 0, None, [], None

    @property
    def done(self) -> bool:
        return self.error is not None or len(self.curve) == len(self.checkpoints) + 1

    def advance(self, seconds: float) -> None:
        try:
            if not self.curve:                                          # the untrained model, at 0 s
                self.curve.append({"train_s": 0.0, "steps": 0, **self.measure()})
            target = min(self.clock + seconds, self.checkpoints[len(self.curve) - 1])
            while self.clock < target:
                x = next(self.batches).to(self.device)
                sync(self.device)
                t0 = time.perf_counter()
                self.step(x)
                sync(self.device)
                dt = time.perf_counter() - t0
                self.warmup = dt if self.warmup is None else self.warmup
                self.clock += dt
                self.steps += 1
            if self.clock >= self.checkpoints[len(self.curve) - 1]:
                self.curve.append({"train_s": self.clock, "steps": self.steps, **self.measure()})
        except Exception as err:  # noqa: BLE001 - a peer that cannot train (or compile) is reported, not fatal
            self.error = f"{type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}"


def _checkpoints(budgets, grid: int = 10) -> list[float]:
    """The reported budgets and every ``1/grid`` of the largest one (the finer grid times the peer's figure)."""
    top = max(budgets)
    return sorted(set(budgets) | {round(top * i / grid, 6) for i in range(1, grid + 1)})


def _time_to_reach(curve: list[dict], metric: str, target: float) -> float | None:
    """The training time at which ``curve`` first reaches ``target`` (linear between checkpoints), or None."""
    better = (lambda v: v <= target) if metric in LOWER_IS_BETTER else (lambda v: v >= target)
    previous = (0.0, None)
    for point in curve:
        t, v = point["train_s"], point[metric]
        if better(v):
            t0, v0 = previous
            if v0 is None or v == v0:
                return t
            return t0 + (t - t0) * (target - v0) / (v - v0)
        previous = (t, v)
    return None


def _at(curve: list[dict], budget: float, metric: str):
    """The figure after ``budget`` seconds of training: at the checkpoint that ends it when its last step
    overshot by at most 10%, else at the latest checkpoint within it (0 s: the untrained model)."""
    after = next((p for p in curve if p["train_s"] >= budget), None)
    if after is not None and after["train_s"] <= 1.1 * budget:
        return after[metric]
    within = [p for p in curve if p["train_s"] <= budget]
    return within[-1][metric] if within and after is not None else None


def _rows(runs: list[_Run], budgets) -> list[dict]:
    rows = []
    for run in runs:
        for metric in METRICS[run.model]:
            at = {f"at_{_label(b)}": _at(run.curve, b, metric) for b in budgets}
            rows.append({"section": "time_to_quality", "model": run.model, "metric": metric, "library": run.library,
                         "mode": "compile" if run.compile else "eager", **at,
                         "steps": run.steps, "warmup_s": run.warmup, "curve": [
                             {"train_s": p["train_s"], "steps": p["steps"], metric: p[metric]} for p in run.curve],
                         "error": run.error, "note": run.error})
    for row in rows:
        if row["library"] != "dgmlib" or row["model"] not in PEER:
            continue
        peer = next((r for r in rows if r["model"] == row["model"] and r["library"] == PEER[row["model"]]
                     and r["mode"] == row["mode"] and r["metric"] == row["metric"] and r["curve"]), None)
        if peer is None or not row["curve"]:
            continue
        target, horizon = peer["curve"][-1][row["metric"]], peer["curve"][-1]["train_s"]
        reached = _time_to_reach(row["curve"], row["metric"], target)
        row["peer"], row["peer_final"], row["peer_budget_s"] = PEER[row["model"]], target, horizon
        row["time_to_peer"] = None if reached is None else reached / horizon
        row["goal_met"] = "yes" if reached is not None and reached / horizon <= 0.5 else "no"
        if reached is None:
            row["note"] = f"{PEER[row['model']]}'s {target:.4g} not reached"
    return rows


def _data(sizes: dict) -> dict:
    from dgmlib.data import load_mnist

    x_train, _ = load_mnist("train")
    x_grey, _ = load_mnist("test")
    x_bin, _ = load_mnist("test", binarize=True)
    every = max(len(x_grey) // sizes["ttq_test"], 1)  # an even stride: the test digits are sorted by class
    pick = slice(None, every * sizes["ttq_test"], every)
    return {"flow_train": x_train, "flow_test": x_grey[pick], "vae_test": x_bin[pick], "gan_train": 2 * x_train - 1}


def _build(model: str, library: str, compile: bool, device, data, sizes):
    if model == "flow":
        return _flow_run(library, compile, device, data)
    if model == "vae":
        return _vae_run(library, compile, device, data, sizes["ttq_k"])
    return _gan_run(device, data, sizes["ttq_gan_n"])


def _plan(models, modes) -> list[tuple[str, str, bool]]:
    """(model, library, compile) for every run: dgmlib and its peer in each mode; the GAN eagerly only."""
    from dgmlib.pretrained.recipes import RECIPES

    plan = []
    for model in models:
        if model == "gan" and "mnist_gan" not in RECIPES:
            continue
        for compile in [m == "compile" for m in modes]:
            if model == "gan" and compile:
                continue
            plan += [(model, lib, compile) for lib in ("dgmlib", PEER.get(model)) if lib]
    return plan


def run(sizes: dict, device: torch.device, log=print, models=MODELS) -> list[dict]:
    """Train every (model, library, mode) under the clock; return one row per (run, metric)."""
    budgets = sorted(sizes["ttq_budgets"])
    data = _data(sizes)
    plan = _plan(models, sizes["ttq_modes"])
    rows = []
    skipped = [m for m in models if m not in {p[0] for p in plan}]
    for model in [m for m in models if m not in skipped]:
        runs = []
        for name, library, compile in [p for p in plan if p[0] == model]:
            try:
                built = _build(model, library, compile, device, data, sizes)
            except ImportError as err:
                log(f"  time_to_quality {model} {library}: not installed ({err})")
                rows.append({"section": "time_to_quality", "model": model, "library": library,
                             "mode": "compile" if compile else "eager", "note": f"not installed: {err}"})
                continue
            train = data["gan_train"] if model == "gan" else data["flow_train"]
            runs.append(_Run(model, library, compile, built, _epochs_of_batches(train, seed=0), device,
                             _checkpoints(budgets, sizes["ttq_grid"])))
        turn = 0
        while not all(r.done for r in runs):
            active = [r for r in runs if not r.done]
            for r in active[turn % len(active):] + active[: turn % len(active)]:
                r.advance(sizes["ttq_slice"])
            turn += 1
        part = _rows(runs, budgets)
        for r in part:
            at = "  ".join(f"{k[3:]} {r[k]:.4g}" for k in r if k.startswith("at_") and r[k] is not None)
            ratio = f"  time_to_peer {r['time_to_peer']:.2f}" if r.get("time_to_peer") is not None else ""
            log(f"  time_to_quality {model:4s} {r['library']:9s} {r['mode']:7s} {r['metric']:17s} {at}  "
                f"({r['steps']} steps){ratio}{'  ' + r['note'] if r.get('note') else ''}")
        rows += part
    for model in skipped:
        rows.append({"section": "time_to_quality", "model": model, "library": "dgmlib", "mode": "eager",
                     "note": "recipe mnist_gan not found: skipped"})
        log(f"  time_to_quality {model}: skipped (no mnist_gan recipe)")
    return rows
