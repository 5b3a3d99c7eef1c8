"""Variational auto-encoders: the ELBO, importance-weighted bounds, richer posteriors.

Notation of the lectures: ``p(z) = N(0, I)`` the prior, ``p(x|z)`` the decoder (likelihood),
``q(z|x) = N(mu(x), diag(exp(logvar(x))))`` the encoder (approximate posterior).

    ELBO(x)  = E_q[log p(x|z)] - KL(q(z|x) || p(z))  =  log p(x) - KL(q(z|x) || p(z|x))
    F_k(x)   = E_{z_1..z_k ~ q}[ log (1/k) sum_i w_i ],   w_i = p(x, z_i) / q(z_i|x)   (IWAE)

``F_1`` is the ELBO, ``F_k <= F_{k+1} <= log p(x)``, and ``F_k -> log p(x)`` as ``k`` grows, which
is how :meth:`VAE.log_prob` estimates ``log p(x)`` with ``k = 1000`` or more.

The contract of every model here (as of every generative model of ``dgmlib``): ``loss(x)`` returns
a dict whose first key ``"loss"`` is minimized, then ``"elbo"``, ``"recon"`` (the reconstruction
*loss* ``-E_q log p(x|z)``) and ``"kl"`` (``"kl_z1"``, ``"kl_z2"`` per level);
``sample(n, mean=False)`` draws from the model; ``log_prob(x)`` is exact
(:class:`LinearGaussian`) or importance-sampled (``k = 1000``).

Rooms: ``likelihoods`` (Bernoulli and Gaussian log p(x|z)), ``estimators`` (reparameterization and
score-function gradients), ``nets`` (MLP and convolutional encoders/decoders), ``autoencoder``
(not generative), ``model`` (:class:`VAE`, also the IWAE with ``k > 1`` and a flow posterior
with ``flows=``), ``hierarchical`` (two levels of latents), ``linear_gaussian`` (the exact model),
``variational_flows`` (the energies U1-U4, :class:`FlowPosterior`, :func:`fit_reverse_kl`,
:class:`IAFStep`), ``evaluation`` (log p(x) by importance sampling, test bounds, latent grids),
``builders`` (:func:`make_vae`), ``learned_prior`` (a Gaussian-mixture prior fitted to the
aggregate posterior of a trained VAE: :class:`LearnedPriorVAE`), ``avb`` (:class:`AVB`, an implicit
posterior whose KL term a critic learns; trained adversarially, by ``train_gan``), ``hybrid_flow``
(:class:`HybridFlowVAE`, the Gaussian conditional in the feature space of a flow).
The Gaussian maths (KLs, log-densities, the reparameterization,
log-mean-exp) live in :mod:`dgmlib.gaussian`.

Example:
    >>> from dgmlib.vae import make_vae, evaluate_bounds
    >>> vae = make_vae(20)
    >>> history = fit(vae, x_train, epochs=30, val_data=x_test)     # "loss", "elbo", "recon", "kl"
    >>> evaluate_bounds(vae, x_test)                                # {"elbo", "iwae_5", "log_prob"}

References: Kingma & Welling, *Auto-Encoding Variational Bayes*, ICLR 2014; Burda, Grosse &
Salakhutdinov, *Importance Weighted Autoencoders*, ICLR 2016.
"""

from .autoencoder import Autoencoder
from .avb import AVB
from .builders import make_vae
from .conv_stack import ConvStackDecoder, ConvStackEncoder
from .estimators import reparam_gradient, score_function_gradient
from .evaluation import evaluate_bounds, gaussian_fit_kl, importance_log_prob, latent_grid
from .hierarchical import HierarchicalVAE
from .hybrid_flow import HybridFlowVAE, make_hybrid_vae
from .learned_prior import LearnedPriorVAE, MixturePrior
from .likelihoods import LIKELIHOODS, log_bernoulli, log_gaussian
from .linear_gaussian import LinearGaussian
from .model import VAE
from .nets import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder
from .variational_flows import ENERGIES, FlowPosterior, IAFStep, energy, fit_reverse_kl

__all__ = [
    "AVB",
    "LIKELIHOODS", "log_bernoulli", "log_gaussian", "reparam_gradient", "score_function_gradient",
    "MLPEncoder", "MLPDecoder", "ConvEncoder", "ConvDecoder",
    "Autoencoder", "VAE", "HierarchicalVAE", "HybridFlowVAE", "make_hybrid_vae", "LinearGaussian", "make_vae", "MixturePrior", "LearnedPriorVAE",
    "ENERGIES", "energy", "FlowPosterior", "fit_reverse_kl", "IAFStep",
    "importance_log_prob", "evaluate_bounds", "latent_grid", "gaussian_fit_kl",
]
