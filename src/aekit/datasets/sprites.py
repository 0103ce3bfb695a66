"""Procedural sprites with known factors of variation, like dSprites (Matthey et al. 2017),
which no package ships offline: one white shape on black, each image drawn from five
factors on discrete grids,

    shape (square, ellipse, heart) x scale (6) x rotation (40 in [0, 2 pi)) x x (32) x y (32)

as dSprites' own grid, rendered at any size by point sampling (each pixel lit when its
centre lies inside the shape). The factors come with the images, so disentanglement
metrics (:mod:`aekit.evaluation.disentanglement`) can ask how each code unit follows each
factor, and can draw new images with one factor held fixed (:func:`sprites_from_factors`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aekit.datasets.dataset import Dataset, integer_options
from aekit.errors import ConfigError

FACTORS = ("shape", "scale", "rotation", "x", "y")
SHAPES = ("square", "ellipse", "heart")
# Grid sizes of each factor (dSprites': 3 shapes, 6 scales, 40 orientations, 32 x 32).
LEVELS = {"shape": 3, "scale": 6, "rotation": 40, "x": 32, "y": 32}
SCALES = np.linspace(0.5, 1.0, LEVELS["scale"])  # of the largest size
MAX_SIZE = 256


@dataclass(frozen=True)
class Sprites:
    """Images (n, 1, size, size) float32 in {0, 1} and their factors (n, 5) int64, one
    column per name in :data:`FACTORS`, each an index into its grid (:data:`LEVELS`)."""

    images: np.ndarray
    factors: np.ndarray

    @property
    def X(self) -> np.ndarray:
        """The images as flat rows (n, size * size), what estimators take."""
        return self.images.reshape(len(self.images), -1)


def sample_factors(n: int, random_state=0) -> np.ndarray:
    """n factor combinations (n, 5) int64, each factor uniform over its grid."""
    rng = np.random.default_rng(random_state)
    return np.stack([rng.integers(LEVELS[f], size=int(n)) for f in FACTORS], axis=1)


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether points (u, v) in the shape's own frame (unit half-size) lie inside it."""
    if shape == 0:  # square
        return (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    if shape == 1:  # ellipse, axes 1 and 0.5
        return u ** 2 + (v / 0.5) ** 2 <= 1.0
    # heart: (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0, scaled to fit the unit frame, point down
    x, y = u * 1.25, -v * 1.25 + 0.15
    return (x ** 2 + y ** 2 - 1) ** 3 - x ** 2 * y ** 3 <= 0


def sprites_from_factors(factors, size: int = 32) -> np.ndarray:
    """Images (n, 1, size, size) float32 for factor rows (n, 5) (columns as FACTORS)."""
    factors = np.asarray(factors)
    if factors.ndim != 2 or factors.shape[1] != len(FACTORS):
        raise ConfigError(f"factors must have shape (n, {len(FACTORS)}) ({', '.join(FACTORS)}), "
                          f"got {factors.shape}")
    for j, name in enumerate(FACTORS):
        bad = (factors[:, j] < 0) | (factors[:, j] >= LEVELS[name])
        if bad.any():
            raise ConfigError(f"factors: row {int(np.argmax(bad))}: {name} must be in "
                              f"0..{LEVELS[name] - 1}, got {factors[np.argmax(bad), j]}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or \
            not 16 <= size <= MAX_SIZE:
        raise ConfigError(f"size must be an integer in 16..{MAX_SIZE}, got {size!r}")
    centres = (np.arange(size) + 0.5) / size  # pixel centres in [0, 1]
    py, px = np.meshgrid(centres, centres, indexing="ij")
    half = 0.22  # the largest shape's half-size, as a fraction of the image
    images = np.zeros((len(factors), 1, size, size), dtype=np.float32)
    for i, (shape, scale, rot, fx, fy) in enumerate(factors):
        s = half * SCALES[scale]
        # positions keep the largest shape inside the image, as in dSprites
        cx = half + (1 - 2 * half) * fx / (LEVELS["x"] - 1)
        cy = half + (1 - 2 * half) * fy / (LEVELS["y"] - 1)
        angle = 2 * np.pi * rot / LEVELS["rotation"]
        dx, dy = (px - cx) / s, (py - cy) / s
        c, sn = np.cos(angle), np.sin(angle)
        u, v = c * dx + sn * dy, -sn * dx + c * dy
        images[i, 0] = _inside(int(shape), u, v)
    return images


def make_sprites(n: int = 10_000, size: int = 32, random_state=0) -> Sprites:
    """n sprites with factors drawn uniformly (seeded): :class:`Sprites`."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"n must be an integer >= 1, got {n!r}")
    factors = sample_factors(n, random_state)
    return Sprites(sprites_from_factors(factors, size), factors)


# --- as a data source: --data sprites[:n=N,size=S,seed=K] ---------------------------------
SPRITES_NAME = "sprites"
SPRITE_OPTIONS = {"n": 10_000, "size": 32, "seed": 0}  # the train split; test: n // 4
MAX_SPRITES = 1_000_000


def is_sprites_source(source) -> bool:
    return isinstance(source, str) and (source.lower() == SPRITES_NAME
                                        or source.lower().startswith(SPRITES_NAME + ":"))


def parse_sprites_source(source: str) -> dict:
    """'sprites[:k=v,...]' -> {n, size, seed}, each checked."""
    options = integer_options(source, source.partition(":")[2], SPRITE_OPTIONS, "sprites")
    if not 1 <= options["n"] <= MAX_SPRITES:
        raise ConfigError(f"--data {source}: n must be in 1..{MAX_SPRITES}, got {options['n']}")
    if not 16 <= options["size"] <= MAX_SIZE:
        raise ConfigError(f"--data {source}: size must be in 16..{MAX_SIZE}, "
                          f"got {options['size']}")
    if options["seed"] < 0:
        raise ConfigError(f"--data {source}: seed must be >= 0, got {options['seed']}")
    return options


def load_sprites(source: str, split: str | None) -> Dataset:
    """The Dataset of ``sprites[:options]``: X (n, size*size) in {0, 1}, y the shape
    (classes: SHAPES), ``factors`` all five (columns as FACTORS). The train split is n
    sprites drawn with ``seed``, the test split n // 4 with seed + 1 ('all': both)."""
    opt = parse_sprites_source(source)
    parts = [make_sprites(n, opt["size"], seed)
             for part, n, seed in (("train", opt["n"], opt["seed"]),
                                   ("test", max(1, opt["n"] // 4), opt["seed"] + 1))
             if split in (part, "all", None)]
    X = np.concatenate([p.X for p in parts])
    factors = np.concatenate([p.factors for p in parts])
    return Dataset(X, factors[:, 0].copy(), (1, opt["size"], opt["size"]), SPRITES_NAME,
                   "procedural sprites (aekit.datasets.make_sprites)", list(SHAPES),
                   factors=factors)
