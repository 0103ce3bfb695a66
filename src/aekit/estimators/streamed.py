"""Training data that is never read whole: a lazy :class:`aekit.datasets.Dataset`
(``load(path, mmap=True)``) or a memory-mapped array (``np.load(path, mmap_mode='r')``).

``Estimator.fit(ds)`` wraps such input in :class:`StreamedRows`. scikit-learn's
``validate_data`` would copy the whole array, so the checks it makes are made here a block
of rows at a time instead: the feature count (through ``validate_data`` on the first
rows, so ``n_features_in_`` and feature names follow scikit-learn's rules), NaN/Inf and
float32's range, and the value range (for ``output_activation='auto'`` and the [0, 1]
check). Training then reads batches through :class:`aekit.io.rows.ArraySource` (pread of a
batch's rows, scaled per batch), so peak memory does not grow with the file;
``benchmarks/memory.py`` measures it through ``Estimator.fit(ds)`` and ``aekit train``.

An in-memory Dataset is just its array (``ds.X``, with ``ds.image_shape``): ``fit(ds)``
then equals ``fit(ds.X)`` (image estimators: ``fit(ds.X.reshape(n, *ds.image_shape))``),
and a streamed file trains to the same weights as the same rows in memory.
"""

from __future__ import annotations

import numpy as np
import torch

from aekit.datasets import Dataset
from aekit.errors import DataError
from aekit.io.rows import ArraySource, is_memmap

BLOCK_ROWS = 4096  # rows read at a time by the validation scan and by to_array


def mean_variance(blocks) -> float:
    """The mean over columns of each column's (population) variance, from float32 row
    blocks, combined block by block (Chan, Golub & LeVeque 1979) in float64: the same
    number for an array and for the same rows streamed from a file."""
    n, mean, m2 = 0, None, None
    for block in blocks:
        b = np.asarray(block, dtype=np.float64)
        nb = len(b)
        if nb == 0:
            continue
        mb = b.mean(axis=0)
        m2b = ((b - mb) ** 2).sum(axis=0)
        if mean is None:
            n, mean, m2 = nb, mb, m2b
            continue
        delta, total = mb - mean, n + nb
        mean = mean + delta * (nb / total)
        m2 = m2 + m2b + delta ** 2 * (n * nb / total)
        n = total
    return 0.0 if mean is None else float((m2 / n).mean())


def array_blocks(X: np.ndarray):
    """Rows of an in-memory array, BLOCK_ROWS at a time (as :meth:`StreamedRows.blocks`)."""
    for start in range(0, len(X), BLOCK_ROWS):
        yield X[start:start + BLOCK_ROWS]


def row_blocks(X):
    """Float rows of X (an array, or :class:`StreamedRows` read a block at a time now),
    BLOCK_ROWS at a time."""
    if isinstance(X, StreamedRows):
        return (block for _, block in X.blocks())
    return array_blocks(X)


class StreamedRows:
    """Rows of a lazy Dataset or a memmap, as float32 features, read on demand.

    Array-like where the estimators need it: ``shape``, ``len``, ``min()``/``max()`` (from
    the validation scan), ``rows[idx]`` (a few rows, e.g. the collapse check's sample) and
    :meth:`source` (what the trainer streams from)."""

    def __init__(self, X, scale=1.0, offset=0.0, clip=False, rows=None, image_shape=None):
        self.X = X  # the raw memmap (n_file_rows, d)
        self._kw = dict(scale=scale, offset=offset, clip=clip, rows=rows)
        self._reader = ArraySource(X, **self._kw)
        self.n, self.n_features = self._reader.n, self._reader.n_features
        self.image_shape = image_shape
        self._lo = self._hi = self._variance = None

    @classmethod
    def of(cls, X) -> "StreamedRows | None":
        """A StreamedRows for a lazy Dataset or a memmap-backed array, else None."""
        if isinstance(X, Dataset):
            if not X.lazy:
                return None
            return cls(X.X, X.scale, X.offset, X.clip, X.rows, X.image_shape)
        if is_memmap(X) and X.ndim >= 2 and X.flags.c_contiguous:
            flat = X.reshape(len(X), -1)  # a view of the mapping: nothing read
            if flat.dtype.kind not in "biuf":
                raise DataError(f"X must hold numbers, got dtype {X.dtype}")
            shape = None
            if X.ndim == 3:
                shape = (1, *X.shape[1:])
            elif X.ndim == 4:
                shape = tuple(X.shape[1:])
            return cls(flat, image_shape=shape)
        return None

    # --- array-like ----------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return (self.n, self.n_features)

    ndim = 2
    dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index) -> np.ndarray:
        """Rows ``index`` (int array or slice) as float32 (n, d), read now."""
        rows = np.arange(self.n)[index] if isinstance(index, slice) else np.asarray(index)
        return self._reader.batch(torch.from_numpy(np.atleast_1d(rows).astype(np.int64))).numpy()

    def __array__(self, dtype=None, copy=None):
        out = self.to_array()
        return out if dtype is None else out.astype(dtype)

    def blocks(self):
        """(start, float32 rows) a block at a time."""
        for start in range(0, self.n, BLOCK_ROWS):
            yield start, self[slice(start, min(start + BLOCK_ROWS, self.n))]

    def to_array(self) -> np.ndarray:
        """Every row in memory (float32): for the methods that return one value per row."""
        out = np.empty(self.shape, dtype=np.float32)
        for start, block in self.blocks():
            out[start:start + len(block)] = block
        return out

    def min(self) -> float:
        return self._scan()[0]

    def max(self) -> float:
        return self._scan()[1]

    def mean_variance(self) -> float:
        """:func:`mean_variance` of every row (from the validation scan)."""
        self._scan()
        return self._variance

    # --- checks and training -------------------------------------------------------------
    def _scan(self) -> tuple[float, float]:
        """One pass: refuse NaN/Inf (float32 overflow included) naming the row; the range
        and the mean column variance (:meth:`mean_variance`)."""
        if self._lo is None:
            lo, hi = np.inf, -np.inf

            def checked():
                nonlocal lo, hi
                for start, block in self.blocks():
                    bad = ~np.isfinite(block)
                    if bad.any():
                        row, col = np.argwhere(bad)[0]
                        raise DataError(
                            f"X has NaN, infinite or beyond-float32 values (aekit computes in "
                            f"float32): the first at row {start + row} (0-based), column "
                            f"{col + 1}")
                    lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
                    yield block

            with np.errstate(over="ignore", invalid="ignore"):
                variance = mean_variance(checked())
            self._lo, self._hi, self._variance = lo, hi, variance
        return self._lo, self._hi

    check = _scan

    def source(self, pad: int = 0, device="cpu") -> ArraySource:
        """The trainer's batch source (rows zero-padded by ``pad`` for a conv grid)."""
        return ArraySource(self.X, device=device, pad=pad, **self._kw)


def as_rows(X, images: bool = False):
    """``X`` for the estimators: a lazy Dataset or memmap -> :class:`StreamedRows`; an
    in-memory Dataset -> its array (for an estimator taking ``images``: image-shaped when
    the Dataset has an image shape); anything else unchanged."""
    stream = StreamedRows.of(X)
    if stream is not None:
        return stream
    if isinstance(X, Dataset):
        if images and X.image_shape is not None:
            return X.X.reshape(len(X.X), *X.image_shape)
        return X.X
    return X
