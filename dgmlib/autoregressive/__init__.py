"""Autoregressive models of images: the chain rule, with masked convolutions (PixelCNN).

    p(x) = prod_i p(x_i | x_<i)            (pixels in raster order: row by row, left to right)

Rooms: ``masked`` (:class:`MaskedConv2d`, the type A / type B masks that keep output i from
seeing input pixels j >= i, and :func:`dependency_mask`, which reads the dependencies off autograd)
and ``pixelcnn`` (:class:`PixelCNN`: Bernoulli pixels, an exact ``log_prob``, a ``loss`` for
:func:`dgmlib.training.fit`, and sequential ``sample``; optionally conditioned on a context map) and
``pixelvae`` (:class:`PixelVAE`: a VAE whose decoder is f(z) followed by a conditioned PixelCNN).

Reference: van den Oord, Kalchbrenner and Kavukcuoglu, Pixel Recurrent Neural Networks, ICML 2016.
"""

from .masked import MaskedConv2d, dependency_mask
from .pixelcnn import PixelCNN
from .pixelvae import PixelVAE

__all__ = ["MaskedConv2d", "dependency_mask", "PixelCNN", "PixelVAE"]
