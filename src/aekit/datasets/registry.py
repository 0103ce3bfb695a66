"""The named datasets (``digits``, ``fashion-mnist``, ``mnist``): where their files are
looked for, how they are verified, and how they load.

Search order for an IDX dataset's files (the first folder holding a file wins, per file;
``name.gz`` or the unzipped ``name`` both count):

1. ``$AEKIT_DATA`` (or ``data_dir=``): ``<dir>/<name>/``, then files directly in ``<dir>``
   (MNIST and Fashion-MNIST share file names, so keep two datasets in sub-folders)
2. the user cache, ``<cache>/<name>/`` (see :func:`aekit.datasets.download.cache_root`)
3. the system copy, ``/usr/share/datasets/<name>/`` (Debian's ``dataset-fashion-mnist``)
4. a download from the dataset's mirrors into the user cache, SHA-256 verified.

Downloaded files are trusted because their hash matched. Local files are not hashed (a
re-compressed copy, such as Debian's, has other .gz bytes than the mirrors); instead the
IDX reader checks magic, dims, exact length and gzip's CRC-32, so damage is still caught.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aekit.datasets import download
from aekit.datasets.dataset import Dataset, holdout_mask
from aekit.datasets.idx import read_idx
from aekit.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

ENV_DATA = "AEKIT_DATA"
SYSTEM_DATA_DIR = Path("/usr/share/datasets")
SPLITS = ("train", "test", "all")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its name on the mirrors and the SHA-256 of those bytes."""

    filename: str
    sha256: str


@dataclass(frozen=True)
class IdxDataset:
    """An MNIST-style dataset: per split, an IDX images file (n, H, W) of ubyte and an
    IDX labels file (n,) of ubyte."""

    name: str
    description: str
    mirrors: tuple[str, ...]
    files: dict[str, tuple[RemoteFile, RemoteFile]]  # split -> (images, labels)
    n_samples: dict[str, int]
    classes: tuple[str, ...]
    image_shape: tuple[int, int, int] = (1, 28, 28)


@dataclass(frozen=True)
class DigitsDataset:
    """scikit-learn's bundled 8x8 digits (UCI optdigits test set), values 0..16.

    Split: every 5th image of each digit is the test set (``holdout_mask``): 1442 train,
    355 test, deterministic and stratified.
    """

    name: str = "digits"
    description: str = "8x8 handwritten digits bundled with scikit-learn (1797 images)"
    classes: tuple[str, ...] = tuple("0123456789")
    image_shape: tuple[int, int, int] = (1, 8, 8)
    n_samples: dict[str, int] = field(default_factory=lambda: {"train": 1442, "test": 355})


# SHA-256 of the .gz files as served by the mirrors below. Source: TensorFlow Datasets'
# tensorflow_datasets/url_checksums/{fashion_mnist,mnist}.txt (sizes: Fashion-MNIST train
# images 26421880 B, MNIST train images 9912422 B); other public projects list the same
# values. They could not be re-checked against the live mirrors here (no network).
# Debian's dataset-fashion-mnist re-gzipped the files without the original-file-name field
# (each .gz is 23-24 bytes shorter; the IDX sizes inside are the published ones), so its
# .gz hashes differ: train-images b0564c3e..., train-labels 0ae29f65..., t10k-images
# cc1d090a..., t10k-labels 8d3605d1... -- which is why local copies are checked
# structurally instead.
FASHION_MNIST = IdxDataset(
    name="fashion-mnist",
    description="Zalando article images, 28x28 grayscale, 10 classes",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    files={
        "train": (
            RemoteFile(
                "train-images-idx3-ubyte.gz",
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            ),
            RemoteFile(
                "train-labels-idx1-ubyte.gz",
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            ),
        ),
        "test": (
            RemoteFile(
                "t10k-images-idx3-ubyte.gz",
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            ),
            RemoteFile(
                "t10k-labels-idx1-ubyte.gz",
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            ),
        ),
    },
    n_samples={"train": 60000, "test": 10000},
    classes=(
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
)  # fmt: skip

MNIST = IdxDataset(
    name="mnist",
    description="handwritten digits (LeCun et al.), 28x28 grayscale, 10 classes",
    # ossci is PyTorch's mirror; cvdf is the one TensorFlow Datasets uses. Same bytes.
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    files={
        "train": (
            RemoteFile(
                "train-images-idx3-ubyte.gz",
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            ),
            RemoteFile(
                "train-labels-idx1-ubyte.gz",
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            ),
        ),
        "test": (
            RemoteFile(
                "t10k-images-idx3-ubyte.gz",
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            ),
            RemoteFile(
                "t10k-labels-idx1-ubyte.gz",
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            ),
        ),
    },
    n_samples={"train": 60000, "test": 10000},
    classes=tuple("0123456789"),
)

DATASETS = {spec.name: spec for spec in (DigitsDataset(), FASHION_MNIST, MNIST)}


@dataclass(frozen=True)
class Sources:
    """Where to look for and fetch files: the load() options that concern named datasets."""

    data_dir: str | os.PathLike | None = None
    cache_dir: str | os.PathLike | None = None
    base_url: str | tuple[str, ...] | None = None
    download: bool | None = None
    progress: bool = True


def canonical_name(name: str) -> str | None:
    """The registered name for ``name`` ("Fashion_MNIST" -> "fashion-mnist"), or None."""
    key = name.strip().lower().replace("_", "-")
    return key if key in DATASETS else None


def unknown_name_error(name: str) -> DataError:
    return DataError(
        f"unknown dataset {name!r}: not a file or folder, and not one of "
        f"{', '.join(sorted(DATASETS))}"
    )


def load_named(name: str, split: str | None, sources: Sources = Sources()) -> Dataset:
    """Load registered dataset ``name``; split "train", "test", or "all"/None (both)."""
    key = canonical_name(name)
    if key is None:
        raise unknown_name_error(name)
    spec, split = DATASETS[key], _check_split(split)
    if isinstance(spec, DigitsDataset):
        return _load_digits(spec, split)
    if split != "all":
        return _load_idx_split(spec, split, sources)
    parts = [_load_idx_split(spec, s, sources) for s in ("train", "test")]
    return Dataset(
        np.concatenate([p.X for p in parts]),
        np.concatenate([p.y for p in parts]),
        spec.image_shape,
        spec.name,
        "; ".join(dict.fromkeys(p.source for p in parts)),
        list(spec.classes),
    )


def _check_split(split: str | None) -> str:
    if split is None:
        return "all"
    if split not in SPLITS:
        raise ConfigError(f"split={split!r} is not one of {SPLITS} or None")
    return split


def _load_digits(spec: DigitsDataset, split: str) -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = (bunch.data / 16.0).astype(np.float32)  # values 0..16 -> [0, 1]
    y = bunch.target.astype(np.int64)
    if split != "all":
        test = holdout_mask(len(y), y)
        keep = test if split == "test" else ~test
        X, y = X[keep], y[keep]
    return Dataset(X, y, spec.image_shape, spec.name, "scikit-learn (bundled)", list(spec.classes))


def _load_idx_split(spec: IdxDataset, split: str, sources: Sources) -> Dataset:
    """One split: find or fetch both files, read, check they belong together, scale."""
    image_file, label_file = (_obtain(spec, f, sources) for f in spec.files[split])
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(
            f"{image_file}: expected (n, height, width) ubyte images, "
            f"got shape {images.shape} of {images.dtype}"
        )
    if labels.ndim != 1:
        raise DataError(f"{label_file}: expected 1-D labels, got shape {labels.shape}")
    if len(images) != len(labels):
        raise DataError(
            f"{len(images)} images in {image_file} but {len(labels)} labels in {label_file}"
        )
    if len(images) != spec.n_samples[split]:
        logger.warning(
            "%s: %d %s samples, the published set has %d",
            image_file, len(images), split, spec.n_samples[split],
        )  # fmt: skip
    X = images.reshape(len(images), -1).astype(np.float32)  # (n, H*W), C = 1
    X /= 255.0
    source = str(image_file.parent)
    return Dataset(
        X, labels.astype(np.int64), (1, *images.shape[1:]), spec.name, source, list(spec.classes)
    )


# ----------------------------------------------------------------------------------------
# Finding files


def search_dirs(name: str, sources: Sources = Sources()) -> list[Path]:
    """Folders searched for ``name``'s files, in order (see the module docstring)."""
    dirs = []
    data_dir = sources.data_dir or os.environ.get(ENV_DATA)
    if data_dir:
        dirs += [Path(data_dir) / name, Path(data_dir)]
    dirs.append(download.cache_root(sources.cache_dir) / name)
    dirs.append(SYSTEM_DATA_DIR / name)
    return dirs


def locate(name: str, remote: RemoteFile, sources: Sources = Sources()) -> Path | None:
    """The first local copy of ``remote`` (gzip or unzipped), or None."""
    unzipped = remote.filename.removesuffix(".gz")
    for folder in search_dirs(name, sources):
        for candidate in (folder / remote.filename, folder / unzipped):
            if candidate.is_file():
                return candidate
    return None


def _obtain(spec: IdxDataset, remote: RemoteFile, sources: Sources) -> Path:
    """A local path for ``remote``: found, or downloaded into the cache."""
    found = locate(spec.name, remote, sources)
    if found is not None:
        logger.info("using %s", found)
        return found
    where = ", ".join(str(d) for d in search_dirs(spec.name, sources))
    if download.offline(sources.download):
        why = "download=False" if sources.download is False else f"{download.ENV_OFFLINE} is set"
        raise DataError(
            f"{spec.name}: {remote.filename} not found locally (looked in {where}) and "
            f"downloads are off ({why}); put the file in ${ENV_DATA} or allow downloads"
        )
    urls = download.mirror_urls(spec.name, spec.mirrors, sources.base_url)
    cache = download.cache_root(sources.cache_dir) / spec.name
    logger.info("%s not found in %s; downloading", remote.filename, where)
    return download.fetch(remote.filename, remote.sha256, urls, cache, sources.progress)


# ----------------------------------------------------------------------------------------
# Listing


@dataclass(frozen=True)
class DatasetInfo:
    """What ``available()`` reports for one named dataset."""

    name: str
    description: str
    image_shape: tuple[int, int, int]
    n_samples: dict[str, int]
    files: dict[str, list[str]]  # split -> file names ([] for bundled data)
    location: str  # folder(s) holding the files, or how they would be obtained
    local: bool  # True when nothing needs downloading

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "image_shape": list(self.image_shape),
            "n_samples": dict(self.n_samples),
            "files": {k: list(v) for k, v in self.files.items()},
            "location": self.location,
            "local": self.local,
        }


def available(sources: Sources = Sources()) -> list[DatasetInfo]:
    """One record per named dataset, saying where its files are (nothing is downloaded)."""
    return [_describe(spec, sources) for spec in DATASETS.values()]


def _describe(spec, sources: Sources) -> DatasetInfo:
    if isinstance(spec, DigitsDataset):
        return DatasetInfo(
            spec.name, spec.description, spec.image_shape, dict(spec.n_samples),
            {"train": [], "test": []}, "bundled with scikit-learn", True,
        )  # fmt: skip
    files = {s: [f.filename for f in pair] for s, pair in spec.files.items()}
    remotes = [f for pair in spec.files.values() for f in pair]
    found = {f.filename: locate(spec.name, f, sources) for f in remotes}
    folders = list(dict.fromkeys(str(p.parent) for p in found.values() if p is not None))
    missing = [name for name, p in found.items() if p is None]
    if not missing:
        location, local = ", ".join(folders), True
    else:
        urls = download.mirror_urls(spec.name, spec.mirrors, sources.base_url)
        off = download.offline(sources.download)
        todo = "downloads are off" if off else f"will download from {urls[0]}"
        partly = f"partly in {', '.join(folders)}; " if folders else ""
        location, local = f"{partly}not found locally ({todo})", False
    return DatasetInfo(
        spec.name, spec.description, spec.image_shape, dict(spec.n_samples), files, location, local
    )
