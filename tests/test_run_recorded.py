"""Issue 28, class 2: every entry point applies what the run recorded. A CSV run trained with
a fitted scaling (minmax, minmax-global, standard) records it (scaling.json) and its header
(columns.json); then

- rows read by encode / compress / decompress, from --data or --input, go through that
  scaling (the same codes from both, and the same as the estimator on scaled rows);
- rows written by decode / generate / decompress come back in the file's units, a .csv with
  the training CSV's header;
- a flag that selects or scales --data (--split, --max-rows, --scale, --label-column) given
  with --input is refused in one line, never ignored; segment honours --scale and
  --label-column (refusing them where they do not apply).

The instances are generated: every fitted rule x every command x every data-only flag.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import aekit
from aekit.cli import main
from aekit.datasets.scaling import Scaler

RULES = ("minmax", "minmax-global", "standard")
N_FEATURES = 5
NAMES = ["alcohol", "malic acid", "ash, total", "hue", "proline"]  # one needs CSV quoting


def _table(path, rng):
    """A labelled CSV whose columns have very different units (as wine's do)."""
    scales = np.array([1.0, 10.0, 0.1, 100.0, 1000.0])
    X = (rng.normal(size=(60, N_FEATURES)) * scales + 3 * scales).round(4)
    X = X.astype(np.float32).astype(np.float64)  # the CSV's numbers are float32's
    y = np.arange(60) % 3
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*NAMES, "label"])
        for row, label in zip(X, y):
            w.writerow([*(f"{v:.9g}" for v in row), int(label)])
    return X.astype(np.float32)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One linear run per rule, with as many components as features (so decode(encode(x))
    gives x back: a wrong scaling on either side shows as a wrong value, not as noise)."""
    root = tmp_path_factory.mktemp("recorded")
    X = _table(root / "table.csv", np.random.default_rng(0))
    np.savetxt(root / "raw.csv", X, delimiter=",", fmt="%.9g")  # numbers only, file units
    out = {}
    for rule in RULES:
        run = root / rule
        assert main(["train", "--model", "linear", "--data", str(root / "table.csv"),
                     "--label-column", "label", "--scale", rule, "--n-components",
                     str(N_FEATURES), "--split", "all", "--no-report", "--out", str(run)]) == 0
        out[rule] = run
    return root, X, out


def _scaler(run) -> Scaler:
    return Scaler.from_dict(json.loads((run / "scaling.json").read_text()))


@pytest.mark.parametrize("rule", RULES)
def test_the_run_records_its_scaling_and_header(runs, rule):
    run = runs[2][rule]
    assert _scaler(run).rule == rule
    assert json.loads((run / "columns.json").read_text()) == NAMES


@pytest.mark.parametrize("rule", RULES)
def test_encode_from_data_and_input_gives_the_estimators_codes(runs, rule, tmp_path):
    root, X, run = runs[0], runs[1], runs[2][rule]
    for source in (["--data", str(root / "table.csv"), "--split", "all"],
                   ["--input", str(root / "raw.csv")]):
        out = tmp_path / f"codes{source[0]}.npy"
        assert main(["encode", str(run), *source, "--out", str(out)]) == 0
    a, b = np.load(tmp_path / "codes--data.npy"), np.load(tmp_path / "codes--input.npy")
    expected = aekit.load(run / "model").transform(_scaler(run).apply(X))
    np.testing.assert_allclose(a, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("suffix", [".csv", ".npy"])
@pytest.mark.parametrize("rule", RULES)
def test_decode_writes_rows_in_the_files_units_with_its_header(runs, rule, suffix, tmp_path):
    root, X, run = runs[0], runs[1], runs[2][rule]
    codes, rows = tmp_path / "codes.npy", tmp_path / f"rows{suffix}"
    assert main(["encode", str(run), "--input", str(root / "raw.csv"), "--out",
                 str(codes)]) == 0
    assert main(["decode", str(run), "--codes", str(codes), "--out", str(rows)]) == 0
    if suffix == ".csv":
        with open(rows, newline="") as f:
            assert next(csv.reader(f)) == NAMES
        back = np.loadtxt(rows, delimiter=",", skiprows=1)
    else:
        back = np.load(rows)
    # exact up to float32 rounding of each column's scale (proline ~3000, ash ~0.3)
    assert (np.abs(back - X) <= 1e-3 * np.abs(X).max(axis=0)).all()


@pytest.mark.parametrize("rule", RULES)
def test_generate_writes_samples_in_the_files_units(runs, rule, tmp_path):
    X, run = runs[1], runs[2][rule]
    out = tmp_path / "samples.csv"
    assert main(["generate", str(run), "-n", "400", "--out", str(out)]) == 0
    with open(out, newline="") as f:
        assert next(csv.reader(f)) == NAMES
    samples = np.loadtxt(out, delimiter=",", skiprows=1)
    # the samples' column means are the data's (proline ~3000, ash ~0.3), not scaled values
    spread = X.std(axis=0)
    assert (np.abs(samples.mean(axis=0) - X.mean(axis=0)) < spread).all()


@pytest.mark.parametrize("rule", RULES)
def test_compress_and_decompress_apply_the_scaling_both_ways(runs, rule, tmp_path, capsys):
    root, X, run = runs[0], runs[1], runs[2][rule]
    printed = {}
    for source in (["--data", str(root / "table.csv"), "--split", "all"],
                   ["--input", str(root / "raw.csv")]):
        stream = tmp_path / f"s{source[0]}.aekz"
        capsys.readouterr()
        assert main(["compress", str(run), *source, "--quality", "90", "--out",
                     str(stream)]) == 0
        printed[source[0]] = capsys.readouterr().out.split("PSNR")[1]
    assert printed["--data"] == printed["--input"]  # the same rows, the same PSNR
    assert (tmp_path / "s--data.aekz").read_bytes() == (tmp_path / "s--input.aekz").read_bytes()
    rows = tmp_path / "rows.npy"
    assert main(["decompress", str(run), str(tmp_path / "s--input.aekz"), "--input",
                 str(root / "raw.csv"), "--out", str(rows)]) == 0
    assert printed["--input"] in capsys.readouterr().out  # PSNR against the same rows
    back = np.load(rows)
    # in the file's units: the library's decompressed rows, through the inverse scaling
    from aekit.applications import compression

    rebuilt = compression.decompress(aekit.load(run / "model"),
                                     (tmp_path / "s--input.aekz").read_bytes())
    np.testing.assert_allclose(back, _scaler(run).inverse(rebuilt), rtol=1e-6)
    if rule != "minmax-global":  # one range for all columns squeezes the small ones
        err = np.abs(back - X).mean(axis=0) / X.std(axis=0)
        assert (err < 0.5).all(), err


DATA_ONLY = [("--split", "test"), ("--max-rows", "5"), ("--scale", "minmax"),
             ("--label-column", "label")]


@pytest.mark.parametrize("flag,value", DATA_ONLY)
@pytest.mark.parametrize("command", ["encode", "compress", "decompress"])
def test_a_data_flag_with_input_is_refused(runs, command, flag, value, tmp_path, capsys):
    root, run = runs[0], runs[2]["minmax"]
    stream = tmp_path / "s.aekz"
    if command == "decompress":
        assert main(["compress", str(run), "--input", str(root / "raw.csv"), "--out",
                     str(stream)]) == 0
        argv = ["decompress", str(run), str(stream), "--out", str(tmp_path / "r.npy")]
    else:
        argv = [command, str(run), "--out",
                str(tmp_path / ("c.aekz" if command == "compress" else "c.npy"))]
    capsys.readouterr()
    assert main([*argv, "--input", str(root / "raw.csv"), flag, value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0] and "--data only" in err[0], err
    assert not (tmp_path / "c.npy").exists() and not (tmp_path / "c.aekz").exists()


def test_an_input_the_scaling_takes_beyond_float32_is_refused(runs, tmp_path, capsys):
    X, run = runs[1], runs[2]["standard"]
    huge = X.copy()
    huge[3, 2] = 3e38  # finite in float32; / ash's std (~0.1) is beyond it
    np.save(tmp_path / "huge.npy", huge)
    assert main(["encode", str(run), "--input", str(tmp_path / "huge.npy"), "--out",
                 str(tmp_path / "c.npy")]) == 2
    err = capsys.readouterr().err
    assert "row 3 (0-based)" in err and "float32" in err and "Traceback" not in err


@pytest.fixture(scope="module")
def segmenter_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("seg") / "run"
    assert main(["train", "--model", "segmenter", "--data", "scenes:digits:n=16,canvas=16",
                 "--channels", "4", "--epochs", "1", "--batch-size", "16", "--random-state",
                 "0", "--no-report", "--out", str(run)]) == 0
    return run


@pytest.mark.parametrize("flag,value", [("--scale", "minmax"), ("--label-column", "0")])
def test_segment_refuses_data_flags_that_do_not_apply(segmenter_run, flag, value, tmp_path,
                                                      capsys):
    """Once silently ignored: a scenes set is already scaled and has no label column."""
    out = tmp_path / "m.npy"
    assert main(["segment", str(segmenter_run), "--data", "scenes:digits:n=16,canvas=16",
                 flag, value, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0], err
    assert not out.exists()


def test_segment_applies_a_scale_to_an_array_file(segmenter_run, tmp_path, capsys):
    """--scale reaches segment's data: the same images as a 0..255 array give the same masks
    with --scale 255 as the scenes themselves, and other masks with --scale none refused."""
    from aekit.datasets import load

    ds = load("scenes:digits:n=16,canvas=16", split="test")
    images = np.round(ds.X.reshape(len(ds.X), *ds.image_shape) * 255).astype(np.float64)
    np.save(tmp_path / "imgs.npy", images)
    assert main(["segment", str(segmenter_run), "--data", "scenes:digits:n=16,canvas=16",
                 "--out", str(tmp_path / "ref.npy")]) == 0
    assert main(["segment", str(segmenter_run), "--data", str(tmp_path / "imgs.npy"),
                 "--split", "all", "--scale", "255", "--out", str(tmp_path / "a.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "ref.npy"))
    capsys.readouterr()
    assert main(["segment", str(segmenter_run), "--data", str(tmp_path / "imgs.npy"),
                 "--split", "all", "--scale", "none", "--out", str(tmp_path / "b.npy")]) == 2
    assert "--scale" in capsys.readouterr().err
