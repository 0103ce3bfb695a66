"""The CLI's side of the seam matrix: model kind x data source x subcommand.

Each run is trained by ``aekit train`` and then used by every subcommand that applies; the
numbers the CLI writes equal the ones the saved estimator computes in Python (bit for bit:
both go through the same fitted model). The full product is ``slow``; a fast row covers
each data source and each model kind once.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import aekit
from aekit import evaluation as ev
from aekit.cli import main
from aekit.datasets import load

KINDS = {
    "linear": ["--model", "linear", "--n-components", "3"],
    "stacked": ["--model", "stacked", "--n-components", "3", "--hidden-layer-sizes", "8"],
    "tied": ["--model", "stacked", "--n-components", "3", "--hidden-layer-sizes", "8",
             "--tied", "--sampler", "uniform"],
    "conv-transpose": ["--model", "conv", "--channels", "2,2", "--n-components", "3"],
    "conv-upsample": ["--model", "conv", "--channels", "2,2", "--n-components", "3",
                      "--decoder", "upsample"],
    "conv-unpool": ["--model", "conv", "--channels", "2,2", "--decoder", "unpool"],
    "vae-dense": ["--model", "vae", "--n-components", "2", "--hidden-layer-sizes", "8"],
    "vae-conv": ["--model", "vae", "--n-components", "2", "--architecture", "conv",
                 "--channels", "2,2"],
}
SOURCES = ("npy-square", "npy-padded", "npy-images", "rgb-folder", "csv")
FAST = {("conv-unpool", "rgb-folder"), ("stacked", "csv"), ("vae-conv", "npy-padded"),
        ("conv-transpose", "npy-images"), ("tied", "npy-square"), ("linear", "csv"),
        ("vae-dense", "rgb-folder"), ("conv-upsample", "npy-padded")}
COMMON = ["--epochs", "1", "--batch-size", "16", "--random-state", "0", "--no-report"]


def _write_source(folder, name):
    rng = np.random.default_rng(1)
    if name == "npy-square":
        np.save(folder / "x.npy", rng.random((48, 64)).astype(np.float32))
        return folder / "x.npy"
    if name == "npy-padded":
        np.save(folder / "x.npy", rng.random((48, 50)).astype(np.float32))
        return folder / "x.npy"
    if name == "npy-images":
        np.save(folder / "x.npy", rng.random((48, 8, 8)).astype(np.float32))
        return folder / "x.npy"
    if name == "csv":
        np.savetxt(folder / "x.csv", rng.random((48, 10)), delimiter=",", fmt="%.5f")
        return folder / "x.csv"
    root = folder / "images"  # two classes of 12x12 RGB PNGs
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(24):
            pixels = (rng.random((12, 12, 3)) * 255).astype(np.uint8)
            Image.fromarray(pixels, "RGB").save(root / c / f"{i}.png")
    return root


def _cases():
    for kind in KINDS:
        for source in SOURCES:
            if source == "csv" and kind.startswith(("conv", "vae-conv")):
                continue  # refused before training (tests/test_model_data_fit.py)
            marks = () if (kind, source) in FAST else (pytest.mark.slow,)
            yield pytest.param(kind, source, marks=marks, id=f"{kind}-{source}")


@pytest.mark.parametrize("kind, source", list(_cases()))
def test_every_subcommand_agrees_with_the_saved_estimator(kind, source, tmp_path, capsys):
    data = str(_write_source(tmp_path, source))
    run = tmp_path / "run"
    assert main(["train", *KINDS[kind], "--data", data, *COMMON, "--out", str(run)]) == 0
    est = aekit.load(run)  # the run folder itself
    X = load(data, split="train").X  # the rows the CLI trains and encodes
    if source == "rgb-folder":
        assert est.n_features_in_ == 3 * 12 * 12
        if kind.startswith("conv") or kind == "vae-conv":
            assert est.image_shape_ == (3, 12, 12)  # the dataset's shape reached the model

    codes = tmp_path / "codes.npy"
    assert main(["encode", str(run), "--data", data, "--split", "train", "--out", str(codes)]) == 0
    np.testing.assert_array_equal(np.load(codes), est.transform(X))

    rows = tmp_path / "rows.npy"
    assert main(["decode", str(run), "--codes", str(codes), "--out", str(rows)]) == 0
    np.testing.assert_array_equal(np.load(rows), est.inverse_transform(np.load(codes)))

    samples = tmp_path / "samples.npy"
    assert main(["generate", str(run), "-n", "4", "--seed", "1", "--out", str(samples)]) == 0
    np.testing.assert_array_equal(np.load(samples), est.sample(4, random_state=1))

    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", data, "--split", "train", "--json", "--iw-samples", "3"]) == 0
    printed = json.loads(capsys.readouterr().out)["model"]
    expected = ev.evaluate_model(est, X, iw_samples=3)
    assert printed["mse"] == expected["mse"]
    if kind.startswith("vae"):
        assert printed["elbo"] == expected["elbo"] == pytest.approx(
            float(est.score_samples(X).mean()), rel=1e-12)

    images = source in ("npy-square", "npy-images", "rgb-folder") or kind.startswith(
        ("conv", "vae-conv"))  # conv networks lay any row on their image grid
    if not images:  # rows that are no image: the image figures refuse in one line
        assert main(["interpolate", str(run), "--data", data, "--pair", "0", "1",
                     "--out", str(tmp_path / "strip.png")]) == 2
        assert "no image shape" in capsys.readouterr().err
    else:
        strip = tmp_path / "strip.png"
        assert main(["interpolate", str(run), "--data", data, "--pair", "0", "1",
                     "--out", str(strip)]) == 0
        assert strip.stat().st_size > 0
        assert main(["report", str(run), "--data", data, "--out", str(tmp_path / "rep"),
                     "--fit-rows", "40", "--eval-rows", "20"]) == 0
        assert (tmp_path / "rep" / "index.html").is_file()


def test_train_with_its_report_on_rgb_images(tmp_path):
    """The regression of the issue: a conv model on a folder of RGB PNGs failed at its
    report ("X_test has 3072 features but the model expects 3136")."""
    data = str(_write_source(tmp_path, "rgb-folder"))
    run = tmp_path / "run"
    assert main(["train", *KINDS["conv-transpose"], "--data", data, "--epochs", "1",
                 "--batch-size", "16", "--random-state", "0", "--out", str(run)]) == 0
    assert (run / "report" / "index.html").is_file()
    resolved = json.loads((run / "config.resolved.json").read_text())
    assert resolved["params"]["image_shape"] == [3, 12, 12]  # recorded: it is what ran
