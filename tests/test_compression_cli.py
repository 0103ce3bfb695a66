"""``aekit compress`` / ``aekit decompress``: the same bytes and rows as the library, every
flag checked before any work, nothing overwritten without --force, one-line errors for
damaged streams and the wrong model."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

import aekit
from aekit.applications import compression as C

FIXTURES = Path(__file__).parent / "fixtures" / "models_v1"
X = (load_digits().data / 16.0).astype(np.float32)




@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from aekit.estimators import StackedAutoencoder

    t = tmp_path_factory.mktemp("cc")
    est = StackedAutoencoder(5, hidden_layer_sizes=(32,), epochs=8, random_state=0).fit(X[:1200])
    est.save(t / "model")
    np.save(t / "test.npy", X[1200:1300])
    np.save(t / "train.npy", X[:200])
    return t, est


def test_compress_then_decompress_matches_the_library(setup, tmp_path, run_cli):
    t, est = setup
    rows = X[1200:1300]
    code, out, err = run_cli(["compress", t / "model", "--input", t / "test.npy", "--quality", 35,
                          "--out", tmp_path / "s.aekz"])
    assert code == 0, err
    data = (tmp_path / "s.aekz").read_bytes()
    assert data == C.compress(est, rows, quality=35)
    bpp = 8 * len(data) / (100 * 64)
    X_hat = C.decompress(est, data)
    assert f"{bpp:.4f} bits per pixel" in out
    assert f"PSNR {C.psnr(rows, X_hat):.2f} dB" in out
    code, out, err = run_cli(["decompress", t / "model", tmp_path / "s.aekz", "--out",
                          tmp_path / "r.npy", "--png", tmp_path / "g.png", "--input",
                          t / "test.npy"])
    assert code == 0, err
    assert np.array_equal(np.load(tmp_path / "r.npy"), X_hat)
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"{bpp:.4f} bits per pixel" in out and f"PSNR {C.psnr(rows, X_hat):.2f} dB" in out
    # without originals: no PSNR
    code, out, _ = run_cli(["decompress", t / "model", tmp_path / "s.aekz", "--out",
                        tmp_path / "r2.csv"])
    assert code == 0 and "PSNR" not in out
    np.testing.assert_allclose(np.loadtxt(tmp_path / "r2.csv", delimiter=","), X_hat,
                               rtol=1e-6, atol=1e-7)


def test_a_run_folder_and_a_dataset_name_work(tmp_path, run_cli):
    code, _, err = run_cli(["train", "--model", "stacked", "--data", "digits", "--out",
                        tmp_path / "run", "--epochs", 2, "--n-components", 4,
                        "--hidden-layer-sizes", 16, "--no-report"])
    assert code == 0, err
    code, out, err = run_cli(["compress", tmp_path / "run", "--data", "digits", "--max-rows", 40,
                          "--out", tmp_path / "d.aekz"])
    assert code == 0, err
    model = aekit.load(tmp_path / "run")
    from aekit.datasets import load

    rows = load("digits", split="test").X[:40]
    assert (tmp_path / "d.aekz").read_bytes() == C.compress(model, rows, quality=50)
    code, out, err = run_cli(["decompress", tmp_path / "run", tmp_path / "d.aekz", "--out",
                          tmp_path / "r.npy", "--data", "digits", "--max-rows", 40])
    assert code == 0 and "PSNR" in out, err


def _fails(run_cli, argv, *words) -> str:
    code, _, err = run_cli(argv)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, (code, err)
    for w in words:
        assert re.search(w, lines[0]), (w, lines[0])
    return lines[0]


def test_flags_are_checked_before_any_work(setup, tmp_path, run_cli):
    t, _ = setup
    base = ["compress", t / "model", "--input", t / "test.npy"]
    for q in ("0", "101", "abc", "50.5"):
        _fails(run_cli, [*base, "--quality", q, "--out", tmp_path / "x.aekz"], "--quality")
    _fails(run_cli, [*base, "--out", tmp_path / "x.bin"], "--out", "aekz")
    _fails(run_cli, ["compress", t / "model", "--out", tmp_path / "x.aekz"], "--data", "--input")
    _fails(run_cli, [*base, "--out", tmp_path / "x.aekz", "--data", "digits"], "--data", "--input")
    _fails(run_cli, ["compress", tmp_path / "nope", "--input", t / "test.npy", "--out",
            tmp_path / "x.aekz"], "nope")
    assert not list(tmp_path.iterdir())  # nothing written by a refused command


def test_outputs_are_never_overwritten_without_force(setup, tmp_path, run_cli):
    t, _ = setup
    target = tmp_path / "s.aekz"
    target.write_bytes(b"mine")
    argv = ["compress", t / "model", "--input", t / "test.npy", "--out", target]
    _fails(run_cli, argv, "exists", "--force")
    assert target.read_bytes() == b"mine"
    assert run_cli([*argv, "--force"])[0] == 0
    stream = tmp_path / "s.aekz"
    out = tmp_path / "r.npy"
    out.write_bytes(b"mine too")
    _fails(run_cli, ["decompress", t / "model", stream, "--out", out], "exists")
    assert out.read_bytes() == b"mine too"
    _fails(run_cli, ["decompress", t / "model", stream, "--out", tmp_path / "new.npy",
            "--png", stream.with_suffix(".png").as_posix() + "x"], "--png")
    _fails(run_cli, ["decompress", t / "model", stream, "--out", tmp_path / "s.npy",
            "--png", out], "--png")
    assert out.read_bytes() == b"mine too"
    assert not (tmp_path / "new.npy").exists() and not (tmp_path / "s.npy").exists()


def test_damaged_foreign_and_missing_streams_are_one_line_errors(setup, tmp_path, run_cli):
    t, est = setup
    data = C.compress(est, X[1200:1300], quality=30)
    cases = {"trunc.aekz": data[:-5], "flip.aekz": data[:40] + bytes([data[40] ^ 1])
             + data[41:], "png.aekz": b"\x89PNG\r\n\x1a\n" + bytes(60), "empty.aekz": b""}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        _fails(run_cli, ["decompress", t / "model", tmp_path / name, "--out", tmp_path / "r.npy"],
               "STREAM", name)
    _fails(run_cli, ["decompress", t / "model", tmp_path / "missing.aekz", "--out",
            tmp_path / "r.npy"], "no such file")
    (tmp_path / "ok.aekz").write_bytes(data)
    other = aekit.load(FIXTURES / "stacked")
    other_dir = tmp_path / "other"
    shutil.copytree(FIXTURES / "stacked", other_dir)
    _fails(run_cli, ["decompress", other_dir, tmp_path / "ok.aekz", "--out", tmp_path / "r.npy",
            "--fit-data", t / "train.npy"], "another model")
    assert other.fitted_.entropy is None
    _fails(run_cli, ["decompress", t / "model", tmp_path / "ok.aekz", "--out", tmp_path / "r.npy",
            "--input", t / "train.npy"], "originals have 200 rows", "100")
    assert not (tmp_path / "r.npy").exists()


def test_an_old_model_folder_needs_and_takes_fit_data(setup, tmp_path, run_cli):
    t, _ = setup
    folder = FIXTURES / "stacked"
    _fails(run_cli, ["compress", folder, "--input", t / "test.npy", "--out", tmp_path / "a.aekz"],
           "fit-data|X_fit")
    argv = ["compress", folder, "--input", t / "test.npy", "--out", tmp_path / "a.aekz",
            "--fit-data", t / "train.npy"]
    assert run_cli(argv)[0] == 0
    from aekit.datasets import load

    fit_rows = load(str(t / "train.npy"), split="train").X
    model = aekit.load(folder)
    data = (tmp_path / "a.aekz").read_bytes()
    assert data == C.compress(model, X[1200:1300], quality=50, X_fit=fit_rows)
    code, _, err = run_cli(["decompress", folder, tmp_path / "a.aekz", "--out", tmp_path / "r.npy",
                        "--fit-data", t / "train.npy"])
    assert code == 0, err
    assert np.array_equal(np.load(tmp_path / "r.npy"),
                          C.decompress(model, data, X_fit=fit_rows))
