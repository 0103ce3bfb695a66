"""Datasets: one ``load`` for the named datasets and for the user's own files.

    >>> from aekit.datasets import load
    >>> ds = load("fashion-mnist", split="test")      # X (10000, 784) float32 in [0, 1]
    >>> ds = load("my_images/")                        # class sub-folders -> labels
    >>> ds = load("big.npy", mmap=True)                # lazy: rows read by ds.batch(...)

Environment variables: ``AEKIT_DATA`` (a folder searched first for dataset files),
``AEKIT_CACHE`` (download cache), ``AEKIT_MIRROR`` (base URL(s) replacing the built-in
mirrors), ``AEKIT_OFFLINE=1`` (never download). See :mod:`aekit.datasets.registry` for the
search order and :mod:`aekit.datasets.download` for how downloads are verified.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from aekit.datasets import arrays, images, registry, scenes, sprites
from aekit.datasets.dataset import Dataset, ScaleOption, select_split
from aekit.datasets.idx import read_idx, write_idx
from aekit.datasets.registry import DatasetInfo, Sources
from aekit.datasets.scenes import load_masked_folder, make_scenes
from aekit.datasets.scaling import Scaler
from aekit.datasets.sprites import Sprites, make_sprites, sprites_from_factors
from aekit.errors import ConfigError, DataError

__all__ = ["Dataset", "DatasetInfo", "Scaler", "available", "load", "load_masked_folder",
           "make_scenes", "make_sprites", "names", "read_idx", "Sprites",
           "sprites_from_factors", "write_idx"]

# Options that only make sense for one kind of input, with their "not given" value.
_KIND_OPTIONS = {
    "label_column": (None, {"csv"}),
    "header": (None, {"csv"}),
    "mode": ("auto", {"folder"}),
    "mmap": (False, {"npy"}),
    "scale": ("auto", {"npy", "npz", "csv", "idx"}),
}


def load(
    source: str | os.PathLike,
    split: str | None = "auto",
    *,
    label_column: int | str | None = None,
    header: bool | None = None,
    mode: str = "auto",
    scale: ScaleOption = "auto",
    mmap: bool = False,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    base_url: str | Sequence[str] | None = None,
    download: bool | None = None,
    progress: bool = True,
) -> Dataset:
    """Load a named dataset or a file/folder as a :class:`Dataset`.

    source: a name from ``names()`` ("digits", "fashion-mnist", "mnist"; case and "_"
        ignored); "scenes:NAME[:options]", scenes composed from a named dataset with
        per-pixel labels (y holds the masks, see :mod:`aekit.datasets.scenes`);
        "sprites[:n=N,size=S,seed=K]", procedural sprites with their five known factors
        (``factors``; y is the shape: :mod:`aekit.datasets.sprites`); or a path
        to a ``.npy``, ``.npz``, ``.csv``, IDX file
        (``*-idx*-ubyte[.gz]``, ``*.idx[.gz]``) or a folder of PNG/JPEG images (a folder
        holding ``images/`` and ``masks/`` is a segmentation set: y holds the masks). A name
        wins over a same-named folder: write "./mnist" for the folder.
    split: "train", "test", "all" or None (= "all"). "auto" means "train" for a named
        dataset and "all" for a file. MNIST/Fashion-MNIST use their published splits;
        everything else holds out every 5th sample of each class as "test" (20 %,
        deterministic, stratified).

    File options (an option that does not apply to the input is a ConfigError):
        label_column, header: CSV only (see :func:`aekit.datasets.arrays.load_csv`).
        mode: image folders only; "auto", "L" or "RGB".
        scale: how values become features: "auto", "none", "minmax" / "standard" (per
            feature, like scikit-learn's MinMaxScaler / StandardScaler), "minmax-global"
            (one range for all values), a divisor, or a fitted ``Dataset.scaler`` to apply
            to other data; see :mod:`aekit.datasets.scaling`. Fitted rules learn from the
            "train" split's rows (every row for split "all"). The result is
            ``Dataset.scaler``. 8-bit images are always /255.
        mmap: ``.npy`` only; X stays a read-only memmap and ``Dataset.batch`` scales rows
            (a split keeps the memmap and lists its rows); ``Estimator.fit(ds)`` and
            ``aekit train --mmap`` stream it batch by batch.

    Named-dataset options: data_dir (instead of $AEKIT_DATA), cache_dir (instead of
    $AEKIT_CACHE), base_url (mirror(s) instead of $AEKIT_MIRROR / the built-in ones),
    download (False: never, True: even if $AEKIT_OFFLINE), progress (tqdm bar).

    Raises DataError (missing, empty, malformed or out-of-range data, unknown name),
    DownloadError (a download failed or its checksum did not match) or ConfigError.

    Long because it is the one dispatch over every kind of data source (registry names,
    files of each format, folders, arrays), each branch a few lines with its own checks.
    """
    if split not in ("auto", None, *registry.SPLITS):
        raise ConfigError(f"split={split!r} is not one of 'train', 'test', 'all', None")
    options = dict(label_column=label_column, header=header, mode=mode, scale=scale, mmap=mmap)
    if scenes.is_scenes_source(source):
        _reject_options(options, "scenes", source)
        sources = Sources(data_dir, cache_dir, _as_tuple(base_url), download, progress)
        return scenes.load_scenes(source, "train" if split == "auto" else split, sources)
    if sprites.is_sprites_source(source):
        _reject_options(options, "sprites", source)
        return sprites.load_sprites(source, "train" if split == "auto" else split)
    name = registry.canonical_name(str(source)) if isinstance(source, str) else None
    if name is not None:  # a registered name wins over a same-named folder ("./mnist")
        _reject_options(options, "named dataset", name)
        sources = Sources(data_dir, cache_dir, _as_tuple(base_url), download, progress)
        return registry.load_named(name, "train" if split == "auto" else split, sources)
    path = _existing_path(source)
    kind = _kind(path)
    if kind == "folder" and scenes.is_masked_folder(path):
        _reject_options({**options, "mode": "auto"}, kind, path)
        return scenes.load_masked_folder(path, "all" if split == "auto" else split, mode)
    _reject_options(options, kind, path)
    split = "all" if split == "auto" else split
    # A fitted scale rule learns from the training rows: the "train" split's for both
    # splits (so they are scaled alike and test rows never shape the scaling), all for "all".
    fit_split = "all" if split in (None, "all") else "train"
    ds = _load_file(path, kind, options, fit_split)
    return select_split(ds, split)


def check_options(source: str | os.PathLike, **options) -> str:
    """The kind of input ``source`` is ("named", "scenes", "npy", "csv", ...) after checking
    that every file option given (label_column, header, mode, scale, mmap) applies to it,
    with the ConfigError ``load`` would raise; nothing is read. For callers that validate
    options before any work (the CLI)."""
    given = {k: options.get(k, default) for k, (default, _) in _KIND_OPTIONS.items()}
    if scenes.is_scenes_source(source):
        _reject_options(given, "scenes", source)
        return "scenes"
    if sprites.is_sprites_source(source):
        _reject_options(given, "sprites", source)
        sprites.parse_sprites_source(source)
        return "sprites"
    name = registry.canonical_name(str(source)) if isinstance(source, str) else None
    if name is not None:
        _reject_options(given, "named dataset", name)
        return "named"
    path = _existing_path(source)
    kind = _kind(path)
    _reject_options(given, kind, path)
    return kind


def available(
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    base_url: str | Sequence[str] | None = None,
    download: bool | None = None,
) -> list[DatasetInfo]:
    """One :class:`DatasetInfo` per named dataset: its files and where they were found,
    or where they would be downloaded from. Nothing is downloaded."""
    return registry.available(Sources(data_dir, cache_dir, _as_tuple(base_url), download))


def names() -> list[str]:
    """The dataset names ``load`` accepts."""
    return sorted(registry.DATASETS)


def _as_tuple(base_url):
    return base_url if base_url is None or isinstance(base_url, str) else tuple(base_url)


def _existing_path(source) -> Path:
    path = Path(source)
    if path.exists():
        return path
    looks_like_name = isinstance(source, str) and not path.suffix and os.sep not in source
    if looks_like_name:
        raise registry.unknown_name_error(source)
    raise DataError(f"{path}: no such file or folder")


def _kind(path: Path) -> str:
    """The input kind from the path: folder, npy, npz, csv or idx; DataError otherwise."""
    if path.is_dir():
        return "folder"
    name = path.name.lower().removesuffix(".gz")
    suffix = Path(name).suffix
    if suffix in (".npy", ".npz", ".csv") and not path.name.lower().endswith(".gz"):
        return suffix[1:]
    if suffix == ".idx" or "-idx" in name:
        return "idx"
    raise DataError(
        f"{path}: unsupported file type {path.suffix or '(no suffix)'}; expected .npy, .npz, "
        ".csv, an IDX file, or a folder of PNG/JPEG images"
    )


def _reject_options(options: dict, kind: str, where) -> None:
    for option, value in options.items():
        default, kinds = _KIND_OPTIONS[option]
        if value != default and kind not in kinds:
            raise ConfigError(
                f"{option}={value!r} does not apply to {where} ({kind}); "
                f"it is for {', '.join(sorted(kinds))} input"
            )


def _load_file(path: Path, kind: str, options: dict, fit_split: str) -> Dataset:
    scale = options["scale"]
    if kind == "folder":
        return images.load_image_folder(path, options["mode"])
    if kind == "npy":
        return arrays.load_npy(path, scale, options["mmap"], fit_split)
    if kind == "npz":
        return arrays.load_npz(path, scale, fit_split)
    if kind == "csv":
        return arrays.load_csv(path, options["label_column"], options["header"], scale,
                               fit_split)
    return arrays.load_idx_file(path, scale, fit_split)
