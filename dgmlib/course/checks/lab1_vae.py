"""Hidden checks of Lab 1 (a VAE on binarized MNIST), judged against :mod:`dgmlib.gaussian` and :mod:`dgmlib.vae`.

Questions and the names they grade: 1.2 ``sample_ancestral``, 1.4 ``log_px_monte_carlo``,
1.5 ``kl_gaussian``, 1.9 ``negative_elbo``, 1.10 ``reparameterize``, 1.11 ``VAE``, 1.12 ``vae_loss``.
Each check: inputs drawn here, a probe (torch only) run in the kernel, a judge run here.
"""

from __future__ import annotations

import functools
import math

import torch
from torch.nn import functional as F

from ...gaussian import kl_normal_std
from ...vae import log_bernoulli
from .base import CheckFailed, check, expect, expect_close, expect_shape

CHECKS: list = []

# the course's reference implementation of each question: absent from the sandbox (poisoned stubs there)
REFERENCE_API = {
    "1.5": ("dgmlib.gaussian.kl_normal_std", "dgmlib.gaussian.kl_normal"),
    "1.10": ("dgmlib.gaussian.reparameterize",),
}


def _negative_elbo(x, logits, mu, logvar):
    return (-log_bernoulli(x, logits) + kl_normal_std(mu, logvar)).mean()


# ---------------------------------------------------------------------------------------------
# stand-ins for the other questions while one is graded (sent into the kernel; torch only)


def _iso_kl_gaussian(mu, logvar):
    return 0.5 * (torch.exp(logvar) + mu**2 - 1 - logvar).sum(-1)


def _iso_reparameterize(mu, logvar):
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def _iso_negative_elbo(x, logits, mu, logvar):
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    return (bce + 0.5 * (torch.exp(logvar) + mu**2 - 1 - logvar).sum(-1)).mean()


# the functions a VAE, its loss or its training may call: stand-ins while 1.11 and 1.12 are graded
LOSS_STAND_INS = {"negative_elbo": _iso_negative_elbo, "reparameterize": _iso_reparameterize,
                  "kl_gaussian": _iso_kl_gaussian}


@functools.lru_cache(maxsize=2)
def _mnist(split: str) -> torch.Tensor:
    from ...data import load_mnist

    return load_mnist(split, binarize=True)[0].flatten(1)


def _binary(b, seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(b, 784, generator=g) < 0.3).float()


# ---------------------------------------------------------------------------------------------
# 1.2 ancestral sampling


def _probe_sample_zero_logits(ns, inp):
    return {"x": ns["sample_ancestral"](lambda z: torch.zeros(*z.shape[:-1], 784), 50, 3)}


@check(CHECKS, "1.2", "returns (n, 784) samples of 0s and 1s", 1, "sample_ancestral", probe=_probe_sample_zero_logits)
def _(out, inp):
    x = expect_shape(out["x"], (50, 784), "sample_ancestral(decode, 50, 3)")
    expect(bool(((x == 0) | (x == 1)).all()), "the samples must be 0 or 1: draw x ~ Bernoulli(sigmoid(logits))")
    expect(0.4 < x.float().mean().item() < 0.6,
           "with logits 0 half the pixels should be 1: is x ~ Bernoulli(sigmoid(logits))?")


def _probe_sample_seen_z(ns, inp):
    seen = []

    def decode(z):
        seen.append(z.detach().clone())
        return torch.zeros(*z.shape[:-1], 784)

    ns["sample_ancestral"](decode, 2000, 5)
    if not seen:
        return {"calls": 0}
    same = len({s.shape[-1:] for s in seen}) == 1 and seen[0].dim() >= 1
    return {"calls": len(seen), "first_shape": list(seen[0].shape),
            "z": torch.cat([s.reshape(-1, s.shape[-1]) for s in seen]) if same else seen[0]}


@check(CHECKS, "1.2", "draws z ~ N(0, I) of size latent_dim", 1, "sample_ancestral", probe=_probe_sample_seen_z)
def _(out, inp):
    expect(out.get("calls", 0) > 0, "decode was never called: sample z, then decode it")
    z = out["z"]
    expect(torch.is_tensor(z) and z.is_floating_point(), "decode got something that is not a float tensor z")
    expect(z.shape == (2000, 5),
           f"decode should get z of shape (n, latent_dim) = (2000, 5), got {tuple(out['first_shape'])}")
    expect(abs(z.mean().item()) < 0.1 and abs(z.std().item() - 1) < 0.1,
           f"z should be standard normal: got mean {z.mean().item():.3f}, std {z.std().item():.3f} (use torch.randn)")


def _probe_sample_frequencies(ns, inp):
    logits = inp["logits"]
    return {"x": ns["sample_ancestral"](lambda z: logits.expand(*z.shape[:-1], 784), 4000, 2)}


@check(CHECKS, "1.2", "pixel m is 1 with probability sigmoid(logit_m)", 1, "sample_ancestral",
       probe=_probe_sample_frequencies, inputs=lambda: {"logits": torch.linspace(-3, 3, 784)})
def _(out, inp):
    x = expect_shape(out["x"], (4000, 784), "sample_ancestral(decode, 4000, 2)")
    expect(bool(((x == 0) | (x == 1)).all()), "the samples must be 0 or 1: draw x ~ Bernoulli(sigmoid(logits))")
    freq = x.float().mean(0)
    err = (freq - torch.sigmoid(inp["logits"])).abs().max().item()
    expect(err < 0.05, f"pixel frequencies are off from sigmoid(logits) by up to {err:.2f}: decode returns logits, "
           "so sample x ~ Bernoulli(sigmoid(decode(z))), not a threshold")


# ---------------------------------------------------------------------------------------------
# 1.4 Monte-Carlo estimate of log p(x)


def _probe_log_px_constant(ns, inp):
    logits = inp["logits"]
    return {"log_px": ns["log_px_monte_carlo"](inp["x"], lambda z: logits.expand(*z.shape[:-1], 784), 3, 10)}


@check(CHECKS, "1.4", "exact when p(x|z) does not depend on z (computed with logsumexp)", 2, "log_px_monte_carlo",
       probe=_probe_log_px_constant, inputs=lambda: {"x": _binary(4, 1), "logits": torch.linspace(-3, 3, 784)})
def _(out, inp):
    want = log_bernoulli(inp["x"], inp["logits"].expand(4, 784))
    expect_close(out["log_px"], want, "log_px_monte_carlo with a decoder that ignores z", rtol=1e-4, atol=1e-2,
                 hint="log p(x) = log (1/K) sum_k p(x|z_k) = logsumexp_k log p(x|z_k) - log K; "
                      "p(x|z) itself underflows to 0, so stay in log space")


def _log_px_1d_inputs():
    g = torch.Generator().manual_seed(3)
    return {"x": _binary(3, 2), "w": 0.02 * torch.randn(784, generator=g), "b": 0.5 * torch.randn(784, generator=g)}


def _probe_log_px_1d(ns, inp):
    w, b = inp["w"], inp["b"]
    return {"log_px": ns["log_px_monte_carlo"](inp["x"], lambda z: z * w + b, 1, 5000)}


@check(CHECKS, "1.4", "agrees with numerical integration for a 1-D latent", 2, "log_px_monte_carlo",
       probe=_probe_log_px_1d, inputs=_log_px_1d_inputs)
def _(out, inp):
    x, w, b = inp["x"], inp["w"], inp["b"]
    grid = torch.linspace(-10, 10, 4001, dtype=torch.float64)[:, None]
    logits = (grid[:, None, :] * w + b).double().expand(len(grid), *x.shape)  # (grid, B, 784)
    log_joint = log_bernoulli(x.double(), logits) - 0.5 * (math.log(2 * math.pi) + grid**2)
    want = torch.logsumexp(log_joint, 0) + math.log(grid[1, 0] - grid[0, 0])
    expect_close(out["log_px"], want, "log_px_monte_carlo(x, decode, 1, 5000)", rtol=0, atol=0.05,
                 hint="average p(x|z_k) over z_k ~ N(0, I) (the prior), in log space")


# ---------------------------------------------------------------------------------------------
# 1.5 closed-form KL


KL_HINT = "KL = 1/2 sum_j (exp(logvar_j) + mu_j^2 - 1 - logvar_j), summed over the last dimension"


def _probe_kl(ns, inp):
    return {"kl": ns["kl_gaussian"](inp["mu"], inp["logvar"])}


@check(CHECKS, "1.5", "matches the closed form on random inputs", 2, "kl_gaussian", probe=_probe_kl,
       inputs=lambda: {"mu": torch.randn(16, 7), "logvar": torch.randn(16, 7)})
def _(out, inp):
    expect_close(out["kl"], kl_normal_std(inp["mu"], inp["logvar"]), "kl_gaussian(mu, logvar)", hint=KL_HINT)


@check(CHECKS, "1.5", "is 0 for q = N(0, I), one value per row", 1, "kl_gaussian", probe=_probe_kl,
       inputs=lambda: {"mu": torch.zeros(3, 5), "logvar": torch.zeros(3, 5)})
def _(out, inp):
    expect_close(out["kl"], torch.zeros(3), "kl_gaussian(zeros(3, 5), zeros(3, 5))", hint=KL_HINT)


def _probe_kl_gradients(ns, inp):
    mu, logvar = inp["mu"].clone().requires_grad_(), inp["logvar"].clone().requires_grad_()
    kl = ns["kl_gaussian"](mu, logvar)
    if not (torch.is_tensor(kl) and kl.requires_grad):
        return {"differentiable": False}
    kl.sum().backward()
    return {"differentiable": True, "mu_grad": mu.grad, "logvar_grad": logvar.grad}


@check(CHECKS, "1.5", "has the right gradients in mu and logvar", 1, "kl_gaussian", probe=_probe_kl_gradients,
       inputs=lambda: {"mu": torch.randn(4, 3), "logvar": torch.randn(4, 3)})
def _(out, inp):
    expect(out.get("differentiable") is True, "kl_gaussian must stay differentiable (no .detach(), .item() or numpy)")
    expect(out["mu_grad"] is not None and out["logvar_grad"] is not None, "no gradient reached mu or logvar")
    expect_close(out["mu_grad"], inp["mu"], "d KL / d mu", hint="d/dmu 1/2 mu^2 = mu")
    expect_close(out["logvar_grad"], 0.5 * torch.expm1(inp["logvar"]), "d KL / d logvar",
                 hint="d/dl 1/2 (e^l - 1 - l) = (e^l - 1) / 2")


# ---------------------------------------------------------------------------------------------
# 1.9 the loss


def _probe_negative_elbo(ns, inp):
    return {"loss": ns["negative_elbo"](inp["x"], inp["logits"], inp["mu"], inp["logvar"])}


def _elbo_inputs():
    return {"x": _binary(8, 4), "logits": 2 * torch.randn(8, 784), "mu": torch.randn(8, 5), "logvar": torch.randn(8, 5)}


@check(CHECKS, "1.9", "equals the batch mean of BCE (summed over pixels) + KL", 3, "negative_elbo",
       probe=_probe_negative_elbo, inputs=_elbo_inputs, isolate={"kl_gaussian": _iso_kl_gaussian})
def _(out, inp):
    x, logits, mu, logvar = inp["x"], inp["logits"], inp["mu"], inp["logvar"]
    want = _negative_elbo(x, logits, mu, logvar)
    got = out["loss"]
    expect(torch.is_tensor(got) and got.is_floating_point(),
           f"negative_elbo must return a tensor, got {type(got).__name__}")
    expect(got.numel() == 1, f"negative_elbo must return a scalar (the batch mean), got shape {tuple(got.shape)}")
    got = got.reshape(())
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 8
    hints = {
        "the sum over the batch instead of the mean": want * 8,
        "missing the KL term": recon,
        "the mean over pixels instead of the sum":
            F.binary_cross_entropy_with_logits(logits, x) + kl_normal_std(mu, logvar).mean(),
        "the ELBO itself (the sign is flipped)": -want,
    }
    for what, value in hints.items():
        if abs(got.item() - value.item()) < 1e-3 * abs(value.item()) + 1e-4:
            raise CheckFailed(f"negative_elbo looks like {what}: it should be mean_n [ sum_m BCE(logits, x) + KL ]")
    expect_close(got, want, "negative_elbo(x, logits, mu, logvar)", rtol=1e-4, atol=1e-3,
                 hint="mean over the batch of [sum over pixels of BCE-with-logits + kl_gaussian(mu, logvar)]")


def _probe_negative_elbo_gradients(ns, inp):
    logits, mu, logvar = (inp[k].clone().requires_grad_() for k in ("logits", "mu", "logvar"))
    loss = ns["negative_elbo"](inp["x"], logits, mu, logvar)
    if not (torch.is_tensor(loss) and loss.dim() == 0):
        return {"scalar": False}
    loss.backward()
    return {"scalar": True, "grads": {"logits": logits.grad, "mu": mu.grad, "logvar": logvar.grad}}


@check(CHECKS, "1.9", "is a scalar that back-propagates to logits, mu and logvar", 1, "negative_elbo",
       probe=_probe_negative_elbo_gradients, isolate={"kl_gaussian": _iso_kl_gaussian},
       inputs=lambda: {"x": _binary(4, 5), "logits": torch.randn(4, 784), "mu": torch.randn(4, 3),
                       "logvar": torch.randn(4, 3)})
def _(out, inp):
    expect(out.get("scalar") is True, "negative_elbo must return a 0-dim tensor (use .mean())")
    for name in ("logits", "mu", "logvar"):
        t = out["grads"].get(name)
        expect(torch.is_tensor(t) and t.shape == inp[name].shape and bool(torch.isfinite(t).all())
               and t.abs().sum() > 0, f"no gradient reached {name}")


# ---------------------------------------------------------------------------------------------
# 1.10 reparameterization


def _probe_reparameterize_moments(ns, inp):
    return {"z": ns["reparameterize"](inp["mu"], inp["logvar"])}


@check(CHECKS, "1.10", "z ~ N(mu, exp(logvar)), same shape as mu", 2, "reparameterize",
       probe=_probe_reparameterize_moments,
       inputs=lambda: {"mu": torch.full((20000, 2), 2.0), "logvar": torch.full((20000, 2), math.log(0.25))})
def _(out, inp):
    z = expect_shape(out["z"], (20000, 2), "reparameterize(mu, logvar)")
    mean, std = z.mean().item(), z.std().item()
    expect(abs(mean - 2) < 0.03, f"z should have mean mu = 2, got {mean:.3f}")
    expect(abs(std - 0.5) < 0.03, f"z should have std exp(logvar / 2) = 0.5, got {std:.3f} "
           "(sigma = exp(logvar / 2), not exp(logvar))")


def _probe_reparameterize_gradients(ns, inp):
    mu, logvar = inp["mu"].clone().requires_grad_(), inp["logvar"].clone().requires_grad_()
    z = ns["reparameterize"](mu, logvar)
    if not (torch.is_tensor(z) and z.requires_grad):
        return {"differentiable": False}
    z.sum().backward()
    z2 = ns["reparameterize"](mu, logvar)
    return {"differentiable": True, "z": z, "z2": z2, "mu_grad": mu.grad, "logvar_grad": logvar.grad}


@check(CHECKS, "1.10", "gradients flow: dz/dmu = 1, dz/dlogvar = (z - mu) / 2", 2, "reparameterize",
       probe=_probe_reparameterize_gradients, inputs=lambda: {"mu": torch.randn(64, 3), "logvar": torch.randn(64, 3)})
def _(out, inp):
    expect(out.get("differentiable") is True,
           "z must be differentiable in mu and logvar: eps ~ N(0, I), z = mu + sigma * eps")
    expect(out["mu_grad"] is not None and out["logvar_grad"] is not None, "no gradient reached mu or logvar")
    z = expect_shape(out["z"], (64, 3), "reparameterize(mu, logvar)")
    expect_close(out["mu_grad"], torch.ones(64, 3), "dz/dmu")
    expect_close(out["logvar_grad"], 0.5 * (z - inp["mu"]), "dz/dlogvar", hint="z = mu + exp(logvar / 2) * eps")
    expect(not (torch.is_tensor(out["z2"]) and torch.equal(z, out["z2"])),
           "two calls gave the same z: draw fresh eps every call")


# ---------------------------------------------------------------------------------------------
# 1.11 the VAE


def _vae_outputs(model, x, eps):
    mu, logvar = model.encode(x)
    out = model(x)
    usable = torch.is_tensor(mu) and torch.is_tensor(logvar) and mu.shape == eps.shape
    z = mu + torch.exp(0.5 * logvar) * eps if usable else mu
    return {"mu": mu, "logvar": logvar, "decoded": model.decode(z) if z is not None else None,
            "forward": list(out) if isinstance(out, (tuple, list)) else out}


def _judge_shapes(out, b, latent_dim, what):
    expect_shape(out["mu"], (b, latent_dim), f"{what}.encode(x)[0] (mu)")
    expect_shape(out["logvar"], (b, latent_dim), f"{what}.encode(x)[1] (logvar)")
    expect_shape(out["decoded"], (b, 784), f"{what}.decode(z)")
    fwd = out["forward"]
    expect(isinstance(fwd, list) and len(fwd) == 3, "forward(x) must return (logits, mu, logvar)")
    expect_shape(fwd[0], (b, 784), f"{what}(x)[0] (logits)")
    expect_shape(fwd[1], (b, latent_dim), f"{what}(x)[1] (mu)")


def _probe_vae_shapes(ns, inp):
    model = ns["VAE"](latent_dim=inp["latent_dim"], hidden=inp["hidden"])
    return _vae_outputs(model, inp["x"], torch.randn(len(inp["x"]), inp["latent_dim"]))


@check(CHECKS, "1.11", "VAE(latent_dim=20, hidden=512): encode, decode and forward shapes", 1, "VAE",
       probe=_probe_vae_shapes, helpers=(_vae_outputs,), isolate=LOSS_STAND_INS,
       inputs=lambda: {"x": _binary(8, 6), "latent_dim": 20, "hidden": 512})
def _(out, inp):
    _judge_shapes(out, 8, 20, "VAE(latent_dim=20, hidden=512)")


@check(CHECKS, "1.11", "VAE(latent_dim=2, hidden=64) works too", 1, "VAE",
       probe=_probe_vae_shapes, helpers=(_vae_outputs,), isolate=LOSS_STAND_INS,
       inputs=lambda: {"x": _binary(5, 7), "latent_dim": 2, "hidden": 64})
def _(out, inp):
    _judge_shapes(out, 5, 2, "VAE(latent_dim=2, hidden=64)")


def _train_loss(ns, model, x):
    mu, logvar = model.encode(x)
    return ns["negative_elbo"](x, model.decode(ns["reparameterize"](mu, logvar)), mu, logvar)  # the stand-ins


def _probe_vae_gradients(ns, inp):
    model = ns["VAE"](latent_dim=4, hidden=64)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        return {"params": 0}
    _train_loss(ns, model, inp["x"]).backward()
    dead = [name for name, p in model.named_parameters()
            if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())]
    return {"params": len(params), "dead": dead[:3]}


@check(CHECKS, "1.11", "every parameter gets a gradient from the ELBO", 1, "VAE", probe=_probe_vae_gradients,
       helpers=(_train_loss,), isolate=LOSS_STAND_INS, inputs=lambda: {"x": _binary(8, 8)})
def _(out, inp):
    expect(isinstance(out.get("params"), int) and out["params"] > 0,
           "the VAE has no trainable parameters (use nn.Linear layers as attributes)")
    dead = out.get("dead")
    expect(isinstance(dead, list) and not dead,
           f"no (finite) gradient for {', '.join(map(str, dead or []))}: is every layer used in encode/decode?")


def _probe_vae_training(ns, inp):
    x_train = inp["train"].float()
    model = ns["VAE"](latent_dim=20, hidden=256)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        loss = _train_loss(ns, model, x_train[torch.randint(len(x_train), (128,), generator=g)])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        mu, logvar = model.encode(inp["test"].float())
        return {"mu": mu, "logvar": logvar, "logits": model.decode(mu + torch.exp(0.5 * logvar) * inp["eps"])}


def _training_inputs():
    test = _mnist("test")
    return {"train": _mnist("train").to(torch.uint8), "test": test.to(torch.uint8), "eps": torch.randn(len(test), 20)}


@check(CHECKS, "1.11", "a short training run (200 steps) reaches a test -ELBO below 200 nats", 3, "VAE", timeout=90,
       probe=_probe_vae_training, helpers=(_train_loss,), isolate=LOSS_STAND_INS, inputs=_training_inputs)
def _(out, inp):
    x, n = inp["test"].float(), len(inp["test"])
    mu = expect_shape(out["mu"], (n, 20), "VAE.encode(x)[0] (mu) on the test digits")
    logvar = expect_shape(out["logvar"], (n, 20), "VAE.encode(x)[1] (logvar) on the test digits")
    logits = expect_shape(out["logits"], (n, 784), "VAE.decode(z) on the test digits")
    test = _negative_elbo(x, logits.float(), mu.float(), logvar.float()).item()
    expect(math.isfinite(test) and test < 200,
           f"after 200 Adam steps (lr 1e-3, batch 128) the test -ELBO is {test:.1f} nats"
           ", above 200 (a working VAE gets ~160-180): check the encoder outputs (mu, logvar) with no activation "
           "on them, and that decode returns logits (no sigmoid)")


# ---------------------------------------------------------------------------------------------
# 1.12 the training objective for fit


class _FixedVAE(torch.nn.Module):
    """A small stand-in with the lab's interface (forward -> (logits, mu, logvar)), so that 1.12 is judged
    on vae_loss alone, whatever the student's VAE does. Its weights come from the inputs (the grader's)."""

    def __init__(self, weights):
        super().__init__()
        self.enc = torch.nn.Linear(784, 8)
        self.dec = torch.nn.Linear(4, 784)
        with torch.no_grad():
            for p, w in zip(self.parameters(), weights):
                p.copy_(w)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        eps = torch.randn_like(mu)
        self.last = (mu.detach(), logvar.detach(), eps)
        return self.dec(mu + torch.exp(0.5 * logvar) * eps), mu, logvar


def _fixed_weights():
    g = torch.Generator().manual_seed(12)
    return [0.05 * torch.randn(s, generator=g) for s in ((8, 784), (8,), (784, 4), (784,))]


def _probe_vae_loss(ns, inp):
    model = _FixedVAE(inp["weights"])
    out = ns["vae_loss"](model, inp["x"])
    if not isinstance(out, dict):
        return {"type": type(out).__name__}
    keys = [str(k) for k in out]
    terms = {k: out[k] for k in ("loss", "recon", "kl") if k in out}
    grads = None
    if torch.is_tensor(out.get("loss")) and out["loss"].requires_grad and out["loss"].numel() == 1:
        out["loss"].sum().backward()
        grads = [p.grad for p in model.parameters()]
    calls = getattr(model, "last", None)
    return {"type": "dict", "keys": keys, "terms": terms, "grads": grads,
            "draw": list(calls) if calls is not None else None, "calls": 1 if calls is not None else 0}


def _loss_inputs(seed):
    return lambda: {"x": _binary(6, seed), "weights": _fixed_weights()}


def _terms(out):
    expect(out.get("type") == "dict", f"vae_loss must return a dict, got {out.get('type')}")
    keys = out["keys"]
    expect(keys[:1] == ["loss"] and {"recon", "kl"} <= set(keys),
           f"vae_loss must return {{'loss', 'recon', 'kl'}} with 'loss' first (fit minimizes the first key), "
           f"got {keys}")
    return out["terms"]


@check(CHECKS, "1.12", "returns {'loss', 'recon', 'kl'}, 'loss' first, each a scalar", 1, "vae_loss",
       probe=_probe_vae_loss, helpers=(_FixedVAE,), isolate=LOSS_STAND_INS, inputs=_loss_inputs(12))
def _(out, inp):
    terms = _terms(out)
    for key in ("loss", "recon", "kl"):
        expect(torch.is_tensor(terms[key]) and terms[key].numel() == 1,
               f"vae_loss(...)['{key}'] must be a scalar tensor")


@check(CHECKS, "1.12", "loss = -ELBO = recon + kl, batch means, from one forward pass", 2, "vae_loss",
       probe=_probe_vae_loss, helpers=(_FixedVAE,), isolate=LOSS_STAND_INS, inputs=_loss_inputs(13))
def _(out, inp):
    terms = _terms(out)
    expect(out.get("draw") is not None, "vae_loss must call the model: logits, mu, logvar = model(x)")
    x = inp["x"]
    mu, logvar, eps = (expect_shape(t, (6, 4), "the model's draw") for t in out["draw"])
    w_enc, b_enc, w_dec, b_dec = inp["weights"]
    mu_ref, logvar_ref = (x @ w_enc.T + b_enc).chunk(2, dim=1)
    expect_close(mu, mu_ref, "the encoder's mu")  # the kernel reports the draw; the rest is recomputed here
    logits = (mu_ref + torch.exp(0.5 * logvar_ref) * eps) @ w_dec.T + b_dec
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1).mean()
    kl = kl_normal_std(mu_ref, logvar_ref).mean()
    expect_close(terms["recon"].reshape(()), recon, "vae_loss(...)['recon'] (mean over the batch of the summed BCE)")
    expect_close(terms["kl"].reshape(()), kl, "vae_loss(...)['kl'] (mean over the batch of KL(q(z|x) || N(0, I)))")
    expect_close(terms["loss"].reshape(()), recon + kl, "vae_loss(...)['loss']",
                 hint="the loss is the negative ELBO, recon + kl, from one forward pass (one draw of z)")


@check(CHECKS, "1.12", "the loss back-propagates to the encoder and the decoder", 1, "vae_loss",
       probe=_probe_vae_loss, helpers=(_FixedVAE,), isolate=LOSS_STAND_INS, inputs=_loss_inputs(14))
def _(out, inp):
    expect(out.get("type") == "dict" and out.get("grads") is not None,
           "vae_loss(...)['loss'] must carry a gradient (do not detach it or call .item())")
    expect(all(torch.is_tensor(g) and g.abs().sum() > 0 for g in out["grads"]),
           "the loss does not reach every weight: compute it from model(x)'s logits, mu and logvar")
