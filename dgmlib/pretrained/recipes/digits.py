"""What the MNIST recipes share: the FeatureNet's verdict on a batch of generated digits."""

from __future__ import annotations

import torch

__all__ = ["digit_quality"]


@torch.no_grad()
def digit_quality(images: torch.Tensor, threshold: float = 0.9) -> dict:
    """Score digits ``images: (N, 1, 28, 28)`` in [0, 1] with the shipped FeatureNet (lecture 05):

    ``confident_share``: the share classified with probability >= ``threshold``;
    ``min_class_share``/``max_class_share``: the smallest and largest share of a predicted class
    (1/10 each for a generator that covers the ten digits evenly).
    """
    from ...metrics.feature_net import embed
    from ..store import load

    probs = embed(load("featurenet", device="cpu"), images.detach().cpu().float())["probs"]
    shares = torch.bincount(probs.argmax(1), minlength=10).double() / len(probs)
    return {"confident_share": float((probs.max(1).values >= threshold).double().mean()),
            "min_class_share": float(shares.min()), "max_class_share": float(shares.max())}
