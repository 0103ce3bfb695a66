"""Data with per-pixel labels, offline: labelled images composed into scenes, and users'
image folders with a sibling folder of masks.

``make_scenes`` pastes labelled objects (digits, Fashion-MNIST items, any labelled image
set) at random places on a larger black canvas. Its masks say which object each pixel
belongs to: 0 is background and ``1 + class`` a pixel of an object of that class, where an
object pixel is one whose source value exceeds ``threshold`` (default
:data:`OBJECT_THRESHOLD`, values in [0, 1]; the largest channel for colour sources).

Composition rule: objects are pasted in order; an object's own pixels (above the
threshold) replace what lies under them - they occlude earlier objects, in the image and
in the mask alike - and its faint pixels (at or below the threshold) only brighten the
canvas (a pixel-wise max), so no pixel's label contradicts its value.

``load("scenes:NAME")`` composes scenes from a named dataset (``aekit train --data
scenes:fashion-mnist``): the 'train' split from the source's training images, the 'test'
split from its test images (different seeds), so no object is seen in both. Options follow
a second colon: ``scenes:fashion-mnist:n=2000,canvas=64,objects=3,seed=0`` (``n`` scenes in
the train split, a quarter as many in the test split).

A folder holding ``images/`` and ``masks/`` loads as a segmentation set: each image of
``images/`` (PNG/JPEG, one size) has a single-channel PNG of the same name (stem) in
``masks/`` whose pixel values are class indices (mode L or P: palette indices).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from aekit.datasets import images as image_files
from aekit.datasets.dataset import Dataset, holdout_mask, integer_options
from aekit.datasets.registry import Sources, canonical_name, load_named
from aekit.errors import ConfigError, DataError

OBJECT_THRESHOLD = 0.2  # a source value above this is an object pixel
OVERLAP_RULES = ("occlude", "avoid")
PLACEMENT_TRIES = 50  # overlap="avoid": random places tried per object before giving up
SCENES_PREFIX = "scenes:"
MASK_SUFFIX = ".png"  # masks are lossless PNGs
# Per source dataset: canvas side and scenes in the train split (the test split has a
# quarter as many). Digits are 8x8: a 32x32 canvas keeps them a similar share of it.
SCENE_DEFAULTS = {"digits": {"canvas": 32, "n": 1000},
                  "fashion-mnist": {"canvas": 64, "n": 4000},
                  "mnist": {"canvas": 64, "n": 4000}}
SCENE_OPTIONS = ("n", "canvas", "objects", "seed")


def _as_images(X, image_shape, name: str = "X") -> np.ndarray:
    """X (n, D), (n, H, W) or (n, C, H, W) -> float32 (n, C, H, W) in [0, 1]."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise DataError(f"{name} must hold numbers, got dtype {X.dtype}")
    if X.ndim == 3:
        X = X[:, None]
    elif X.ndim == 2:
        if image_shape is None:
            side = math.isqrt(X.shape[1])
            if side * side != X.shape[1]:
                raise ConfigError(f"{name} rows have {X.shape[1]} values, not a square image: "
                                  "pass image_shape=(C, H, W)")
            image_shape = (1, side, side)
        image_shape = tuple(int(s) for s in ((1, *image_shape) if len(image_shape) == 2
                                             else image_shape))
        if math.prod(image_shape) != X.shape[1]:
            raise DataError(f"image_shape {image_shape} holds {math.prod(image_shape)} values "
                            f"but {name} rows have {X.shape[1]}")
        X = X.reshape(len(X), *image_shape)
    elif X.ndim != 4:
        raise DataError(f"{name} must be (n, D), (n, H, W) or (n, C, H, W), got shape "
                        f"{X.shape}")
    X = X.astype(np.float32)
    if X.size and (not np.isfinite(X).all() or X.min() < 0 or X.max() > 1):
        raise DataError(f"{name} values must lie in [0, 1] (scale the images first)")
    return X


def _resize(img: np.ndarray, factor: float) -> np.ndarray:
    """(C, h, w) resized by ``factor`` (bilinear), values kept in [0, 1]."""
    if factor == 1.0:
        return img
    from scipy.ndimage import zoom

    c, h, w = img.shape
    size = (max(1, round(h * factor)), max(1, round(w * factor)))
    out = zoom(img, (1, size[0] / h, size[1] / w), order=1, grid_mode=True, mode="nearest")
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def make_scenes(X, y, n_scenes: int, canvas=64, max_objects: int = 3, *,
                min_objects: int = 1, image_shape=None, scale=(1.0, 1.0),
                overlap: str = "occlude", threshold: float = OBJECT_THRESHOLD,
                channels: int | None = None, random_state=0):
    """Compose labelled images into ``n_scenes`` scenes with per-pixel labels.

    X: source images (n, D) (with ``image_shape``, or square), (n, H, W) or (n, C, H, W),
        values in [0, 1]. y: their class labels (n,), integers >= 0.
    canvas: side of the square scene, or (H, W). Each scene holds between ``min_objects``
        and ``max_objects`` objects (uniform), each a random source image, scaled by a
        factor drawn uniformly from ``scale`` (lo, hi) (bilinear), at a uniform random
        place where it fits whole.
    overlap: 'occlude' (later objects cover earlier ones where they overlap) or 'avoid'
        (objects' boxes never overlap; an object that finds no free place in
        PLACEMENT_TRIES tries is left out of that scene).
    threshold: a source value above it makes an object pixel (see the module docstring).
    channels: channels of the scenes; None keeps the source's; 3 from a grayscale source
        gives each object a random colour (its value times an RGB colour in [0.3, 1]^3).
    random_state: seed (an int) or a numpy Generator: the same seed gives the same scenes.

    Returns (images (n_scenes, C, H, W) float32 in [0, 1], masks (n_scenes, H, W) int64,
    0 = background, 1 + y = an object pixel of class y).

    Long because drawing a scene is one pass (each object's source image, scale, colour,
    position and overlap, in order) whose steps share one random stream: split, the same
    seed would have to thread it through every part to draw the same scenes.
    """
    src = _as_images(X, image_shape)
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(src):
        raise DataError(f"y must hold one label per image ({len(src)}), got shape {y.shape}")
    if len(src) == 0:
        raise DataError("no source images to compose scenes from")
    if y.dtype.kind not in "iu" or y.min() < 0:
        raise DataError("y must hold integer class labels >= 0")
    H, W = (canvas, canvas) if isinstance(canvas, (int, np.integer)) else tuple(canvas)
    for name, value, low in (("n_scenes", n_scenes, 0), ("min_objects", min_objects, 0),
                             ("max_objects", max_objects, 1), ("canvas", H, 1),
                             ("canvas", W, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    if min_objects > max_objects:
        raise ConfigError(f"min_objects ({min_objects}) is above max_objects ({max_objects})")
    lo, hi = (float(scale), float(scale)) if np.isscalar(scale) else map(float, scale)
    if not 0 < lo <= hi:
        raise ConfigError(f"scale must be a factor > 0 or a range (lo, hi) with 0 < lo <= hi, "
                          f"got {scale!r}")
    if overlap not in OVERLAP_RULES:
        raise ConfigError(f"overlap {overlap!r} is not one of {list(OVERLAP_RULES)}")
    if not 0 <= threshold < 1:
        raise ConfigError(f"threshold must be in [0, 1), got {threshold!r}")
    c_src = src.shape[1]
    C = c_src if channels is None else int(channels)
    if C != c_src and not (c_src == 1 and C == 3):
        raise ConfigError(f"channels={channels}: scenes keep the source's {c_src} channel(s), "
                          "or colour a grayscale source (channels=3)")
    h_max, w_max = math.ceil(src.shape[2] * hi), math.ceil(src.shape[3] * hi)
    if h_max > H or w_max > W:
        raise ConfigError(f"objects up to {h_max}x{w_max} do not fit a {H}x{W} canvas: use a "
                          "larger canvas or a smaller scale")
    rng = random_state if isinstance(random_state, np.random.Generator) else \
        np.random.default_rng(random_state)
    images = np.zeros((n_scenes, C, H, W), np.float32)
    masks = np.zeros((n_scenes, H, W), np.int64)
    for s in range(n_scenes):
        taken = []  # boxes (top, left, bottom, right) for overlap="avoid"
        for _ in range(int(rng.integers(min_objects, max_objects + 1))):
            i = int(rng.integers(len(src)))
            obj = _resize(src[i], float(rng.uniform(lo, hi)) if hi > lo else lo)
            h, w = obj.shape[1:]
            colour = rng.uniform(0.3, 1.0, size=(3, 1, 1)).astype(np.float32) \
                if C != c_src else None
            place = None
            for _ in range(PLACEMENT_TRIES if overlap == "avoid" else 1):
                top, left = int(rng.integers(H - h + 1)), int(rng.integers(W - w + 1))
                box = (top, left, top + h, left + w)
                if overlap == "occlude" or not any(
                        box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
                        for b in taken):
                    place = box
                    break
            if place is None:
                continue
            taken.append(place)
            top, left, bottom, right = place
            on = obj.max(axis=0) > threshold  # (h, w) object pixels
            paint = obj * colour if colour is not None else obj
            region = images[s, :, top:bottom, left:right]
            region[:] = np.where(on, paint, np.maximum(region, paint))
            masks[s, top:bottom, left:right][on] = 1 + int(y[i])
    return images, masks


# --- the scenes:NAME data source ----------------------------------------------------------
def is_scenes_source(source) -> bool:
    return isinstance(source, str) and source.lower().startswith(SCENES_PREFIX)


def parse_scenes_source(source: str) -> tuple[str, dict]:
    """'scenes:NAME[:k=v,...]' -> (NAME, {n, canvas, objects, seed})."""
    body = source[len(SCENES_PREFIX):]
    name, _, opts = body.partition(":")
    key = canonical_name(name)
    if key is None:
        raise DataError(f"--data {source}: scenes are composed from a named dataset "
                        f"({', '.join(SCENE_DEFAULTS)}), not {name!r}")
    def at_least(k, value):
        low = 0 if k == "seed" else 1
        if value < low:
            raise ConfigError(f"--data {source}: {k} must be >= {low}, got {value}")

    defaults = {**SCENE_DEFAULTS[key], "objects": 3, "seed": 0}
    return key, integer_options(source, opts, {o: defaults[o] for o in SCENE_OPTIONS},
                                "scenes", at_least)


def load_scenes(source: str, split: str, sources=None) -> Dataset:
    """The Dataset of ``scenes:NAME[:options]``: X (n, C*H*W) float32, y the masks
    (n, H, W) int64, classes ['background', *the source's classes]."""
    name, opt = parse_scenes_source(source)
    parts = []
    for part, n, seed in (("train", opt["n"], opt["seed"]),
                          ("test", max(1, opt["n"] // 4), opt["seed"] + 1)):
        if split not in (part, "all", None):
            continue
        src = load_named(name, part, sources or Sources(progress=False))
        X, masks = make_scenes(src.X, src.y, n, canvas=opt["canvas"],
                               max_objects=opt["objects"], image_shape=src.image_shape,
                               random_state=seed)
        parts.append((X.reshape(len(X), -1), masks, src))
    X = np.concatenate([p[0] for p in parts])
    masks = np.concatenate([p[1] for p in parts])
    src = parts[0][2]
    c = src.image_shape[0]
    return Dataset(X, masks, (c, opt["canvas"], opt["canvas"]), f"scenes:{name}",
                   f"scenes composed from {src.name} ({src.source})",
                   ["background", *(src.classes or [])])


# --- a user's folder with masks -----------------------------------------------------------
def is_masked_folder(path) -> bool:
    """True for a folder holding ``images/`` and ``masks/``."""
    path = Path(path)
    return path.is_dir() and (path / "images").is_dir() and (path / "masks").is_dir()


def read_mask(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """One mask PNG -> (H, W) int64 class indices; ``size`` (width, height) must match."""
    from PIL import Image, UnidentifiedImageError

    if path.suffix.lower() != MASK_SUFFIX:
        raise DataError(f"{path}: masks must be PNG files (lossless), not {path.suffix}")
    try:
        with Image.open(path) as im:
            if im.format != "PNG":  # the name says PNG; a lossy JPEG's labels are noise
                raise DataError(f"{path}: named .png but holds a {im.format} image; a mask "
                                "must be a real PNG (lossless), its values class indices")
            if im.mode not in ("L", "P", "1"):
                raise DataError(f"{path}: mask has mode {im.mode}; a mask is a single-channel "
                                "PNG whose values are class indices (mode L or P)")
            if size is not None and im.size != size:
                raise DataError(f"{path}: mask is {im.size[0]}x{im.size[1]} but its image is "
                                f"{size[0]}x{size[1]} (width x height)")
            return np.asarray(im, dtype=np.uint8).astype(np.int64)
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"{path}: not a readable PNG mask ({exc})") from None


def load_masked_folder(root, split: str | None = "all", mode: str = "auto") -> Dataset:
    """``root/images/*`` with ``root/masks/<same stem>.png``: X (n, C*H*W) float32 in
    [0, 1], y the masks (n, H, W) int64. Split: every 5th image (sorted by name) is
    'test'. A missing, unreadable, multi-channel or wrongly sized mask is a DataError
    naming the file."""
    root = Path(root)
    image_dir, mask_dir = root / "images", root / "masks"
    files = image_files._images_in(image_dir, recursive=False)
    if not files:
        raise DataError(f"{image_dir}: no PNG/JPEG images (a masked folder keeps its images "
                        "directly in images/)")
    stems = [f.stem for f in files]
    if len(set(stems)) != len(stems):
        dup = next(s for s in stems if stems.count(s) > 1)
        raise DataError(f"{image_dir}: two images named {dup!r} (different suffixes); each "
                        "image needs its own mask name")
    ds = image_files.load_image_folder(image_dir, mode)
    size = (ds.image_shape[2], ds.image_shape[1])  # (width, height)
    masks = np.empty((len(files), size[1], size[0]), np.int64)
    for i, f in enumerate(files):
        m = mask_dir / (f.stem + MASK_SUFFIX)
        if not m.is_file():
            raise DataError(f"{f}: no mask {m} (masks are PNGs with the image's name)")
        masks[i] = read_mask(m, size)
    out = Dataset(ds.X, masks, ds.image_shape, root.name, str(root), None)
    if split in (None, "all"):
        return out
    test = holdout_mask(len(files), None)
    keep = test if split == "test" else ~test
    return Dataset(out.X[keep], masks[keep], out.image_shape, out.name, out.source, None)
