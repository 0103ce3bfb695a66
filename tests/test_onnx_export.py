"""ONNX export (aekit.fitted.onnx): every model kind and part run in onnxruntime against
PyTorch (max abs difference <= 1e-5 on 256 rows, batches of 256 and 1), the metadata read
back, the same anomaly decisions as the estimator, and every entry point (estimator, saved
folder + aekit.load, FittedAutoencoder, CLI). Each export takes a few seconds (torch.export
+ onnxscript), so the module is marked slow."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import aekit
from aekit.cli import main
from aekit.errors import ConfigError
from aekit.fitted import FittedAutoencoder, InputLayout
from aekit.fitted import model as fitted_model
from aekit.fitted import onnx as aeonnx

ort = pytest.importorskip("onnxruntime", reason="needs pip install 'aekit[onnx]'")
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]
TOL = 1e-5
N_ROWS = 256


def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run(path, feed: np.ndarray) -> dict:
    """Outputs by name for the one input of the file."""
    s = session(path)
    (inp,) = s.get_inputs()
    names = [o.name for o in s.get_outputs()]
    return dict(zip(names, s.run(names, {inp.name: np.ascontiguousarray(feed, np.float32)})))


def assert_batch_axis_is_dynamic(path):
    s = session(path)
    for t in [*s.get_inputs(), *s.get_outputs()]:
        assert isinstance(t.shape[0], str), (t.name, t.shape)  # a named, free dimension


def max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def check_rows(path, X, expected: dict):
    """256 rows at once and the first row alone give the PyTorch numbers."""
    got = run(path, X)
    one = run(path, X[:1])
    for name, want in expected.items():
        assert got[name].shape == want.shape, name
        assert max_diff(got[name], want) <= TOL, (name, max_diff(got[name], want))
        assert max_diff(one[name], want[:1]) <= TOL, name
    return got


# --- every model kind -----------------------------------------------------------------------
def test_every_part_of_every_kind_matches_pytorch(kind, make_model, model_batch, model_kinds,
                                                 tmp_path):
    fitted = FittedAutoencoder(make_model(kind))
    X = model_batch(kind, N_ROWS, seed=1).numpy()
    d, k = fitted.n_features, fitted.code_size

    # the whole autoencoder (the unpool decoder with the input's own indices)
    path = fitted.export_onnx(tmp_path / "ae.onnx")
    sse = fitted.reconstruction_error(X, "sse")
    got = check_rows(path, X, {"reconstruction": fitted.reconstruct(X)})
    assert max_diff(got["score"], sse) <= TOL * max(1.0, float(np.abs(sse).max()))
    assert_batch_axis_is_dynamic(path)
    meta = aeonnx.read_metadata(path)
    assert meta["format"] == aeonnx.FORMAT and meta["part"] == "autoencoder"
    assert meta["n_features"] == d and meta["code_size"] == k and meta["pad"] == 0
    assert meta["image_shape"] == (list(model_kinds[kind]["image_shape"])
                                   if "image_shape" in model_kinds[kind] else None)
    assert meta["output_activation"] == fitted.module.output_activation
    assert meta["score"] == "sse" and "threshold" not in meta
    assert [o["name"] for o in meta["outputs"]] == ["reconstruction", "score"]
    assert meta["inputs"] == [{"name": "x", "shape": ["batch", d], "dtype": "float32"}]
    assert meta["check"]["max_abs_diff"] <= TOL
    assert meta["model"]["kind"] == ("variational autoencoder" if fitted.variational
                                     else "autoencoder")

    # the encoder: codes, or a VAE's mu and log-variance
    path = fitted.export_onnx(tmp_path / "enc.onnx", "encoder")
    if fitted.variational:
        m = fitted.module
        both = fitted.run(lambda x: torch.cat(m.encode_distribution(x), 1),
                          fitted.layout.to_module(X)).numpy()
        check_rows(path, X, {"mu": both[:, :k], "logvar": both[:, k:]})
        assert np.array_equal(both[:, :k], fitted.encode(X))
    else:
        check_rows(path, X, {"code": fitted.encode(X)})
    assert_batch_axis_is_dynamic(path)
    assert aeonnx.read_metadata(path)["part"] == "encoder"

    # the decoder alone (refused for max-unpooling: no indices without the encoder)
    Z = fitted.encode(X)
    if kind == "conv-unpool":
        with pytest.raises(ConfigError, match="pooling indices"):
            fitted.export_onnx(tmp_path / "dec.onnx", "decoder")
        assert not (tmp_path / "dec.onnx").exists()
        return
    path = fitted.export_onnx(tmp_path / "dec.onnx", "decoder")
    check_rows(path, Z, {"reconstruction": fitted.decode(Z)})
    assert_batch_axis_is_dynamic(path)
    meta = aeonnx.read_metadata(path)
    assert meta["inputs"] == [{"name": "code", "shape": ["batch", k], "dtype": "float32"}]


def test_padded_layout_is_applied_inside_the_graph(make_model, tmp_path):
    # 50 values per row laid out on an 8x8 grid: 14 zeros of padding, cropped again
    module = make_model("conv-unpool", n_features=64, image_shape=(1, 8, 8), hidden=(3, 4))
    fitted = FittedAutoencoder(module, layout=InputLayout(50, (1, 8, 8), 14))
    X = np.random.default_rng(0).random((N_ROWS, 50), dtype=np.float32)
    path = fitted.export_onnx(tmp_path / "pad.onnx", score="mse")
    got = check_rows(path, X, {"reconstruction": fitted.reconstruct(X)})
    assert got["reconstruction"].shape == (N_ROWS, 50)
    assert max_diff(got["score"], fitted.reconstruction_error(X, "mse")) <= TOL
    meta = aeonnx.read_metadata(path)
    assert (meta["n_features"], meta["image_shape"], meta["pad"]) == (50, [1, 8, 8], 14)
    path = fitted.export_onnx(tmp_path / "enc.onnx", "encoder")
    check_rows(path, X, {"code": fitted.encode(X)})


@pytest.mark.parametrize("score", ["mse", "bce"])
def test_each_score_is_the_fitted_models(score, make_model, model_batch, tmp_path):
    fitted = FittedAutoencoder(make_model("dense"))
    X = model_batch("dense", N_ROWS, seed=2).numpy()
    got = run(fitted.export_onnx(tmp_path / "m.onnx", score=score), X)
    assert max_diff(got["score"], fitted.reconstruction_error(X, score)) <= TOL
    assert aeonnx.read_metadata(tmp_path / "m.onnx")["score"] == score


# --- estimators: anomaly decisions, loaded folders, the classifier --------------------------
@pytest.fixture(scope="module")
def digits():
    from aekit.datasets import load

    return load("digits").X[:400], load("digits", split="test").X


@pytest.mark.parametrize("name", ["stacked", "conv"])
def test_anomaly_decisions_equal_the_estimators(name, digits, tmp_path):
    from aekit.applications import AnomalyDetector
    from aekit.estimators import ConvAutoencoder, StackedAutoencoder

    X, X_test = digits
    est = (StackedAutoencoder(4, hidden_layer_sizes=(16,), epochs=3, batch_size=64,
                              random_state=0) if name == "stacked" else
           ConvAutoencoder((8, 8), channels=(4, 8), n_components=4, decoder="unpool",
                           epochs=2, batch_size=64, random_state=0))
    est.fit(X)
    threshold = float(np.quantile(-est.score_samples(X), 0.9))
    path = est.export_onnx(tmp_path / "ae.onnx", threshold=threshold)
    meta = aeonnx.read_metadata(path)
    assert meta["threshold"] == threshold and meta["decision"] == "anomaly when score > threshold"
    assert session(path).get_modelmeta().custom_metadata_map["aekit.threshold"] == \
        json.dumps(threshold)

    want = -est.score_samples(X_test) > threshold  # the estimator's decisions
    assert 0 < want.sum() < len(want)  # some rows are flagged, most are not
    got = run(path, X_test)
    recomputed = ((X_test.astype(np.float64) - got["reconstruction"]) ** 2).sum(axis=1)
    assert np.array_equal(got["score"] > meta["threshold"], want)
    assert np.array_equal(recomputed > meta["threshold"], want)

    # an AnomalyDetector's own threshold (metric 'mse') travels the same way
    det = AnomalyDetector(est, contamination=0.1).fit(X)
    path = est.export_onnx(tmp_path / "det.onnx", threshold=det.threshold_, score="mse")
    got = run(path, X_test)
    assert np.array_equal(np.where(got["score"] > det.threshold_, -1, 1), det.predict(X_test))

    if name != "conv":
        return
    # the saved folder, loaded back, exports the same graph (max-unpooling inside)
    est.save(tmp_path / "model")
    loaded = aekit.load(tmp_path / "model")
    again = run(loaded.export_onnx(tmp_path / "loaded.onnx"), X_test)
    assert np.array_equal(again["reconstruction"], run(tmp_path / "ae.onnx",
                                                       X_test)["reconstruction"])
    fitted = FittedAutoencoder.load(tmp_path / "model")
    assert np.array_equal(run(fitted.export_onnx(tmp_path / "f.onnx"), X_test)["score"],
                          again["score"])


def test_vae_estimator_exports_encoder_and_decoder(digits, tmp_path):
    from aekit.estimators import VariationalAutoencoder

    X, X_test = digits
    vae = VariationalAutoencoder(2, hidden_layer_sizes=(16,), epochs=2, batch_size=64,
                                 random_state=0).fit(X)
    got = check_rows(vae.export_onnx(tmp_path / "enc.onnx", "encoder"), X_test[:N_ROWS],
                     {"mu": vae.transform(X_test[:N_ROWS])})
    assert np.all(np.isfinite(got["logvar"])) and got["logvar"].shape == (N_ROWS, 2)
    Z = np.random.default_rng(0).standard_normal((N_ROWS, 2)).astype(np.float32)
    check_rows(vae.export_onnx(tmp_path / "dec.onnx", "decoder"), Z,
               {"reconstruction": vae.inverse_transform(Z)})


def test_classifier_exports_its_probabilities(digits, tmp_path):
    from aekit.datasets import load
    from aekit.estimators import AutoencoderClassifier

    train, test = load("digits"), load("digits", split="test")
    clf = AutoencoderClassifier(4, method="pretrain", hidden_layer_sizes=(16,),
                                pretrain_epochs=1, head_epochs=2,
                                finetune_epochs=1, random_state=0).fit(train.X[:400],
                                                                        train.y[:400])
    path = clf.export_onnx(tmp_path / "clf.onnx", "classifier")
    got = check_rows(path, test.X, {"probabilities": clf.predict_proba(test.X)})
    meta = aeonnx.read_metadata(path)
    assert meta["classes"] == clf.classes_.tolist()
    assert np.array_equal(np.asarray(meta["classes"])[got["probabilities"].argmax(1)],
                          clf.predict(test.X))
    with pytest.raises(ConfigError, match="classifier"):  # an autoencoder has no head
        FittedAutoencoder(clf.module_).export_onnx(tmp_path / "x.onnx", "classifier")


# --- the command line -----------------------------------------------------------------------
def test_cli_exports_a_run_folder_and_refuses_to_overwrite(digits, tmp_path, capsys):
    from aekit.estimators import StackedAutoencoder

    X, X_test = digits
    est = StackedAutoencoder(4, hidden_layer_sizes=(16,), epochs=2, random_state=0).fit(X)
    run_dir = tmp_path / "run"
    est.save(run_dir / "model")  # a run folder holds its model in model/
    out = tmp_path / "enc.onnx"
    assert main(["export", str(run_dir), "--part", "encoder", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    check_rows(out, X_test, {"code": est.transform(X_test)})

    before = out.read_bytes()
    assert main(["export", str(run_dir), "--part", "encoder", "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert out.read_bytes() == before  # untouched
    assert main(["export", str(run_dir / "model"), "--format", "onnx", "--threshold", "2.5",
                 "--out", str(out), "--force"]) == 0
    assert aeonnx.read_metadata(out)["threshold"] == 2.5
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp

    # a plain model folder: what aekit.load reads, without the run's other files
    assert main(["export", str(run_dir), "--format", "folder", "--out",
                 str(tmp_path / "plain")]) == 0
    assert np.array_equal(aekit.load(tmp_path / "plain").reconstruct(X_test),
                          est.reconstruct(X_test))


def test_cli_errors_are_one_line_before_any_work(digits, tmp_path, capsys, make_model):
    FittedAutoencoder(make_model("conv-unpool")).save(tmp_path / "unpool")
    cases = [
        (["--part", "decoder"], "pooling indices"),
        (["--part", "encoder", "--threshold", "1"], "--threshold applies to --part autoencoder"),
        (["--part", "decoder", "--score", "mse"], "--score applies to --part autoencoder"),
        (["--part", "classifier"], "holds no classifier"),
        (["--format", "folder", "--part", "encoder"], "apply to --format onnx"),
    ]
    for extra, message in cases:
        out = tmp_path / "x.onnx"
        assert main(["export", str(tmp_path / "unpool"), *extra, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (extra, err)
        assert not out.exists()
    assert main(["export", str(tmp_path / "unpool"), "--out", str(tmp_path / "m.txt")]) == 2
    assert ".onnx" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: a threshold must be a finite number
        main(["export", str(tmp_path / "unpool"), "--threshold", "nan", "--out",
              str(tmp_path / "y.onnx")])


# --- errors and the optional extra ----------------------------------------------------------
def test_bad_options_are_refused_before_export(make_model, tmp_path):
    fitted = FittedAutoencoder(make_model("dense"))
    for kwargs, message in [
        (dict(part="everything"), "part 'everything' is not one of"),
        (dict(score="elbo"), "score 'elbo' is not one of"),
        (dict(part="encoder", threshold=1.0), "threshold applies to part='autoencoder'"),
        (dict(threshold=float("nan")), "finite number"),
        (dict(threshold=True), "finite number"),
    ]:
        with pytest.raises(ConfigError, match=message):
            fitted.export_onnx(tmp_path / "m.onnx", **kwargs)
    with pytest.raises(ConfigError, match="is a folder"):
        fitted.export_onnx(tmp_path)
    mine = tmp_path / "user.onnx"
    mine.write_bytes(b"the user's own file")
    with pytest.raises(ConfigError, match="exists; pass force=True"):
        fitted.export_onnx(mine)
    assert mine.read_bytes() == b"the user's own file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["user.onnx"]  # nothing else written


def test_missing_onnx_packages_name_the_extra(monkeypatch, make_model, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(aeonnx.importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    with pytest.raises(ConfigError, match=r"onnxruntime package: pip install 'aekit\[onnx\]'"):
        FittedAutoencoder(make_model("dense")).export_onnx(tmp_path / "m.onnx")
    assert main(["export", str(tmp_path), "--out", str(tmp_path / "m.onnx")]) == 2


def test_scores_are_the_fitted_models_error_metrics():
    assert aeonnx.SCORES == fitted_model.ERROR_METRICS
    from aekit.cli import export_cmd

    assert export_cmd.SCORES == aeonnx.SCORES and export_cmd.PARTS == aeonnx.PARTS


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory):
    from aekit.datasets import load

    ds = load("scenes:digits:n=40,canvas=16", split="all")
    est = aekit.ConvSegmenter(channels=(4, 6), epochs=1, random_state=0).fit(ds.X, ds.y)
    folder = tmp_path_factory.mktemp("seg") / "model"
    est.save(folder)
    return est, ds.X, folder


def test_a_segmenter_exports_its_per_pixel_classes(segmenter, tmp_path, capsys):
    """Issue 28, first hour: once refused. Every entry point: the estimator and the CLI
    (whose default part is 'segmenter' for a segmentation model); both give predict's
    classes and predict_proba's probabilities."""
    est, X, folder = segmenter
    by_estimator = est.export_onnx(tmp_path / "a.onnx", "segmenter")
    assert main(["export", str(folder), "--out", str(tmp_path / "b.onnx")]) == 0
    for path in (by_estimator, tmp_path / "b.onnx"):
        got = run(path, X[:N_ROWS])
        assert np.array_equal(got["classes"], est.predict(X[:N_ROWS]))
        assert max_diff(got["probabilities"], est.predict_proba(X[:N_ROWS])) <= TOL
        meta = aeonnx.read_metadata(path)
        assert meta["part"] == "segmenter" and meta["model"]["n_classes"] == est.n_classes_
        assert_batch_axis_is_dynamic(path)


@pytest.mark.parametrize("part", ["autoencoder", "encoder", "decoder"])
def test_a_segmenter_has_only_the_segmenter_part(segmenter, part, tmp_path):
    est, X, folder = segmenter
    with pytest.raises(ConfigError, match="part='segmenter'"):
        est.export_onnx(tmp_path / "x.onnx", part)


def test_an_autoencoder_has_no_segmenter_part(tmp_path):
    est = aekit.StackedAutoencoder(n_components=2, hidden_layer_sizes=(8,), epochs=1).fit(
        np.random.default_rng(0).random((64, 6), dtype=np.float32))
    with pytest.raises(ConfigError, match="needs a segmentation network"):
        est.export_onnx(tmp_path / "x.onnx", "segmenter")
