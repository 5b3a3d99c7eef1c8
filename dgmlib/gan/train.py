"""The one adversarial loop, :func:`train_gan` (GAN, BiGAN, CycleGAN), and :func:`train_critic`.

Per batch: one discriminator (critic) step on ``d_loss(batch)["loss"]``, then, every
``n_critic``-th batch, one generator step on ``g_loss(batch)["loss"]``. Each step is
:func:`_player_step`; the epochs, the log, the NaN guard and the checkpoints are
:func:`dgmlib.training.engine.run_epochs`'.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .. import checks
from ..training import History
from ..training.batches import check_data, num_batches
from ..training.engine import run_epochs, run_steps
from ..training.schedule import linear_decay
from ..training.step import loss_terms, objective
from .lipschitz import clip_weights, gradient_penalty
from .losses import LOSS_KINDS, _smoothing, discriminator_loss

__all__ = ["train_gan", "train_critic"]


def _player_step(terms, optimizer: torch.optim.Optimizer, after_step: Callable | None, name: str) -> dict:
    """One player's update: check ``terms["loss"]`` is a finite scalar, descend it, run the hook.

    Only the optimizer's parameters receive gradients (``backward(inputs=...)``). ``name``
    (``"d_loss"``, ``"g_loss"``) names the term in messages. Returns the terms detached, for the log.
    """
    terms = loss_terms(terms, f"{name}(x)")
    loss = objective(terms, f"{name}(x)", name)  # a finite scalar, checked before the update
    params = [p for group in optimizer.param_groups for p in group["params"] if p.requires_grad]
    optimizer.zero_grad(set_to_none=True)
    loss.backward(inputs=params)
    optimizer.step()
    if after_step is not None:
        after_step()
    return {k: v.detach() if torch.is_tensor(v) else v for k, v in terms.items()}


def _check_adversarial(model) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    needed = ("d_loss", "g_loss", "generator_parameters", "discriminator_parameters")
    missing = [name for name in needed if not callable(getattr(model, name, None))]
    if missing:
        raise TypeError(f"train_gan trains adversarial models (GAN, BiGAN, CycleGAN); {type(model).__name__} "
                        f"lacks {', '.join(missing)}; a model with one loss(x) trains with dgmlib.training.fit")


def _run_length(data, epochs: int, batch_size: int) -> int:
    per_epoch = num_batches(check_data(data, "data"), batch_size)
    if per_epoch is None:
        raise TypeError("decay_lr needs data of known length (a tensor, a tuple of tensors or a sized loader)")
    return max(epochs * per_epoch, 1)


def train_gan(model: nn.Module, data, *, epochs: int, batch_size: int = 128, lr_g: float = 2e-4,
              lr_d: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999), n_critic: int = 1,
              decay_lr: bool = False, eval_fn: Callable | None = None, eval_every: int = 1,
              progress: bool | None = None, seed: int | None = None, checkpoint=None) -> History:
    """Alternating updates of an adversarial model (GAN, BiGAN, CycleGAN); returns the per-epoch :class:`History`.

    Every batch makes one discriminator (critic) step on ``model.d_loss(batch)["loss"]``; every
    ``n_critic``-th batch also makes one generator step on ``model.g_loss(batch)["loss"]``, on a
    fresh draw of z. Adam with ``betas`` for each (DCGAN: lr 2e-4, beta1 0.5) on
    ``model.discriminator_parameters()`` / ``model.generator_parameters()``; the model's
    ``after_d_step()`` / ``after_g_step()`` hooks run after each update (weight clipping,
    historical averaging). Logged per epoch: every d term prefixed ``d_`` (``d_loss``,
    ``d_real``, ``d_fake``, ``d_gp``) and every g term prefixed ``g_`` (``g_loss``, ...; on batches
    without a generator step, the latest one's).

    Args:
        data: a tensor of training samples (GAN, BiGAN), or the pair ``(data_a, data_b)`` of a
            CycleGAN; on any device (batches move to the model's).
        decay_lr: decay both learning rates linearly to 0 over the T steps of the run,
            lr_t = lr_0 max(0, 1 - t / T) (as WGAN-GP's code does).
        eval_fn, eval_every, progress, seed, checkpoint: as in :func:`dgmlib.training.fit`.

    Example:
        >>> wgan = GAN(G, D, latent_dim=2, kind="wasserstein", gp_weight=0.1)
        >>> history = train_gan(wgan, ring, epochs=40, batch_size=256, lr_g=1e-3, lr_d=1e-3)
        >>> history["d_real"][-1] - history["d_fake"][-1]             # the critic's estimate of W

    References:
        Goodfellow et al., Generative Adversarial Nets, NeurIPS 2014, Algorithm 1.
        Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017, Algorithm 1 (n_critic).
    """
    _check_adversarial(model)
    n_critic = checks.positive_int(n_critic, "n_critic")
    lr_g, lr_d = checks.positive_number(lr_g, "lr_g"), checks.positive_number(lr_d, "lr_d")
    total = _run_length(data, epochs, batch_size) if checks.flag(decay_lr, "decay_lr") else None
    opt_g = torch.optim.Adam(model.generator_parameters(), lr=lr_g, betas=betas)
    opt_d = torch.optim.Adam(model.discriminator_parameters(), lr=lr_d, betas=betas)
    after_d, after_g = getattr(model, "after_d_step", None), getattr(model, "after_g_step", None)
    state = {"step": 0, "g": {}}

    def update(batch):
        t = state["step"]
        state["step"] += 1
        if total is not None:
            linear_decay((opt_g, opt_d), (lr_g, lr_d), t, total)
        d_terms = _player_step(model.d_loss(batch), opt_d, after_d, "d_loss")
        if t % n_critic == 0:
            g_terms = _player_step(model.g_loss(batch), opt_g, after_g, "g_loss")
            state["g"] = {f"g_{k}": v for k, v in g_terms.items()}
        return {**{f"d_{k}": v for k, v in d_terms.items()}, **state["g"]}

    return run_epochs(model, data, update, epochs=epochs, batch_size=batch_size, optimizers=[opt_g, opt_d],
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

    Example:
        >>> w, _ = train_critic(MLPDiscriminator(2, dropout=0.0), x_pi, x_p, steps=300, gp_weight=10.0)

    References:
        Goodfellow et al., Generative Adversarial Nets, NeurIPS 2014, Theorem 1.
        Arjovsky, Chintala, Bottou, Wasserstein GAN, ICML 2017, Sec. 3 (Kantorovich-Rubinstein duality).
    """
    kind = checks.one_of(kind, "kind", LOSS_KINDS)
    steps = checks.positive_int(steps, "steps")
    gp_weight = checks.non_negative_number(gp_weight, "gp_weight")
    _smoothing(label_smoothing, kind)
    if x_pi.ndim < 2 or x_p.ndim < 2 or x_pi.shape[1:] != x_p.shape[1:]:
        raise ValueError(f"x_pi and x_p must be (n, ...) samples of the same dimension, got {tuple(x_pi.shape)} "
                         f"and {tuple(x_p.shape)}")
    opt = torch.optim.Adam(critic.parameters(), lr=lr, betas=betas)
    m = min(len(x_pi), len(x_p))

    def update():
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

    history = run_steps(critic, update, steps=steps, optimizers=[opt], progress=progress)
    with torch.no_grad():
        value = -discriminator_loss(critic(x_pi), critic(x_p), kind)
    return value, history
