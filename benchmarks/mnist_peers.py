"""The peers' MNIST models of the time-to-quality section: normflows' Glow and pythae's VAE.

Built the way each library's own examples and docs build them, at the sizes of the course's
recipes (``dgmlib/pretrained/recipes``), so that ``time_to_quality`` compares like with like.
"""

from __future__ import annotations

import warnings

from torch import nn

__all__ = ["normflows_glow", "pythae_vae", "pythae_log_weights"]


def normflows_glow(hidden: int, steps: tuple[int, int]):
    """normflows' Glow example for (1, 28, 28): level 0 at 7x7x8 (``steps[1]`` blocks), level 1 at 14x14x4."""
    import normflows as nf

    warnings.filterwarnings("ignore", message="torch.lu is deprecated")  # normflows' LU 1x1 convolution
    levels, q0, flows, merges = 2, [], [], []
    for i in range(levels):
        channels = 2 ** (levels + 1 - i)                               # 8 at 7x7, then 4 at 14x14
        k = steps[1] if i == 0 else steps[0]
        flows.append([nf.flows.GlowBlock(channels, hidden, split_mode="channel", scale=True) for _ in range(k)]
                     + [nf.flows.Squeeze()])
        if i > 0:
            merges.append(nf.flows.Merge())
            shape = (2 ** (levels - i), 28 // 2 ** (levels - i), 28 // 2 ** (levels - i))
        else:
            shape = (2 ** (levels + 1), 28 // 2 ** levels, 28 // 2 ** levels)
        q0.append(nf.distributions.GlowBase(shape))
    return nf.MultiscaleFlow(q0, flows, merges, transform=nf.transforms.Logit(0.05), class_cond=False)


def pythae_vae(latent: int, hidden: tuple[int, int]):
    """pythae's VAE (Bernoulli: ``reconstruction_loss="bce"``) with MLPs of the recipe's sizes, as its docs build custom nets."""
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    class Encoder(BaseEncoder):
        def __init__(self):
            BaseEncoder.__init__(self)
            self.body = nn.Sequential(nn.Linear(784, hidden[0]), nn.ReLU(), nn.Linear(hidden[0], hidden[1]), nn.ReLU())
            self.embedding = nn.Linear(hidden[1], latent)
            self.log_var = nn.Linear(hidden[1], latent)

        def forward(self, x):
            h = self.body(x.reshape(x.shape[0], -1))
            return ModelOutput(embedding=self.embedding(h), log_covariance=self.log_var(h))

    class Decoder(BaseDecoder):
        def __init__(self):
            BaseDecoder.__init__(self)
            self.net = nn.Sequential(nn.Linear(latent, hidden[1]), nn.ReLU(), nn.Linear(hidden[1], hidden[0]), nn.ReLU(),
                                     nn.Linear(hidden[0], 784), nn.Sigmoid())

        def forward(self, z):
            return ModelOutput(reconstruction=self.net(z).unflatten(-1, (1, 28, 28)))

    config = VAEConfig(input_dim=(1, 28, 28), latent_dim=latent, reconstruction_loss="bce")
    return VAE(config, encoder=Encoder(), decoder=Decoder())


def pythae_log_weights(model):
    """log w = log p(x|z) + log N(z; 0, I) - log q(z|x), z ~ q(z|x), from pythae's encoder and decoder: (k, B)."""
    from torch.nn import functional as F

    from dgmlib.gaussian import log_normal, log_normal_std, reparameterize

    def log_weights(x, k):
        out = model.encoder(x)
        mu, logvar = out.embedding, out.log_covariance
        z = reparameterize(mu, logvar, k)                                       # (k, B, D)
        probs = model.decoder(z)["reconstruction"]                              # (k, B, 1, 28, 28)
        log_px = -F.binary_cross_entropy(probs, x.expand_as(probs), reduction="none").flatten(2).sum(-1)
        return log_px + log_normal_std(z) - log_normal(z, mu, logvar)

    return log_weights
