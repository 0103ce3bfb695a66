"""The user's own data through ``aekit.datasets.load``: .npy/.npz/.csv/IDX files and image
folders, their scaling rule, the lazy memmap contract, and every bad-data message."""

from __future__ import annotations

import json
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
    # per feature: each column on its own range; minmax-global: one range for all values
    np.testing.assert_allclose(load(path, scale="minmax").X, [[0, 0], [1, 1]])
    np.testing.assert_allclose(load(path, scale="minmax-global").X, [[0, 0.375], [1, 0.5]])


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
    with pytest.raises(DataError, match=_named(path, "label_column='lbl': no column of that name")):
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
    train = load(tmp_path / "f.npy", mmap=True, scale="minmax", split="train")
    assert len(train) == 8 and train.rows.tolist() == [0, 1, 2, 3, 5, 6, 7, 8]
    np.testing.assert_array_equal(train.to_array(),
                                  load(tmp_path / "f.npy", scale="minmax", split="train").X)

    values = np.zeros((10, 2))
    values[7, 0] = np.nan
    np.save(tmp_path / "nan.npy", values)
    with pytest.raises(DataError, match=_named(tmp_path / "nan.npy", r"row 7 \(0-based\)")):
        load(tmp_path / "nan.npy", mmap=True)
    np.save(tmp_path / "hwc.npy", np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(DataError, match="channels-first"):
        load(tmp_path / "hwc.npy", mmap=True)


# ----------------------------------------------------------------------------------------
# Scaling per feature (issue 13): minmax / standard per column, fitted on the training rows
# and recorded, so other data of the same run is scaled the same way.


def _wine_csv(path, name="wine"):
    """scikit-learn's wine (or breast-cancer) set as a CSV with a header and a text label."""
    from sklearn.datasets import load_breast_cancer, load_wine

    bunch = load_wine() if name == "wine" else load_breast_cancer()
    names = [n.replace(",", " ") for n in bunch.feature_names]
    lines = [",".join([*names, "kind"])]
    lines += [",".join([*(f"{v:.6g}" for v in row), f"c{c}"])
              for row, c in zip(bunch.data, bunch.target)]
    path.write_text("\n".join(lines) + "\n")
    values = np.array([[float(f"{v:.6g}") for v in row] for row in bunch.data])
    return values, bunch.target


def test_minmax_is_per_feature_where_one_global_range_squeezes_the_columns(tmp_path):
    values, _ = _wine_csv(tmp_path / "wine.csv")
    glob = load(tmp_path / "wine.csv", label_column="kind", scale="minmax-global")
    per = load(tmp_path / "wine.csv", label_column="kind", scale="minmax")
    # the observation: one range for the whole array (proline reaches 1680)
    # leaves 12 of the 13 columns inside [0, 0.1]
    assert int((glob.X.max(axis=0) <= 0.1).sum()) == 12
    np.testing.assert_allclose(per.X.min(axis=0), 0)
    np.testing.assert_allclose(per.X.max(axis=0), 1)
    assert per.scaler.rule == "minmax" and per.scaler.per_feature
    assert per.classes == ["c0", "c1", "c2"]


@pytest.mark.parametrize("rule", ["minmax", "standard"])
def test_per_feature_rules_match_scikit_learn_fitted_on_the_train_rows(tmp_path, rule):
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    from aekit.datasets.dataset import holdout_mask

    values, target = _wine_csv(tmp_path / "wine.csv")
    train = load(tmp_path / "wine.csv", label_column="kind", scale=rule, split="train")
    test = load(tmp_path / "wine.csv", label_column="kind", scale=rule, split="test")
    held = holdout_mask(len(values), target)
    ref = (MinMaxScaler() if rule == "minmax" else StandardScaler()).fit(values[~held])
    np.testing.assert_allclose(train.X, ref.transform(values[~held]), rtol=1e-5, atol=1e-6)
    # the test split gets the train rows' parameters, unclipped
    np.testing.assert_allclose(test.X, ref.transform(values[held]), rtol=1e-5, atol=1e-6)
    assert train.scaler.fitted_rows == int((~held).sum())
    # a fitted scaler applied to other data gives the same numbers as the split
    again = load(tmp_path / "wine.csv", label_column="kind", scale=train.scaler, split="test")
    np.testing.assert_array_equal(again.X, test.X)


def test_scaler_record_round_trips_and_malformed_records_are_refused(tmp_path):
    from aekit.datasets import Scaler

    _wine_csv(tmp_path / "wine.csv")
    ds = load(tmp_path / "wine.csv", label_column="kind", scale="standard")
    back = Scaler.from_dict(json.loads(json.dumps(ds.scaler.to_dict())))
    np.testing.assert_array_equal(back.apply(np.ones((2, 13))), ds.scaler.apply(np.ones((2, 13))))
    with pytest.raises(DataError, match="scaling.json: not a valid scaling record"):
        Scaler.from_dict({"rule": "standard", "offset": [0, 1], "factor": [1]}, "scaling.json")
    np.save(tmp_path / "x.npy", np.ones((4, 3)))
    with pytest.raises(DataError, match=r"3 features, but the scaling .* has 13"):
        load(tmp_path / "x.npy", scale=ds.scaler)


@pytest.mark.parametrize("rule", ["minmax", "standard", "minmax-global", 800])
@pytest.mark.parametrize("split", ["all", "train", "test"])
def test_memory_mapped_files_are_scaled_like_loaded_ones(tmp_path, monkeypatch, rule, split):
    monkeypatch.setattr(arrays, "MMAP_BLOCK_BYTES", 64)  # many blocks in the scan
    values = np.random.default_rng(0).integers(0, 9, (23, 4)) * [1, 10, 100, 1]
    np.save(tmp_path / "v.npy", values.astype(np.int16))
    lazy = load(tmp_path / "v.npy", mmap=True, scale=rule, split=split)
    eager = load(tmp_path / "v.npy", scale=rule, split=split)
    assert lazy.lazy and len(lazy) == len(eager)
    np.testing.assert_array_equal(lazy.to_array(), eager.X)  # bit for bit
    np.testing.assert_array_equal(lazy.batch([2, 0]), eager.X[[2, 0]])


def test_unknown_scale_rules_are_config_errors(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((4, 3)))
    with pytest.raises(ConfigError, match="scale='zscore' is not one of .*standard"):
        load(tmp_path / "x.npy", scale="zscore")


# ----------------------------------------------------------------------------------------
# The command line: --scale and --label-column, checked before any work, in the flags' words


def _cli(capsys, *argv):
    from aekit.cli import main

    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(("argv", "message"), [
    (["--scale", "zscore"], "argument --scale: 'zscore' is not one of"),
    (["--scale", "-2"], "argument --scale: .*must be a positive number"),
    (["--label-column", "kinds"], "--label-column 'kinds': no column of that name"),
    (["--label-column", "40"], "--label-column 40 is out of range"),
    (["--label-column", "kind"],
     r"outside \[0, 1\]; rescale with --scale 'minmax' or --scale 'standard'"),
])
def test_cli_data_options_are_validated_before_training_and_named(tmp_path, capsys, argv,
                                                                   message):
    _wine_csv(tmp_path / "wine.csv")
    code, out, err = _cli(capsys, "train", "--model", "linear", "--data",
                          str(tmp_path / "wine.csv"), "--out", str(tmp_path / "run"), *argv)
    assert code == 2 and re.search(message, err), err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_cli_scale_and_label_column_refused_where_they_do_not_apply(tmp_path, capsys):
    code, _, err = _cli(capsys, "train", "--model", "linear", "--data", "digits",
                        "--scale", "standard", "--out", str(tmp_path / "run"))
    assert code == 2 and "--scale 'standard' does not apply to digits" in err
    np.save(tmp_path / "x.npy", np.ones((10, 3)))
    code, _, err = _cli(capsys, "train", "--model", "linear", "--data",
                        str(tmp_path / "x.npy"), "--label-column", "0",
                        "--out", str(tmp_path / "run"))
    assert code == 2 and "--label-column 0 does not apply" in err


@pytest.mark.slow
@pytest.mark.parametrize("name", ["wine", "breast-cancer"])
def test_tabular_csv_trains_evaluates_and_reports_with_the_defaults(tmp_path, capsys, name,
                                                                    one_thread):
    """A standardised CSV end to end through aekit train with the estimator's defaults
    (only epochs shortened): the CLI's model equals the estimator fitted in Python on the
    same rows, the saved folder reproduces it, aekit evaluate on the run prints the same
    test MSE as the train summary, and the report keeps every section but the image ones."""
    import aekit
    from aekit import StackedAutoencoder

    _wine_csv(tmp_path / "t.csv", name)
    run = tmp_path / "run"
    code, out, err = _cli(capsys, "train", "--model", "stacked", "--data",
                          str(tmp_path / "t.csv"), "--label-column", "kind", "--scale",
                          "standard", "--epochs", "15", "--random-state", "0", "--out",
                          str(run))
    assert code == 0, err
    metrics = json.loads((run / "metrics.json").read_text())
    scaling = json.loads((run / "scaling.json").read_text())
    assert scaling["rule"] == "standard"

    # estimator entry point: same rows, same defaults -> the same model and numbers
    train = load(tmp_path / "t.csv", label_column="kind", scale="standard", split="train")
    test = load(tmp_path / "t.csv", label_column="kind", scale="standard", split="test")
    assert len(scaling["offset"]) == len(scaling["factor"]) == train.n_features
    est = StackedAutoencoder(epochs=15, random_state=0).fit(train.X)
    assert est.output_activation_ == "linear"  # standardised data leaves [0, 1]
    mse = float(np.mean((est.reconstruct(test.X).astype(np.float64) - test.X) ** 2))
    assert metrics["model"]["mse"] == pytest.approx(mse, rel=1e-6)
    assert metrics["eval_rows"] == len(test)
    # saved folder entry point
    saved = aekit.load(run / "model")
    np.testing.assert_array_equal(saved.transform(test.X), est.transform(test.X))
    # evaluate on the run: the run's fitted scaling and label column are applied
    code, out, err = _cli(capsys, "evaluate", str(run), "--data", str(tmp_path / "t.csv"),
                          "--json")
    assert code == 0, err
    assert json.loads(out)["model"]["mse"] == metrics["model"]["mse"]
    # report: the image figures are left out, the rest is there, no raw None in tables
    html = (run / "report" / "index.html").read_text()
    assert "Reconstructions" in html and "Anomaly scores" in html
    assert "fig" in html and "reconstructions.png" not in html
    assert ">None<" not in html
