"""Fail before training, never after it (class 8 of the reliability issue, second round).

Every check that can fail after training (rows for the splits, the evaluation rows, the
metrics' and the report's minimum rows, the report's image figures) runs before training
starts, with one line naming the option or the file, and leaves nothing behind; a report
on rows that are not images leaves the image figures out instead of failing; --input and
--codes arrays with no rows or no numbers are refused in one line.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

from aekit.cli import main
from aekit.errors import ConfigError, DataError

RNG = np.random.default_rng(0)
X = RNG.random((40, 16)).astype(np.float32)
TRAIN = ["train", "--model", "stacked", "--epochs", "1", "--hidden-layer-sizes", "8",
         "--n-components", "2"]


def run_cli(argv) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code
    return code, err.getvalue()


@pytest.fixture
def fits(monkeypatch) -> list:
    """Records every estimator fit (training) the command starts."""
    from aekit.estimators.base import BaseAutoencoder

    calls, original = [], BaseAutoencoder.fit

    def fit(self, *args, **kwargs):
        calls.append(type(self).__name__)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BaseAutoencoder, "fit", fit)
    return calls


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    from aekit.estimators import StackedAutoencoder

    path = tmp_path_factory.mktemp("model") / "model"
    StackedAutoencoder(2, hidden_layer_sizes=(8,), epochs=1, random_state=0).fit(X).save(path)
    return path


def _assert_failed_before_training(code, err, out: Path, fits: list, *names):
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert any(n in lines[0] for n in names), f"{lines[0]!r} names none of {names}"
    assert fits == [], "the command trained before it failed"
    assert not out.exists(), "a failed fresh run left its folder"


# --- rows: a space of row counts ---------------------------------------------------------
def _expected(n: int, split: str, report: bool) -> bool:
    """Whether `aekit train` on n rows succeeds: at least 2 training rows, a non-empty
    test split when training on 'train' (every 5th row of a file), and, for the report,
    at least 3 evaluation rows."""
    train, test = (n - n // 5, n // 5) if split == "train" else (n, n)
    return train >= 2 and test >= 1 and (not report or test >= 3)


@pytest.mark.parametrize("report", [False, True], ids=["no-report", "report"])
@pytest.mark.parametrize("split", ["train", "all"])
@pytest.mark.parametrize("n", range(6))
def test_train_checks_the_rows_before_training(tmp_path, fits, n, split, report):
    data = tmp_path / f"rows{n}.npy"
    np.save(data, X[:n])
    out = tmp_path / "run"
    argv = [*TRAIN, "--data", data, "--split", split, "--out", out]
    code, err = run_cli(argv + ([] if report else ["--no-report"]))
    if _expected(n, split, report):
        assert code == 0, err
        assert fits == ["StackedAutoencoder"] and (out / "metrics.json").is_file()
        assert (out / "report" / "index.html").is_file() == report
    else:
        _assert_failed_before_training(code, err, out, fits, "--data", str(data))
        assert sorted(os.listdir(tmp_path)) == [data.name]


def test_a_file_too_small_for_a_test_split_says_what_to_do(tmp_path, fits):
    np.save(tmp_path / "four.npy", X[:4])
    code, err = run_cli([*TRAIN, "--no-report", "--data", tmp_path / "four.npy", "--out",
                         tmp_path / "run"])
    _assert_failed_before_training(code, err, tmp_path / "run", fits, "four.npy")
    assert "--split all" in err and "--split test" not in err  # never a flag not given


@pytest.mark.parametrize("argv, names", [
    (["--data", "digits", "--max-rows", "1"], ["--max-rows"]),
    (["--data", "digits", "--eval-rows", "2"], ["--eval-rows"]),
    (["--data", "digits", "--max-rows", "4", "--validation-fraction", "0.9"],
     ["validation_fraction"]),
], ids=["max-rows", "eval-rows", "validation-fraction"])
def test_train_option_checks_run_before_training(tmp_path, fits, argv, names):
    out = tmp_path / "run"
    code, err = run_cli([*TRAIN, *argv, "--out", out])
    _assert_failed_before_training(code, err, out, fits, *names)


def test_max_rows_one_fails_early_with_and_without_report(tmp_path, fits):
    for extra in ([], ["--no-report"]):
        code, err = run_cli([*TRAIN, "--data", "digits", "--max-rows", "1", *extra, "--out",
                             tmp_path / "run"])
        _assert_failed_before_training(code, err, tmp_path / "run", fits, "--max-rows")


# --- reports on rows that are not images -------------------------------------------------
def _tabular_csv(path: Path, n=40, d=5) -> Path:
    rows = RNG.random((n, d))
    path.write_text(",".join("abcdefgh"[:d]) + "\n"
                    + "".join(",".join(f"{v:.4f}" for v in r) + "\n" for r in rows))
    return path


def test_train_default_report_on_tabular_data(tmp_path):
    data = _tabular_csv(tmp_path / "tab.csv")
    out = tmp_path / "run"
    code, err = run_cli([*TRAIN, "--data", data, "--out", out])
    assert code == 0, err
    html = (out / "report" / "index.html").read_text()
    assert "are not images" in html and "Anomaly scores" in html and "Denoising" in html
    figures = sorted(p.name for p in (out / "report" / "figures").iterdir())
    assert not [f for f in figures if any(w in f for w in ("reconstruction", "generated",
                                                          "interpolation", "inpainting"))]


def test_report_command_on_tabular_data(tmp_path):
    from aekit.datasets import load
    from aekit.estimators import StackedAutoencoder

    data = _tabular_csv(tmp_path / "tab.csv")
    StackedAutoencoder(2, hidden_layer_sizes=(4,), epochs=1, random_state=0).fit(
        load(data).X).save(tmp_path / "m")
    code, err = run_cli(["report", tmp_path / "m", "--data", data, "--split", "all", "--out",
                         tmp_path / "rep"])
    assert code == 0, err
    assert "are not images" in (tmp_path / "rep" / "index.html").read_text()


@pytest.fixture(scope="module")
def tabular_model():
    from aekit.estimators import StackedAutoencoder, VariationalAutoencoder

    Xt = RNG.random((30, 5)).astype(np.float32)
    return Xt, {
        "stacked": StackedAutoencoder(2, hidden_layer_sizes=(4,), epochs=1,
                                      random_state=0).fit(Xt),
        "vae": VariationalAutoencoder(2, hidden_layer_sizes=(4,), epochs=1,
                                      random_state=0).fit(Xt)}


@pytest.mark.parametrize("kind", ["stacked", "vae"])
def test_report_without_image_shape_leaves_out_image_figures(tabular_model, kind):
    from aekit.report import build_report

    Xt, models = tabular_model
    y = np.arange(30) % 3
    r = build_report(models[kind], Xt[:20], Xt[20:], y_train=y[:20], y_test=y[20:],
                     iw_samples=3)
    titles = [s.title for s in r.sections]
    for title in ("Configuration", "Metrics on the test set", "Reconstructions", "Denoising",
                  "Anomaly scores", "Codes in two dimensions"):
        assert title in titles
    for title in ("Generated samples", "Interpolation and averaging", "Inpainting",
                  "Latent grid", "Latent traversals"):
        assert title not in titles
    config = r.sections[0]
    notes = [i.text for i in config.items if hasattr(i, "text")]
    assert len(notes) == 1 and "not images" in notes[0]
    assert [f.name for f in r.figures()] == ["fig01-codes-in-two-dimensions",
                                             "fig02-anomaly-scores"]
    assert "linear_probe" in r.results["model"]


def test_report_with_a_square_width_still_draws_images(model_dir):
    from aekit import load
    from aekit.report import build_report

    r = build_report(load(model_dir), X[:20], X[20:])
    assert "Inpainting" in [s.title for s in r.sections]
    assert not [i for i in r.sections[0].items if hasattr(i, "text")]


def test_report_with_a_wrong_explicit_image_shape_is_an_error(tabular_model):
    from aekit.report import build_report

    Xt, models = tabular_model
    for shape in ((1, 2), (3,)):
        with pytest.raises((ConfigError, DataError), match="image_shape"):
            build_report(models["stacked"], Xt[:20], Xt[20:], image_shape=shape)


@pytest.mark.parametrize("n_train, n_test", [(a, b) for a in range(4) for b in range(5)])
def test_report_row_minimums(tabular_model, n_train, n_test):
    from aekit.report import build_report
    from aekit.report.build import MIN_TEST_ROWS, MIN_TRAIN_ROWS

    Xt, models = tabular_model
    if n_train >= MIN_TRAIN_ROWS and n_test >= MIN_TEST_ROWS:
        build_report(models["stacked"], Xt[:n_train], Xt[20:20 + n_test])
    else:
        with pytest.raises(DataError, match="the report needs at least"):
            build_report(models["stacked"], Xt[:n_train], Xt[20:20 + n_test])


def test_one_class_of_labels_leaves_the_probes_out(tmp_path, tabular_model):
    from aekit.report import build_report

    Xt, models = tabular_model
    r = build_report(models["stacked"], Xt[:20], Xt[20:], y_train=np.zeros(20),
                     y_test=np.zeros(10))
    assert "linear_probe" not in r.results["model"]
    np.savez(tmp_path / "one.npz", X=X, y=np.zeros(len(X), dtype=np.int64))
    code, err = run_cli([*TRAIN, "--data", tmp_path / "one.npz", "--out", tmp_path / "run"])
    assert code == 0, err
    assert "linear_probe" not in json.loads((tmp_path / "run" / "metrics.json").read_text())[
        "model"]


@pytest.mark.parametrize("command", ["report", "evaluate"])
@pytest.mark.parametrize("n", [1, 2])
def test_report_and_evaluate_refuse_too_few_rows_in_one_line(tmp_path, model_dir, command, n):
    np.save(tmp_path / "few.npy", X[:n])
    argv = [command, model_dir, "--data", tmp_path / "few.npy", "--split", "all"]
    argv += ["--out", tmp_path / "rep"] if command == "report" else []
    code, err = run_cli(argv)
    if command == "evaluate" and n == 2:
        assert code == 0, err
        return
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "--data" in err and "few.npy" in err
    assert not (tmp_path / "rep").exists()


def test_evaluate_default_split_of_a_tiny_file_names_the_fix(tmp_path, model_dir):
    np.save(tmp_path / "four.npy", X[:4])
    code, err = run_cli(["evaluate", model_dir, "--data", tmp_path / "four.npy"])
    assert code == 2 and "--split all" in err and len(err.strip().splitlines()) == 1, err


# --- --input / --codes arrays: rows and dtypes -------------------------------------------
def _write_bad(path: Path, kind: str, width: int) -> Path:
    if kind == "empty-file":
        path.write_bytes(b"")
    elif kind == "npz-as-npy":
        with open(path, "wb") as f:
            np.savez(f, X=np.zeros((2, width)))
    elif kind == "garbage-bytes":
        path.write_bytes(b"\x93NUMPY\x01\x00garbage")
    else:
        arrays = {
            "0-rows": np.zeros((0, width), np.float32),
            "0-values": np.zeros((3, 0), np.float32),
            "strings": np.array([["a"] * width, ["b"] * width]),
            "bytes": np.array([[b"1"] * width]),
            "objects": np.array([[1.0] * width], dtype=object),
            "complex": np.ones((2, width), np.complex64),
            "structured": np.zeros(2, dtype=[("a", "f4"), ("b", "f4")]),
            "datetimes": np.array([["2024-01-01"] * width], dtype="datetime64[D]"),
            "3-d": np.zeros((2, 1, width), np.float32),
            "nan": np.full((2, width), np.nan, np.float32),
            "too-large": np.full((2, width), 1e300),
        }
        np.save(path, arrays[kind], allow_pickle=True)
    return path


BAD_ARRAYS = ["0-rows", "0-values", "strings", "bytes", "objects", "complex", "structured",
              "datetimes", "3-d", "nan", "too-large", "empty-file", "npz-as-npy",
              "garbage-bytes"]


@pytest.mark.parametrize("kind", BAD_ARRAYS)
@pytest.mark.parametrize("command", ["encode", "decode"])
def test_bad_input_arrays_are_one_line(tmp_path, model_dir, command, kind):
    option = "--input" if command == "encode" else "--codes"
    bad = _write_bad(tmp_path / "bad.npy", kind, 16 if command == "encode" else 2)
    out = tmp_path / "out.npy"
    code, err = run_cli([command, model_dir, option, bad, "--out", out])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert f"{option} {bad}" in lines[0], lines[0]
    assert not out.exists()


@pytest.mark.parametrize("text", ["", "\n", "a,b\n", "1,2\n3\n", "1,x\n"],
                         ids=["empty", "blank", "header-only", "ragged", "text"])
def test_bad_csv_codes_are_one_line(tmp_path, model_dir, text):
    (tmp_path / "c.csv").write_text(text)
    code, err = run_cli(["decode", model_dir, "--codes", tmp_path / "c.csv", "--out",
                         tmp_path / "o.npy"])
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "--codes" in err and not (tmp_path / "o.npy").exists()


def test_good_arrays_still_work(tmp_path, model_dir):
    np.save(tmp_path / "rows.npy", X[:3].astype(np.float64))
    np.save(tmp_path / "one.npy", X[0])  # one row as a 1-D array
    for name in ("rows.npy", "one.npy"):
        code, err = run_cli(["encode", model_dir, "--input", tmp_path / name, "--out",
                             tmp_path / f"codes-{name}"])
        assert code == 0, err
    assert np.load(tmp_path / "codes-one.npy").shape == (1, 2)
