"""The user's own array files: ``.npy``, ``.npz``, numeric ``.csv`` and single IDX files.

Array shapes (first axis = samples): (n, d) is tabular; (n, H, W) is grayscale images;
(n, C, H, W) or (n, H, W, C) with C in {1, 3} is images (stored channels-first, C, H, W).
Values go through the ``scale=`` rule (:mod:`aekit.datasets.scaling`); fitted rules learn
from the training rows (``fit_split``: "train" = rows outside the every-5th-per-class
hold-out, "all" = every row).
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import zipfile
import zlib
from pathlib import Path

import numpy as np

from aekit.datasets.dataset import (
    HOLDOUT_EVERY,
    Dataset,
    ScaleOption,
    as_labels,
    check_finite,
    holdout_mask,
    is_integral,
    scale_values,
)
from aekit.datasets.scaling import FITTED_RULES, Scaler, Stats, check_rule, fit_rule, rule_scaler
from aekit.datasets.idx import read_idx
from aekit.errors import ConfigError, DataError
from aekit.io import mapped_pages

logger = logging.getLogger(__name__)

NPZ_DATA_KEYS = ("X", "x", "data")
NPZ_LABEL_KEYS = ("y", "labels")
MMAP_BLOCK_BYTES = 16 * 2**20  # the lazy range/NaN scan reads this much at a time


def from_array(
    values: np.ndarray,
    y: np.ndarray | None,
    path: Path,
    scale: ScaleOption = "auto",
    classes: list[str] | None = None,
    row_label=None,
    fit_split: str = "all",
) -> Dataset:
    """A Dataset from an in-memory array (n, ...) read from ``path``.

    row_label(i) -> str names data row i in error messages (e.g. a CSV line number).
    fit_split: the rows a fitted scale rule learns from ("train" or "all").
    """
    values, image_shape = _as_samples(np.asarray(values), path)
    check_finite(values, str(path), row_label)
    if y is not None:
        y = as_labels(y, len(values), str(path))
    flat = values.reshape(len(values), -1)
    fit_rows = ~holdout_mask(len(flat), y) if fit_split == "train" else None
    X, scaler = scale_values(flat, scale, str(path), fit_rows, image=image_shape is not None)
    return Dataset(X, y, image_shape, path.name, str(path), classes, scaler=scaler)


def _as_samples(values: np.ndarray, path: Path) -> tuple[np.ndarray, tuple | None]:
    """``values`` with images as (n, C, H, W), and the per-sample image shape or None."""
    if values.dtype.kind not in "biuf":
        raise DataError(f"{path}: expected numbers, got an array of dtype {values.dtype}")
    if values.ndim < 2 or values.ndim > 4:
        raise DataError(
            f"{path}: expected (n_samples, n_features) or image arrays (n, H, W) / "
            f"(n, C, H, W), got shape {values.shape}"
        )
    if values.size == 0:
        raise DataError(f"{path}: no data (array shape {values.shape})")
    if values.ndim == 2:
        return values, None
    if values.ndim == 3:
        return values, (1, *values.shape[1:])
    if values.shape[1] in (1, 3):
        return values, tuple(values.shape[1:])
    if values.shape[3] in (1, 3):  # channels-last (n, H, W, C) -> (n, C, H, W)
        values = values.transpose(0, 3, 1, 2)
        return values, tuple(values.shape[1:])
    raise DataError(f"{path}: 4-D array {values.shape} has neither 1 nor 3 channels on axis 1 or 3")


# ----------------------------------------------------------------------------------------
# .npy / .npz


def load_npy(path: Path, scale: ScaleOption = "auto", mmap: bool = False,
             fit_split: str = "all") -> Dataset:
    """A ``.npy`` array; with ``mmap`` a lazy Dataset over the file (see ``load_npy_lazy``)."""
    if mmap:
        return load_npy_lazy(path, scale, fit_split)
    return from_array(_np_load(path), None, path, scale, fit_split=fit_split)


def load_npz(path: Path, scale: ScaleOption = "auto", fit_split: str = "all") -> Dataset:
    """A ``.npz`` archive: data under X/x/data (or its only array), labels under y/labels."""
    with _np_load(path) as archive:
        keys = list(archive.keys())
        data_key = next((k for k in NPZ_DATA_KEYS if k in keys), None)
        if data_key is None and len(keys) == 1:
            data_key = keys[0]
        if data_key is None:
            raise DataError(
                f"{path}: no data array; expected one of keys {NPZ_DATA_KEYS} "
                f"or a single array, found {keys or 'no arrays'}"
            )
        label_key = next((k for k in NPZ_LABEL_KEYS if k in keys), None)
        values = _npz_member(archive, data_key, path)
        labels = None if label_key is None else _npz_member(archive, label_key, path)
    return from_array(values, labels, path, scale, fit_split=fit_split)


# What numpy/zipfile raise for damaged files: zipfile raises NotImplementedError (a
# RuntimeError) for unknown compression or versions, RuntimeError for encrypted members,
# zlib.error for damaged deflate data, OverflowError (mmap) for absurd shapes.
_ARCHIVE_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, RuntimeError, zlib.error,
                   OverflowError)


def _np_load(path: Path, mmap_mode: str | None = None):
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file")
    try:
        if mmap_mode is None and path.suffix.lower() == ".npy":
            # Map it first: numpy then checks the header's shape against the file length,
            # so a header that lies cannot make np.load allocate more than the file holds.
            np.load(path, mmap_mode="r", allow_pickle=False)
        # allow_pickle=False: loading data must never execute code.
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (*_ARCHIVE_ERRORS, MemoryError) as exc:
        raise DataError(f"{path}: not a readable {path.suffix} file ({exc})") from None


def _npz_member(archive, key: str, path: Path) -> np.ndarray:
    try:
        return archive[key]
    except _ARCHIVE_ERRORS as exc:
        raise DataError(f"{path}: array {key!r} is unreadable ({exc})") from None
    except MemoryError:
        raise DataError(f"{path}: array {key!r} claims more memory than is available "
                        "(corrupt header?)") from None


def load_npy_lazy(path: Path, scale: ScaleOption = "auto", fit_split: str = "all") -> Dataset:
    """A lazy Dataset: ``X`` is the ``.npy`` file's memmap reshaped to (n, d), unread.

    One pass over the file in 16 MiB blocks (memory stays bounded) rejects NaN/Inf and
    finds the value range (per feature, with means and variances, for the per-feature
    rules; a fitted rule only counts the rows of ``fit_split``), from which
    ``offset``/``scale`` follow by the ``scale=`` rule; ``Dataset.batch`` applies them per
    batch. Channels-last and Fortran-order arrays cannot be viewed as rows without a copy,
    so they are refused.
    """
    raw = _np_load(path, mmap_mode="r")
    if raw.ndim == 4 and raw.shape[1] not in (1, 3):
        raise DataError(f"{path}: mmap=True needs channels-first (n, C, H, W), got {raw.shape}")
    if raw.ndim > 1 and not raw.flags.c_contiguous:
        raise DataError(f"{path}: mmap=True needs a C-ordered array (this one is Fortran-order)")
    _, image_shape = _as_samples(raw, path)
    X = raw.reshape(len(raw), -1)  # a view: still a memmap, nothing read
    if isinstance(scale, Scaler):
        scale.check_features(X.shape[1], str(path))
        _scan_blocks(X, path)  # NaN/Inf are refused all the same
        scaler = scale
    else:
        check_rule(scale)
        fitted = scale in FITTED_RULES
        lo, hi, integral, stats = _scan_blocks(X, path, fitted, fit_split == "train")
        scaler = (fit_rule(scale, stats, str(path)) if fitted else
                  rule_scaler(lo, hi, integral, scale, str(path), image_shape is not None))
    logger.info("%s: memory-mapped %s of %s, scaling %s", path, X.shape, X.dtype,
                scaler.describe())
    return Dataset(X, None, image_shape, path.name, str(path), None, scaler.offset,
                   scaler.factor, lazy=True, scaler=scaler)


def _scan_blocks(X: np.ndarray, path: Path, stats: bool = False, train_only: bool = False):
    """(min, max, all whole numbers, per-feature Stats or None) of a memmap (n, d), reading
    a block of rows at a time; ``train_only``: the Stats count only the rows of split
    "train" (unlabelled: every row but each 5th, as :func:`holdout_mask`)."""
    rows = max(1, MMAP_BLOCK_BYTES // max(1, X.shape[1] * X.itemsize))
    lo, hi, integral = np.inf, -np.inf, True
    found = Stats(X.shape[1]) if stats else None
    # Read with pread where possible: RSS holds one block (see aekit.io.mapped_pages).
    reader = mapped_pages.RowReader.for_array(X)
    mapping = None if reader is not None else mapped_pages.find_mapping(X)
    for start in range(0, len(X), rows):
        stop = min(start + rows, len(X))
        block = reader.take_range(start, stop) if reader is not None else np.asarray(X[start:stop])
        check_finite(block, str(path), lambda i, s=start: f"row {s + i} (0-based)")
        lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
        integral = integral and is_integral(block)
        if found is not None:
            # holdout_mask without labels: every HOLDOUT_EVERY-th row is a test row
            keep = (np.arange(start, stop) % HOLDOUT_EVERY != HOLDOUT_EVERY - 1
                    if train_only else slice(None))
            found.add(block[keep])
        mapped_pages.release(mapping)  # keep RSS at one block, not the whole file
        del block  # before the next block is read, not after
    if reader is not None:
        reader.close()
    return lo, hi, integral, found


def load_idx_file(path: Path, scale: ScaleOption = "auto", fit_split: str = "all") -> Dataset:
    """A single IDX file (e.g. ``train-images-idx3-ubyte.gz``) as unlabelled data."""
    return from_array(read_idx(path), None, path, scale, fit_split=fit_split)


# ----------------------------------------------------------------------------------------
# .csv


def load_csv(
    path: Path,
    label_column: int | str | None = None,
    header: bool | None = None,
    scale: ScaleOption = "auto",
    fit_split: str = "all",
) -> Dataset:
    """A numeric CSV file, one sample per row.

    header: None detects it (the first row is a header when none of its cells is a number).
    label_column: 0-based column index (negative counts from the end) or header name.
        Numeric labels are class indices; any other text is a class name (sorted names
        -> 0, 1, ...; kept in ``Dataset.classes``).
    The delimiter is ",", or tab / ";" when the first row has no comma. Blank lines are
    skipped. Errors name rows as an editor numbers lines (1-based, header included) and
    columns 1-based.
    """
    line_numbers, lines = _nonblank_lines(path)
    delimiter = "," if "," in lines[0] else next((d for d in "\t;" if d in lines[0]), ",")
    first = _split(lines[0], delimiter)
    if header is None:
        header = not any(_is_number(cell) for cell in first)
    if header:
        line_numbers, lines = line_numbers[1:], lines[1:]
    if not lines:
        raise DataError(f"{path}: no data rows (only a header)")
    n_cols = len(first)
    label_index = _label_index(label_column, first if header else None, n_cols, path)
    feature_cols = [c for c in range(n_cols) if c != label_index]
    if not feature_cols:
        raise DataError(f"{path}: no feature columns besides the label column")

    def row_label(i: int) -> str:
        return f"row {line_numbers[i]}"

    values = _parse_numbers(lines, delimiter, feature_cols, n_cols, line_numbers, path)
    y, classes = (None, None)
    if label_index is not None:
        y, classes = _parse_labels(lines, delimiter, label_index, line_numbers, path)
    ds = from_array(values, y, path, scale, classes, row_label, fit_split)
    if header:  # kept so that rows written back (aekit generate/decode) carry the header
        ds = dataclasses.replace(ds, feature_names=[first[c].strip() for c in feature_cols])
    return ds


def _nonblank_lines(path: Path) -> tuple[list[int], list[str]]:
    """(1-based line numbers, text) of the file's non-blank lines."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            pairs = [(i, line) for i, line in enumerate(f, 1) if line.strip()]
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a UTF-8 text file ({exc.reason})") from None
    if not pairs:
        raise DataError(f"{path}: empty file")
    return [i for i, _ in pairs], [line for _, line in pairs]


def _split(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _label_index(label_column, header_cells, n_cols: int, path: Path) -> int | None:
    """The label column as a 0-based index, or None."""
    if label_column is None:
        return None
    if isinstance(label_column, str):
        if header_cells is None:
            raise ConfigError(f"label_column={label_column!r} needs a header row in {path}")
        names = [c.strip() for c in header_cells]
        if label_column not in names:
            raise DataError(f"{path}: label_column={label_column!r}: no column of that name; "
                            f"columns: {names}")
        return names.index(label_column)
    if not -n_cols <= label_column < n_cols:
        raise ConfigError(
            f"label_column={label_column} is out of range: {path} has {n_cols} columns"
        )
    return label_column % n_cols


def _parse_numbers(lines, delimiter, cols, n_cols, line_numbers, path) -> np.ndarray:
    """Columns ``cols`` of ``lines`` as float64 (n, len(cols)); numpy's C parser does the
    work, and on failure a Python pass finds the first bad cell to name it."""
    if len({line.count(delimiter) for line in lines}) > 1:
        # numpy accepts ragged rows when usecols is given; a quick count catches them.
        _raise_bad_cell(lines, delimiter, cols, n_cols, line_numbers, path)
    try:
        return np.loadtxt(
            lines, delimiter=delimiter, usecols=cols, dtype=np.float64,
            comments=None, quotechar='"', ndmin=2,
        )  # fmt: skip
    except ValueError as exc:
        _raise_bad_cell(lines, delimiter, cols, n_cols, line_numbers, path)
        raise DataError(f"{path}: cannot parse as numbers ({exc})") from None


def _raise_bad_cell(lines, delimiter, cols, n_cols, line_numbers, path) -> None:
    """Raise DataError for the first row with a wrong column count or a non-number."""
    for line_no, cells in zip(line_numbers, csv.reader(lines, delimiter=delimiter), strict=False):
        if len(cells) != n_cols:
            raise DataError(
                f"{path}: row {line_no} has {len(cells)} columns, expected {n_cols} "
                "like the first row"
            )
        for c in cols:
            if not _is_number(cells[c]):
                shown = repr(cells[c]) if cells[c].strip() else "an empty cell"
                raise DataError(f"{path}: row {line_no}, column {c + 1}: {shown} is not a number")


def _parse_labels(lines, delimiter, index, line_numbers, path):
    """(labels (n,), class names or None) from one column."""
    cells = [row[index].strip() for row in csv.reader(lines, delimiter=delimiter)]
    if all(_is_number(c) for c in cells):
        labels = np.array(cells, dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(labels) | (labels != np.floor(labels)) | (labels < 0))
        if len(bad):
            row = line_numbers[bad[0]]
            raise DataError(
                f"{path}: row {row}, column {index + 1}: label {cells[bad[0]]!r} "
                "is not a class index (a whole number >= 0)"
            )
        return labels.astype(np.int64), None
    classes = sorted(set(cells))
    lookup = {name: i for i, name in enumerate(classes)}
    return np.array([lookup[c] for c in cells], dtype=np.int64), classes
