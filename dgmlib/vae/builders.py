"""Ready-made VAEs: the MLP model the lectures train, in one call (replaces the notebooks' copies)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from .. import checks
from .model import VAE
from .nets import MLPDecoder, MLPEncoder

__all__ = ["make_vae"]


def make_vae(latent_dim: int = 20, *, x_shape: Sequence[int] = (1, 28, 28), hidden: Sequence[int] = (256,),
             likelihood: str = "bernoulli", k: int = 1, beta: float = 1.0, flows: Sequence[nn.Module] | None = None,
             context_features: int = 0) -> VAE:
    """A VAE with MLP encoder and decoder, mirror images of each other:

        q(z|x):  x (prod x_shape) -> hidden[0] -> ... -> hidden[-1] -> (mu, logvar[, h])
        f(z):    z (latent_dim) -> hidden[-1] -> ... -> hidden[0] -> x_shape

    ``MLPEncoder(prod(x_shape), latent_dim, hidden, context_features)`` is built first, then
    ``MLPDecoder(latent_dim, x_shape, reversed(hidden))`` (so the same seed gives the same weights
    as building them by hand in that order). ``likelihood``, ``k``, ``beta`` and ``flows`` go to
    :class:`VAE`; ``context_features`` is the size of the context ``h`` the encoder hands to
    conditional flows (e.g. :class:`IAFStep`). Returned on the CPU: call ``.to(device)``.

    Example:
        >>> torch.manual_seed(0)
        >>> vae = make_vae(20).to(device)                                    # lecture 01
        >>> iwae = make_vae(20, k=5)                                         # lecture 02
        >>> beta_vae = make_vae(6, x_shape=(1, 32, 32), hidden=(512, 256), beta=4.0)   # lecture 08
    """
    x_shape = tuple(checks.positive_int(s, "x_shape") for s in x_shape)
    hidden = tuple(hidden)
    encoder = MLPEncoder(math.prod(x_shape), latent_dim, hidden, context_features)
    decoder = MLPDecoder(latent_dim, x_shape, hidden=tuple(reversed(hidden)))
    return VAE(encoder, decoder, likelihood, k=k, beta=beta, flows=flows)
