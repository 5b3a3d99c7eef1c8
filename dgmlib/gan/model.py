"""The GAN: a generator, a discriminator (or critic), the prior N(0, I), a loss kind and its regularizers.

The adversarial contract (shared by :class:`GAN`, :class:`~dgmlib.gan.BiGAN` and
:class:`~dgmlib.gan.CycleGAN`): ``d_loss(x)`` and ``g_loss(x)`` return dicts whose first key
``"loss"`` is what that player minimizes; ``discriminator_parameters()`` and
``generator_parameters()`` say what each player's optimizer updates; the hooks
``after_d_step()`` / ``after_g_step()`` run after each update. :func:`~dgmlib.gan.train_gan`
knows nothing else about the model.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .. import checks
from ..runtime import module_device
from .lipschitz import clip_weights, gradient_penalty
from .losses import LOSS_KINDS, _smoothing, discriminator_loss, generator_loss

__all__ = ["GAN"]


class _RunningMean:
    """theta_bar = (1/T) sum_t theta_t of a module's parameters, for historical averaging."""

    def __init__(self, module: nn.Module):
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.mean = [p.detach().clone() for p in self.params]
        self.count = 1

    def penalty(self) -> torch.Tensor:
        """||theta - theta_bar||^2, with its graph in theta."""
        return sum((p - m).pow(2).sum() for p, m in zip(self.params, self.mean))

    @torch.no_grad()
    def update(self):
        self.count += 1
        for p, m in zip(self.params, self.mean):
            m.add_((p - m) / self.count)


class GAN(nn.Module):
    """A generator G, a discriminator (or critic) D, the latent prior N(0, I) and a loss kind.

    The discriminator minimizes ``d_loss(x)["loss"]``, the generator ``g_loss(x)["loss"]``
    (see :data:`~dgmlib.gan.LOSS_KINDS`). ``sample(n)`` draws x = G(z), z ~ N(0, I).

    Regularizers (all off by default), each part of the player's ``"loss"``:
        gp_weight: lambda of the gradient penalty ``+ lambda E (||grad f||_2 - 1)^2`` (WGAN-GP).
        clip_value: clip every critic weight to ``[-c, c]`` after its step (the original WGAN).
        label_smoothing: one-sided label smoothing alpha (real target ``1 - alpha``).
        feature_matching: the generator minimizes ``||E_pi d(x) - E_z d(G(z))||^2`` with ``d``
            the discriminator's ``features`` (its last hidden layer) instead of its loss.
        historical_averaging: weight of ``||theta - (1/T) sum_t theta_t||^2``, added to both
            players' losses; the running means start at the parameters of the first step.
        ema_decay: beta of an exponential moving average of the generator's weights,
            ``theta_ema <- beta theta_ema + (1 - beta) theta`` after every generator step (buffers,
            e.g. batch-norm statistics, are copied). ``sample`` then draws from ``generator_ema``,
            a copy of G that no optimizer touches; ``None`` (default) keeps no average.

    Example:
        >>> G = MLPGenerator(2, 2, hidden=(128, 128), batch_norm=False, output=None)
        >>> D = MLPDiscriminator(2, hidden=(128, 128), dropout=0.0)
        >>> wgan = GAN(G, D, latent_dim=2, kind="wasserstein", gp_weight=0.1)
        >>> history = train_gan(wgan, ring, epochs=40, lr_g=1e-3, lr_d=1e-3)

    References:
        Goodfellow et al., Generative Adversarial Nets, NeurIPS 2014.
        Arjovsky, Chintala, Bottou, Wasserstein GAN, ICML 2017 (clip_value).
        Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017 (gp_weight).
        Salimans et al., Improved Techniques for Training GANs, NeurIPS 2016, Sec. 3.1, 3.3, 3.4
        (feature_matching, historical_averaging, label_smoothing).
        Yazici et al., The Unusual Effectiveness of Averaging in GAN Training, ICLR 2019 (ema_decay).
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, latent_dim: int,
                 kind: str = "non_saturating", *, gp_weight: float = 0.0, clip_value: float | None = None,
                 label_smoothing: float = 0.0, feature_matching: bool = False, historical_averaging: float = 0.0,
                 ema_decay: float | None = None):
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = checks.positive_int(latent_dim, "latent_dim")
        self.kind = checks.one_of(kind, "kind", LOSS_KINDS)
        self.gp_weight = checks.non_negative_number(gp_weight, "gp_weight")
        self.clip_value = None if clip_value is None else checks.positive_number(clip_value, "clip_value")
        self.label_smoothing = _smoothing(label_smoothing, self.kind)
        self.feature_matching = checks.flag(feature_matching, "feature_matching")
        if feature_matching and not callable(getattr(discriminator, "features", None)):
            raise TypeError("feature_matching needs a discriminator with a features(x) method")
        self.historical_averaging = checks.non_negative_number(historical_averaging, "historical_averaging")
        self._averages: dict[str, _RunningMean] = {}
        self.ema_decay = None if ema_decay is None else checks.number_in(ema_decay, "ema_decay", 0, 1, closed="left")
        self.generator_ema = None
        if self.ema_decay is not None:
            self.generator_ema = copy.deepcopy(generator).requires_grad_(False)

    @property
    def device(self) -> torch.device:
        return module_device(self.generator)

    def prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, I), ``(n, latent_dim)`` on the model's device."""
        n = checks.positive_int(n, "n")
        return torch.randn(n, self.latent_dim, generator=generator).to(self.device)

    @torch.no_grad()
    def sample(self, n: int, z: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples G(z) (or G of the given ``z``), without gradients; G is ``generator_ema`` when kept."""
        z = self.prior(n, generator) if z is None else z.to(self.device)
        return (self.generator if self.generator_ema is None else self.generator_ema)(z)

    def generator_parameters(self):
        return list(self.generator.parameters())

    def discriminator_parameters(self):
        return list(self.discriminator.parameters())

    def d_loss(self, x: torch.Tensor) -> dict:
        """``{"loss", "real", "fake"[, "gp"]}``: the discriminator's loss on data ``x`` and a fresh G(z).

        ``"loss"`` = discriminator_loss(D(x), D(G(z)), kind) (+ the penalties), with G(z) drawn
        without gradients; ``"real"``, ``"fake"``: the mean logits (critic values).
        """
        if not torch.is_tensor(x):
            raise TypeError(f"GAN.d_loss takes a tensor x of data, got {type(x).__name__}; "
                            "give train_gan the samples alone, not (samples, labels)")
        with torch.no_grad():
            fake = self.generator(self.prior(len(x)))
        d_real, d_fake = self.discriminator(x), self.discriminator(fake)
        loss = discriminator_loss(d_real, d_fake, self.kind, self.label_smoothing)
        terms = {"real": d_real.detach().mean(), "fake": d_fake.detach().mean()}
        if self.gp_weight:
            gp = gradient_penalty(self.discriminator, x, fake)
            loss = loss + self.gp_weight * gp
            terms["gp"] = gp.detach()
        if self.historical_averaging:
            loss = loss + self.historical_averaging * self._average("discriminator").penalty()
        return {"loss": loss, **terms}

    def g_loss(self, x) -> dict:
        """``{"loss"}``: the generator's loss on a fresh draw of ``len(x)`` (or ``x``, an int) samples.

        generator_loss(D(G(z)), kind), or with ``feature_matching``
        ``||mean D.features(x) - mean D.features(G(z))||^2`` (which needs the data batch ``x``).
        """
        n = len(x) if torch.is_tensor(x) else checks.positive_int(x, "x (a batch or a number of samples)")
        fake = self.generator(self.prior(n))
        if self.feature_matching:
            if not torch.is_tensor(x):
                raise TypeError("feature_matching compares features of data and samples: pass the data batch x")
            D = self.discriminator
            loss = (D.features(x).detach().mean(0) - D.features(fake).mean(0)).pow(2).sum()
        else:
            loss = generator_loss(self.discriminator(fake), self.kind)
        if self.historical_averaging:
            loss = loss + self.historical_averaging * self._average("generator").penalty()
        return {"loss": loss}

    def after_d_step(self) -> None:
        """Weight clipping (``clip_value``), then the discriminator's running mean."""
        if self.clip_value is not None:
            clip_weights(self.discriminator, self.clip_value)
        if self.historical_averaging:
            self._average("discriminator").update()

    def after_g_step(self) -> None:
        """The generator's running mean (``historical_averaging``), then its moving average (``ema_decay``)."""
        if self.historical_averaging:
            self._average("generator").update()
        if self.generator_ema is not None:
            self._update_ema()

    @torch.no_grad()
    def _update_ema(self) -> None:
        """theta_ema <- beta theta_ema + (1 - beta) theta for every parameter; buffers copied."""
        for p_ema, p in zip(self.generator_ema.parameters(), self.generator.parameters()):
            p_ema.lerp_(p, 1 - self.ema_decay)
        for b_ema, b in zip(self.generator_ema.buffers(), self.generator.buffers()):
            b_ema.copy_(b)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.generator_ema is not None:
            self.generator_ema.eval()  # the average is only ever evaluated
        return self

    def _average(self, player: str) -> _RunningMean:
        if player not in self._averages:  # starts at the parameters of the first step
            self._averages[player] = _RunningMean(getattr(self, player))
        return self._averages[player]
