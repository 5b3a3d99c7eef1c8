"""A learned prior for a trained VAE: fill the holes between N(0, I) and the aggregate posterior.

The ELBO averaged over the data, E_pi ELBO(x), is maximized over the prior p(z) by the *aggregate
posterior* q(z) = E_pi q(z|x) (Hoffman & Johnson, 2016): the KL terms pull every q(z|x) towards
p(z), but nothing makes their mixture fill N(0, I), and codes drawn from the prior's unfilled
regions decode to blends of digits. A two-stage fit replaces N(0, I), after training, by a density
estimate of q(z): here a Gaussian mixture

    p_K(z) = sum_{k=1}^K w_k N(z; m_k, S_k),

fitted by EM (scikit-learn's ``GaussianMixture``) to codes z ~ q(z|x_n) of the training data. The
encoder and decoder stay as trained; the model p_K(z) p(x|z) is a new generative model whose
log p(x) is estimated with the same importance weights, log w = log p(x|z) + log p_K(z) - log q(z|x).
"""

from __future__ import annotations

import torch
from torch import distributions as td
from torch import nn

from .. import checks
from ..runtime import module_device
from .evaluation import importance_log_prob

__all__ = ["MixturePrior", "LearnedPriorVAE"]


class MixturePrior(nn.Module):
    """p(z) = sum_k w_k N(z; m_k, S_k), full covariances; ``log_prob(z)`` and ``sample(n)``.

    Build it with :meth:`fit` (EM on codes) or from its parameters: ``weights (K,)`` positive and
    summing to 1, ``means (K, D)``, ``covariances (K, D, D)`` symmetric positive definite.

    Example:
        >>> prior = MixturePrior.fit(z_codes, components=10, seed=0)
        >>> prior.log_prob(torch.zeros(3, z_codes.shape[1])).shape
        torch.Size([3])
    """

    def __init__(self, weights: torch.Tensor, means: torch.Tensor, covariances: torch.Tensor):
        super().__init__()
        weights, means = checks.finite_tensor(weights, "weights"), checks.finite_tensor(means, "means")
        covariances = checks.finite_tensor(covariances, "covariances")
        if means.ndim != 2 or weights.shape != means.shape[:1] or covariances.shape != (*means.shape, means.shape[1]):
            raise ValueError(f"weights, means, covariances must have shapes (K,), (K, D), (K, D, D), got "
                             f"{tuple(weights.shape)}, {tuple(means.shape)}, {tuple(covariances.shape)}")
        if (weights <= 0).any() or abs(weights.sum().item() - 1) > 1e-4:
            raise ValueError("weights must be positive and sum to 1")
        try:
            scale_tril = torch.linalg.cholesky(covariances)
        except RuntimeError as error:
            raise ValueError("covariances must be symmetric positive definite") from error
        self.register_buffer("log_weights", weights.log())
        self.register_buffer("means", means)
        self.register_buffer("scale_tril", scale_tril)

    @classmethod
    def fit(cls, z: torch.Tensor, components: int, seed: int = 0, max_iter: int = 200) -> "MixturePrior":
        """EM fit of a ``components``-component full-covariance mixture to codes ``z: (N, D)`` (scikit-learn)."""
        from sklearn.mixture import GaussianMixture

        z = checks.finite_tensor(z, "z")
        if z.ndim != 2:
            raise ValueError(f"z must have shape (N, D), got {tuple(z.shape)}")
        components = checks.positive_int(components, "components")
        if len(z) < components:
            raise ValueError(f"z holds {len(z)} codes, fewer than components = {components}")
        gm = GaussianMixture(components, covariance_type="full", random_state=seed, max_iter=max_iter)
        gm.fit(z.detach().double().cpu().numpy())
        as_tensor = lambda a: torch.as_tensor(a, dtype=z.dtype, device=z.device)  # noqa: E731
        return cls(as_tensor(gm.weights_), as_tensor(gm.means_), as_tensor(gm.covariances_))

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def distribution(self) -> td.MixtureSameFamily:
        """The same mixture as a ``torch.distributions`` object (on the prior's device)."""
        return td.MixtureSameFamily(td.Categorical(logits=self.log_weights),
                                    td.MultivariateNormal(self.means, scale_tril=self.scale_tril), validate_args=False)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) = logsumexp_k [log w_k + log N(z; m_k, S_k)]:  ``(..., D) -> (...)``."""
        z = checks.finite_tensor(z, "z")
        if z.shape[-1] != self.dim:
            raise ValueError(f"z must end in the prior's dimension {self.dim}, got {tuple(z.shape)}")
        return self.distribution.log_prob(z)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` codes: a component k ~ w, then z = m_k + L_k eps, eps ~ N(0, I):  ``(n, D)``."""
        n = checks.positive_int(n, "n")
        k = torch.multinomial(self.log_weights.exp().cpu(), n, replacement=True, generator=generator)
        eps = torch.randn(n, self.dim, generator=generator, dtype=self.means.dtype)
        k, eps = k.to(self.means.device), eps.to(self.means.device)
        return self.means[k] + (self.scale_tril[k] @ eps.unsqueeze(-1)).squeeze(-1)


class LearnedPriorVAE(nn.Module):
    """A trained VAE's encoder q(z|x) and decoder p(x|z) with the prior N(0, I) replaced by ``prior``.

        log w = log p(x|z) + log p(z) - log q(z|x),   z ~ q(z|x)
        loss(x) = -(one-sample ELBO),   sample(n): z ~ p(z), then x ~ p(x|z) (mean=True: f(z))

    The family's contract (``loss``, ``sample``, ``log_prob``); the VAE's weights are shared, not
    copied. ``vae`` must offer ``posterior_sample``, ``log_px_given_z`` and ``decode``
    (:class:`dgmlib.vae.VAE` does).

    Example:
        >>> two_stage = LearnedPriorVAE.fit(vae, x_train, components=10)
        >>> two_stage.log_prob(x_test, k=1000).mean()      # compare with vae.log_prob(x_test, k=1000)
    """

    def __init__(self, vae: nn.Module, prior: MixturePrior):
        super().__init__()
        for method in ("posterior_sample", "log_px_given_z", "decode"):
            if not callable(getattr(vae, method, None)):
                raise TypeError(f"vae must offer {method}(...), as dgmlib.vae.VAE does")
        if not isinstance(prior, MixturePrior):
            raise TypeError(f"prior must be a MixturePrior, got {type(prior).__name__}")
        if prior.dim != vae.latent_dim:
            raise ValueError(f"the prior's dimension {prior.dim} differs from the VAE's latent_dim {vae.latent_dim}")
        self.vae, self.prior = vae, prior

    @classmethod
    @torch.no_grad()
    def fit(cls, vae: nn.Module, x: torch.Tensor, components: int = 10, draws: int = 2, seed: int = 0) -> "LearnedPriorVAE":
        """Fit the mixture prior to ``draws`` codes z ~ q(z|x_n) per training example ``x_n``."""
        draws = checks.positive_int(draws, "draws")
        x = checks.finite_tensor(x, "x").to(module_device(vae))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            z, _ = vae.posterior_sample(x, draws)                             # (draws, N, D)
        return cls(vae, MixturePrior.fit(z.reshape(-1, z.shape[-1]), components, seed=seed))

    @property
    def latent_dim(self) -> int:
        return self.prior.dim

    def log_weights(self, x, k: int) -> torch.Tensor:
        """log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x), z_i ~ q(z|x):  ``(B, ...) -> (k, B)``."""
        z, log_q = self.vae.posterior_sample(x, checks.int_at_least(k, "k", 1))
        return self.vae.log_px_given_z(x, z) + self.prior.log_prob(z) - log_q

    def loss(self, x) -> dict[str, torch.Tensor]:
        """The negative one-sample ELBO with the learned prior: ``{"loss", "elbo"}`` (batch means)."""
        elbo = self.log_weights(x, 1)[0]
        return {"loss": -elbo.mean(), "elbo": elbo.mean().detach()}

    @torch.no_grad()
    def log_prob(self, x, k: int = 1000, chunk: int | None = None) -> torch.Tensor:
        """Importance-sampled log p(x) with ``k`` samples per x:  ``(B, ...) -> (B,)``."""
        return importance_log_prob(self.log_weights, x, checks.int_at_least(k, "k", 1), chunk)

    @torch.no_grad()
    def sample(self, n: int, mean: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
        """Ancestral sampling from the learned prior: z ~ p(z), then x ~ p(x|z) (``mean=True``: the mean f(z))."""
        m = self.vae.decode(self.prior.sample(n, generator))
        if checks.flag(mean, "mean"):
            return m
        if getattr(self.vae, "likelihood", "bernoulli") == "bernoulli":
            return torch.bernoulli(m, generator=generator) if m.device.type == "cpu" else torch.bernoulli(m)
        return m + torch.exp(self.vae.log_sigma) * torch.randn_like(m)
