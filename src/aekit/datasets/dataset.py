"""The ``Dataset`` container every loader returns, and the value-scaling rules they share.

A ``Dataset`` holds ``X`` as (n_samples, n_features): images are flattened row-major from
``image_shape`` = (C, H, W), so ``X[i].reshape(image_shape)`` gives the image back.

Two kinds exist:

* **in memory** (the usual case): ``X`` is a float32 array of features, already scaled by
  the ``scale=`` rule (:mod:`aekit.datasets.scaling`; in [0, 1] except for
  ``scale='standard'`` and rows a fitted scaler was not fitted on).
* **lazy** (``load(..., mmap=True)`` on a ``.npy`` file): ``X`` is the file's raw
  ``numpy.memmap`` (its own dtype, e.g. uint8), nothing is read into memory, and
  ``(X - offset) * scale`` (per feature for per-feature rules) gives the features. A split
  of a lazy dataset keeps the memmap and lists its row numbers in ``rows``. Use
  :meth:`Dataset.batch` to get scaled float32 rows; it works the same on both kinds, so
  training code need not care (``Estimator.fit(ds)`` and ``aekit train --mmap`` stream it).

``scaler`` records how the values were scaled (a fitted one can be applied to other data:
``load(other, scale=ds.scaler)``).
"""

from __future__ import annotations

import logging
import dataclasses
from dataclasses import dataclass

import numpy as np

from aekit.datasets.scaling import (
    CHUNK_ROWS, FITTED_RULES, RULES, Scaler, Stats, check_rule, fit_rule, rule_scaler,
)
from aekit.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

# What ``scale=`` accepts: a rule name, a positive number to divide by, or a fitted Scaler.
ScaleOption = "str | float | Scaler | None"
SCALE_RULES = RULES

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
    offset, scale: float32 features = (X - offset) * scale; 0 and 1 unless lazy (floats,
        or (n_features,) arrays for per-feature rules).
    lazy: True when X is a raw memmap that ``batch`` scales on the fly.
    scaler: the :class:`~aekit.datasets.scaling.Scaler` the values went through (None for
        named datasets and image folders, which have their own fixed scaling).
    rows: lazy only: the file's row numbers this dataset holds (a split), or None for all.
    feature_names: a CSV header's names of the feature columns (label column left out), or
        None (no header, or not a CSV).
    factors: (n_samples, F) int64 known factors of variation of each row (procedural
        sprites: :mod:`aekit.datasets.sprites`), or None.
    """

    X: np.ndarray
    y: np.ndarray | None
    image_shape: tuple[int, int, int] | None
    name: str
    source: str
    classes: list[str] | None = None
    offset: float | np.ndarray = 0.0
    scale: float | np.ndarray = 1.0
    lazy: bool = False
    scaler: Scaler | None = None
    rows: np.ndarray | None = None
    feature_names: list[str] | None = None
    factors: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.X.shape[0] if self.rows is None else len(self.rows))

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
                self.X, scale=self.scale, offset=self.offset, clip=self.clip, rows=self.rows)
        rows = _row_numbers(index, len(self))
        out = source.batch(torch.from_numpy(np.atleast_1d(rows))).numpy()
        return out[0] if np.ndim(rows) == 0 else out

    @property
    def clip(self) -> bool:
        """Whether lazy rows are clipped to [0, 1] after scaling (rules that map into it in
        float32 arithmetic; never per-feature rules, which compute in float64)."""
        return True if self.scaler is None else self.scaler.clip

    def to_array(self) -> np.ndarray:
        """All of X as float32 in [0, 1], in memory (reads a lazy dataset whole)."""
        return self.batch(slice(None))

    def head(self, n: int | None = None, *, in_memory: bool = False) -> "Dataset":
        """The first ``n`` rows (all when None) as a new Dataset; ``in_memory`` reads a lazy
        one into memory (scaled, so offset 0 and scale 1)."""
        rows = slice(None) if n is None else slice(0, n)
        y = None if self.y is None else self.y[rows]
        if in_memory or not self.lazy:
            factors = None if self.factors is None else self.factors[rows]
            return dataclasses.replace(self, X=self.batch(rows), y=y, offset=0.0, scale=1.0,
                                       lazy=False, rows=None, factors=factors)
        if self.rows is not None:
            return dataclasses.replace(self, rows=self.rows[rows], y=y)
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
# same numbers give the same X (the rules: :mod:`aekit.datasets.scaling`).


def scale_values(values: np.ndarray, scale, where: str, fit_rows=None,
                 image: bool = False) -> tuple[np.ndarray, Scaler]:
    """Finite numeric ``values`` (n, d) -> (float32 features, the Scaler used).

    scale: a rule of :mod:`aekit.datasets.scaling`, a divisor, or a fitted :class:`Scaler`
        (applied as it is). fit_rows: boolean (n,) mask of the rows a fitted rule learns
        from (None: all). image: the data are images (for the hint in errors).
    """
    if values.size == 0:
        raise DataError(f"{where}: no data (empty array)")
    if isinstance(scale, Scaler):
        scale.check_features(values.shape[1], where)
        return scale.apply(values, where), scale
    check_rule(scale)
    if scale in FITTED_RULES:
        stats = Stats(values.shape[1])
        rows = values if fit_rows is None else values[fit_rows]
        for i in range(0, len(rows), CHUNK_ROWS):
            stats.add(rows[i:i + CHUNK_ROWS])
        scaler = fit_rule(scale, stats, where)
    else:
        scaler = rule_scaler(float(values.min()), float(values.max()), is_integral(values),
                             scale, where, image)
    return scaler.apply(values, where), scaler


def value_transform(lo: float, hi: float, integral: bool, scale: ScaleOption,
                    where: str) -> tuple[float, float]:
    """(offset, factor) of a rule that fits nothing ("auto", "none", a divisor) or of
    "minmax-global", for values in [lo, hi] (see :mod:`aekit.datasets.scaling`)."""
    check_rule(scale)
    if scale == "minmax-global":
        stats = Stats(1)
        stats.add(np.array([[lo], [hi]]))
        scaler = fit_rule(scale, stats, where)
    else:
        scaler = rule_scaler(lo, hi, integral, scale, where)
    return float(scaler.offset), float(scaler.factor)


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


def integer_options(source: str, text: str, defaults: dict, kind: str,
                    check=None) -> dict:
    """``defaults`` updated from ``text``, "k=v,k=v" of integer options, as a generated data
    source names them (``scenes:NAME:n=200``, ``sprites:size=16``): unknown keys and values
    that are not integers are refused naming ``source``; ``check(key, value)`` runs on each
    given value as it is read."""
    options = dict(defaults)
    for item in filter(None, (o.strip() for o in text.split(","))):
        k, eq, v = item.partition("=")
        k = k.strip()
        if not eq or k not in defaults:
            raise ConfigError(f"--data {source}: unknown {kind} option {item!r}; options are "
                              f"{', '.join(o + '=N' for o in defaults)}")
        try:
            options[k] = int(v)
        except ValueError:
            raise ConfigError(f"--data {source}: {k} must be an integer, got {v!r}") from None
        if check is not None:
            check(k, options[k])
    return options


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
    test = holdout_mask(len(ds), ds.y)
    keep = test if split == "test" else ~test
    y = None if ds.y is None else ds.y[keep]
    if ds.lazy:  # the memmap stays; the split lists its row numbers (8 bytes a row)
        rows = np.flatnonzero(keep) if ds.rows is None else ds.rows[keep]
        return dataclasses.replace(ds, y=y, rows=rows)
    return dataclasses.replace(ds, X=ds.X[keep], y=y)
