"""Issue 28, class 6: mismatches between --model and --data are caught before training
(one line, exit 2, no run folder), and what is allowed finishes: generated over every model
kind x a segmentation set, a CSV table, and images given as a flat table."""

from __future__ import annotations

import numpy as np
import pytest

from aekit.cli import main

SCENES = "scenes:digits:n=20,canvas=16"
QUICK = {"linear": ["--solver", "svd"], "stacked": ["--epochs", "1"],
         "conv": ["--epochs", "1", "--channels", "4"], "vae": ["--epochs", "1"],
         "vae-conv": ["--epochs", "1", "--architecture", "conv", "--channels", "4"],
         "classifier": ["--pretrain-epochs", "1", "--head-epochs", "1", "--finetune-epochs",
                        "1"]}
CONV_KINDS = ("conv", "vae-conv")


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    from sklearn.datasets import load_wine

    path = tmp_path_factory.mktemp("table") / "wine.csv"
    d = load_wine()
    np.savetxt(path, np.c_[d.data, d.target], delimiter=",", fmt="%g")
    return path


def _argv(kind, data, out, *extra):
    model = kind.split("-")[0]
    return ["train", "--model", model, *QUICK[kind], "--data", str(data), *extra,
            "--no-report", "--eval-rows", "20", "--out", str(out)]


def _refused(argv, out, capsys, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and all(w in err[0] for w in words), err
    assert not out.exists()


@pytest.mark.parametrize("kind", CONV_KINDS)
def test_a_convolution_on_a_table_is_refused_before_training(kind, table, tmp_path, capsys):
    out = tmp_path / "run"
    _refused(_argv(kind, table, out, "--label-column", "-1", "--scale", "standard"), out,
             capsys, "is a table", "--model stacked", "--image-shape")


@pytest.mark.parametrize("kind", CONV_KINDS)
def test_rows_declared_as_images_train_by_convolution(kind, tmp_path):
    from aekit.datasets import load

    X = load("digits").X[:100]  # images given as a table: a CSV with a declared shape
    np.savetxt(tmp_path / "flat.csv", X, delimiter=",", fmt="%g")
    out = tmp_path / "run"
    assert main(_argv(kind, tmp_path / "flat.csv", out, "--split", "all",
                      "--image-shape", "8,8")) == 0
    assert (out / "model").is_dir()


def test_the_classifier_on_masks_is_refused_before_training(tmp_path, capsys):
    out = tmp_path / "run"
    _refused(_argv("classifier", SCENES, out), out, capsys, "mask per image", "segmenter")


@pytest.mark.parametrize("kind", ["linear", "stacked", "conv"])
def test_an_autoencoder_on_a_segmentation_set_trains_without_label_probes(kind, tmp_path):
    """Once: trained, then failed on codes vs masks, leaving files."""
    import json

    out = tmp_path / "run"
    assert main(_argv(kind, SCENES, out)) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert "mse" in metrics["model"] and "linear_probe" not in metrics["model"]
