"""A grid of beta-VAEs and beta-TCVAEs on dSprites: build, train and score every member (lecture 08).

A member is ``(kind, beta, seed)``, named ``"beta-VAE 4 s0"``; the grid is an ``nn.ModuleDict``
from names to :class:`dgmlib.vae.VAE` models with the convolutional encoder and decoder of
:mod:`dgmlib.vae.conv_stack`. Two objectives, both with a KL warm-up ``w_t = min(1, t / warmup)``
over the first ``warmup`` steps (it keeps the small sprites from collapsing the posterior early):

    beta-VAE     loss = recon + w_t beta KL(q(z|x) || p(z))
    beta-TCVAE   loss = recon + w_t (I_q(x; z) + beta TC(z) + sum_d KL(q(z_d) || p(z_d)))

with ``recon = -E_q log p(x|z)`` (Bernoulli pixels). The seed fixes a member's initial weights, the
order of its batches and its noise, so ``"beta-VAE 4 s0"`` and ``"beta-VAE 8 s0"`` start alike.

Example:
    >>> grid = build_grid(grid_members(betas=(1, 4), seeds=(0,), tc_betas=(6,)))
    >>> train_grid(grid, sprites.images, steps=3000)
    >>> score_grid(grid, sprites.dataset, n_points=4000)["beta-TCVAE 6 s0"]["MIG"]

References: Higgins et al., *beta-VAE*, ICLR 2017; Chen et al., *Isolating Sources of
Disentanglement in VAEs*, NeurIPS 2018; Locatello et al., ICML 2019 (the study this grid mirrors).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from .. import checks
from ..gaussian import kl_normal_std, reparameterize
from .information import mig
from .predictors import dci
from .scores import all_metrics, representation_from_encoder
from .tcvae import total_correlation_terms

__all__ = ["KINDS", "Member", "grid_members", "member_of", "sprite_vae", "build_grid", "train_member",
           "train_grid", "score_grid", "reconstruction_quality", "latent_traversal"]

KINDS = ("beta-VAE", "beta-TCVAE")


class Member(NamedTuple):
    """One model of the grid: its objective ``kind`` (one of :data:`KINDS`), ``beta`` and ``seed``."""

    kind: str
    beta: float
    seed: int

    @property
    def name(self) -> str:
        """``"beta-VAE 4 s0"`` (beta written without a dot: ``nn.ModuleDict`` keys may not hold one)."""
        return f"{self.kind} {self.beta:g} s{self.seed}".replace(".", "_")


def member_of(name: str) -> Member:
    """The inverse of :attr:`Member.name`: ``"beta-TCVAE 6 s1" -> Member("beta-TCVAE", 6.0, 1)``."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str such as 'beta-VAE 4 s0', got {type(name).__name__}")
    parts = name.split()
    if len(parts) != 3 or parts[0] not in KINDS or not parts[2].startswith("s") or not parts[2][1:].isdigit():
        raise ValueError(f"name must read '<kind> <beta> s<seed>' with kind in {KINDS}, got {name!r}")
    try:
        beta = float(parts[1].replace("_", "."))
    except ValueError:
        raise ValueError(f"name must read '<kind> <beta> s<seed>', got a beta of {parts[1]!r} in {name!r}") from None
    return Member(parts[0], beta, int(parts[2][1:]))


def grid_members(betas: Sequence[float] = (1, 2, 4, 8, 16), seeds: Sequence[int] = (0, 1),
                 tc_betas: Sequence[float] = (6,)) -> list[Member]:
    """Every ``beta-VAE`` with a beta of ``betas`` and every ``beta-TCVAE`` with one of ``tc_betas``, per seed."""
    seeds = [checks.int_at_least(checks.integer(s, "seeds"), "seeds", 0) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    betas = [checks.non_negative_number(b, "betas") for b in betas]
    tc_betas = [checks.non_negative_number(b, "tc_betas") for b in tc_betas]
    if not betas and not tc_betas:
        raise ValueError("betas and tc_betas are both empty: the grid would have no member")
    return ([Member("beta-VAE", b, s) for b in betas for s in seeds]
            + [Member("beta-TCVAE", b, s) for b in tc_betas for s in seeds])


def sprite_vae(latent_dim: int = 10, *, size: int = 32, beta: float = 1.0, width: int = 16, hidden: int = 128):
    """A Bernoulli :class:`dgmlib.vae.VAE` with :class:`~dgmlib.vae.ConvStackEncoder` and its mirror decoder."""
    from ..vae import VAE, ConvStackDecoder, ConvStackEncoder

    encoder = ConvStackEncoder(latent_dim, size=size, width=width, hidden=hidden)
    decoder = ConvStackDecoder(latent_dim, size=size, width=width, hidden=hidden)
    return VAE(encoder, decoder, "bernoulli", beta=beta)


def build_grid(members: Sequence[Member], *, latent_dim: int = 10, size: int = 32, width: int = 16,
               hidden: int = 128) -> nn.ModuleDict:
    """``nn.ModuleDict`` name -> :func:`sprite_vae`, each initialized from its member's seed (on the CPU).

    A beta-VAE member's ``VAE.beta`` is its beta; a beta-TCVAE member keeps ``beta = 1`` (its beta
    weights the total correlation, see :func:`train_member`). The global RNG is left as it was.
    """
    members = [m if isinstance(m, Member) else Member(*m) for m in members]
    for m in members:
        checks.one_of(m.kind, "kind", KINDS)
    names = [m.name for m in members]
    if len(set(names)) != len(names):
        raise ValueError(f"members must be distinct, got {names}")
    grid = nn.ModuleDict()
    for m in members:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(m.seed)
            grid[m.name] = sprite_vae(latent_dim, size=size, beta=m.beta if m.kind == "beta-VAE" else 1.0,
                                      width=width, hidden=hidden)
    return grid


def _warm_loss(member: Member, dataset_size: int, warmup: int):
    """``loss_fn(model, batch)`` of the member's objective with the KL weight ``w_t = min(1, t / warmup)``."""
    step = [0]

    def loss_fn(model, x):
        step[0] += model.training  # count training steps only
        w = min(1.0, step[0] / warmup) if warmup else 1.0
        mu, logvar = model.encode(x)[:2]
        z = reparameterize(mu, logvar)
        recon = -model.log_px_given_z(x, z).mean()
        if member.kind == "beta-VAE":
            kl = kl_normal_std(mu, logvar).mean()
            return {"loss": recon + w * member.beta * kl, "elbo": -(recon + kl).detach(),
                    "recon": recon.detach(), "kl": kl.detach()}
        parts = total_correlation_terms(z, mu, logvar, dataset_size)
        kl = parts["mi"] + parts["tc"] + parts["dim_kl"]
        loss = recon + w * (parts["mi"] + member.beta * parts["tc"] + parts["dim_kl"])
        return {"loss": loss, "elbo": -(recon + kl).detach(), "recon": recon.detach(), "kl": kl.detach(),
                **{k: v.detach() for k, v in parts.items()}}

    return loss_fn


def train_member(model: nn.Module, images: torch.Tensor, member: Member, *, steps: int, warmup: int = 800,
                 batch_size: int = 64, lr: float = 1e-3, progress: bool = False):
    """Train one member for about ``steps`` Adam steps (whole epochs) with :func:`dgmlib.training.fit`.

    ``images: (N, 1, S, S)`` binary; the member's seed seeds the batch order and the noise.
    Returns fit's :class:`~dgmlib.training.History` (``loss``, ``elbo``, ``recon``, ``kl``; ``mi``,
    ``tc``, ``dim_kl`` for a beta-TCVAE).
    """
    from ..training import fit

    member = member if isinstance(member, Member) else member_of(member)
    images = checks.tensor(images, "images")
    steps = checks.positive_int(steps, "steps")
    warmup = checks.int_at_least(warmup, "warmup", 0)
    batch_size = checks.int_at_least(batch_size, "batch_size", 2, " (the total-correlation estimate needs pairs)")
    if len(images) < batch_size:
        raise ValueError(f"images must hold at least batch_size={batch_size} images, got {len(images)}")
    per_epoch = -(-len(images) // batch_size)
    epochs = max(1, round(steps / per_epoch))
    torch.manual_seed(member.seed)
    return fit(model, images, epochs=epochs, batch_size=batch_size, lr=lr, seed=member.seed,
               loss_fn=_warm_loss(member, len(images), warmup), progress=progress)


def train_grid(grid: nn.ModuleDict, images: torch.Tensor, *, steps: int, **kwargs) -> dict:
    """:func:`train_member` for every member of ``grid`` in turn; returns ``{name: history}``."""
    return {name: train_member(model, images, member_of(name), steps=steps, **kwargs) for name, model in grid.items()}


def _factors(dataset, n_points: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return dataset.sample_factors(n_points, gen)


def score_grid(grid: nn.ModuleDict, dataset, *, n_points: int = 4000, seed: int = 0, all_six: bool = False,
               n_train: int = 500, n_eval: int = 250) -> dict[str, dict[str, float]]:
    """``{name: {"MIG": ..., "DCI": ...}}`` of every member's mean code mu(x) on ``n_points`` images
    with uniform factors drawn from ``seed`` (the same images for every member), rendered by
    ``dataset`` (a :class:`dgmlib.data.DSprites`). ``"DCI"`` is DCI disentanglement.

    ``all_six=True``: the six scores of :func:`all_metrics` instead (BetaVAE and FactorVAE with
    ``n_train`` / ``n_eval`` batches of 64).
    """
    n_points = checks.int_at_least(n_points, "n_points", 2)
    factors = _factors(dataset, n_points, seed)
    out = {}
    for name, model in grid.items():
        represent = representation_from_encoder(model.encoder, dataset)
        if checks.flag(all_six, "all_six"):
            out[name] = all_metrics(represent, dataset.factor_sizes, n_points=n_points, n_train=n_train,
                                    n_eval=n_eval, seed=seed)
            continue
        codes = represent(factors).double()
        out[name] = {"MIG": mig(codes, factors), "DCI": dci(codes, factors, seed=seed)["disentanglement"]}
    return out


@torch.no_grad()
def reconstruction_quality(model: nn.Module, images: torch.Tensor) -> dict[str, float]:
    """How well ``p(x | z = mu(x))`` keeps a sprite, averaged over ``images: (B, 1, S, S)`` (binary):

    - ``recon``: ``-log p(x | mu(x))`` in nats (Bernoulli);
    - ``iou``: intersection over union of the pixels with ``p > 0.5`` and the sprite's pixels
      (shape and scale: a round blob of the right size scores well below a square's own outline);
    - ``centre_error``: distance in pixels between the centres of mass ``sum_ij p_ij (i, j) / sum p``
      of the reconstruction's probabilities and of the sprite (position).
    """
    checks.tensor(images, "images")
    x = images.to(next(model.parameters()).device)
    mu = model.encode(x)[0]
    p = model.decode(mu)                                          # (B, 1, S, S) pixel probabilities
    recon = -model.log_px_given_z(x, mu)                          # (B,)
    on, truth = p > 0.5, x > 0.5
    iou = (on & truth).flatten(1).sum(1) / (on | truth).flatten(1).sum(1).clamp(min=1)
    side = torch.arange(x.shape[-1], device=x.device, dtype=p.dtype)

    def centre(w):                                                # (B, 1, S, S) -> (B, 2)
        mass = w.flatten(1).sum(1).clamp(min=1e-6)
        return torch.stack([(w.sum(-1).flatten(1) * side).sum(1), (w.sum(-2).flatten(1) * side).sum(1)], 1) / mass[:, None]

    error = (centre(p) - centre(x)).norm(dim=1)
    return {"recon": float(recon.mean()), "iou": float(iou.mean()), "centre_error": float(error.mean())}


@torch.no_grad()
def latent_traversal(model: nn.Module, x: torch.Tensor, values=(-2.0, -1.0, 0.0, 1.0, 2.0), dims=None):
    """Decode ``mu(x)`` with one coordinate at a time set to each of ``values``:
    ``(len(dims) * len(values), C, S, S)``, row ``r`` moving dimension ``dims[r]``.

    ``x: (1, C, S, S)``, one image. Default ``dims``: every dimension, most informative first
    (by its mean KL ``1/2 (mu^2 + sigma^2 - 1 - log sigma^2)`` on ``x``). Returns ``(images, dims)``.
    """
    checks.tensor(x, "x")
    if x.dim() != 4 or len(x) != 1:
        raise ValueError(f"x must be one image of shape (1, C, S, S), got {tuple(x.shape)}")
    mu, logvar = model.encode(x)[:2]                              # (1, D) each
    if dims is None:
        kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar)[0]
        dims = kl.argsort(descending=True).tolist()
    values = torch.as_tensor(values, dtype=mu.dtype, device=mu.device)
    z = mu.repeat(len(dims), len(values), 1)                      # (len(dims), len(values), D)
    z[torch.arange(len(dims)), :, torch.as_tensor(dims)] = values
    return model.decode(z).flatten(0, 1), list(dims)
