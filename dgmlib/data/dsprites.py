"""dSprites, drawn procedurally: binary images of a shape with 5 known generative factors.

A stand-in for dSprites (Matthey et al. 2017) that needs no download. Each image is fixed by
five integer factor indices, in this order:

    shape        3 values  {0: square, 1: ellipse, 2: heart}
    scale        6 values  s = linspace(0.5, 1.0, 6)
    orientation 40 values  theta = 2*pi*k/40, k = 0..39
    pos_x       32 values  linspace(0, 1, 32)
    pos_y       32 values  linspace(0, 1, 32)

so there are 3*6*40*32*32 = 737,280 distinct images, and a uniform sample makes every factor
independent of the others (the premise of disentanglement metrics).

Conventions (all in image coordinates on [0, 1]^2):
    pixel (row i, column j) has centre p = ((j + 0.5)/size, (i + 0.5)/size) = (x, y); x grows
    along columns (to the right), y grows along rows (DOWNWARD, as `plt.imshow` draws it);
    shape centre  c = 0.2 + 0.6 * (pos_x, pos_y), so every shape stays inside the frame;
    body coords   d = (x - c_x, -(y - c_y))   (y flipped so the body frame has y up),
                  u = R(-theta) d / (s * r0),   r0 = 0.12 (half-size at s = 1, in image widths),
    i.e. a point u of the shape lands at c + s*r0*R(theta)u: increasing theta turns the shape
    COUNTER-CLOCKWISE as seen on screen. A pixel is 1 when u lies inside the shape:
        square   max(|u1|, |u2|) <= 1                       area (2 s r0)^2
        ellipse  u1^2 + (u2 / 0.5)^2 <= 1                   area pi * (s r0) * (s r0 / 2), long axis
                 horizontal at theta = 0
        heart    (a^2 + b^2 - 1)^3 - a^2 b^3 <= 0,  (a, b) = 1.3 * u + (0, 0.2935),
                 i.e. the classic implicit heart, shifted so its centroid is at u = 0 and
                 shrunk to fit the unit disk; lobes up, tip down at theta = 0.
    Every shape has its centroid at c, so the image's centre of mass is c up to pixelation.
    The largest rotated shape (the square's corner, at 0.12*sqrt(2) ~ 0.17 from c) stays inside
    the frame.

Differences from the original dSprites: the images are rendered procedurally here (so they
are not pixel-identical to the released .npz); the orientation grid is endpoint-exclusive,
2*pi*k/40, whereas the original uses linspace(0, 2*pi, 40), which contains both 0 and 2*pi
(two indices for the same angle); there is no (constant) colour factor; `size` may be any
int >= 16, not only 64.
"""

import math
from dataclasses import dataclass

import torch

from .. import checks

_INT_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)
_CHUNK = 512  # images rendered at once: bounds memory to ~_CHUNK * size^2 floats per buffer
_HALF_SIZE = 0.12  # r0: half-size of a shape at scale 1, as a fraction of the image width
_HEART_SHIFT, _HEART_ZOOM = 0.2935, 1.3  # centroid of the implicit heart; its radius about it


def _square(u1, u2):
    return torch.maximum(u1.abs(), u2.abs()) <= 1


def _ellipse(u1, u2):
    return u1 * u1 + 4 * u2 * u2 <= 1  # semi-axes 1 and 0.5


def _heart(u1, u2):
    a, b = _HEART_ZOOM * u1, _HEART_ZOOM * u2 + _HEART_SHIFT
    q = a * a + b * b - 1
    return q * q * q - a * a * b * b * b <= 0


_SHAPES = (_square, _ellipse, _heart)  # inside-tests in body coordinates u = (u1, u2), y up


def _check_int(value, name, minimum):
    return checks.int_at_least(checks.integer(value, name), name, minimum)


class DSprites:
    """Renderer of procedural dSprites images from factor indices (see the module docstring).

    factors: integer tensor (B, 5) of indices (shape, scale, orientation, pos_x, pos_y);
    images:  float32 tensor (B, 1, size, size) with values in {0., 1.}, on factors' device.
    """

    factor_names = ("shape", "scale", "orientation", "pos_x", "pos_y")
    factor_sizes = (3, 6, 40, 32, 32)

    def __init__(self, size=64):
        self.size = _check_int(size, "size", 16)
        # per-factor value tables, computed in float64 and stored as float32 (no float64 on device);
        # the renderer only looks values up, so a factor row renders identically in any batch
        values = (
            torch.arange(3, dtype=torch.float64),  # shape keeps its index as its value
            torch.linspace(0.5, 1.0, 6, dtype=torch.float64),
            torch.arange(40, dtype=torch.float64) * (2 * math.pi / 40),
            torch.linspace(0.0, 1.0, 32, dtype=torch.float64),
            torch.linspace(0.0, 1.0, 32, dtype=torch.float64),
        )
        scale, theta, pos_x, pos_y = values[1:]
        self._values = tuple(v.float() for v in values)
        geometry = (scale * _HALF_SIZE, theta.cos(), theta.sin(), 0.2 + 0.6 * pos_x, 0.2 + 0.6 * pos_y)
        self._geometry = tuple(v.float() for v in geometry)  # radius s*r0, cos, sin, c_x, c_y

    def __repr__(self):
        return f"DSprites(size={self.size})"

    def _check_factors(self, factors):
        """factors: (B, 5) or (5,) integer indices -> (B, 5) int64, range-checked."""
        if not isinstance(factors, torch.Tensor):
            factors = torch.as_tensor(factors)
        if factors.dtype not in _INT_DTYPES:
            raise TypeError(f"factors must be an integer tensor of indices, got dtype {factors.dtype}")
        if factors.dim() == 1:
            factors = factors[None]
        if factors.dim() != 2 or factors.shape[1] != 5:
            raise ValueError(
                f"factors must have shape (B, 5) or (5,) with columns {self.factor_names}, "
                f"got {tuple(factors.shape)}"
            )
        factors = factors.long()
        sizes = torch.tensor(self.factor_sizes, device=factors.device)
        bad = ((factors < 0) | (factors >= sizes)).any(0).tolist()
        for name, k, column, is_bad in zip(self.factor_names, self.factor_sizes, factors.T, bad):
            if is_bad:
                raise ValueError(
                    f"factor '{name}' must be an index in [0, {k - 1}], "
                    f"got values in [{column.min().item()}, {column.max().item()}]"
                )
        return factors

    def factor_values(self, factors):
        """Indices (B, 5) -> real values (B, 5) float32: (shape index, s, theta, pos_x, pos_y)."""
        factors = self._check_factors(factors)
        return torch.stack([v.to(factors.device)[k] for v, k in zip(self._values, factors.T)], 1)

    def sample_factors(self, n, generator=None):
        """n independent draws, each factor uniform over its indices -> (n, 5) int64 (on CPU)."""
        n = _check_int(n, "n", 1)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        return torch.stack([torch.randint(k, (n,), generator=generator) for k in self.factor_sizes], 1)

    def images_from_factors(self, factors):
        """Render indices (B, 5) (or (5,)) -> binary images (B, 1, size, size) float32."""
        factors = self._check_factors(factors)
        out = torch.zeros(len(factors), 1, self.size, self.size, dtype=torch.float32, device=factors.device)
        for k, inside in enumerate(_SHAPES):  # one inside-test per shape, in chunks of rows
            for rows in (factors[:, 0] == k).nonzero().squeeze(1).split(_CHUNK):
                out[rows, 0] = inside(*self._body_coords(factors[rows])).float()
        return out

    def _body_coords(self, factors):
        """u = R(-theta) (x - c_x, -(y - c_y)) / (s r0) at every pixel -> u1, u2: (B, S, S)."""
        device = factors.device
        columns = factors[:, [1, 2, 2, 3, 4]].T  # the factor each geometry table is indexed by
        radius, cos, sin, c_x, c_y = (t.to(device)[k].view(-1, 1, 1) for t, k in zip(self._geometry, columns))
        grid = (torch.arange(self.size, device=device, dtype=torch.float32) + 0.5) / self.size
        dx = (grid.view(1, 1, -1) - c_x) / radius  # (B, 1, S): columns
        dy = (c_y - grid.view(1, -1, 1)) / radius  # (B, S, 1): rows, y flipped to point up
        return cos * dx + sin * dy, cos * dy - sin * dx  # R(-theta) = [[cos, sin], [-sin, cos]]

    def sample(self, n, generator=None):
        """n uniform draws -> (images (n, 1, size, size) float32, factors (n, 5) int64)."""
        factors = self.sample_factors(n, generator)
        return self.images_from_factors(factors), factors


@dataclass(eq=False)
class DSpritesSample:
    """A drawn data set: images (n, 1, size, size) float32, factors (n, 5) int64, its renderer."""

    images: torch.Tensor
    factors: torch.Tensor
    dataset: DSprites

    factor_names = DSprites.factor_names
    factor_sizes = DSprites.factor_sizes

    def images_from_factors(self, factors):
        return self.dataset.images_from_factors(factors)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], self.factors[i]


def dsprites(n=10_000, *, size=64, seed=None):
    """Draw n images with independent uniform factors -> DSpritesSample.

    seed=None uses torch's global RNG (reproducible after `torch.manual_seed`); an int seed
    uses a private torch.Generator and leaves the global RNG untouched.
    """
    n = _check_int(n, "n", 1)
    if seed is not None:
        seed = _check_int(seed, "seed", 0)
    dataset = DSprites(size)
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    images, factors = dataset.sample(n, generator)
    return DSpritesSample(images, factors, dataset)
