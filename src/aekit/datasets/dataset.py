"""The ``Dataset`` container every loader returns, and the value-scaling rules they share.

A ``Dataset`` holds ``X`` as (n_samples, n_features): images are flattened row-major from
``image_shape`` = (C, H, W), so ``X[i].reshape(image_shape)`` gives the image back.

Two kinds exist:

* **in memory** (the usual case): ``X`` is a float32 array with values in [0, 1];
  ``offset == 0`` and ``scale == 1``.
* **lazy** (``load(..., mmap=True)`` on a ``.npy`` file): ``X`` is the file's raw
  ``numpy.memmap`` (its own dtype, e.g. uint8), nothing is read into memory, and
  ``(X - offset) * scale`` maps it to [0, 1]. Use :meth:`Dataset.batch` to get scaled
  float32 rows; it works the same on both kinds, so training code need not care.
"""

from __future__ import annotations

import logging
import dataclasses
from dataclasses import dataclass

import numpy as np

from aekit.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

# What ``scale=`` accepts: a rule name, or a positive number to divide by.
ScaleOption = str | float | None
SCALE_RULES = ("auto", "minmax", "none")

# Every 5th sample of each class is held out: a 20 % test split that is stratified,
# deterministic and needs no random generator (so it cannot change between numpy versions).
HOLDOUT_EVERY = 5


@dataclass
class Dataset:
    """Samples as rows, with where they came from.

    X: (n_samples, n_features). float32 in [0, 1], or a raw memmap when ``lazy`` (see
        the module docstring; ``batch`` applies ``offset``/``scale``).
    y: (n_samples,) int64 class labels, or None.
    image_shape: (C, H, W) of one sample (C = 1 for grayscale, 3 for RGB), or None for
        tabular data.
    name: the dataset name (``"fashion-mnist"``) or the file/folder name.
    source: where the data was read from (folder, file, or ``"scikit-learn"``).
    classes: class names in label order (``classes[y[i]]``), or None.
    offset, scale: float32 features = (X - offset) * scale; 0 and 1 unless lazy.
    lazy: True when X is a raw memmap that ``batch`` scales on the fly.
    """

    X: np.ndarray
    y: np.ndarray | None
    image_shape: tuple[int, int, int] | None
    name: str
    source: str
    classes: list[str] | None = None
    offset: float = 0.0
    scale: float = 1.0
    lazy: bool = False

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    def batch(self, index) -> np.ndarray:
        """Rows ``X[index]`` as float32 in [0, 1] (index: slice, int array or mask).

        Only the selected rows are read from a memmap, so this is how a lazy dataset
        is streamed.
        """
        if not self.lazy:
            return self.X[index]
        # Read like the trainer does (one mechanism): pread of just these rows, so RSS grows
        # by the batch, not by the pages a memory-map fault maps around each row; scaled
        # and clipped to [0, 1]. Imported here, not at the top: aekit.io.rows imports torch,
        # and eager datasets (``import aekit.datasets``, ``aekit datasets``) never need it.
        import torch

        from aekit.io.rows import ArraySource

        source = self.__dict__.get("_source")
        if source is None:
            source = self.__dict__["_source"] = ArraySource(
                self.X, scale=self.scale, offset=self.offset, clip=True)
        rows = _row_numbers(index, len(self.X))
        out = source.batch(torch.from_numpy(np.atleast_1d(rows))).numpy()
        return out[0] if np.ndim(rows) == 0 else out

    def to_array(self) -> np.ndarray:
        """All of X as float32 in [0, 1], in memory (reads a lazy dataset whole)."""
        return self.batch(slice(None))

    def head(self, n: int | None = None, *, in_memory: bool = False) -> "Dataset":
        """The first ``n`` rows (all when None) as a new Dataset; ``in_memory`` reads a lazy
        one into memory (scaled, so offset 0 and scale 1)."""
        rows = slice(None) if n is None else slice(0, n)
        y = None if self.y is None else self.y[rows]
        if in_memory or not self.lazy:
            return dataclasses.replace(self, X=self.batch(rows), y=y, offset=0.0, scale=1.0,
                                       lazy=False)
        return dataclasses.replace(self, X=self.X[rows], y=y)


def _row_numbers(index, n: int):
    """Row numbers selected by a numpy index (int, slice, int array or boolean mask)."""
    if isinstance(index, slice):
        return np.arange(*index.indices(n))
    index = np.asarray(index)
    if index.dtype == bool:
        return np.flatnonzero(index)
    return np.where(index < 0, index + n, index)


# ----------------------------------------------------------------------------------------
# Scaling: one rule for every source, so a .npy, a .csv and an image folder holding the
# same numbers give the same X.


def value_transform(
    lo: float, hi: float, integral: bool, scale: ScaleOption, where: str
) -> tuple[float, float]:
    """(offset, factor) mapping values in [lo, hi] into [0, 1] as ``(v - offset) * factor``.

    scale="auto": integer data 0..1 is kept (binary), 0..255 is divided by 255;
        float data must already lie in [0, 1].
    scale="minmax": (v - min) / (max - min) over the whole array (one range for all
        features, so images keep their relative brightness); constant data gives zeros.
    scale="none" or None: values must already lie in [0, 1].
    scale=<number d > 0>: v / d, which must land in [0, 1] (e.g. 16 for 4-bit data).

    where: the file name, for error messages. Raises DataError when the data does not fit.
    """
    hint = "pass scale='minmax' to rescale by the data's range, or scale=<divisor>"
    if isinstance(scale, str) and scale not in SCALE_RULES:
        raise ConfigError(f"scale={scale!r} is not one of {SCALE_RULES} or a positive number")
    if scale == "minmax":
        span = hi - lo
        if span == 0:
            logger.warning("%s: all values equal %g; min-max scaling gives zeros", where, lo)
            return lo, 1.0
        return lo, 1.0 / span
    if scale == "auto" and integral:
        if lo < 0:
            raise DataError(f"{where}: integer values go down to {lo:g} (negative); {hint}")
        if hi <= 1:
            return 0.0, 1.0
        if hi <= 255:
            return 0.0, 1.0 / 255.0
        raise DataError(f"{where}: integer values go up to {hi:g}, above 255; {hint}")
    if scale not in ("auto", "none", None):
        divisor = _divisor(scale)
        if lo < 0 or hi / divisor > 1:
            raise DataError(
                f"{where}: values in [{lo:g}, {hi:g}] divided by {divisor:g} leave [0, 1]; "
                "pass scale='minmax'"
            )
        return 0.0, 1.0 / divisor
    if lo < 0 or hi > 1:
        raise DataError(f"{where}: values in [{lo:g}, {hi:g}] are outside [0, 1]; {hint}")
    return 0.0, 1.0


def _divisor(scale) -> float:
    try:
        divisor = float(scale)
    except (TypeError, ValueError):
        raise ConfigError(f"scale={scale!r} is not one of {SCALE_RULES} or a number") from None
    if not np.isfinite(divisor) or divisor <= 0:
        raise ConfigError(f"scale={scale!r} must be a positive number")
    return divisor


def check_finite(values: np.ndarray, where: str, row_label=None) -> None:
    """Raise DataError naming the first row holding NaN/Inf in ``values`` (n, ...).

    row_label(i) -> str describes row i for the user (default: "row i (0-based)").
    """
    if not np.issubdtype(values.dtype, np.floating):
        return
    bad = ~np.isfinite(values.reshape(len(values), -1))
    if not bad.any():
        return
    row, col = np.argwhere(bad)[0]
    label = row_label(row) if row_label else f"row {row} (0-based)"
    raise DataError(
        f"{where}: {int(bad.sum())} NaN/Inf value(s); the first is at {label}, "
        f"column {col + 1} ({values.reshape(len(values), -1)[row, col]!r})"
    )


def is_integral(values: np.ndarray) -> bool:
    """True for integer/bool dtypes, or floats that are all whole numbers (e.g. CSV text)."""
    if values.dtype.kind in "biu":
        return True
    return bool(np.all(np.floor(values) == values))


def to_unit_float32(values: np.ndarray, scale: ScaleOption, where: str) -> np.ndarray:
    """Finite numeric ``values`` (n, ...) as float32 in [0, 1] by the ``scale`` rule."""
    if values.size == 0:
        raise DataError(f"{where}: no data (empty array)")
    offset, factor = value_transform(
        float(values.min()), float(values.max()), is_integral(values), scale, where
    )
    out = values.astype(np.float32)
    if offset != 0.0 or factor != 1.0:
        out -= np.float32(offset)
        out *= np.float32(factor)
        np.clip(out, 0.0, 1.0, out=out)
    return out


def as_labels(labels: np.ndarray, n: int, where: str) -> np.ndarray:
    """Validate class labels: 1-D, n entries, whole non-negative numbers -> int64."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise DataError(f"{where}: labels must be 1-D, got shape {labels.shape}")
    if len(labels) != n:
        raise DataError(f"{where}: {len(labels)} labels for {n} samples")
    if labels.dtype.kind not in "biuf":
        raise DataError(f"{where}: labels must be integers, got dtype {labels.dtype}")
    if labels.dtype.kind == "f":
        check_finite(labels, f"{where} (labels)")
        if not is_integral(labels):
            raise DataError(f"{where}: labels must be whole numbers (class indices)")
    if len(labels) and labels.min() < 0:
        raise DataError(f"{where}: labels must be >= 0, found {labels.min()}")
    return labels.astype(np.int64)


def holdout_mask(n: int, y: np.ndarray | None) -> np.ndarray:
    """Boolean (n,) mask of the test split: every 5th sample within each class (or of
    all samples when unlabelled). Deterministic, stratified, 20 % of each class."""
    if y is None:
        return np.arange(n) % HOLDOUT_EVERY == HOLDOUT_EVERY - 1
    rank = np.empty(n, dtype=np.int64)  # position of each sample within its class
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        rank[members] = np.arange(len(members))
    return rank % HOLDOUT_EVERY == HOLDOUT_EVERY - 1


def select_split(ds: Dataset, split: str | None) -> Dataset:
    """``ds`` restricted to ``split`` ("train", "test", "all"/None) by ``holdout_mask``."""
    if split in (None, "all"):
        return ds
    if ds.lazy:
        raise ConfigError(
            f"split={split!r} needs the data in memory; use split='all' with mmap=True"
        )
    test = holdout_mask(len(ds), ds.y)
    keep = test if split == "test" else ~test
    y = None if ds.y is None else ds.y[keep]
    return Dataset(ds.X[keep], y, ds.image_shape, ds.name, ds.source, ds.classes)
