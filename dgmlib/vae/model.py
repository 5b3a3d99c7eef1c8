"""Variational auto-encoders: the Gaussian KL, the ELBO, importance-weighted bounds, richer posteriors.

Notation of the lectures: ``p(z) = N(0, I)`` the prior, ``p(x|z)`` the decoder (likelihood),
``q(z|x) = N(mu(x), diag(exp(logvar(x))))`` the encoder (approximate posterior).

    ELBO(x)  = E_q[log p(x|z)] - KL(q(z|x) || p(z))  =  log p(x) - KL(q(z|x) || p(z|x))
    F_k(x)   = E_{z_1..z_k ~ q}[ log (1/k) sum_i w_i ],   w_i = p(x, z_i) / q(z_i|x)   (IWAE)

``F_1`` is the ELBO, ``F_k <= F_{k+1} <= log p(x)``, and ``F_k -> log p(x)`` as ``k`` grows, which
is how :meth:`VAE.log_likelihood` estimates ``log p(x)`` with ``k = 1000`` or more.

Contents: closed-form Gaussian KLs and log-densities, :func:`reparameterize`, the two gradient
estimators (:func:`reparam_gradient`, :func:`score_function_gradient`), MLP and convolutional
encoders/decoders for 28x28 images, :class:`Autoencoder` (not generative), :class:`VAE` (also the
IWAE, with ``k > 1``, and with a normalizing-flow posterior, with ``flows=``, e.g. :class:`IAFStep`),
:class:`HierarchicalVAE` (two levels of latents), :class:`LinearGaussian`, the latent model whose
``log p(x)`` and ``p(z|x)`` are exact, :func:`evaluate_bounds` (test ELBO, F_5, log p(x)), and, for
variational inference with flows on 2-D targets, the energies :func:`energy` (U1-U4),
:class:`FlowPosterior` and :func:`fit_reverse_kl`. The flow layers themselves (planar, radial,
masked autoregressive) live in :mod:`dgmlib.flows`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .runtime import module_device

__all__ = [
    "reparameterize", "kl_normal_std", "kl_normal", "log_normal", "log_normal_std", "log_bernoulli",
    "log_mean_exp", "reparam_gradient", "score_function_gradient",
    "MLPEncoder", "MLPDecoder", "ConvEncoder", "ConvDecoder",
    "Autoencoder", "VAE", "HierarchicalVAE", "LinearGaussian", "IAFStep",
    "latent_grid", "gaussian_fit_kl", "ENERGIES", "energy", "FlowPosterior", "fit_reverse_kl",
    "evaluate_bounds",
]

LOG_2PI = math.log(2 * math.pi)
LIKELIHOODS = ("bernoulli", "gaussian")


# ---------------------------------------------------------------------------------------------
# argument checks


def _check_tensor(value, name: str) -> torch.Tensor:
    if not torch.is_tensor(value):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def _check_same_shape(**tensors):
    (n1, t1), *rest = tensors.items()
    _check_tensor(t1, n1)
    for name, t in rest:
        _check_tensor(t, name)
        if t.shape != t1.shape:
            raise ValueError(
                f"{n1} and {name} must have the same shape, got {tuple(t1.shape)} and {tuple(t.shape)}"
            )


def _check_k(k, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"{name} must be an int >= 1, got {k!r}")
    return k


def _check_likelihood(likelihood) -> str:
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    return likelihood


def _check_bernoulli_targets(x: torch.Tensor):
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(
            "Bernoulli targets x must lie in [0, 1], got values in "
            f"[{x.min().item():.3g}, {x.max().item():.3g}]; rescale the data or use likelihood='gaussian'"
        )


# ---------------------------------------------------------------------------------------------
# Gaussians, Bernoullis, KLs


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, k: int | None = None) -> torch.Tensor:
    """z = mu + sigma * eps,  eps ~ N(0, I),  sigma = exp(logvar / 2)   (reparameterization trick).

    The randomness sits in ``eps``, outside the parameters, so ``z`` is differentiable in ``mu``
    and ``logvar``. ``mu, logvar: (B, D)`` -> ``z: (B, D)``; with ``k``: ``(k, B, D)``, ``k``
    independent draws per row.
    """
    _check_same_shape(mu=mu, logvar=logvar)
    shape = mu.shape if k is None else (_check_k(k), *mu.shape)
    eps = torch.randn(shape, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_normal_std(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) = 1/2 sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2).

    ``mu, logvar: (B, D)`` -> ``(B,)`` (summed over the last dimension). ``expm1`` keeps the
    tiny KLs of nearly standard Gaussians exact: ``sigma^2 - 1 - log sigma^2 = expm1(l) - l``.
    """
    _check_same_shape(mu=mu, logvar=logvar)
    return 0.5 * (torch.expm1(logvar) - logvar + mu.pow(2)).sum(-1)


def kl_normal(mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor, logvar_p: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_q, diag s_q^2) || N(mu_p, diag s_p^2))
    = 1/2 sum_j [ log(s_p^2 / s_q^2) + (s_q^2 + (mu_q - mu_p)^2) / s_p^2 - 1 ].

    All four ``(B, D)`` (or broadcastable to a common shape) -> ``(B,)``.
    """
    for name, t in (("mu_q", mu_q), ("logvar_q", logvar_q), ("mu_p", mu_p), ("logvar_p", logvar_p)):
        _check_tensor(t, name)
    _check_same_shape(mu_q=mu_q, logvar_q=logvar_q)
    try:
        torch.broadcast_shapes(mu_q.shape, mu_p.shape, logvar_p.shape)
    except RuntimeError:
        raise ValueError(
            f"mu_p and logvar_p must broadcast to the shape of mu_q {tuple(mu_q.shape)}, "
            f"got {tuple(mu_p.shape)} and {tuple(logvar_p.shape)}"
        ) from None
    d = logvar_q - logvar_p
    return 0.5 * (torch.expm1(d) - d + (mu_q - mu_p).pow(2) * torch.exp(-logvar_p)).sum(-1)


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(logvar)) = -1/2 sum_j [log 2 pi + logvar_j + (z_j - mu_j)^2 / exp(logvar_j)].

    Broadcasts; sums the last dimension: ``(..., D)`` -> ``(...)``.
    """
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar)).sum(-1)


def log_normal_std(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) = -1/2 sum_j (log 2 pi + z_j^2):  ``(..., D)`` -> ``(...)``."""
    return -0.5 * (LOG_2PI + z.pow(2)).sum(-1)


def log_bernoulli(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """log p(x|z) = sum_m [x_m log f_m + (1 - x_m) log(1 - f_m)],  f = sigmoid(logits).

    Computed from logits (``-BCEWithLogits``), stable for saturated pixels. ``logits: (..., B, *S)``
    and ``x: (B, *S)`` broadcast; sums the ``len(S)`` trailing dimensions of ``x``'s sample shape.
    """
    ndim = x.dim() - 1
    ll = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none")
    return ll.flatten(start_dim=ll.dim() - ndim).sum(-1) if ndim else ll


def log_mean_exp(log_w: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """log (1/k) sum_i exp(log_w_i) along ``dim``, computed stably (``logsumexp - log k``)."""
    return torch.logsumexp(log_w, dim) - math.log(log_w.shape[dim])


def latent_grid(n: int, quantile: float = 0.95, dtype=torch.float32, device=None) -> torch.Tensor:
    """An ``n x n`` grid of 2-D latent points at equal *probability* steps under N(0, I).

    Coordinates are ``Phi^{-1}(u)`` for ``u`` evenly spaced in ``[1 - quantile, quantile]`` (inverse
    CDF), so each cell holds about the same prior mass. Returns ``(n * n, 2)``, row-major with
    the second coordinate decreasing down the rows (image orientation).
    """
    _check_positive_int(n, "n")
    if not 0.5 < quantile < 1:
        raise ValueError(f"quantile must lie in (0.5, 1), got {quantile!r}")
    u = torch.linspace(1 - quantile, quantile, n, dtype=torch.float64)
    v = torch.distributions.Normal(0.0, 1.0).icdf(u).to(dtype)
    gy, gx = torch.meshgrid(v.flip(0), v, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], 1).to(device)


def gaussian_fit_kl(z: torch.Tensor) -> torch.Tensor:
    """KL(N(m, C) || N(0, I)) of the Gaussian fitted to a cloud of codes ``z: (N, d)`` (a scalar):

        1/2 [tr C + m^T m - d - log det C],   m, C the sample mean and covariance.

    Zero when the codes look like draws from the prior, large when they live elsewhere.
    """
    _check_tensor(z, "z")
    if z.dim() != 2 or z.shape[0] <= z.shape[1]:
        raise ValueError(f"z must have shape (N, d) with N > d, got {tuple(z.shape)}")
    z = z.double()
    m, cov = z.mean(0), torch.cov(z.T).reshape(z.shape[1], z.shape[1])
    return 0.5 * (torch.trace(cov) + m @ m - z.shape[1] - torch.logdet(cov))


# ---------------------------------------------------------------------------------------------
# gradient estimators of d/d(mu, logvar) E_{z ~ N(mu, sigma^2)}[f(z)]


def _replicate(mu, logvar, n):
    _check_same_shape(mu=mu, logvar=logvar)
    _check_k(n, "n")
    mu_n = mu.detach().expand(n, *mu.shape).clone().requires_grad_(True)
    logvar_n = logvar.detach().expand(n, *logvar.shape).clone().requires_grad_(True)
    return mu_n, logvar_n


def reparam_gradient(f: Callable, mu: torch.Tensor, logvar: torch.Tensor, n: int):
    """Per-sample reparameterized gradients: grad_{mu, logvar} f(mu + sigma * eps), eps ~ N(0, I).

    ``f`` maps ``(n, D)`` samples to ``(n,)`` values; ``mu, logvar: (D,)``. Returns
    ``(g_mu, g_logvar)``, each ``(n, D)``: one unbiased estimate per sample (their mean is the
    estimator with ``n`` samples).
    """
    mu_n, logvar_n = _replicate(mu, logvar, n)
    z = mu_n + torch.exp(0.5 * logvar_n) * torch.randn_like(mu_n)
    g_mu, g_logvar = torch.autograd.grad(f(z).sum(), (mu_n, logvar_n))
    return g_mu, g_logvar


def score_function_gradient(f: Callable, mu: torch.Tensor, logvar: torch.Tensor, n: int):
    """Per-sample score-function (REINFORCE) gradients: f(z) grad_{mu, logvar} log q(z), z ~ q.

    Needs only values of ``f``, not its gradient: ``grad E_q[f] = E_q[f(z) grad log q(z)]``.
    Same shapes as :func:`reparam_gradient`.
    """
    mu_n, logvar_n = _replicate(mu, logvar, n)
    with torch.no_grad():
        z = mu_n + torch.exp(0.5 * logvar_n) * torch.randn_like(mu_n)
        values = f(z)
    score_mu, score_logvar = torch.autograd.grad(log_normal(z, mu_n, logvar_n).sum(), (mu_n, logvar_n))
    return values.unsqueeze(-1) * score_mu, values.unsqueeze(-1) * score_logvar


# ---------------------------------------------------------------------------------------------
# encoders and decoders for 28x28 images (or any flat input)


def _mlp(sizes: Sequence[int], activation=nn.ReLU) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


class MLPEncoder(nn.Module):
    """q(z|x) = N(mu(x), diag exp(logvar(x))) by an MLP:  x: (B, *in_shape) -> mu, logvar: (B, latent_dim).

    With ``context_features=c > 0`` it also returns a context ``h: (B, c)`` for a flow posterior
    (the IAF of Kingma et al., 2016): ``forward(x) -> (mu, logvar, h)``.
    """

    def __init__(self, in_features: int, latent_dim: int, hidden: Sequence[int] = (256,), context_features: int = 0):
        super().__init__()
        self.latent_dim = _check_positive_int(latent_dim, "latent_dim")
        self.context_features = context_features
        self.body = _mlp([_check_positive_int(in_features, "in_features"), *hidden], nn.ReLU)
        self.body.append(nn.ReLU())
        self.head = nn.Linear(hidden[-1], 2 * latent_dim + context_features)

    def forward(self, x):
        out = self.head(self.body(x.flatten(1)))
        mu, logvar = out[:, : self.latent_dim], out[:, self.latent_dim : 2 * self.latent_dim]
        if self.context_features:
            return mu, logvar, out[:, 2 * self.latent_dim :]
        return mu, logvar


class MLPDecoder(nn.Module):
    """The decoder network f(z):  z: (..., latent_dim) -> (..., *out_shape) (logits or means)."""

    def __init__(self, latent_dim: int, out_shape: Sequence[int] = (1, 28, 28), hidden: Sequence[int] = (256,)):
        super().__init__()
        self.latent_dim = _check_positive_int(latent_dim, "latent_dim")
        self.out_shape = tuple(out_shape)
        self.net = _mlp([latent_dim, *hidden, math.prod(self.out_shape)])

    def forward(self, z):
        return self.net(z).unflatten(-1, self.out_shape)


class ConvEncoder(nn.Module):
    """A small convolutional q(z|x) for (B, C, 28, 28) images: 2 stride-2 convolutions, then a linear head."""

    def __init__(self, latent_dim: int, channels: int = 1, width: int = 32, context_features: int = 0):
        super().__init__()
        self.latent_dim = _check_positive_int(latent_dim, "latent_dim")
        self.context_features = context_features
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.ReLU(),           # 28 -> 14
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU(),          # 14 -> 7
            nn.Flatten(),
        )
        self.head = nn.Linear(2 * width * 7 * 7, 2 * latent_dim + context_features)

    def forward(self, x):
        if x.dim() != 4 or x.shape[-2:] != (28, 28):
            raise ValueError(f"x must be images of shape (B, C, 28, 28), got {tuple(x.shape)}")
        out = self.head(self.body(x))
        mu, logvar = out[:, : self.latent_dim], out[:, self.latent_dim : 2 * self.latent_dim]
        if self.context_features:
            return mu, logvar, out[:, 2 * self.latent_dim :]
        return mu, logvar


class ConvDecoder(nn.Module):
    """A small transposed-convolution f(z): (..., latent_dim) -> (..., C, 28, 28)."""

    def __init__(self, latent_dim: int, channels: int = 1, width: int = 32):
        super().__init__()
        self.latent_dim = _check_positive_int(latent_dim, "latent_dim")
        self.width = width
        self.fc = nn.Sequential(nn.Linear(latent_dim, 2 * width * 7 * 7), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(),  # 7 -> 14
            nn.ConvTranspose2d(width, channels, 4, 2, 1),               # 14 -> 28
        )

    def forward(self, z):
        lead = z.shape[:-1]
        h = self.fc(z.reshape(-1, z.shape[-1])).view(-1, 2 * self.width, 7, 7)
        out = self.net(h)
        return out.reshape(*lead, *out.shape[1:])


def _latent_dim(encoder, latent_dim):
    if latent_dim is None:
        latent_dim = getattr(encoder, "latent_dim", None)
    if latent_dim is None:
        raise ValueError("latent_dim must be given when the encoder has no latent_dim attribute")
    return _check_positive_int(latent_dim, "latent_dim")


def _module_dtype(module: nn.Module) -> torch.dtype:
    for p in module.parameters():
        return p.dtype
    return torch.get_default_dtype()


# ---------------------------------------------------------------------------------------------
# models


class Autoencoder(nn.Module):
    """A plain (deterministic) autoencoder: code c = mu(x), loss = -log p(x | c), nothing on the codes.

    Uses the encoder's ``mu`` only. It reconstructs, but it is *not* a generative model: nothing
    says where in code space the codes lie, so there is no distribution to sample codes from.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def encode(self, x):
        """x: (B, ...) -> codes (B, latent_dim)."""
        return self.encoder(x)[0]

    def decode(self, c):
        """codes (B, latent_dim) -> pixel probabilities (B, ...)."""
        return torch.sigmoid(self.decoder(c))

    def loss(self, x):
        _check_bernoulli_targets(x)
        recon = -log_bernoulli(x, self.decoder(self.encode(x))).mean()
        return {"loss": recon, "recon_loss": recon}

    def reconstruct(self, x):
        return self.decode(self.encode(x))


def _apply_flows(flows, z, context):
    """Push z through the flow layers; returns (z_K, sum of log|det dz_k/dz_{k-1}|) with shape z.shape[:-1].

    ``context`` goes to the layers marked ``conditional = True`` (the convention of ``dgmlib.flows``).
    """
    total = torch.zeros(z.shape[:-1], dtype=z.dtype, device=z.device)
    lead = z.shape[:-1]
    flat = z.reshape(-1, z.shape[-1])
    ctx = None
    if context is not None:
        ctx = context.expand(*lead, context.shape[-1]).reshape(-1, context.shape[-1])
    for layer in flows:
        if ctx is not None and getattr(layer, "conditional", False):
            flat, log_det = layer(flat, context=ctx)
        else:
            flat, log_det = layer(flat)
        total = total + log_det.reshape(lead)
    return flat.reshape(*lead, flat.shape[-1]), total


class IAFStep(nn.Module):
    """One inverse autoregressive flow step of a posterior (Kingma et al., 2016):

        z_t = mu_t + sigma_t * z_{t-1},   (mu_t, log sigma_t)_i = MADE(z_{t-1, <i}, h),
        log|det dz_t/dz_{t-1}| = sum_i log sigma_{t,i}

    one network pass per step. It is the cheap (one-pass) direction of
    ``dgmlib.flows.MaskedAutoregressive(direction="iaf")``, i.e. that layer's ``inverse``, which
    starts as the identity. ``z: (B, dim)``, ``context h: (B, context_features)`` -> ``(z, log_det: (B,))``.
    """

    conditional = True

    def __init__(self, dim: int, hidden=(64,), context_features: int | None = None):
        super().__init__()
        from .flows import MaskedAutoregressive

        self.layer = MaskedAutoregressive(dim, hidden, direction="iaf", context_features=context_features)

    def forward(self, z, context=None):
        return self.layer.inverse(z, context=context)


class VAE(nn.Module):
    """A variational auto-encoder p(z) p(x|z) with an amortized posterior q(z|x).

    Args:
        encoder: ``x -> (mu, logvar)`` (each ``(B, latent_dim)``), or ``(mu, logvar, h)`` when the
            flows take a context ``h``.
        decoder: ``z: (..., latent_dim) -> (..., *x_shape)``: Bernoulli logits, or Gaussian means.
        likelihood: ``"bernoulli"`` (binary or [0, 1] pixels: ``log p(x|z) = sum x log f + (1-x)
            log(1-f)``) or ``"gaussian"`` (``N(x; f(z), sigma^2 I)``, one learned ``sigma``: the
            l2 reconstruction loss).
        k: the training objective: ``k = 1`` the ELBO (a VAE), ``k > 1`` the bound F_k (an IWAE).
        beta: weight of the KL in the training loss (``beta = 1`` is the ELBO; the beta-VAE knob).
        flows: optional normalizing-flow layers refining q: ``z_K = f_K o ... o f_1(z_0)``,
            ``z_0 ~ N(mu, sigma^2)``, ``log q(z_K|x) = log q_0(z_0|x) - sum_k log|det df_k/dz|``.
            Each layer: ``layer(z[, h]) -> (z, log_det)``, ``log_det: (B,)``.
        latent_dim: default ``encoder.latent_dim``.

    ``loss(x)`` returns ``{"loss", "elbo", "recon_loss", "kl"}`` (batch means; ``recon_loss =
    -E_q log p(x|z)``), so ``fit`` logs the ELBO and its two parts.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, likelihood: str = "bernoulli", *, k: int = 1,
                 beta: float = 1.0, flows: Sequence[nn.Module] | None = None, latent_dim: int | None = None):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.likelihood = _check_likelihood(likelihood)
        self.k = _check_k(k)
        if not isinstance(beta, (int, float)) or isinstance(beta, bool) or beta < 0:
            raise ValueError(f"beta must be a non-negative number, got {beta!r}")
        self.beta = float(beta)
        self.latent_dim = _latent_dim(encoder, latent_dim)
        self.flows = nn.ModuleList(flows or [])
        if likelihood == "gaussian":
            self.log_sigma = nn.Parameter(torch.tensor(math.log(0.3)))

    # -- the pieces -------------------------------------------------------------------------

    def _check_x(self, x):
        _check_tensor(x, "x")
        if self.likelihood == "bernoulli":
            _check_bernoulli_targets(x)

    def encode(self, x):
        """q(z_0|x): ``(mu, logvar)`` each ``(B, latent_dim)`` (and the flow context, if any)."""
        out = self.encoder(x)
        if not isinstance(out, (tuple, list)) or len(out) not in (2, 3):
            raise TypeError("the encoder must return (mu, logvar) or (mu, logvar, context)")
        return tuple(out)

    def decode(self, z):
        """The mean of p(x|z): pixel probabilities (Bernoulli) or means (Gaussian). ``(..., D) -> (..., *x_shape)``."""
        out = self.decoder(z)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def log_px_given_z(self, x, z):
        """log p(x|z):  x: (B, *S), z: (..., B, D) -> (..., B)."""
        out = self.decoder(z)
        if self.likelihood == "bernoulli":
            return log_bernoulli(x, out)
        log_var = 2 * self.log_sigma
        ll = -0.5 * (LOG_2PI + log_var + (x - out).pow(2) * torch.exp(-log_var))
        return ll.flatten(start_dim=ll.dim() - (x.dim() - 1)).sum(-1)

    def posterior_sample(self, x, k: int | None = None):
        """z ~ q(z|x) with its log-density: ``(z, log_q)``, shapes ``(B, D), (B,)`` or ``(k, B, D), (k, B)``."""
        enc = self.encode(x)
        mu, logvar = enc[0], enc[1]
        z0 = reparameterize(mu, logvar, k)
        log_q = log_normal(z0, mu, logvar)
        if len(self.flows):
            z, log_det = _apply_flows(self.flows, z0, enc[2] if len(enc) == 3 else None)
            return z, log_q - log_det
        return z0, log_q

    # -- bounds ------------------------------------------------------------------------------

    def elbo(self, x, beta: float = 1.0) -> dict[str, torch.Tensor]:
        """Per-sample ELBO = E_q[log p(x|z)] - beta KL(q(z|x) || p(z)), one z ~ q per x.

        Returns ``{"elbo", "recon", "kl"}``, each ``(B,)``: ``recon`` the one-sample estimate of
        E_q log p(x|z); ``kl`` in closed form (:func:`kl_normal_std`) for a Gaussian q, and the
        one-sample estimate ``log q(z|x) - log p(z)`` with flows.
        """
        self._check_x(x)
        if len(self.flows):
            z, log_q = self.posterior_sample(x)
            kl = log_q - log_normal_std(z)
        else:
            mu, logvar = self.encode(x)[:2]
            z = reparameterize(mu, logvar)
            kl = kl_normal_std(mu, logvar)
        recon = self.log_px_given_z(x, z)
        return {"elbo": recon - beta * kl, "recon": recon, "kl": kl}

    def log_weights(self, x, k: int) -> torch.Tensor:
        """log w_i = log p(x, z_i) - log q(z_i|x), z_i ~ q(z|x):  x: (B, ...) -> (k, B)."""
        self._check_x(x)
        z, log_q = self.posterior_sample(x, _check_k(k))
        return self.log_px_given_z(x, z) + log_normal_std(z) - log_q

    def iwae_bound(self, x, k: int) -> torch.Tensor:
        """F_k(x) = log (1/k) sum_{i=1}^k w_i, one draw of z_1..z_k ~ q(z|x):  (B, ...) -> (B,).

        An unbiased estimate of the importance-weighted bound; ``k = 1`` is a one-sample ELBO.
        """
        return log_mean_exp(self.log_weights(x, k), 0)

    @torch.no_grad()
    def log_likelihood(self, x, k: int = 1000, chunk: int | None = None) -> torch.Tensor:
        """Importance-sampled log p(x) ~ F_k(x), ``k`` samples per x, in chunks:  (B, ...) -> (B,).

        The ``k`` weights are drawn ``chunk`` at a time (default: about 2e7 numbers in memory)
        and combined with a running log-sum-exp, so ``k = 5000`` fits in a laptop's memory.
        """
        _check_k(k)
        self._check_x(x)
        if chunk is None:
            chunk = max(1, min(k, int(2e7 // max(1, x[0].numel() * len(x)))))
        _check_k(chunk, "chunk")
        total = None
        for start in range(0, k, chunk):
            lse = torch.logsumexp(self.log_weights(x, min(chunk, k - start)), 0)
            total = lse if total is None else torch.logaddexp(total, lse)
        return total - math.log(k)

    # -- the training contract -----------------------------------------------------------------

    def loss(self, x) -> dict[str, torch.Tensor]:
        """-ELBO (k = 1, with ``beta``) or -F_k (k > 1), averaged over the batch; and the terms to log."""
        if self.k == 1:
            terms = self.elbo(x, self.beta)
            elbo = terms["recon"] - terms["kl"]
            return {"loss": -terms["elbo"].mean(), "elbo": elbo.mean().detach(),
                    "recon_loss": -terms["recon"].mean().detach(), "kl": terms["kl"].mean().detach()}
        self._check_x(x)
        z, log_q = self.posterior_sample(x, self.k)
        recon, log_pz = self.log_px_given_z(x, z), log_normal_std(z)
        log_w = recon + log_pz - log_q
        return {"loss": -log_mean_exp(log_w, 0).mean(), "elbo": log_w.mean().detach(),
                "recon_loss": -recon.mean().detach(), "kl": (log_q - log_pz).mean().detach()}

    @torch.no_grad()
    def sample(self, n: int, mean: bool = False) -> torch.Tensor:
        """Ancestral sampling: z ~ N(0, I), then x ~ p(x|z) (``mean=True``: the mean of p(x|z)). -> (n, *x_shape)."""
        z = torch.randn(_check_positive_int(n, "n"), self.latent_dim, device=module_device(self),
                        dtype=_module_dtype(self))
        m = self.decode(z)
        if mean:
            return m
        if self.likelihood == "bernoulli":
            return torch.bernoulli(m)
        return m + torch.exp(self.log_sigma) * torch.randn_like(m)

    @torch.no_grad()
    def reconstruct(self, x) -> torch.Tensor:
        """The mean of p(x | z = mu(x)): the reconstruction at the posterior mean. (B, ...) -> (B, ...)."""
        return self.decode(self.encode(x)[0])


class HierarchicalVAE(nn.Module):
    """Two levels of latents, sampled top-down in both directions (MLPs, Bernoulli pixels).

        p(x, z1, z2) = p(z2) p(z1|z2) p(x|z1),        q(z1, z2|x) = q(z2|x) q(z1|x, z2)

        ELBO = E_q[log p(x|z1)] - E_{q(z2|x)}[KL(q(z1|x, z2) || p(z1|z2))] - KL(q(z2|x) || p(z2))

    the reconstruction and one KL per level; all conditionals are diagonal Gaussians, so both KLs
    are closed forms given ``z2``.
    """

    def __init__(self, in_features: int = 784, z1: int = 16, z2: int = 4, hidden: int = 256,
                 x_shape: Sequence[int] = (1, 28, 28)):
        super().__init__()
        self.z1, self.z2 = _check_positive_int(z1, "z1"), _check_positive_int(z2, "z2")
        self.x_shape = tuple(x_shape)
        self.enc_x = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU())
        self.q_z2 = nn.Linear(hidden, 2 * z2)                                     # q(z2|x)
        self.q_z1 = _mlp([hidden + z2, hidden // 2, 2 * z1])                      # q(z1|x, z2)
        self.p_z1 = _mlp([z2, hidden // 2, 2 * z1])                               # p(z1|z2)
        self.p_x = _mlp([z1, hidden, in_features])                                # p(x|z1)

    def _terms(self, x):
        """One top-down pass with one (z2, z1) per row of x: (B, ...) -> dict of (B,) terms."""
        h = self.enc_x(x.flatten(1))
        mu2, logvar2 = self.q_z2(h).chunk(2, -1)
        z2 = reparameterize(mu2, logvar2)
        mu1, logvar1 = self.q_z1(torch.cat([h, z2], -1)).chunk(2, -1)
        z1 = reparameterize(mu1, logvar1)
        mu1_p, logvar1_p = self.p_z1(z2).chunk(2, -1)
        recon = log_bernoulli(x.flatten(1), self.p_x(z1))
        log_w = (recon + log_normal(z1, mu1_p, logvar1_p) + log_normal_std(z2)
                 - log_normal(z1, mu1, logvar1) - log_normal(z2, mu2, logvar2))
        return {"recon": recon, "kl_z1": kl_normal(mu1, logvar1, mu1_p, logvar1_p),
                "kl_z2": kl_normal_std(mu2, logvar2), "log_w": log_w}

    def elbo(self, x) -> dict[str, torch.Tensor]:
        """Per-sample ``{"elbo", "recon", "kl_z1", "kl_z2"}``, each ``(B,)``; elbo = recon - kl_z1 - kl_z2."""
        _check_tensor(x, "x")
        _check_bernoulli_targets(x)
        t = self._terms(x)
        return {"elbo": t["recon"] - t["kl_z1"] - t["kl_z2"], "recon": t["recon"], "kl_z1": t["kl_z1"], "kl_z2": t["kl_z2"]}

    def log_weights(self, x, k: int) -> torch.Tensor:
        """log w = log p(x, z1, z2) - log q(z1, z2|x), k draws per x:  (B, ...) -> (k, B).

        Its mean over draws is a Monte Carlo ELBO (no closed-form KLs); F_k and log p(x) follow
        with :func:`log_mean_exp`.
        """
        _check_tensor(x, "x")
        _check_bernoulli_targets(x)
        xs = x.unsqueeze(0).expand(_check_k(k), *x.shape).reshape(k * len(x), *x.shape[1:])
        return self._terms(xs)["log_w"].view(k, len(x))

    def loss(self, x):
        t = self.elbo(x)
        return {"loss": -t["elbo"].mean(), "elbo": t["elbo"].mean().detach(),
                "recon_loss": -t["recon"].mean().detach(), "kl_z1": t["kl_z1"].mean().detach(),
                "kl_z2": t["kl_z2"].mean().detach()}

    @torch.no_grad()
    def sample(self, n: int, mean: bool = True) -> torch.Tensor:
        """z2 ~ N(0, I), z1 ~ p(z1|z2), x ~ p(x|z1) (``mean=True``: pixel probabilities). -> (n, *x_shape)."""
        w = self.q_z2.weight
        z2 = torch.randn(_check_positive_int(n, "n"), self.z2, dtype=w.dtype, device=w.device)
        z1 = reparameterize(*self.p_z1(z2).chunk(2, -1))
        probs = torch.sigmoid(self.p_x(z1)).view(n, *self.x_shape)
        return probs if mean else torch.bernoulli(probs)


class LinearGaussian(nn.Module):
    """The tractable latent model (probabilistic PCA):  z ~ N(0, I_d),  x | z ~ N(W z + b, sigma^2 I_D).

    Everything is exact: ``log p(x) = log N(x; b, W W^T + sigma^2 I)`` and the posterior
    ``p(z|x) = N(S W^T (x - b) / sigma^2, S)`` with ``S = (I + W^T W / sigma^2)^{-1}``.

    Args:
        W: ``(D, d)`` loadings; b: ``(D,)`` offset (default 0); sigma: the noise scale (> 0).
    """

    def __init__(self, W: torch.Tensor, b: torch.Tensor | None = None, sigma: float = 1.0):
        super().__init__()
        _check_tensor(W, "W")
        if W.dim() != 2:
            raise ValueError(f"W must have shape (D, d), got {tuple(W.shape)}")
        if b is None:
            b = torch.zeros(W.shape[0], dtype=W.dtype, device=W.device)
        _check_tensor(b, "b")
        if b.shape != (W.shape[0],):
            raise ValueError(f"b must have shape (D,) = ({W.shape[0]},), got {tuple(b.shape)}")
        if not float(sigma) > 0:
            raise ValueError(f"sigma must be positive, got {sigma!r}")
        self.register_buffer("W", W)
        self.register_buffer("b", b)
        self.sigma = float(sigma)

    @classmethod
    def random(cls, data_dim: int, latent_dim: int, sigma: float = 0.5, seed: int = 0, dtype=torch.float64):
        """A random model: W with N(0, 1) entries, b with N(0, 1) entries (float64 by default)."""
        g = torch.Generator().manual_seed(seed)
        return cls(torch.randn(data_dim, latent_dim, generator=g, dtype=dtype),
                   torch.randn(data_dim, generator=g, dtype=dtype), sigma)

    @property
    def data_dim(self) -> int:
        return self.W.shape[0]

    @property
    def latent_dim(self) -> int:
        return self.W.shape[1]

    def _check_x(self, x):
        _check_tensor(x, "x")
        if x.shape[-1] != self.data_dim:
            raise ValueError(f"x must have shape (B, {self.data_dim}), got {tuple(x.shape)}")

    def marginal(self) -> torch.distributions.MultivariateNormal:
        """p(x) = N(b, W W^T + sigma^2 I)."""
        cov = self.W @ self.W.T + self.sigma**2 * torch.eye(self.data_dim, dtype=self.W.dtype, device=self.W.device)
        return torch.distributions.MultivariateNormal(self.b, covariance_matrix=cov)

    def log_prob(self, x) -> torch.Tensor:
        """Exact log p(x):  (B, D) -> (B,)."""
        self._check_x(x)
        return self.marginal().log_prob(x)

    def posterior(self, x):
        """The exact p(z|x) = N(mean, cov): ``mean: (B, d)``, ``cov: (d, d)`` (the same for every x)."""
        self._check_x(x)
        eye = torch.eye(self.latent_dim, dtype=self.W.dtype, device=self.W.device)
        cov = torch.linalg.inv(eye + self.W.T @ self.W / self.sigma**2)
        mean = (x - self.b) @ self.W @ cov / self.sigma**2
        return mean, cov

    def log_px_given_z(self, x, z) -> torch.Tensor:
        """log N(x; W z + b, sigma^2 I):  x: (B, D), z: (..., B, d) -> (..., B)."""
        var = torch.tensor(2 * math.log(self.sigma), dtype=x.dtype, device=x.device)
        return log_normal(x, z @ self.W.T + self.b, var)

    def log_joint(self, x, z) -> torch.Tensor:
        """log p(x, z) = log p(x|z) + log p(z):  (..., B)."""
        return self.log_px_given_z(x, z) + log_normal_std(z)

    def elbo(self, x, mu, logvar) -> torch.Tensor:
        """The exact ELBO of q(z|x) = N(mu, diag exp(logvar)), in closed form:  (B,).

        E_q log p(x|z) = log N(x; W mu + b, sigma^2 I) - tr(W^T W diag(s^2)) / (2 sigma^2), minus
        KL(q || N(0, I)).
        """
        self._check_x(x)
        _check_same_shape(mu=mu, logvar=logvar)
        var = torch.tensor(2 * math.log(self.sigma), dtype=x.dtype, device=x.device)
        expected = log_normal(x, mu @ self.W.T + self.b, var) - 0.5 * (torch.exp(logvar) * (self.W**2).sum(0)).sum(-1) / self.sigma**2
        return expected - kl_normal_std(mu, logvar)

    def log_weights(self, x, mu, logvar, k: int) -> torch.Tensor:
        """log p(x, z_i) - log q(z_i|x), z_i ~ N(mu, diag exp(logvar)):  (k, B)."""
        self._check_x(x)
        z = reparameterize(mu, logvar, _check_k(k))
        return self.log_joint(x, z) - log_normal(z, mu, logvar)

    def iwae_bound(self, x, mu, logvar, k: int) -> torch.Tensor:
        """One draw of F_k(x) = log (1/k) sum_i w_i with the proposal q = N(mu, diag exp(logvar)):  (B,)."""
        return log_mean_exp(self.log_weights(x, mu, logvar, k), 0)

    def prior_mc_log_prob(self, x, n: int) -> torch.Tensor:
        """Naive Monte Carlo over the prior: log (1/n) sum_i p(x | z_i), z_i ~ p(z):  (B,)."""
        self._check_x(x)
        z = torch.randn(_check_k(n, "n"), x.shape[0], self.latent_dim, dtype=x.dtype, device=x.device)
        return log_mean_exp(self.log_px_given_z(x, z), 0)

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """x ~ p(x):  (n, D)."""
        z = torch.randn(_check_positive_int(n, "n"), self.latent_dim, dtype=self.W.dtype, device=self.W.device)
        return z @ self.W.T + self.b + self.sigma * torch.randn(n, self.data_dim, dtype=self.W.dtype, device=self.W.device)


# ---------------------------------------------------------------------------------------------
# variational inference with flows on 2-D energies (Rezende & Mohamed, 2015)

ENERGIES = ("U1", "U2", "U3", "U4")


def energy(name: str, z: torch.Tensor) -> torch.Tensor:
    """The 2-D test energies U1-U4 of Rezende & Mohamed (2015), target p(z) ∝ exp(-U(z)).

    With w1 = sin(2 pi z1 / 4), w2 = 3 exp(-((z1 - 1) / 0.6)^2 / 2), w3 = 3 sigmoid((z1 - 1) / 0.3):

        U1 = ((|z| - 2) / 0.4)^2 / 2 - log(exp(-((z1 - 2) / 0.6)^2 / 2) + exp(-((z1 + 2) / 0.6)^2 / 2))
        U2 = ((z2 - w1) / 0.4)^2 / 2
        U3 = -log(exp(-((z2 - w1) / 0.35)^2 / 2) + exp(-((z2 - w1 + w2) / 0.35)^2 / 2))
        U4 = -log(exp(-((z2 - w1) / 0.4)^2 / 2) + exp(-((z2 - w1 + w3) / 0.35)^2 / 2))

    U2-U4 do not depend on z1 far out, so exp(-U) is not normalizable on R^2; the paper shows them on
    the square [-4, 4]^2. We add the same soft wall to all three, ``(z1 / 3.5)^8 / 2`` (below 0.02
    for |z1| < 2, a factor e^-1.4 at |z1| = 4), which makes them proper densities with that look,
    so that KL(q || p) is finite and log Z can be computed. ``z: (..., 2)`` -> ``(...)``.
    """
    if name not in ENERGIES:
        raise ValueError(f"name must be one of {ENERGIES}, got {name!r}")
    _check_tensor(z, "z")
    if z.shape[-1] != 2:
        raise ValueError(f"z must have shape (..., 2), got {tuple(z.shape)}")
    z1, z2 = z[..., 0], z[..., 1]
    w1 = torch.sin(2 * math.pi * z1 / 4)

    def lse2(a, b):  # -log(exp(-a) + exp(-b)) for a, b the two quadratic terms
        return -torch.logaddexp(-a, -b)

    if name == "U1":
        return 0.5 * ((z.norm(dim=-1) - 2) / 0.4) ** 2 + lse2(0.5 * ((z1 - 2) / 0.6) ** 2, 0.5 * ((z1 + 2) / 0.6) ** 2)
    wall = 0.5 * (z1 / 3.5) ** 8
    if name == "U2":
        return 0.5 * ((z2 - w1) / 0.4) ** 2 + wall
    if name == "U3":
        w2 = 3 * torch.exp(-0.5 * ((z1 - 1) / 0.6) ** 2)
        return lse2(0.5 * ((z2 - w1) / 0.35) ** 2, 0.5 * ((z2 - w1 + w2) / 0.35) ** 2) + wall
    w3 = 3 * torch.sigmoid((z1 - 1) / 0.3)
    return lse2(0.5 * ((z2 - w1) / 0.4) ** 2, 0.5 * ((z2 - w1 + w3) / 0.35) ** 2) + wall


class FlowPosterior(nn.Module):
    """q_K: z_0 ~ N(m, diag exp(logvar)) (learned), z_K = f_K o ... o f_1(z_0),

        log q_K(z_K) = log q_0(z_0) - sum_k log|det df_k/dz_{k-1}|.

    ``layers``: flow layers with ``forward(z) -> (z, log_det)`` (``dgmlib.flows.Planar``,
    ``Radial``, ...); an empty list is a plain diagonal Gaussian.
    """

    def __init__(self, layers: Sequence[nn.Module], dim: int = 2):
        super().__init__()
        self.dim = _check_positive_int(dim, "dim")
        self.layers = nn.ModuleList(layers)
        self.mu = nn.Parameter(torch.zeros(dim))
        self.logvar = nn.Parameter(torch.zeros(dim))

    def rsample(self, n: int):
        """n reparameterized samples and their log-density: ``(z: (n, dim), log_q: (n,))``."""
        z0 = reparameterize(self.mu.expand(_check_positive_int(n, "n"), -1), self.logvar.expand(n, -1))
        z, log_det = _apply_flows(self.layers, z0, None)
        return z, log_normal(z0, self.mu, self.logvar) - log_det

    def reverse_kl(self, log_target: Callable, n: int) -> torch.Tensor:
        """Monte Carlo KL(q || p) - log Z = E_q[log q(z) - log p~(z)] with n samples (a scalar);
        ``log_target(z: (n, dim)) -> (n,)`` is the unnormalized log-density (``-U``)."""
        z, log_q = self.rsample(n)
        return (log_q - log_target(z)).mean()


def fit_reverse_kl(posterior: FlowPosterior, log_target: Callable, steps: int, n: int = 256, lr: float = 1e-2,
                   anneal: int = 0) -> list[float]:
    """Minimise E_q[log q(z) - beta_t log p~(z)] by Adam for ``steps`` steps of ``n`` samples.

    ``anneal``: the first ``anneal`` steps raise the inverse temperature beta_t linearly from
    0.01 to 1 (as Rezende & Mohamed do), which keeps q from collapsing onto one mode early.
    Returns the per-step loss (at beta = 1 it is KL(q || p) - log Z).
    """
    _check_positive_int(steps, "steps")
    opt = torch.optim.Adam(posterior.parameters(), lr=lr)
    losses = []
    for t in range(steps):
        beta = min(1.0, 0.01 + t / anneal) if anneal else 1.0
        z, log_q = posterior.rsample(n)
        loss = (log_q - beta * log_target(z)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def evaluate_bounds(model: nn.Module, x: torch.Tensor, k: int = 1000, samples: int = 100,
                    batch_size: int = 100) -> dict[str, float]:
    """Test-set averages of three bounds on log p(x), in nats per example:

    ``elbo`` (the mean of ``samples`` log-weights, a low-noise ELBO), ``iwae_5`` (F_5 from the same
    draws) and ``log_likelihood`` (F_k with ``k`` importance samples, :meth:`VAE.log_likelihood`).
    ``model`` offers ``log_weights(x, k) -> (k, B)``; ``x`` may live on the CPU (moved in batches
    of ``batch_size`` to the model's device).
    """
    _check_k(k)
    if samples % 5:
        raise ValueError(f"samples must be a multiple of 5 (for F_5), got {samples!r}")
    device = module_device(model)
    sums = {"elbo": 0.0, "iwae_5": 0.0, "log_likelihood": 0.0}
    for xb in x.split(batch_size):
        xb = xb.to(device)
        lw = model.log_weights(xb, samples)
        sums["elbo"] += lw.mean(0).sum().item()
        sums["iwae_5"] += log_mean_exp(lw.view(samples // 5, 5, -1), 1).mean(0).sum().item()
        if hasattr(model, "log_likelihood"):
            ll = model.log_likelihood(xb, k=k)
        else:
            ll = log_mean_exp(torch.cat([model.log_weights(xb, min(100, k - s)) for s in range(0, k, 100)]), 0)
        sums["log_likelihood"] += ll.sum().item()
    return {key: v / len(x) for key, v in sums.items()}
