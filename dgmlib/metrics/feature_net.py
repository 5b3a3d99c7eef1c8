"""The feature extractor of the scores: a small MNIST classifier, shipped as a checkpoint (``dgmlib.pretrained``)."""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import checks

__all__ = ["FeatureNet", "feature_net", "train_feature_net", "embed"]


class FeatureNet(nn.Module):
    """A small MNIST CNN classifier, the course's stand-in for the Inception network.

    ``(B, 1, 28, 28)`` images in [0, 1] -> two conv-ReLU-maxpool blocks (16 and 32 channels) ->
    a ``feature_dim``-unit ReLU layer (:meth:`features`, the FID / precision-recall embedding) ->
    10 logits (:meth:`forward`); :meth:`probs` is the softmax p(y|x) for the Inception Score.
    ``loss(x, y)`` is the cross-entropy (and the batch accuracy), for :func:`dgmlib.training.fit`.
    """

    def __init__(self, feature_dim: int = 64):
        super().__init__()
        self.feature_dim = checks.positive_int(feature_dim, "feature_dim")
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # (B, 16, 14, 14)
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, 7, 7)
            nn.Flatten(), nn.Linear(32 * 49, self.feature_dim), nn.ReLU(),
        )
        self.head = nn.Linear(self.feature_dim, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer activations, ``(B, feature_dim)``."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def probs(self, x: torch.Tensor) -> torch.Tensor:
        """p(y|x) = softmax(logits), ``(B, 10)``."""
        return torch.softmax(self(x), dim=1)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> dict:
        logits = self(x)
        return {"loss": nn.functional.cross_entropy(logits, y),
                "accuracy": (logits.argmax(1) == y).float().mean()}


def train_feature_net(net: FeatureNet, x: torch.Tensor, y: torch.Tensor, *, epochs: int, batch_size: int = 64,
                      lr: float = 3e-3, progress: bool | None = None) -> FeatureNet:
    """Adam with the learning rate decaying linearly from ``lr`` to 0, cross-entropy, shuffling seed 0.

    ``lr_t = lr (1 - t / T)`` over the ``T`` steps of ``epochs`` epochs; returns ``net`` trained.
    """
    from ..training import run_epochs, train_step
    from ..training.schedule import linear_decay

    opt = torch.optim.Adam(net.parameters(), lr=lr)
    total, done = checks.positive_int(epochs, "epochs") * math.ceil(len(x) / batch_size), [0]
    step = train_step(net, opt, loss_fn=lambda m, b: m.loss(*b[:2]))

    def update(batch):
        linear_decay([opt], [lr], done[0], total)
        done[0] += 1
        return step(batch)

    run_epochs(net, (x, y), update, epochs=epochs, batch_size=batch_size, optimizers=[opt], seed=0, progress=progress)
    return net


def feature_net(device=None, *, retrain: bool = False, progress: bool | None = None) -> FeatureNet:
    """The course's MNIST feature extractor: the checkpoint shipped with the course, or one trained now.

    The shipped one (``dgmlib.pretrained.load("featurenet")``; how it was made and what it
    measures: ``dgmlib.pretrained.manifest()["featurenet"]``) was trained on ``load_mnist("train")``
    by :func:`train_feature_net` for 5 epochs from seed 0, and classifies more than 97% of the
    subset's 500 test digits correctly. ``retrain=True`` trains a fresh one the same way now
    (``budget(full=5, fast=1)`` epochs; seconds to a minute on a CPU). Nothing is downloaded.

    Returns the model in ``eval`` mode on ``device`` (default :func:`dgmlib.get_device`).

    Example:
        >>> net = feature_net()
        >>> out = embed(net, images)            # images: (N, 1, 28, 28) in [0, 1]
        >>> fid(real_features, out["features"]), inception_score(out["probs"])
    """
    from ..runtime import budget, get_device

    device = get_device() if device is None else torch.device(device)
    if not checks.flag(retrain, "retrain"):
        from ..pretrained import load

        return load("featurenet", device)
    from ..data import load_mnist

    x, y = load_mnist("train")
    with torch.random.fork_rng(devices=[]):  # training does not disturb the caller's random stream
        torch.manual_seed(0)
        net = FeatureNet().to(device)
        train_feature_net(net, x, y, epochs=budget(full=5, fast=1), progress=progress)
    return net.eval()


@torch.no_grad()
def embed(net: nn.Module, images: torch.Tensor, batch_size: int = 500) -> dict:
    """Run ``net`` over ``images: (N, 1, 28, 28)`` in [0, 1] in batches: ``{"features": (N, F), "probs": (N, 10)}``.

    Results are on the CPU; the images move to the network's device batch by batch.
    """
    from ..runtime import module_device

    if not torch.is_tensor(images) or images.ndim != 4:
        raise ValueError(f"images must be a tensor of shape (N, C, H, W), got "
                         f"{tuple(images.shape) if torch.is_tensor(images) else type(images).__name__}")
    batch_size = checks.positive_int(batch_size, "batch_size")
    device = module_device(net)
    was_training = net.training
    net.eval()
    features, probs = [], []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(device)
        h = net.features(x)  # (b, F)
        features.append(h.cpu())
        probs.append(torch.softmax(net.head(h), dim=1).cpu())
    net.train(was_training)
    return {"features": torch.cat(features), "probs": torch.cat(probs)}
