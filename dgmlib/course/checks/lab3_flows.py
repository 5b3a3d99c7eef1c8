"""Hidden checks of Lab 3 (an affine coupling flow on MNIST grey levels), judged against :mod:`dgmlib.flows`.

Questions and the names they grade: 3.4 ``dequantize``, 3.6 ``flow_log_prob``,
3.7 ``checkerboard_mask`` and ``Coupling``, 3.8 ``bits_per_dim``.
Each check: inputs drawn here, a probe (torch only) run in the kernel, a judge run here.
"""

from __future__ import annotations

import functools
import math

import torch

from ...flows import bits_per_dim as _reference_bpd
from ...flows import checkerboard_mask as _reference_mask
from ...gaussian import log_normal_std
from .base import CheckFailed, check, expect, expect_close, expect_shape

CHECKS: list = []
LOG_256 = math.log(256)

# the course's reference implementation of each question: absent from the sandbox (poisoned stubs there)
REFERENCE_API = {
    "3.7": ("dgmlib.flows.coupling.checkerboard_mask", "dgmlib.flows.coupling.AffineCoupling"),
    "3.8": ("dgmlib.flows.base.bits_per_dim",),
}


def _bits_per_dim(log_p_y, num_dims):
    return _reference_bpd(log_p_y - num_dims * LOG_256, num_dims)


# ---------------------------------------------------------------------------------------------
# layers and stand-ins built from torch alone (sent with the probes that use them)


class _Logit(torch.nn.Module):
    """y = logit(a + (1 - 2a) x), log|det J| = sum [log(1 - 2a) - log s - log(1 - s)]."""

    def __init__(self, alpha=0.05):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        s = self.alpha + (1 - 2 * self.alpha) * x
        log_det = (math.log(1 - 2 * self.alpha) - torch.log(s) - torch.log1p(-s)).flatten(1).sum(1)
        return torch.log(s) - torch.log1p(-s), log_det


class _TinyCoupling(torch.nn.Module):
    """z = m x + (1 - m)(x exp(s) + t), (s, t) = a one-hidden-layer net of m x; weights given."""

    def __init__(self, mask, weights):
        super().__init__()
        self.mask = mask
        self.w1, self.b1, self.w2, self.b2 = (torch.nn.Parameter(w.clone()) for w in weights)

    def forward(self, x):
        m = self.mask
        h = torch.tanh((m * x).flatten(1) @ self.w1.T + self.b1) @ self.w2.T + self.b2
        s, t = (v.reshape(x.shape) for v in h.chunk(2, dim=1))
        s = torch.tanh(s) * (1 - m)
        return m * x + (1 - m) * (x * torch.exp(s) + t), s.flatten(1).sum(1)


def _tiny_weights(d, hidden, g):
    return [0.3 * torch.randn(hidden, d, generator=g), 0.3 * torch.randn(hidden, generator=g),
            0.3 * torch.randn(2 * d, hidden, generator=g), 0.3 * torch.randn(2 * d, generator=g)]


def _iso_dequantize(x):
    return (torch.round(255 * x) + torch.rand_like(x)) / 256


def _iso_flow_log_prob(layers, x):
    z, total = x, torch.zeros(x.shape[0], dtype=x.dtype)
    for layer in layers:
        z, log_det = layer(z)
        total = total + log_det
    return -0.5 * (z.flatten(1) ** 2 + math.log(2 * math.pi)).sum(1) + total


def _iso_bits_per_dim(log_p_y, num_dims):
    return -(log_p_y - num_dims * math.log(256)) / (num_dims * math.log(2))


@functools.lru_cache(maxsize=1)
def _mnist14() -> torch.Tensor:
    """The digits average-pooled to 14 x 14, on the grey levels k / 255 again."""
    from ...data import load_mnist

    return torch.round(torch.nn.functional.avg_pool2d(load_mnist("train")[0][:1024], 2) * 255) / 255


# ---------------------------------------------------------------------------------------------
# 3.4 dequantization


def _probe_dequantize(ns, inp):
    return {"y": ns["dequantize"](inp["x"]), "y2": ns["dequantize"](inp["x"])}


@check(CHECKS, "3.4", "y = (k + u) / 256 lands in the bin of grey level k", 2, "dequantize", probe=_probe_dequantize,
       inputs=lambda: {"x": torch.randint(0, 256, (16, 1, 28, 28)).float() / 255})
def _(out, inp):
    k = torch.round(inp["x"] * 255)
    y = expect_shape(out["y"], (16, 1, 28, 28), "dequantize(x)")
    expect(y.is_floating_point() and bool((y >= 0).all() and (y < 1).all()), "dequantized values must lie in [0, 1)")
    hits = (torch.floor(y.double() * 256) == k).float().mean().item()
    expect(hits > 0.9999, f"only {hits:.2%} of the values land in their bin [k/256, (k+1)/256) with k = round(255 x): "
           "y = (k + u) / 256")


@check(CHECKS, "3.4", "the noise u is uniform on [0, 1) and fresh every call", 1, "dequantize", probe=_probe_dequantize,
       inputs=lambda: {"x": torch.full((64, 1, 28, 28), 100 / 255)})
def _(out, inp):
    y = expect_shape(out["y"], (64, 1, 28, 28), "dequantize(x)")
    expect(y.is_floating_point(), "dequantize must return a float tensor")
    u = y.double() * 256 - 100
    mean, var = u.mean().item(), u.var().item()
    expect(abs(mean - 0.5) < 0.02 and abs(var - 1 / 12) < 0.01,
           f"the noise u should be U[0, 1) (mean 0.5, variance 0.083), got mean {mean:.3f}, variance {var:.3f}")
    expect(not (torch.is_tensor(out["y2"]) and torch.equal(y, out["y2"])),
           "two calls gave the same values: draw new noise each call")


# ---------------------------------------------------------------------------------------------
# 3.6 the log-likelihood of a flow


def _probe_flow_log_prob(ns, inp):
    layers = [_Logit(0.05)] + [_TinyCoupling(m, w) for m, w in zip(inp["masks"], inp["weights"])]
    with torch.no_grad():
        return {"log_p": ns["flow_log_prob"](layers, inp["x"])}


def _flow_inputs():
    g = torch.Generator().manual_seed(36)
    return {"x": torch.rand(5, 1, 6, 6, generator=g) * 0.9 + 0.05, "masks": [_reference_mask(6, 6, p) for p in (0, 1)],
            "weights": [_tiny_weights(36, 8, g) for _ in range(2)]}


@check(CHECKS, "3.6", "log N(z; 0, I) + sum of log_dets through the layers", 2, "flow_log_prob",
       probe=_probe_flow_log_prob, helpers=(_Logit, _TinyCoupling), inputs=_flow_inputs)
def _(out, inp):
    layers = [_Logit(0.05)] + [_TinyCoupling(m, w) for m, w in zip(inp["masks"], inp["weights"])]
    z, total = inp["x"], torch.zeros(5)
    with torch.no_grad():
        for layer in layers:
            z, log_det = layer(z)
            total = total + log_det
    want = log_normal_std(z.flatten(1)) + total
    expect_close(out["log_p"], want, "flow_log_prob(layers, x)", rtol=1e-4, atol=1e-3,
                 hint="push x through the layers in order, add up their log_dets, "
                      "add log N(z; 0, I) summed over all dimensions")


def _probe_flow_no_layers(ns, inp):
    return {"log_p": ns["flow_log_prob"]([], inp["x"])}


@check(CHECKS, "3.6", "without layers it is the standard normal log-density, summed over all dimensions", 1, "flow_log_prob",
       probe=_probe_flow_no_layers, inputs=lambda: {"x": torch.randn(3, 1, 4, 4)})
def _(out, inp):
    expect_close(out["log_p"], log_normal_std(inp["x"].flatten(1)), "flow_log_prob([], x)",
                 hint="log N(z; 0, I) = -1/2 sum (z^2 + log 2 pi) over every dimension of one image")


# ---------------------------------------------------------------------------------------------
# 3.7 the coupling layer

MASK_CASES = ((28, 28, 0), (28, 28, 1), (5, 3, 0), (4, 7, 1))


def _probe_masks(ns, inp):
    return {"masks": [ns["checkerboard_mask"](h, w, p) for h, w, p in inp["cases"]]}


@check(CHECKS, "3.7", "checkerboard_mask matches m[0, i, j] = 1 iff i + j + parity is even", 2, "checkerboard_mask",
       probe=_probe_masks, inputs=lambda: {"cases": [list(c) for c in MASK_CASES]})
def _(out, inp):
    masks = out["masks"]
    expect(isinstance(masks, list) and len(masks) == len(MASK_CASES), "checkerboard_mask must return a tensor")
    for (h, w, parity), m in zip(MASK_CASES, masks):
        expect_shape(m, (1, h, w), f"checkerboard_mask({h}, {w}, {parity})")
        expect(m.is_floating_point(), "the mask should be a float tensor (it multiplies images)")
        expect(torch.equal(m, _reference_mask(h, w, parity)),
               f"checkerboard_mask({h}, {w}, {parity}) is wrong: m[0, i, j] = 1 when (i + j + parity) is even")


def _coupling(ns, mask):
    layer = ns["Coupling"](mask, hidden=16)
    if not isinstance(layer, torch.nn.Module):
        return None
    with torch.no_grad():  # leave the identity a zero-initialized output layer starts at
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return layer


def _forward(layer, x):
    out = layer(x)
    return list(out) if isinstance(out, (tuple, list)) else out


def _judge_forward(out, x, what):
    expect(out.get("module") is not False, "Coupling must be an nn.Module")
    f = out["forward"]
    expect(isinstance(f, list) and len(f) == 2, f"{what} must return (z, log_det)")
    z = expect_shape(f[0], x.shape, f"z of {what}")
    log_det = expect_shape(f[1], (x.shape[0],), f"log_det of {what}")
    return z, log_det


def _probe_coupling_forward(ns, inp):
    layer = _coupling(ns, inp["mask"])
    if layer is None:
        return {"module": False}
    return {"forward": _forward(layer, inp["x"])}


@check(CHECKS, "3.7", "Coupling: shapes, and the pixels where m = 1 pass unchanged", 1, "Coupling",
       probe=_probe_coupling_forward, helpers=(_coupling, _forward),
       inputs=lambda: {"mask": _reference_mask(28, 28), "x": torch.randn(4, 1, 28, 28)})
def _(out, inp):
    x = inp["x"]
    z, _ = _judge_forward(out, x, "Coupling(mask)(x)")
    keep = inp["mask"].bool().expand_as(x)
    expect(torch.equal(z[keep], x[keep]), "pixels where the mask is 1 must pass through unchanged: z = m x + (1 - m)(...)")
    expect(not torch.allclose(z[~keep], x[~keep]), "the pixels where the mask is 0 were not transformed")


def _probe_coupling_inverse(ns, inp):
    layer = _coupling(ns, inp["mask"])
    if layer is None:
        return {"module": False}
    with torch.no_grad():
        f = _forward(layer, inp["x"])
        back = layer.inverse(f[0]) if isinstance(f, list) and len(f) == 2 else None
    return {"forward": f, "back": list(back)[0] if isinstance(back, (tuple, list)) else back}


@check(CHECKS, "3.7", "Coupling.inverse undoes forward", 1, "Coupling", probe=_probe_coupling_inverse,
       helpers=(_coupling, _forward),
       inputs=lambda: {"mask": _reference_mask(28, 28, 1), "x": torch.randn(4, 1, 28, 28)})
def _(out, inp):
    _judge_forward(out, inp["x"], "Coupling(mask)(x)")
    expect_close(out["back"], inp["x"], "Coupling.inverse(Coupling(x)[0])", rtol=1e-4, atol=1e-4,
                 hint="x = m z + (1 - m)(z - t) exp(-s), with (s, t) computed from m z")


def _probe_coupling_jacobian(ns, inp):
    for size in (6, 28):  # any image size should do; fall back to MNIST's if 6 x 6 is refused
        try:
            layer = _coupling(ns, inp[f"mask{size}"])
            if layer is None:
                return {"module": False}
            layer = layer.double()
            x = inp[f"x{size}"]
            f = _forward(layer, x)
            break
        except Exception:
            if size == 28:
                raise
    jacobians = []
    if isinstance(f, list) and len(f) == 2:
        for b in range(2):
            jac = torch.autograd.functional.jacobian(lambda v: layer(v)[0].flatten(), x[b: b + 1], vectorize=True)
            jacobians.append(jac.reshape(size * size, size * size))
    return {"size": size, "forward": f, "jacobians": jacobians}


@check(CHECKS, "3.7", "Coupling's log_det equals log|det dz/dx| computed by autograd", 3, "Coupling", timeout=30,
       probe=_probe_coupling_jacobian, helpers=(_coupling, _forward),
       inputs=lambda: {"mask6": _reference_mask(6, 6), "x6": torch.randn(2, 1, 6, 6, dtype=torch.float64),
                       "mask28": _reference_mask(28, 28), "x28": torch.randn(2, 1, 28, 28, dtype=torch.float64)})
def _(out, inp):
    size = out.get("size")
    expect(size in (6, 28), "Coupling must be an nn.Module")
    _, log_det = _judge_forward(out, inp[f"x{size}"], "Coupling(mask)(x)")
    jacobians = out["jacobians"]
    expect(isinstance(jacobians, list) and len(jacobians) == 2, "the Jacobian of Coupling could not be computed")
    for b in range(2):
        jac = expect_shape(jacobians[b], (size * size, size * size), "dz/dx")
        want = torch.linalg.slogdet(jac.double())[1]
        expect_close(log_det[b], want, "log_det", rtol=1e-5, atol=1e-4,
                     hint="log|det J| = sum over pixels of (1 - m) * s, the log-scales of the transformed pixels")


def _probe_coupling_training(ns, inp):
    layers = [_Logit(0.05)] + [ns["Coupling"](m, hidden=16) for m in inp["masks"]]
    model = torch.nn.ModuleList(layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data, g = inp["data"], torch.Generator().manual_seed(0)

    def bpd(x):
        return ns["bits_per_dim"](ns["flow_log_prob"](layers, ns["dequantize"](x)), 196).mean()

    def latent(x):  # z and the summed log_det of the held-out digits, with the grader's noise
        z, total = x, torch.zeros(len(x))
        for layer in layers:
            z, log_det = layer(z)
            total = total + log_det
        return {"z": z, "log_det": total}

    with torch.no_grad():
        start = latent(inp["test"])
    for _ in range(30):
        loss = bpd(data[torch.randint(768, (32,), generator=g)])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return {"start": start, "end": latent(inp["test"])}


def _training_inputs():
    data = _mnist14()
    g = torch.Generator().manual_seed(37)
    test = (torch.round(255 * data[-256:]) + torch.rand(data[-256:].shape, generator=g)) / 256
    return {"data": data, "test": test, "masks": [_reference_mask(14, 14, i % 2) for i in range(4)]}


def _test_bpd(latent):
    z = expect_shape(latent["z"], (256, 1, 14, 14), "z of the flow of 4 Couplings")
    log_det = expect_shape(latent["log_det"], (256,), "log_det of the flow of 4 Couplings")
    return _bits_per_dim(log_normal_std(z.double().flatten(1)) + log_det.double(), 196).mean().item()


@check(CHECKS, "3.7", "a flow of 4 Couplings learns MNIST at 14 x 14 (30 steps lower the bits/dim by 2)", 1, "Coupling",
       timeout=60, probe=_probe_coupling_training, helpers=(_Logit,),
       isolate={"dequantize": _iso_dequantize, "flow_log_prob": _iso_flow_log_prob, "bits_per_dim": _iso_bits_per_dim},
       inputs=_training_inputs)
def _(out, inp):
    start, end = _test_bpd(out["start"]), _test_bpd(out["end"])
    expect(math.isfinite(end) and end < start - 2, f"30 Adam steps took the test bits/dim from {start:.2f} to {end:.2f} "
           f"only (a working flow: below {start - 3:.1f}): are s and t computed from m * x by a trainable net, "
           "s bounded (tanh), and both multiplied by (1 - m)?")


# ---------------------------------------------------------------------------------------------
# 3.8 bits per dimension


def _probe_bits_per_dim(ns, inp):
    return {"bpd": ns["bits_per_dim"](inp["log_p_y"], 784)}


@check(CHECKS, "3.8", "bits per dimension of the discrete data, including the -D log 256", 2, "bits_per_dim",
       probe=_probe_bits_per_dim, inputs=lambda: {"log_p_y": 500 + 100 * torch.randn(6)})
def _(out, inp):
    log_p_y, got = inp["log_p_y"], out["bpd"]
    want = _bits_per_dim(log_p_y, 784)
    if torch.is_tensor(got) and got.shape == want.shape and got.is_floating_point() \
            and torch.allclose(got, _reference_bpd(log_p_y, 784), rtol=1e-4):
        raise CheckFailed("bits_per_dim forgets the dequantization: the discrete log-probability is log p(y) - D log 256")
    expect_close(got, want, "bits_per_dim(log_p_y, 784)", hint="bpd = -(log p(y) - D log 256) / (D log 2)")
