"""Keeping a critic Lipschitz: gradient norms, weight clipping, the gradient penalty, spectral norms.

Kantorovich-Rubinstein duality, W(pi, p) = max_{||f||_L <= 1} E_pi f - E_p f, asks for a
1-Lipschitz critic. The tools here enforce or measure that: clip the weights (WGAN), penalize
gradient norms away from 1 (WGAN-GP), divide each weight by its spectral norm (SN-GAN, with
:func:`power_iteration` as its estimate), and bound Lip(f) by the product of spectral norms.
:func:`orthogonal_regularization` (BigGAN) is the related penalty on W W^T.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .. import checks

__all__ = ["gradient_norms", "clip_weights", "gradient_penalty", "power_iteration", "lipschitz_bound",
           "orthogonal_regularization"]


def gradient_norms(critic: Callable, x: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
    """||grad_x f(x)||_2 for every sample: ``x: (B, ...)`` -> ``(B,)``.

    Example:
        >>> gradient_norms(lambda x: 3 * x.sum(1), torch.zeros(2, 1))
        tensor([3., 3.])
    """
    x = checks.floating_tensor(x, "x").detach().requires_grad_(True)
    with torch.enable_grad():
        out = critic(x)
        (grad,) = torch.autograd.grad(out.sum(), x, create_graph=create_graph)
    return grad.flatten(1).pow(2).sum(1).add(1e-12).sqrt()


def clip_weights(critic: nn.Module, c: float) -> None:
    """Weight clipping: every parameter into ``[-c, c]``, in place.

    A crude way to keep the critic K-Lipschitz for some K that depends on ``c`` and the architecture.

    Example:
        >>> clip_weights(critic, 0.01)                               # after every critic step

    References:
        Arjovsky, Chintala, Bottou, Wasserstein GAN, ICML 2017, Algorithm 1.
    """
    c = checks.positive_number(c, "clip value c")
    with torch.no_grad():
        for p in critic.parameters():
            p.clamp_(-c, c)


def gradient_penalty(critic: Callable, real: torch.Tensor, fake: torch.Tensor, target: float = 1.0) -> torch.Tensor:
    """WGAN-GP's penalty E_t (||grad f(x_t)||_2 - 1)^2 at x_t = t x + (1 - t) y, t ~ U[0, 1] per pair.

    ``real``, ``fake``: ``(B, ...)`` pairs of data and generated samples (same shape). Returns a
    scalar that keeps its graph, so adding ``lambda * gradient_penalty(...)`` to the critic's
    loss trains the critic towards unit gradient norm. ``target`` replaces the 1.

    Example:
        >>> loss = discriminator_loss(f(x), f(y), "wasserstein") + 10.0 * gradient_penalty(f, x, y)

    References:
        Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017, Eq. 3.
    """
    checks.same_shape(real=real, fake=fake)
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
    the vectors at the rate (sigma_2 / sigma_1)^(2k), the estimate of sigma at (sigma_2 / sigma_1)^(4k).
    ``weight``: ``(out, in)``, or ``(out, ...)`` for a convolution, flattened to ``(out, -1)`` as
    spectral normalization does. ``u``: the starting vector ``(out,)`` (default: random, from
    ``generator``). With ``return_vectors``: ``(sigma, u, v)``.

    Example:
        >>> power_iteration(torch.diag(torch.tensor([3.0, 1.0])), n_iter=20)
        tensor(3.)

    References:
        Miyato et al., Spectral Normalization for Generative Adversarial Networks, ICLR 2018, Algorithm 1.
    """
    checks.tensor(weight, "weight")
    if weight.ndim < 2:
        raise ValueError(f"weight must be a tensor with at least 2 dimensions, got {tuple(weight.shape)}")
    n_iter = checks.positive_int(n_iter, "n_iter")
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

    Example:
        >>> lipschitz_bound(MLPDiscriminator(2, dropout=0.0, spectral_norm=True).eval())   # ~ 1

    References:
        Miyato et al., Spectral Normalization for Generative Adversarial Networks, ICLR 2018, Sec. 2.1.
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


def _weight_matrices(module: nn.Module):
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd)):
            yield m.weight.reshape(m.weight.shape[0], -1)


def orthogonal_regularization(module: nn.Module) -> torch.Tensor:
    """BigGAN's orthogonal regularization sum_W ||W W^T * (1 - I)||_F^2.

    W runs over the weights of the module's linear and convolutional layers, each flattened to
    ``(out, -1)`` so that its rows are the filters: the penalty pushes different filters to be
    orthogonal and, unlike the full ||W W^T - I||^2, leaves their norms free. Multiply by beta
    (BigGAN: 1e-4) and add to the loss. Returns a scalar with its graph.

    Example:
        >>> loss = fit_loss + 1e-4 * orthogonal_regularization(model)

    References:
        Brock, Donahue, Simonyan, Large Scale GAN Training for High Fidelity Natural Image
        Synthesis, ICLR 2019, Sec. 3.1.
    """
    mats = list(_weight_matrices(module))
    if not mats:
        raise ValueError("module has no nn.Linear or convolution layers to regularize")
    total = 0.0
    for w in mats:
        gram = w @ w.T
        total = total + (gram - torch.diag(torch.diagonal(gram))).pow(2).sum()
    return total
