"""Generative adversarial networks: losses, Lipschitz constraints, the two players, one training loop.

The game of the lectures, with data pi and generator samples x = G(z), z ~ N(0, I):

    min_G max_D  V(G, D) = E_pi log D(x) + E_z log(1 - D(G(z))).

Every loss here takes the discriminator's *logits* ``d = logit D(x)`` (so D(x) = sigmoid(d) and
log D = -softplus(-d) never under- or overflows), or, for the ``wasserstein`` and ``hinge`` kinds,
the critic's raw values f(x). Discriminators in this module return those logits, shape ``(B,)``.

Kinds of loss (``LOSS_KINDS``):

=================  ==========================================  ====================================
kind               discriminator / critic minimizes            generator minimizes
=================  ==========================================  ====================================
``minimax``        -E_pi log D(x) - E_p log(1 - D(x))          E_p log(1 - D(x))   (saturates)
``non_saturating`` same as minimax                             -E_p log D(x)
``wasserstein``    E_p f(x) - E_pi f(x)                        -E_p f(x)
``hinge``          E_pi relu(1 - f(x)) + E_p relu(1 + f(x))    -E_p f(x)
=================  ==========================================  ====================================

:func:`train_gan` runs the alternating updates on top of :func:`dgmlib.training.fit` (progress
bar, history, NaN guard, checkpoints), with the regularizers of the lectures as keywords.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .runtime import module_device
from .training import History, fit

__all__ = [
    "LOSS_KINDS",
    "discriminator_loss",
    "generator_loss",
    "optimal_discriminator",
    "clip_weights",
    "gradient_penalty",
    "gradient_norms",
    "power_iteration",
    "lipschitz_bound",
    "MLPGenerator",
    "MLPDiscriminator",
    "DCGANGenerator",
    "DCGANDiscriminator",
    "GAN",
    "train_gan",
    "train_critic",
    "density_ratio",
    "SelfAttention2d",
    "orthogonal_regularization",
    "truncated_normal",
    "truncate",
    "mlp",
    "BiGAN",
    "train_bigan",
    "CycleGAN",
    "train_cyclegan",
]

LOSS_KINDS = ("minimax", "non_saturating", "wasserstein", "hinge")


def _check_kind(kind) -> str:
    if kind not in LOSS_KINDS:
        raise ValueError(f"unknown loss kind {kind!r}; valid kinds: {', '.join(LOSS_KINDS)}")
    return kind


def _check_scores(value, name):
    if not torch.is_tensor(value):
        raise TypeError(f"{name} must be a tensor of logits or critic values, got {type(value).__name__}")
    if value.numel() == 0:
        raise ValueError(f"{name} must not be empty")


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor, kind: str = "non_saturating",
                       label_smoothing: float = 0.0) -> torch.Tensor:
    """The discriminator's (critic's) loss, a scalar to minimize; see the table in the module docstring.

    ``d_real: (B,)`` logits (or critic values) on data, ``d_fake: (B',)`` on generated samples.
    For ``minimax``/``non_saturating`` this is the binary cross-entropy
    ``-E_pi log D(x) - E_p log(1 - D(x))`` with ``log D = -softplus(-d)`` and
    ``log(1 - D) = -softplus(d)``. ``label_smoothing = alpha`` is one-sided label smoothing: the
    real target becomes ``1 - alpha``, and the optimal discriminator ``(1 - alpha) pi / (pi + p)``.
    """
    kind = _check_kind(kind)
    _check_scores(d_real, "d_real")
    _check_scores(d_fake, "d_fake")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
    if label_smoothing and kind not in ("minimax", "non_saturating"):
        raise ValueError(f"label_smoothing applies to the minimax/non_saturating kinds, not {kind!r}")
    if kind in ("minimax", "non_saturating"):
        target = 1.0 - label_smoothing
        real = target * F.softplus(-d_real) + (1.0 - target) * F.softplus(d_real)
        return real.mean() + F.softplus(d_fake).mean()
    if kind == "wasserstein":
        return d_fake.mean() - d_real.mean()
    return F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()  # hinge


def generator_loss(d_fake: torch.Tensor, kind: str = "non_saturating") -> torch.Tensor:
    """The generator's loss on ``d_fake: (B,)`` logits (or critic values) of its samples, a scalar.

    ``minimax``: ``E log(1 - D) = -E softplus(d)``; its gradient in d is ``-D``, which vanishes
    when the discriminator rejects the samples (D -> 0). ``non_saturating``:
    ``-E log D = E softplus(-d)``, gradient ``-(1 - D)`` -> -1 there. ``wasserstein`` and
    ``hinge``: ``-E f``.
    """
    kind = _check_kind(kind)
    _check_scores(d_fake, "d_fake")
    if kind == "minimax":
        return -F.softplus(d_fake).mean()
    if kind == "non_saturating":
        return F.softplus(-d_fake).mean()
    return -d_fake.mean()


def optimal_discriminator(pi_density, p_density, label_smoothing: float = 0.0):
    """D*(x) = (1 - alpha) pi(x) / (pi(x) + p(x)), the best discriminator for a fixed generator.

    Pass density *values* (tensors of one shape) to get D* there, or two callables ``x -> density``
    to get the callable ``D*``. ``alpha = label_smoothing`` (0: the vanilla GAN). Where both
    densities vanish D* is undefined; it is set to ``(1 - alpha) / 2`` there.
    """
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
    if callable(pi_density) and callable(p_density):
        return lambda x: optimal_discriminator(pi_density(x), p_density(x), label_smoothing)
    if not (torch.is_tensor(pi_density) and torch.is_tensor(p_density)):
        raise TypeError("pi_density and p_density must both be tensors of density values or both callables")
    if pi_density.shape != p_density.shape:
        raise ValueError(f"pi_density and p_density must have the same shape, got {tuple(pi_density.shape)} "
                         f"and {tuple(p_density.shape)}")
    if bool((pi_density < 0).any()) or bool((p_density < 0).any()):
        raise ValueError("pi_density and p_density must be non-negative")
    total = pi_density + p_density
    ratio = torch.where(total > 0, pi_density / total.clamp_min(torch.finfo(total.dtype).tiny), 0.5)
    return (1.0 - label_smoothing) * ratio


# ---------------------------------------------------------------------------------------------
# Lipschitz constraints
# ---------------------------------------------------------------------------------------------


def gradient_norms(critic: Callable, x: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
    """||grad_x f(x)||_2 for every sample: ``x: (B, ...)`` -> ``(B,)``."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        out = critic(x)
        (grad,) = torch.autograd.grad(out.sum(), x, create_graph=create_graph)
    return grad.flatten(1).pow(2).sum(1).add(1e-12).sqrt()


def clip_weights(critic: nn.Module, c: float) -> None:
    """Weight clipping (WGAN, Arjovsky et al. 2017): every parameter into ``[-c, c]``, in place.

    A crude way to keep the critic K-Lipschitz for some K that depends on ``c`` and the architecture.
    """
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not c > 0:
        raise ValueError(f"clip value c must be a positive number, got {c!r}")
    with torch.no_grad():
        for p in critic.parameters():
            p.clamp_(-c, c)


def gradient_penalty(critic: Callable, real: torch.Tensor, fake: torch.Tensor, target: float = 1.0) -> torch.Tensor:
    """WGAN-GP's penalty E_t (||grad f(x_t)||_2 - 1)^2 at x_t = t x + (1 - t) y, t ~ U[0, 1] per pair.

    ``real``, ``fake``: ``(B, ...)`` pairs of data and generated samples (same shape). Returns a
    scalar that keeps its graph, so adding ``lambda * gradient_penalty(...)`` to the critic's
    loss trains the critic towards unit gradient norm (Gulrajani et al., 2017). ``target``
    replaces the 1.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    if real.shape[0] == 0:
        raise ValueError("real and fake must hold at least one sample")
    t = torch.rand(real.shape[0], *([1] * (real.ndim - 1)), device=real.device, dtype=real.dtype)
    x_t = t * real.detach() + (1 - t) * fake.detach()
    return (gradient_norms(critic, x_t, create_graph=True) - target).pow(2).mean()


def power_iteration(weight: torch.Tensor, n_iter: int = 1, u: torch.Tensor | None = None, *,
                    generator: torch.Generator | None = None, return_vectors: bool = False):
    """Estimate the spectral norm sigma(W) = max_||v||=1 ||W v|| by power iteration.

    Repeats ``v <- W^T u / ||W^T u||``, ``u <- W v / ||W v||`` ``n_iter`` times and returns
    ``sigma = u^T W v`` (a scalar tensor). It converges to the largest singular value from below:
    the vectors at the rate (sigma_2 / sigma_1)^(2k), the estimate of sigma at (sigma_2 / sigma_1)^(4k). ``weight``: ``(out, in)``, or ``(out, ...)`` for a
    convolution, flattened to ``(out, -1)`` as spectral normalization does (Miyato et al., 2018).
    ``u``: the starting vector ``(out,)`` (default: random, from ``generator``).
    With ``return_vectors``: ``(sigma, u, v)``.
    """
    if not torch.is_tensor(weight) or weight.ndim < 2:
        raise ValueError(f"weight must be a tensor with at least 2 dimensions, got "
                         f"{tuple(weight.shape) if torch.is_tensor(weight) else type(weight).__name__}")
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 1:
        raise ValueError(f"n_iter must be a positive int, got {n_iter!r}")
    w = weight.detach().reshape(weight.shape[0], -1)
    if u is None:
        u = torch.randn(w.shape[0], generator=generator, dtype=w.dtype).to(w.device)
    elif u.shape != (w.shape[0],):
        raise ValueError(f"u must have shape ({w.shape[0]},), got {tuple(u.shape)}")
    u = F.normalize(u.to(w), dim=0)
    for _ in range(n_iter):
        v = F.normalize(w.T @ u, dim=0)
        u = F.normalize(w @ v, dim=0)
    sigma = u @ w @ v
    return (sigma, u, v) if return_vectors else sigma


def lipschitz_bound(critic: nn.Module) -> torch.Tensor:
    """prod_k sigma(W_k) over the critic's ``nn.Linear`` layers: a bound on Lip(f) for 1-Lipschitz activations.

    ||f||_L <= prod_k ||a_k||_L sigma(W_k) = prod_k sigma(W_k) (ReLU, LeakyReLU with slope <= 1).
    Exact singular values (``torch.linalg.matrix_norm(W, 2)``); with spectral normalization the
    normalized weights are used. Only for MLP critics (convolutions need their full operator norm).
    """
    linear = [m for m in critic.modules() if isinstance(m, nn.Linear)]
    if not linear:
        raise ValueError("critic has no nn.Linear layers to bound")
    if any(isinstance(m, nn.modules.conv._ConvNd) for m in critic.modules()):
        raise ValueError("lipschitz_bound handles MLP critics only (the critic has convolutions)")
    bound = torch.ones((), device=linear[0].weight.device)
    for m in linear:
        bound = bound * torch.linalg.matrix_norm(m.weight.detach(), ord=2)
    return bound


# ---------------------------------------------------------------------------------------------
# The two players
# ---------------------------------------------------------------------------------------------


def _shape(data_shape) -> tuple[int, ...]:
    shape = (data_shape,) if isinstance(data_shape, int) else tuple(data_shape)
    if not shape or any(not isinstance(s, int) or s <= 0 for s in shape):
        raise ValueError(f"data_shape must be a positive int or a tuple of them, got {data_shape!r}")
    return shape


def _maybe_sn(layer: nn.Module, spectral_norm: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(layer) if spectral_norm else layer


class MLPGenerator(nn.Module):
    """x = G(z): Linear-LeakyReLU(0.2) blocks (batch norm from the second on), then a linear output.

    The assignment's generator: ``latent -> 128 -> 256 -> 512 -> 1024 -> data``, widths doubling,
    LeakyReLU 0.2 and batch norm, ``tanh`` output for data scaled to [-1, 1].
    ``z: (B, latent_dim)`` -> ``(B, *data_shape)``.
    """

    def __init__(self, latent_dim: int, data_shape, hidden: Sequence[int] = (128, 256, 512, 1024), *,
                 batch_norm: bool = True, output: str | None = "tanh"):
        super().__init__()
        if output not in (None, "tanh"):
            raise ValueError(f"output must be 'tanh' or None, got {output!r}")
        if not hidden:
            raise ValueError("hidden must list at least one width")
        self.latent_dim = int(latent_dim)
        self.data_shape = _shape(data_shape)
        layers: list[nn.Module] = [nn.Linear(self.latent_dim, hidden[0]), nn.LeakyReLU(0.2)]
        for h_in, h_out in zip(hidden[:-1], hidden[1:]):
            layers += [nn.Linear(h_in, h_out)]
            if batch_norm:
                layers += [nn.BatchNorm1d(h_out)]
            layers += [nn.LeakyReLU(0.2)]
        layers += [nn.Linear(hidden[-1], math.prod(self.data_shape))]
        if output == "tanh":
            layers += [nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).reshape(len(z), *self.data_shape)


class MLPDiscriminator(nn.Module):
    """d = logit D(x): Linear-LeakyReLU(0.2)-Dropout blocks, then one linear output; ``(B, ...) -> (B,)``.

    The assignment's discriminator: ``data -> 512 -> 256 -> 1``, dropout 0.3. As a Wasserstein
    critic use ``dropout=0`` (and ``spectral_norm=True`` to divide every weight by its spectral
    norm, so that Lip(f) <= 1). :meth:`features` is the last hidden layer (for feature matching).
    """

    def __init__(self, data_shape, hidden: Sequence[int] = (512, 256), *, dropout: float = 0.3,
                 spectral_norm: bool = False):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.data_shape = _shape(data_shape)
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(self.data_shape)
        for h in hidden:
            layers += [_maybe_sn(nn.Linear(width, h), spectral_norm), nn.LeakyReLU(0.2)]
            if dropout:
                layers += [nn.Dropout(dropout)]
            width = h
        self.body = nn.Sequential(*layers)
        self.head = _maybe_sn(nn.Linear(width, 1), spectral_norm)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(1)


class DCGANGenerator(nn.Module):
    """DCGAN generator for 28x28 images: project z to (2w, 7, 7), two stride-2 transposed convolutions.

    Radford et al.'s guidelines: transposed convolutions to upsample, no pooling, batch norm
    everywhere but the output, ReLU inside, tanh at the output. ``z: (B, latent_dim)`` ->
    ``(B, channels, 28, 28)``.
    """

    def __init__(self, latent_dim: int, channels: int = 1, width: int = 32):
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.project = nn.Sequential(nn.Linear(self.latent_dim, 2 * width * 49, bias=False),
                                     nn.BatchNorm1d(2 * width * 49), nn.ReLU())
        self.net = nn.Sequential(
            nn.Unflatten(1, (2 * width, 7, 7)),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),  # 14x14
            nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1), nn.Tanh(),  # 28x28
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.project(z))


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator for 28x28 images: two stride-2 convolutions with LeakyReLU(0.2), a linear logit.

    Strided convolutions instead of pooling, batch norm on the second block only (never on the
    input); ``batch_norm=False`` for a WGAN-GP critic (the penalty is per sample).
    ``(B, channels, 28, 28) -> (B,)``.
    """

    def __init__(self, channels: int = 1, width: int = 32, *, batch_norm: bool = True, spectral_norm: bool = False):
        super().__init__()
        layers: list[nn.Module] = [
            _maybe_sn(nn.Conv2d(channels, width, 4, stride=2, padding=1), spectral_norm), nn.LeakyReLU(0.2),
            _maybe_sn(nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), spectral_norm),
        ]
        if batch_norm:
            layers += [nn.BatchNorm2d(2 * width)]
        layers += [nn.LeakyReLU(0.2), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.head = _maybe_sn(nn.Linear(2 * width * 49, 1), spectral_norm)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(1)


class GAN(nn.Module):
    """A generator G, a discriminator (or critic) D, the latent prior N(0, I) and a loss kind.

    ``sample(n)`` draws x = G(z); ``loss(x)`` evaluates both players' losses on a data batch
    (``{"d_loss", "g_loss", "d_real", "d_fake"}``, the last two the mean logits or critic values),
    which is what :func:`dgmlib.training.fit` logs on validation data. Train with :func:`train_gan`.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, latent_dim: int, kind: str = "non_saturating"):
        super().__init__()
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim <= 0:
            raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.kind = _check_kind(kind)

    @property
    def device(self) -> torch.device:
        return module_device(self.generator)

    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I), ``(n, latent_dim)`` on the model's device."""
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise ValueError(f"n must be a positive int, got {n!r}")
        return torch.randn(n, self.latent_dim, generator=generator).to(self.device)

    @torch.no_grad()
    def sample(self, n: int, z: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples G(z) (or G of the given ``z``), without gradients."""
        z = self.prior(n, generator) if z is None else z.to(self.device)
        return self.generator(z)

    def loss(self, x: torch.Tensor) -> dict:
        fake = self.generator(self.prior(len(x)))
        d_real, d_fake = self.discriminator(x), self.discriminator(fake)
        return {
            "d_loss": discriminator_loss(d_real, d_fake, self.kind),
            "g_loss": generator_loss(d_fake, self.kind),
            "d_real": d_real.mean(),
            "d_fake": d_fake.mean(),
        }


class _RunningMean:
    """theta_bar = (1/T) sum_t theta_t of a module's parameters, for historical averaging."""

    def __init__(self, module: nn.Module):
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.mean = [p.detach().clone() for p in self.params]
        self.count = 1

    def penalty(self) -> torch.Tensor:
        return sum((p - m).pow(2).sum() for p, m in zip(self.params, self.mean))

    @torch.no_grad()
    def update(self):
        self.count += 1
        for p, m in zip(self.params, self.mean):
            m.add_((p - m) / self.count)


def train_gan(
    gan: GAN,
    data,
    *,
    epochs: int,
    batch_size: int = 128,
    lr_g: float = 2e-4,
    lr_d: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    n_critic: int = 1,
    gp_weight: float = 0.0,
    clip_value: float | None = None,
    label_smoothing: float = 0.0,
    feature_matching: bool = False,
    historical_averaging: float = 0.0,
    decay_lr: bool = False,
    eval_fn: Callable | None = None,
    eval_every: int = 1,
    progress: bool | None = None,
    seed: int | None = None,
    checkpoint=None,
) -> History:
    """Alternating GAN updates on :func:`dgmlib.training.fit`; returns the per-epoch :class:`History`.

    Every batch makes one discriminator (critic) step on ``discriminator_loss(D(x), D(G(z)),
    gan.kind)``; every ``n_critic``-th batch also makes one generator step. Both use Adam with
    ``betas`` (DCGAN: lr 2e-4, beta1 0.5). Logged per epoch: ``d_loss``, ``g_loss`` (the latest
    generator loss), ``d_real``, ``d_fake`` (mean logits/critic values), and the extra terms.

    Regularizers (all off by default):
        gp_weight: lambda of the gradient penalty, ``+ lambda E (||grad f||_2 - 1)^2`` (WGAN-GP).
        clip_value: clip every critic weight to ``[-c, c]`` after its step (the original WGAN).
        label_smoothing: one-sided label smoothing alpha (real target ``1 - alpha``).
        feature_matching: the generator minimizes ``||E_pi d(x) - E_z d(G(z))||^2`` with ``d``
            the discriminator's ``features`` (its last hidden layer) instead of its loss.
        historical_averaging: weight of ``||theta - (1/T) sum_t theta_t||^2``, added to both losses.
        decay_lr: decay both learning rates linearly to 0 over the run (as WGAN-GP's code does);
            the last updates then refine instead of oscillating.

    ``data``: a tensor of training samples on any device (batches move to the model's device).
    ``eval_fn(gan, epoch)``, ``eval_every``, ``progress``, ``seed``, ``checkpoint``: as in ``fit``.
    """
    if not isinstance(gan, GAN):
        raise TypeError(f"gan must be a dgmlib.gan.GAN, got {type(gan).__name__}")
    if isinstance(n_critic, bool) or not isinstance(n_critic, int) or n_critic < 1:
        raise ValueError(f"n_critic must be a positive int, got {n_critic!r}")
    if gp_weight < 0 or historical_averaging < 0:
        raise ValueError("gp_weight and historical_averaging must be non-negative")
    if clip_value is not None and not clip_value > 0:
        raise ValueError(f"clip_value must be positive (or None), got {clip_value!r}")
    if feature_matching and not hasattr(gan.discriminator, "features"):
        raise TypeError("feature_matching needs a discriminator with a features(x) method")
    G, D = gan.generator, gan.discriminator
    opt_g = torch.optim.Adam(G.parameters(), lr=lr_g, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr_d, betas=betas)
    avg_g = _RunningMean(G) if historical_averaging else None
    avg_d = _RunningMean(D) if historical_averaging else None
    state = {"steps": 0, "g_loss": float("nan")}
    total_steps = None
    if decay_lr:
        if not (torch.is_tensor(data) or isinstance(data, (tuple, list))):
            raise TypeError("decay_lr needs data as a tensor (or tuple of tensors) to know the run length")
        n = len(data[0] if isinstance(data, (tuple, list)) else data)
        total_steps = epochs * math.ceil(n / batch_size)

    def step(batch):
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        if total_steps is not None:
            scale = max(0.0, 1.0 - state["steps"] / total_steps)
            for opt, lr in ((opt_g, lr_g), (opt_d, lr_d)):
                for group in opt.param_groups:
                    group["lr"] = lr * scale
        # the discriminator (critic) step
        with torch.no_grad():
            fake = G(gan.prior(len(x)))
        d_real, d_fake = D(x), D(fake)
        d_loss = discriminator_loss(d_real, d_fake, gan.kind, label_smoothing)
        terms = {"d_loss": d_loss.detach()}
        objective = d_loss
        if gp_weight:
            gp = gradient_penalty(D, x, fake)
            objective = objective + gp_weight * gp
            terms["gp"] = gp.detach()
        if avg_d is not None:
            objective = objective + historical_averaging * avg_d.penalty()
        opt_d.zero_grad(set_to_none=True)
        objective.backward()
        opt_d.step()
        if clip_value is not None:
            clip_weights(D, clip_value)
        if avg_d is not None:
            avg_d.update()
        state["steps"] += 1
        # the generator step, every n_critic-th batch
        if (state["steps"] - 1) % n_critic == 0:
            fake = G(gan.prior(len(x)))
            if feature_matching:
                g_loss = (D.features(x).detach().mean(0) - D.features(fake).mean(0)).pow(2).sum()
            else:
                g_loss = generator_loss(D(fake), gan.kind)
            objective = g_loss if avg_g is None else g_loss + historical_averaging * avg_g.penalty()
            opt_g.zero_grad(set_to_none=True)
            objective.backward()
            opt_g.step()
            if avg_g is not None:
                avg_g.update()
            state["g_loss"] = float(g_loss.detach())
        terms.update({"g_loss": state["g_loss"], "d_real": d_real.detach().mean(), "d_fake": d_fake.detach().mean()})
        return terms

    return fit(gan, data, epochs=epochs, batch_size=batch_size, step=step, optimizer=[opt_g, opt_d],
               eval_fn=eval_fn, eval_every=eval_every, progress=progress, seed=seed, checkpoint=checkpoint)


def train_critic(critic: nn.Module, x_pi: torch.Tensor, x_p: torch.Tensor, *, steps: int, lr: float = 1e-3,
                 kind: str = "wasserstein", gp_weight: float = 0.0, clip_value: float | None = None,
                 label_smoothing: float = 0.0, betas=(0.5, 0.999),
                 progress: bool | None = None) -> tuple[torch.Tensor, History]:
    """Train a critic (or discriminator) between two fixed samples; return the value it attains.

    Full-batch Adam on ``discriminator_loss(f(x_pi), f(x_p), kind)`` for ``steps`` steps, i.e. the
    inner maximization of the GAN game with the generator held fixed. The returned value is
    ``-discriminator_loss`` (without smoothing) on the two samples, a scalar tensor:

    - ``kind="wasserstein"``: ``E_pi f - E_p f``, which by Kantorovich-Rubinstein duality
      (W(pi, p) = max_{||f||_L <= 1} E_pi f - E_p f) estimates W when f is kept 1-Lipschitz: by a
      gradient penalty (``gp_weight``), weight clipping (``clip_value``) or spectral
      normalization built into the critic.
    - ``kind="minimax"``: ``V(D) = E_pi log D + E_p log(1 - D)``, which approaches
      ``V(G, D*) = 2 JSD(pi || p) - log 4`` as D approaches the optimal discriminator.

    ``x_pi: (n, ...)``, ``x_p: (m, ...)``. Returns ``(value, history)``, the :class:`History` with the
    ``value`` at every step. The critic's parameters are trained in place.
    """
    kind = _check_kind(kind)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if x_pi.ndim < 2 or x_p.ndim < 2 or x_pi.shape[1:] != x_p.shape[1:]:
        raise ValueError(f"x_pi and x_p must be (n, ...) samples of the same dimension, got {tuple(x_pi.shape)} "
                         f"and {tuple(x_p.shape)}")
    opt = torch.optim.Adam(critic.parameters(), lr=lr, betas=betas)
    m = min(len(x_pi), len(x_p))

    def step(_):
        d_real, d_fake = critic(x_pi), critic(x_p)
        loss = discriminator_loss(d_real, d_fake, kind, label_smoothing)
        if gp_weight:
            idx = torch.randperm(m, device=x_pi.device)
            loss = loss + gp_weight * gradient_penalty(critic, x_pi[idx], x_p[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if clip_value is not None:
            clip_weights(critic, clip_value)
        return {"loss": loss.detach(), "value": -discriminator_loss(d_real.detach(), d_fake.detach(), kind)}

    # one "epoch" per step: fit brings the progress bar and the NaN guard
    ticks = torch.zeros(1, 1, device=x_pi.device)
    history = fit(critic, ticks, epochs=steps, batch_size=1, step=step, progress=progress)
    with torch.no_grad():
        value = -discriminator_loss(critic(x_pi), critic(x_p), kind)
    return value, history


# ---------------------------------------------------------------------------------------------
# After the vanilla GAN: density ratios, SAGAN / BigGAN pieces, truncation, BiGAN, CycleGAN
# ---------------------------------------------------------------------------------------------


def density_ratio(discriminator: Callable, x: torch.Tensor) -> torch.Tensor:
    """The density ratio trick: r(x) = q_1(x) / q_2(x) ~ D(x) / (1 - D(x)) = exp(logit D(x)).

    A classifier trained with the cross-entropy to tell q_1 (label 1) from q_2 (label 0), with equal
    class sizes, approaches D*(x) = q_1 / (q_1 + q_2), so D / (1 - D) = q_1 / q_2. Discriminators
    here return the logit d, and D / (1 - D) = exp(d). ``x: (B, ...)`` -> ``(B,)``.
    """
    return torch.exp(discriminator(x))


class SelfAttention2d(nn.Module):
    """SAGAN's self-attention block (Zhang et al., 2019) on a feature map ``(B, C, H, W)``.

    With N = H W locations x_i and 1x1 convolutions f, g, h, v:
    s_ij = f(x_i)^T g(x_j), a_ij = softmax_i(s_ij), o_j = v(sum_i a_ij h(x_i)), and the block
    returns y_j = x_j + gamma o_j. gamma starts at 0, so the block starts as the identity and the
    network learns how much long-range information to mix in. Every output location can read
    every input location, which a stack of 3x3 convolutions can only do after many layers.
    """

    def __init__(self, channels: int, key_channels: int | None = None):
        super().__init__()
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ValueError(f"channels must be a positive int, got {channels!r}")
        key = key_channels or max(channels // 8, 1)
        self.f = nn.Conv2d(channels, key, 1, bias=False)
        self.g = nn.Conv2d(channels, key, 1, bias=False)
        self.h = nn.Conv2d(channels, channels, 1, bias=False)
        self.v = nn.Conv2d(channels, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))
        self.attention: torch.Tensor | None = None  # the last a_ij, (B, N, N), for plotting

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"x must be a feature map (B, C, H, W), got {tuple(x.shape)}")
        b, c, hgt, wid = x.shape
        f, g, h = self.f(x).flatten(2), self.g(x).flatten(2), self.h(x).flatten(2)  # (B, C', N)
        s = f.transpose(1, 2) @ g                      # s[b, i, j] = f(x_i)^T g(x_j)
        a = torch.softmax(s, dim=1)                    # normalized over i
        self.attention = a.detach()
        o = (h @ a).reshape(b, c, hgt, wid)            # o_j = sum_i a_ij h(x_i)
        return x + self.gamma * self.v(o)


def _weight_matrices(module: nn.Module):
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd)):
            yield m.weight.reshape(m.weight.shape[0], -1)


def orthogonal_regularization(module: nn.Module) -> torch.Tensor:
    """BigGAN's orthogonal regularization sum_W ||W W^T * (1 - I)||_F^2 (Brock et al., 2019).

    W runs over the weights of the module's linear and convolutional layers, each flattened to
    ``(out, -1)`` so that its rows are the filters: the penalty pushes different filters to be
    orthogonal and, unlike the full ||W W^T - I||^2, leaves their norms free. Multiply by beta
    (BigGAN: 1e-4) and add to the loss. Returns a scalar with its graph.
    """
    mats = list(_weight_matrices(module))
    if not mats:
        raise ValueError("module has no nn.Linear or convolution layers to regularize")
    total = 0.0
    for w in mats:
        gram = w @ w.T
        total = total + (gram - torch.diag(torch.diagonal(gram))).pow(2).sum()
    return total


def truncated_normal(n: int, dim: int, threshold: float, generator: torch.Generator | None = None,
                     device=None) -> torch.Tensor:
    """z ~ N(0, I) with every component outside ``[-threshold, threshold]`` resampled (BigGAN's truncation).

    Returns ``(n, dim)``. Smaller thresholds trade diversity (recall) for fidelity (precision).
    Resampling is vectorized and repeated until no component is left outside.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
        raise ValueError(f"dim must be a positive int, got {dim!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
        raise ValueError(f"threshold must be a positive number, got {threshold!r}")
    z = torch.randn(n, dim, generator=generator)
    outside = z.abs() > threshold
    while bool(outside.any()):
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        outside = z.abs() > threshold
    return z.to(device) if device is not None else z


def truncate(w: torch.Tensor, psi: float, center: torch.Tensor | float = 0.0) -> torch.Tensor:
    """StyleGAN's truncation trick w' = w_hat + psi (w - w_hat): ``psi = 1`` changes nothing, ``psi = 0``
    sends every latent to the centre ``w_hat`` (the average latent; 0 for z ~ N(0, I))."""
    if isinstance(psi, bool) or not isinstance(psi, (int, float)) or psi < 0:
        raise ValueError(f"psi must be a number >= 0, got {psi!r}")
    return center + psi * (w - center)


def mlp(in_dim: int, out_dim: int, hidden: Sequence[int] = (64, 64), activation=nn.LeakyReLU) -> nn.Sequential:
    """A plain MLP ``in_dim -> hidden... -> out_dim`` (the small players of the 2-D toys)."""
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [nn.Linear(width, h), activation()]
        width = h
    layers += [nn.Linear(width, out_dim)]
    return nn.Sequential(*layers)


class BiGAN(nn.Module):
    """Adversarial inference (BiGAN / ALI; Donahue et al., Dumoulin et al., 2017).

    A generator x = G(z), an encoder z = E(x) and a discriminator D(x, z) on *pairs*, which tells
    (x, E(x)), x ~ pi, from (G(z), z), z ~ N(0, I). At the optimum the two joint distributions
    pi(x) delta(z - E(x)) and p(z) delta(x - G(z)) agree, which forces E = G^{-1}: the encoder
    learns to invert the generator without ever seeing a pair (x, z) with a reconstruction loss.

    ``discriminator(x, z) -> (B,)`` logits; the default players are :func:`mlp` s.
    ``loss(x)`` returns ``{"d_loss", "ge_loss"}`` (both non-saturating); train with :func:`train_bigan`.
    """

    def __init__(self, data_dim: int, latent_dim: int, hidden: Sequence[int] = (128, 128)):
        super().__init__()
        self.data_dim, self.latent_dim = int(data_dim), int(latent_dim)
        self.generator = mlp(self.latent_dim, self.data_dim, hidden)
        self.encoder = mlp(self.data_dim, self.latent_dim, hidden)
        self.joint = mlp(self.data_dim + self.latent_dim, 1, hidden)

    def discriminator(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.joint(torch.cat([x, z], dim=1)).squeeze(1)

    def prior(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, device=module_device(self))

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        return self.generator(self.prior(n))

    def loss(self, x: torch.Tensor) -> dict:
        z = self.prior(len(x))
        d_enc = self.discriminator(x, self.encoder(x))       # "real" pairs (x, E(x))
        d_gen = self.discriminator(self.generator(z), z)     # "fake" pairs (G(z), z)
        return {"d_loss": discriminator_loss(d_enc, d_gen),
                "ge_loss": F.softplus(d_enc).mean() + F.softplus(-d_gen).mean()}  # labels swapped


def train_bigan(model: BiGAN, data: torch.Tensor, *, epochs: int, batch_size: int = 256, lr: float = 2e-4,
                betas=(0.5, 0.999), decay_lr: bool = False, progress: bool | None = None, seed: int | None = None,
                eval_fn: Callable | None = None, eval_every: int = 1) -> History:
    """Per batch, one Adam step of the discriminator on ``d_loss``, then one joint step of G and E on
    ``ge_loss``. ``data: (n, data_dim)``; ``decay_lr``: decay the learning rate linearly to 0 over the
    run; the other arguments as in :func:`dgmlib.training.fit`."""
    if not isinstance(model, BiGAN):
        raise TypeError(f"model must be a dgmlib.gan.BiGAN, got {type(model).__name__}")
    opt_d = torch.optim.Adam(model.joint.parameters(), lr=lr, betas=betas)
    opt_ge = torch.optim.Adam([*model.generator.parameters(), *model.encoder.parameters()], lr=lr, betas=betas)

    ge_params = [*model.generator.parameters(), *model.encoder.parameters()]
    total_steps = max(epochs * math.ceil(len(data) / batch_size), 1)
    done = [0]

    def step(batch):
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        if decay_lr:
            for opt in (opt_d, opt_ge):
                for group in opt.param_groups:
                    group["lr"] = lr * max(0.0, 1.0 - done[0] / total_steps)
        done[0] += 1
        terms = model.loss(x)
        opt_d.zero_grad(set_to_none=True)
        terms["d_loss"].backward(inputs=list(model.joint.parameters()))
        opt_d.step()
        terms = model.loss(x)  # the players answer the updated discriminator
        opt_ge.zero_grad(set_to_none=True)
        terms["ge_loss"].backward(inputs=ge_params)
        opt_ge.step()
        return {k: v.detach() for k, v in terms.items()}

    return fit(model, data, epochs=epochs, batch_size=batch_size, step=step, optimizer=[opt_ge, opt_d],
               progress=progress, seed=seed, eval_fn=eval_fn, eval_every=eval_every)


class CycleGAN(nn.Module):
    """Two maps between domains A and B learnt from *unpaired* samples (Zhu et al., 2017).

    G: A -> B and F: B -> A, with discriminators D_B (is it from B?) and D_A. Each map is trained to
    fool its discriminator (non-saturating loss); the cycle-consistency loss

        L_cyc = E_A ||F(G(a)) - a||_1 + E_B ||G(F(b)) - b||_1

    (weight ``cycle_weight``; 0 turns it off) asks the two maps to invert each other, which rules out
    maps that send all of A to one part of B. ``loss((a, b))`` returns
    ``{"g_loss", "d_loss", "cycle"}``; train with :func:`train_cyclegan`.
    """

    def __init__(self, dim: int = 2, hidden: Sequence[int] = (64, 64), cycle_weight: float = 10.0):
        super().__init__()
        if cycle_weight < 0:
            raise ValueError(f"cycle_weight must be >= 0, got {cycle_weight!r}")
        self.cycle_weight = float(cycle_weight)
        self.g, self.f = mlp(dim, dim, hidden), mlp(dim, dim, hidden)
        self.d_a, self.d_b = mlp(dim, 1, hidden), mlp(dim, 1, hidden)

    def loss(self, batch) -> dict:
        a, b = batch
        fake_b, fake_a = self.g(a), self.f(b)
        cycle = (self.f(fake_b) - a).abs().sum(1).mean() + (self.g(fake_a) - b).abs().sum(1).mean()
        adversarial = generator_loss(self.d_b(fake_b).squeeze(1)) + generator_loss(self.d_a(fake_a).squeeze(1))
        d_loss = discriminator_loss(self.d_b(b).squeeze(1), self.d_b(fake_b.detach()).squeeze(1)) \
            + discriminator_loss(self.d_a(a).squeeze(1), self.d_a(fake_a.detach()).squeeze(1))
        return {"g_loss": adversarial + self.cycle_weight * cycle, "d_loss": d_loss, "cycle": cycle}


def train_cyclegan(model: CycleGAN, data_a: torch.Tensor, data_b: torch.Tensor, *, epochs: int,
                   batch_size: int = 256, lr: float = 1e-3, betas=(0.5, 0.999), progress: bool | None = None,
                   seed: int | None = None) -> History:
    """One step of both maps on ``g_loss``, then one of both discriminators on ``d_loss``, per batch.

    ``data_a: (n, D)``, ``data_b: (n, D)``: unpaired samples of the two domains (shuffled together,
    so a batch pairs random points of A with random points of B).
    """
    if not isinstance(model, CycleGAN):
        raise TypeError(f"model must be a dgmlib.gan.CycleGAN, got {type(model).__name__}")
    if data_a.shape != data_b.shape:
        raise ValueError(f"data_a and data_b must have the same shape, got {tuple(data_a.shape)} and {tuple(data_b.shape)}")
    maps = [*model.g.parameters(), *model.f.parameters()]
    critics = [*model.d_a.parameters(), *model.d_b.parameters()]
    opt_g = torch.optim.Adam(maps, lr=lr, betas=betas)
    opt_d = torch.optim.Adam(critics, lr=lr, betas=betas)

    def step(batch):
        terms = model.loss(batch)
        opt_g.zero_grad(set_to_none=True)
        terms["g_loss"].backward(inputs=maps)
        opt_g.step()
        opt_d.zero_grad(set_to_none=True)
        terms["d_loss"].backward(inputs=critics)
        opt_d.step()
        return {k: v.detach() for k, v in terms.items()}

    return fit(model, (data_a, data_b), epochs=epochs, batch_size=batch_size, step=step, optimizer=[opt_g, opt_d],
               progress=progress, seed=seed)
