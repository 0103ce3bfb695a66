"""The user's own data through ``aekit.datasets.load``: .npy/.npz/.csv/IDX files and image
folders, their scaling rule, the lazy memmap contract, and every bad-data message."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from aekit.datasets import arrays, load, write_idx
from aekit.errors import ConfigError, DataError


def _named(path, problem: str) -> str:
    """A ``match=`` pattern: the message names ``path`` and states ``problem``."""
    return re.escape(str(path)) + ".*" + problem


# ----------------------------------------------------------------------------------------
# .npy and the scaling rule


def test_uint8_npy_is_divided_by_255(tmp_path):
    values = np.array([[0, 128, 255], [1, 2, 3]], dtype=np.uint8)
    np.save(tmp_path / "a.npy", values)

    ds = load(tmp_path / "a.npy")

    assert ds.X.dtype == np.float32 and ds.X.shape == (2, 3)
    np.testing.assert_allclose(ds.X, values / 255, rtol=1e-6)
    assert ds.y is None and ds.image_shape is None
    assert ds.name == "a.npy" and ds.source == str(tmp_path / "a.npy")


def test_binary_integers_are_kept_and_unit_floats_pass_through(tmp_path):
    np.save(tmp_path / "bin.npy", np.array([[0, 1], [1, 0]], dtype=np.int64))
    np.save(tmp_path / "unit.npy", np.array([[0.0, 0.25], [0.5, 1.0]]))
    np.testing.assert_array_equal(load(tmp_path / "bin.npy").X, [[0, 1], [1, 0]])
    np.testing.assert_array_equal(load(tmp_path / "unit.npy").X, [[0, 0.25], [0.5, 1]])


def test_float_outside_unit_range_needs_a_scale_option(tmp_path):
    path = tmp_path / "f.npy"
    np.save(path, np.array([[-1.0, 0.5], [3.0, 1.0]]))

    with pytest.raises(
        DataError, match=_named(path, r"values in \[-1, 3\] are outside \[0, 1\].*minmax")
    ):
        load(path)
    np.testing.assert_allclose(load(path, scale="minmax").X, [[0, 0.375], [1, 0.5]])


def test_numeric_scale_divides(tmp_path):
    path = tmp_path / "d.npy"
    np.save(path, np.array([[0, 8], [16, 4]], dtype=np.int16))
    np.testing.assert_allclose(load(path, scale=16).X, [[0, 0.5], [1, 0.25]])
    with pytest.raises(DataError, match=r"divided by 8 leave \[0, 1\]"):
        load(path, scale=8)
    with pytest.raises(ConfigError, match="positive number"):
        load(path, scale=-1)


def test_integers_above_255_or_negative_are_refused(tmp_path):
    np.save(tmp_path / "big.npy", np.array([[0, 1000]], dtype=np.int32))
    np.save(tmp_path / "neg.npy", np.array([[-3, 10]], dtype=np.int32))
    with pytest.raises(DataError, match=_named(tmp_path / "big.npy", "up to 1000, above 255")):
        load(tmp_path / "big.npy")
    with pytest.raises(DataError, match=_named(tmp_path / "neg.npy", "negative")):
        load(tmp_path / "neg.npy")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_names_the_row(tmp_path, bad):
    values = np.zeros((5, 3))
    values[3, 1] = bad
    np.save(tmp_path / "n.npy", values)
    with pytest.raises(
        DataError, match=_named(tmp_path / "n.npy", r"NaN/Inf.*row 3 \(0-based\), column 2")
    ):
        load(tmp_path / "n.npy")


@pytest.mark.parametrize(
    ("shape", "image_shape"),
    [((4, 5, 6), (1, 5, 6)), ((4, 3, 5, 6), (3, 5, 6)), ((4, 1, 5, 6), (1, 5, 6))],
)
def test_image_arrays_are_flattened_channels_first(tmp_path, shape, image_shape):
    values = np.arange(np.prod(shape)).reshape(shape) % 256
    np.save(tmp_path / "img.npy", values.astype(np.uint8))
    ds = load(tmp_path / "img.npy")
    assert ds.image_shape == image_shape
    np.testing.assert_allclose(ds.X[1].reshape(image_shape), values[1].reshape(image_shape) / 255)


def test_channels_last_images_are_transposed(tmp_path):
    values = np.random.default_rng(0).integers(0, 256, (2, 5, 6, 3), dtype=np.uint8)
    np.save(tmp_path / "hwc.npy", values)
    ds = load(tmp_path / "hwc.npy")
    assert ds.image_shape == (3, 5, 6)
    np.testing.assert_allclose(ds.X[0].reshape(3, 5, 6), values[0].transpose(2, 0, 1) / 255)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        (np.arange(5.0), r"expected \(n_samples, n_features\).*shape \(5,\)"),
        (np.zeros((0, 4)), r"no data \(array shape \(0, 4\)\)"),
        (np.array([["a", "b"]]), "expected numbers"),
        (np.zeros((2, 5, 5, 5)), "neither 1 nor 3 channels"),
    ],
    ids=["1-d", "empty", "strings", "4-d"],
)
def test_unusable_arrays(tmp_path, values, problem):
    np.save(tmp_path / "x.npy", values)
    with pytest.raises(DataError, match=_named(tmp_path / "x.npy", problem)):
        load(tmp_path / "x.npy")


def test_empty_and_corrupt_npy(tmp_path):
    (tmp_path / "empty.npy").write_bytes(b"")
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    with pytest.raises(DataError, match=_named(tmp_path / "empty.npy", "empty file")):
        load(tmp_path / "empty.npy")
    with pytest.raises(DataError, match=_named(tmp_path / "junk.npy", "not a readable .npy file")):
        load(tmp_path / "junk.npy")


def test_missing_file_and_unsupported_type(tmp_path):
    with pytest.raises(DataError, match=_named(tmp_path / "gone.npy", "no such file")):
        load(tmp_path / "gone.npy")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(
        DataError, match=_named(tmp_path / "notes.txt", "unsupported file type .txt")
    ):
        load(tmp_path / "notes.txt")


def test_option_for_another_kind_is_a_config_error(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((2, 2)))
    with pytest.raises(ConfigError, match="label_column=0 does not apply.*for csv input"):
        load(tmp_path / "a.npy", label_column=0)


def test_user_data_splits_every_fifth_sample_per_class(tmp_path):
    y = np.repeat([0, 1], 10)
    np.savez(tmp_path / "d.npz", X=np.zeros((20, 2)), y=y)

    train, test = load(tmp_path / "d.npz", split="train"), load(tmp_path / "d.npz", split="test")

    assert len(load(tmp_path / "d.npz")) == 20  # files default to the whole thing
    assert (len(train), len(test)) == (16, 4)
    assert np.bincount(test.y).tolist() == [2, 2]


# ----------------------------------------------------------------------------------------
# .npz


@pytest.mark.parametrize(("data_key", "label_key"), [("X", "y"), ("x", "labels"), ("data", None)])
def test_npz_keys(tmp_path, data_key, label_key):
    contents = {data_key: np.full((3, 2), 255, np.uint8)}
    if label_key:
        contents[label_key] = np.array([2.0, 0.0, 1.0])
    np.savez(tmp_path / "d.npz", **contents)

    ds = load(tmp_path / "d.npz")

    np.testing.assert_array_equal(ds.X, np.ones((3, 2)))
    if label_key:
        assert ds.y.dtype == np.int64 and ds.y.tolist() == [2, 0, 1]
    else:
        assert ds.y is None


def test_npz_single_array_under_any_key(tmp_path):
    np.savez(tmp_path / "d.npz", anything=np.zeros((2, 3)))
    assert load(tmp_path / "d.npz").X.shape == (2, 3)


def test_npz_problems(tmp_path):
    np.savez(tmp_path / "keys.npz", a=np.zeros((2, 2)), b=np.zeros((2, 2)))
    with pytest.raises(
        DataError, match=_named(tmp_path / "keys.npz", r"no data array.*\['a', 'b'\]")
    ):
        load(tmp_path / "keys.npz")
    np.savez(tmp_path / "count.npz", X=np.zeros((3, 2)), y=np.arange(2))
    with pytest.raises(DataError, match=_named(tmp_path / "count.npz", "2 labels for 3 samples")):
        load(tmp_path / "count.npz")
    np.savez(tmp_path / "frac.npz", X=np.zeros((2, 2)), y=np.array([0.5, 1.0]))
    with pytest.raises(DataError, match="labels must be whole numbers"):
        load(tmp_path / "frac.npz")
    (tmp_path / "zip.npz").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(DataError, match=_named(tmp_path / "zip.npz", "not a readable .npz")):
        load(tmp_path / "zip.npz")


# ----------------------------------------------------------------------------------------
# .csv


def test_csv_with_header_and_named_label_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n0,255,1\n\n51,102,0\n")

    ds = load(path, label_column="label")

    np.testing.assert_allclose(ds.X, [[0, 1], [0.2, 0.4]], rtol=1e-6)
    assert ds.y.tolist() == [1, 0] and ds.classes is None


def test_csv_without_header_and_label_index(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("3,0.5,0.25\n1,1.0,0.0\n")

    ds = load(path, label_column=0)

    np.testing.assert_array_equal(ds.X, [[0.5, 0.25], [1.0, 0.0]])
    assert ds.y.tolist() == [3, 1]


def test_csv_text_labels_become_classes(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,y,kind\n0,1,dog\n1,0,cat\n1,1,dog\n")
    ds = load(path, label_column=-1)
    assert ds.classes == ["cat", "dog"]
    assert ds.y.tolist() == [1, 0, 1]


def test_csv_semicolon_and_no_labels(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("0;1\n1;0\n")
    ds = load(path)
    assert ds.X.shape == (2, 2) and ds.y is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a,b\n1,2\n3,x\n", r"row 3, column 2: 'x' is not a number"),
        ("a,b\n1,2\n\n3,\n", r"row 4, column 2: an empty cell is not a number"),
        ("1,2\n3,4,5\n", "row 2 has 3 columns, expected 2"),
        ("a,b\n1,2\n3,nan\n", r"NaN/Inf.*row 3, column 2"),
        ("", "empty file"),
        ("\n\n", "empty file"),
        ("a,b\n", "no data rows"),
        ("a,b\n300,2\n", "above 255"),
    ],
    ids=["text-cell", "empty-cell", "ragged", "nan", "empty", "blank", "header-only", "range"],
)
def test_bad_csv(tmp_path, text, problem):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=_named(path, problem)):
        load(path)


def test_csv_label_problems(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,label\n0,1\n1,2.5\n")
    with pytest.raises(DataError, match=_named(path, "no column named 'lbl'")):
        load(path, label_column="lbl")
    with pytest.raises(
        DataError, match=_named(path, "row 3, column 2: label '2.5' is not a class")
    ):
        load(path, label_column="label")
    with pytest.raises(ConfigError, match="out of range"):
        load(path, label_column=5)


def test_csv_header_can_be_forced(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("0,1\n1,0\n")  # numeric column names look like data
    assert len(load(path, header=True)) == 1
    assert len(load(path)) == 2


# ----------------------------------------------------------------------------------------
# IDX files as user data


def test_single_idx_file(tmp_path):
    path = write_idx(tmp_path / "my-idx3-ubyte.gz", np.full((2, 3, 3), 255, np.uint8))
    ds = load(path)
    assert ds.image_shape == (1, 3, 3) and ds.X.min() == 1.0


# ----------------------------------------------------------------------------------------
# Image folders


def _png(path, size=(4, 3), mode="L", value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    color = value if mode == "L" else (value, 0, 255 - value)
    Image.new(mode, size, color).save(path)
    return path


def test_grayscale_folder_with_classes(tmp_path):
    root = tmp_path / "imgs"
    _png(root / "cat" / "1.png", value=0)
    _png(root / "cat" / "2.png", value=255)
    _png(root / "dog" / "sub" / "3.png", value=51)

    ds = load(root)

    assert ds.image_shape == (1, 3, 4)  # (C, H, W) of a 4-wide, 3-high image
    assert ds.X.shape == (3, 12) and ds.X.dtype == np.float32
    np.testing.assert_allclose(ds.X[:, 0], [0, 1, 0.2], rtol=1e-6)
    assert ds.classes == ["cat", "dog"] and ds.y.tolist() == [0, 0, 1]


def test_any_colour_image_makes_the_folder_rgb(tmp_path):
    root = tmp_path / "imgs"
    _png(root / "a" / "gray.png", value=100)
    _png(root / "b" / "colour.png", mode="RGB", value=200)

    ds = load(root)

    assert ds.image_shape == (3, 3, 4)
    image = ds.X[1].reshape(3, 3, 4)  # channels first
    np.testing.assert_allclose(image[:, 0, 0], [200 / 255, 0, 55 / 255], rtol=1e-6)
    np.testing.assert_allclose(ds.X[0].reshape(3, 3, 4)[:, 0, 0], [100 / 255] * 3, rtol=1e-6)
    assert load(root, mode="L").image_shape == (1, 3, 4)


def test_unlabelled_folder_and_jpeg(tmp_path):
    root = tmp_path / "flat"
    _png(root / "a.jpg", mode="RGB")
    _png(root / "b.JPEG", mode="RGB")
    ds = load(root, mode="RGB")
    assert ds.y is None and ds.image_shape == (3, 3, 4)


def test_images_of_different_sizes_name_both_files(tmp_path):
    root = tmp_path / "imgs"
    a = _png(root / "x" / "a.png", size=(4, 3))
    b = _png(root / "x" / "b.png", size=(5, 3))
    pattern = rf"images differ in size: {re.escape(str(a))} is 4x3 but {re.escape(str(b))} is 5x3"
    with pytest.raises(DataError, match=pattern):
        load(root)


def test_truncated_and_unreadable_images_are_named(tmp_path):
    root = tmp_path / "imgs"
    good = _png(root / "x" / "a.png", size=(64, 64))
    cut = root / "x" / "b.png"
    cut.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(DataError, match=_named(cut, "truncated or corrupt image")):
        load(root)
    cut.write_bytes(b"not an image")
    with pytest.raises(DataError, match=_named(cut, "not a readable image")):
        load(root)


def test_empty_or_mixed_folders(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(DataError, match=_named(tmp_path / "empty", "no PNG/JPEG images")):
        load(tmp_path / "empty")
    _png(tmp_path / "mixed" / "loose.png")
    _png(tmp_path / "mixed" / "cls" / "a.png")
    with pytest.raises(DataError, match="both directly in the folder"):
        load(tmp_path / "mixed")


# ----------------------------------------------------------------------------------------
# Lazy .npy (mmap=True)


def test_mmap_keeps_raw_memmap_and_batches_scale(tmp_path, monkeypatch):
    values = np.random.default_rng(0).integers(0, 256, (50, 2, 3), dtype=np.uint8)
    np.save(tmp_path / "big.npy", values)
    monkeypatch.setattr(arrays, "MMAP_BLOCK_BYTES", 60)  # many blocks in the range scan

    lazy = load(tmp_path / "big.npy", mmap=True)

    assert lazy.lazy and isinstance(lazy.X, np.memmap)
    assert lazy.X.dtype == np.uint8 and lazy.X.shape == (50, 6)
    assert lazy.scale == pytest.approx(1 / 255) and lazy.offset == 0
    assert lazy.image_shape == (1, 2, 3)
    eager = load(tmp_path / "big.npy")
    batch = lazy.batch(slice(10, 20))
    assert batch.dtype == np.float32
    np.testing.assert_allclose(batch, eager.X[10:20], rtol=1e-6)
    np.testing.assert_allclose(lazy.to_array(), eager.X, rtol=1e-6)
    np.testing.assert_array_equal(eager.batch([1, 3]), eager.X[[1, 3]])


def test_mmap_minmax_and_problems(tmp_path, monkeypatch):
    monkeypatch.setattr(arrays, "MMAP_BLOCK_BYTES", 16)
    np.save(tmp_path / "f.npy", np.linspace(-2, 2, 20).reshape(10, 2))
    lazy = load(tmp_path / "f.npy", mmap=True, scale="minmax")
    assert lazy.batch(slice(None)).min() == 0 and lazy.batch(slice(None)).max() == 1

    values = np.zeros((10, 2))
    values[7, 0] = np.nan
    np.save(tmp_path / "nan.npy", values)
    with pytest.raises(DataError, match=_named(tmp_path / "nan.npy", r"row 7 \(0-based\)")):
        load(tmp_path / "nan.npy", mmap=True)
    with pytest.raises(ConfigError, match="split='all' with mmap=True"):
        load(tmp_path / "f.npy", mmap=True, scale="minmax", split="train")
    np.save(tmp_path / "hwc.npy", np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(DataError, match="channels-first"):
        load(tmp_path / "hwc.npy", mmap=True)
