"""Named datasets: digits, the real Fashion-MNIST from Debian's package, IDX pairs that do
not belong together, ``available()`` and the ``aekit datasets`` command."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import numpy as np
import pytest

from aekit.cli import main
from aekit.datasets import available, download, load, names, registry, write_idx
from aekit.errors import ConfigError, DataError

SYSTEM_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $AEKIT_DATA, an empty cache, and no network at all."""
    for var in (registry.ENV_DATA, download.ENV_MIRROR, download.ENV_OFFLINE):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(download.ENV_CACHE, str(tmp_path / "cache"))

    def no_network(*args, **kwargs):
        raise AssertionError("a test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    return tmp_path


def test_names():
    assert names() == ["digits", "fashion-mnist", "mnist"]


def test_digits_split_is_deterministic_stratified_and_complete(isolated):
    train, test, whole = load("Digits"), load("digits", split="test"), load("digits", split=None)

    assert whole.X.shape == (1797, 64) and whole.X.dtype == np.float32
    assert whole.X.min() == 0 and whole.X.max() == 1  # 0..16 / 16
    assert whole.image_shape == (1, 8, 8) and whole.y.dtype == np.int64
    assert (len(train), len(test)) == (1442, 355)
    assert len(train) + len(test) == len(whole)
    counts = np.bincount(test.y) / np.bincount(whole.y)
    assert np.all((counts > 0.18) & (counts < 0.21))  # every 5th of each class
    # The split is a fixed rule (no random draw): test rows are every 5th of each class.
    np.testing.assert_array_equal(test.X[test.y == 3][0], whole.X[whole.y == 3][4])


def test_unknown_name_lists_valid_names(isolated):
    with pytest.raises(
        DataError, match="unknown dataset 'fasion-mnist'.*digits, fashion-mnist, mnist"
    ):
        load("fasion-mnist")


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        (dict(split="validation"), "split='validation' is not one of"),
        (dict(mmap=True), "mmap=True does not apply to digits"),
        (dict(scale="minmax"), "scale='minmax' does not apply to digits"),
    ],
)
def test_bad_options(isolated, kwargs, problem):
    with pytest.raises(ConfigError, match=problem):
        load("digits", **kwargs)


@pytest.mark.skipif(
    not SYSTEM_FASHION.is_dir(),
    reason="Debian's dataset-fashion-mnist is not installed (/usr/share/datasets/fashion-mnist)",
)
def test_fashion_mnist_from_the_system_copy(isolated):
    train = load("fashion-mnist", split="train")
    test = load("fashion_mnist", split="test")

    assert train.X.shape == (60000, 784) and train.X.dtype == np.float32
    assert train.X.min() == 0.0 and train.X.max() == 1.0
    assert train.y.shape == (60000,) and train.y.dtype == np.int64
    assert set(np.unique(train.y)) == set(range(10))
    assert test.X.shape == (10000, 784) and test.y.shape == (10000,)
    assert train.image_shape == (1, 28, 28)
    assert train.source == str(SYSTEM_FASHION)
    assert train.classes[train.y[0]] == "Ankle boot"  # the published first label, 9


def _idx_pair(folder: Path, n_images: int, n_labels: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros((n_images, 28, 28), np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(n_labels, np.uint8))


def test_images_and_labels_count_mismatch_names_both_files(isolated, monkeypatch):
    folder = isolated / "data" / "mnist"
    _idx_pair(folder, n_images=5, n_labels=4)
    monkeypatch.setenv(registry.ENV_DATA, str(isolated / "data"))

    images = re.escape(str(folder / "train-images-idx3-ubyte.gz"))
    labels = re.escape(str(folder / "train-labels-idx1-ubyte.gz"))
    with pytest.raises(DataError, match=f"5 images in {images} but 4 labels in {labels}"):
        load("mnist")


def test_labels_file_in_place_of_images(isolated, monkeypatch):
    folder = isolated / "data"
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros(3, np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(DataError, match=r"expected \(n, height, width\) ubyte images"):
        load("mnist", data_dir=folder)


def test_available_reports_found_and_missing(isolated, monkeypatch):
    monkeypatch.setattr(registry, "SYSTEM_DATA_DIR", isolated / "system")
    _idx_pair(isolated / "system" / "fashion-mnist", 2, 2)

    records = {r.name: r for r in available(base_url="http://mirror.example/")}

    assert records["digits"].local and records["digits"].location == "bundled with scikit-learn"
    fashion = records["fashion-mnist"]
    assert not fashion.local  # the test split is missing
    assert fashion.location.startswith(f"partly in {isolated / 'system' / 'fashion-mnist'}")
    assert (
        records["mnist"].location == "not found locally (will download from http://mirror.example/)"
    )
    assert fashion.files["train"] == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    monkeypatch.setenv(download.ENV_OFFLINE, "1")
    assert "downloads are off" in {r.name: r for r in available()}["mnist"].location


def test_cli_prints_table_and_json(isolated, monkeypatch, capsys):
    monkeypatch.setattr(registry, "SYSTEM_DATA_DIR", isolated / "system")
    data = isolated / "data"
    for split in ("train", "t10k"):
        data.mkdir(exist_ok=True)
        for kind in ("images-idx3", "labels-idx1"):
            (data / f"{split}-{kind}-ubyte.gz").write_bytes(b"")  # presence is enough here

    assert main(["datasets", "--data-dir", str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "TRAIN", "TEST", "SHAPE", "LOCATION"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"digits", "fashion-mnist", "mnist"}
    assert rows["mnist"].split()[1:5] == ["60000", "10000", "1x28x28", str(data)]

    assert main(["datasets", "--json"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in parsed] == ["digits", "fashion-mnist", "mnist"]
    assert parsed[1]["local"] is False


def test_subpackages_and_estimators_are_reachable_from_the_top_level():
    """`import aekit` then `aekit.datasets.load(...)`, as the README shows."""
    import aekit

    assert aekit.datasets.load("digits").X.shape[1] == 64
    assert aekit.StackedAutoencoder is aekit.estimators.StackedAutoencoder
    with pytest.raises(AttributeError):
        aekit.no_such_thing  # noqa: B018
