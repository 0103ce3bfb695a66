"""A folder of PNG/JPEG images, decoded with Pillow.

Layouts:
    root/<class name>/**/*.png   labelled: sorted class names -> labels 0, 1, ...
    root/*.png                   unlabelled (no sub-folders with images)

All images must have one size. ``mode``: "L" (grayscale, C = 1), "RGB" (C = 3), or
"auto": RGB when any image is stored in colour (palette images count as colour), else L.
Pixels are 8-bit, scaled by 1/255. Alpha is dropped.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from aekit.datasets.dataset import Dataset
from aekit.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MODES = ("auto", "L", "RGB")
_GRAY_MODES = {"1", "L", "LA", "La"}
_DEEP_MODES = {"I", "F", "I;16", "I;16B", "I;16L", "I;16N"}  # 16/32-bit: refused


def load_image_folder(root: Path, mode: str = "auto") -> Dataset:
    """Images under ``root`` as X (n, C*H*W) float32 in [0, 1]; y from class folders."""
    if mode not in MODES:
        raise ConfigError(f"mode={mode!r} is not one of {MODES}")
    files, y, classes = _collect(root)
    size, modes = _check_headers(files)
    if mode == "auto":
        mode = "L" if modes <= _GRAY_MODES else "RGB"
    pixels = _decode(files, mode, size)  # (n, H, W) or (n, H, W, 3), uint8
    if pixels.ndim == 4:
        pixels = pixels.transpose(0, 3, 1, 2)  # -> (n, 3, H, W), channels first
    image_shape = (3 if mode == "RGB" else 1, size[1], size[0])
    X = pixels.reshape(len(files), -1).astype(np.float32)
    X /= 255.0
    logger.info("%s: %d images %s, mode %s", root, len(files), image_shape, mode)
    return Dataset(X, y, image_shape, root.name, str(root), classes)


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    """Sorted image files in ``folder``, skipping hidden files and folders (".thumbs/")."""
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    return sorted(
        p
        for p in pattern
        if p.suffix.lower() in IMAGE_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _collect(root: Path) -> tuple[list[Path], np.ndarray | None, list[str] | None]:
    """(image files, labels or None, class names or None) for the folder layout."""
    loose = _images_in(root, recursive=False)
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    per_class = {d.name: _images_in(d, recursive=True) for d in class_dirs}
    for name in [n for n, found in per_class.items() if not found]:
        logger.warning("%s: sub-folder %r has no images; ignored", root, name)
        del per_class[name]
    if per_class and loose:
        raise DataError(
            f"{root}: images both directly in the folder (e.g. {loose[0].name}) and in class "
            "sub-folders; put every image in a class sub-folder, or none"
        )
    if not per_class:
        if not loose:
            raise DataError(f"{root}: no PNG/JPEG images in the folder or its sub-folders")
        return loose, None, None
    classes = list(per_class)  # sorted, since class_dirs is
    files = [f for name in classes for f in per_class[name]]
    y = np.concatenate([np.full(len(per_class[n]), i, np.int64) for i, n in enumerate(classes)])
    return files, y, classes


def _check_headers(files: list[Path]) -> tuple[tuple[int, int], set[str]]:
    """(common (width, height), set of Pillow modes), reading headers only."""
    first, modes = None, set()
    for path in files:
        try:
            with Image.open(path) as im:
                size, im_mode = im.size, im.mode
        except (UnidentifiedImageError, OSError) as exc:
            raise DataError(f"{path}: not a readable image ({exc})") from None
        except Image.DecompressionBombError as exc:  # header claims a huge size
            raise DataError(f"{path}: image too large to decode safely ({exc})") from None
        if im_mode in _DEEP_MODES:
            raise DataError(f"{path}: {im_mode} images (16/32-bit) are not supported; use 8-bit")
        modes.add(im_mode)
        if first is None:
            first = (path, size)
        elif size != first[1]:
            (w0, h0), (w1, h1) = first[1], size
            raise DataError(
                f"images differ in size: {first[0]} is {w0}x{h0} but {path} is {w1}x{h1} "
                "(width x height); resize them to one size"
            )
    return first[1], modes


def _decode(files: list[Path], mode: str, size: tuple[int, int]) -> np.ndarray:
    """All images as one uint8 array (n, H, W) for "L" or (n, H, W, 3) for "RGB"."""
    width, height = size
    shape = (len(files), height, width, 3) if mode == "RGB" else (len(files), height, width)
    out = np.empty(shape, np.uint8)
    for i, path in enumerate(files):
        try:
            with Image.open(path) as im:
                out[i] = np.asarray(im.convert(mode))
        except (OSError, ValueError, Image.DecompressionBombError) as exc:  # e.g. truncated
            raise DataError(f"{path}: truncated or corrupt image ({exc})") from None
    return out
