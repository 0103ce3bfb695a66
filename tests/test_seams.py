"""Seams as a matrix: model kind x input layout x entry point give the same numbers.

Every entry point goes through one :class:`aekit.fitted.FittedAutoencoder`, so where two
paths compute the same thing the results are bit-identical on CPU (``assert_array_equal``),
except where the arithmetic itself differs (stated beside each tolerance). No entry point
refuses an input the estimator accepts.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import aekit
from aekit import applications as app
from aekit import evaluation as ev
from aekit.estimators import (
    ConvAutoencoder, LinearAutoencoder, StackedAutoencoder, VariationalAutoencoder,
)

RNG = np.random.default_rng(0)
TINY = dict(epochs=1, batch_size=16, random_state=0)

KINDS = {
    "linear": lambda: LinearAutoencoder(3, **TINY),
    "stacked": lambda: StackedAutoencoder(3, hidden_layer_sizes=(8,), **TINY),
    "tied": lambda: StackedAutoencoder(3, hidden_layer_sizes=(8,), tied=True,
                                       sampler="uniform", **TINY),
    "conv-transpose": lambda: ConvAutoencoder(channels=(2, 2), n_components=3, **TINY),
    "conv-upsample": lambda: ConvAutoencoder(channels=(2, 2), n_components=3,
                                             decoder="upsample", sampler="gaussian", **TINY),
    "conv-unpool": lambda: ConvAutoencoder(channels=(2, 2), decoder="unpool", **TINY),
    "vae-dense": lambda: VariationalAutoencoder(2, hidden_layer_sizes=(8,), **TINY),
    "vae-conv": lambda: VariationalAutoencoder(2, architecture="conv", channels=(2, 2), **TINY),
}
IMAGE_KINDS = {k for k in KINDS if k.startswith(("conv", "vae"))}  # accept (n, H, W) arrays


def _layouts():
    """name -> (X as given to fit, the same rows flat). Values in [0, 1]."""
    square = RNG.random((40, 64)).astype(np.float32)  # 8x8
    padded = RNG.random((40, 50)).astype(np.float32)  # conv lays it on 8x8, 14 zeros
    hw = RNG.random((40, 8, 8)).astype(np.float32)
    chw = RNG.random((40, 3, 4, 4)).astype(np.float32)
    return {"flat-square": (square, square), "flat-padded": (padded, padded),
            "n-h-w": (hw, hw.reshape(40, -1)), "n-c-h-w": (chw, chw.reshape(40, -1))}


LAYOUTS = _layouts()


def _fit(kind, layout):
    X, flat = LAYOUTS[layout]
    if X.ndim > 2 and kind not in IMAGE_KINDS:
        pytest.skip("dense estimators take flat rows only (scikit-learn's contract)")
    return KINDS[kind]().fit(X), X, flat


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Fitted estimators and their saved folders, one per (kind, layout), made on demand."""
    cache = {}

    def get(kind, layout):
        if (kind, layout) not in cache:
            est, X, flat = _fit(kind, layout)
            folder = est.save(tmp_path_factory.mktemp("m") / f"{kind}-{layout}")
            cache[kind, layout] = est, X, flat, folder
        return cache[kind, layout]

    return get


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_entry_point_gives_the_estimators_numbers(kind, layout, saved):
    est, X, flat, folder = saved(kind, layout)
    loaded, fitted = aekit.load(folder), est.fitted_
    models = {"estimator": est, "fitted": fitted, "loaded": loaded, "folder": folder,
              "run-folder": folder}  # a model folder is its own run folder's model
    Z = est.transform(X)
    R = est.reconstruct(X)
    for name, model in models.items():
        for given in (X, flat):  # images or the same rows flat: the same numbers
            np.testing.assert_array_equal(app.encode(model, given), Z, err_msg=name)
            np.testing.assert_array_equal(app.reconstruct(model, given), R, err_msg=name)
        np.testing.assert_array_equal(app.decode(model, Z), est.inverse_transform(Z),
                                      err_msg=name)
    np.testing.assert_array_equal(loaded.transform(X), Z)
    np.testing.assert_array_equal(loaded.score_samples(X), est.score_samples(X))
    np.testing.assert_array_equal(loaded.sample(5, random_state=1),
                                  est.sample(5, random_state=1))
    np.testing.assert_array_equal(app.generate(folder, 5, random_state=1),
                                  est.sample(5, random_state=1))
    # a row's result does not depend on the rest of the call (fixed 64-row chunks)
    np.testing.assert_array_equal(app.encode(est, flat[:3]), Z[:3])
    # evaluation: the same reconstructions, the same scores
    metrics = ev.evaluate_model(loaded, X)
    np.testing.assert_allclose(metrics["mse"], np.mean((flat.astype(np.float64) - R) ** 2),
                               rtol=1e-12)  # the same float64 mean of the same arrays
    if est.fitted_.variational:
        elbo = est.score_samples(X)
        np.testing.assert_array_equal(ev.elbo(est, X), elbo)
        np.testing.assert_array_equal(-app.negative_elbo(folder, X), elbo)
        np.testing.assert_array_equal(-app.anomaly_scores(est, X), elbo)
        assert metrics["elbo"] == pytest.approx(float(elbo.mean()), rel=1e-12)
    else:
        sse = -est.score_samples(X)
        # mean = sum / D: one float64 division apart
        np.testing.assert_allclose(app.anomaly_scores(loaded, X) * flat.shape[1], sse,
                                   rtol=1e-12)


def test_regression_conv_on_rows_that_need_padding():
    """ConvAutoencoder on (20, 10) rows pads to 4x4; applications used to check the
    module's width (16) and refuse the rows the estimator took."""
    X = RNG.random((20, 10)).astype(np.float32)
    est = ConvAutoencoder(channels=(2, 2), epochs=1).fit(X)
    assert est.image_shape_ == (1, 4, 4) and est.fitted_.layout.pad == 6
    np.testing.assert_array_equal(app.reconstruct(est, X), est.reconstruct(X))
    report = aekit.report.build_report(est, X, X, n_show=2, iw_samples=2,
                                       image_shape=(1, 2, 5))
    assert report.results["model"]["mse"] > 0


def test_regression_vae_reconstruct_is_deterministic_and_matches_decode_of_encode():
    X = RNG.random((30, 16)).astype(np.float32)
    est = VariationalAutoencoder(2, hidden_layer_sizes=(8,), **TINY).fit(X)
    torch.manual_seed(1)
    a = est.reconstruct(X)
    torch.manual_seed(2)
    np.testing.assert_array_equal(est.reconstruct(X), a)
    np.testing.assert_array_equal(est.inverse_transform(est.transform(X)), a)


def test_regression_big_calls_equal_the_estimator(saved):
    """Applications batched by 2048 rows and the estimator by 64 used to differ."""
    X = RNG.random((2100, 64)).astype(np.float32)
    est = StackedAutoencoder(3, hidden_layer_sizes=(8,), **TINY).fit(X[:100])
    np.testing.assert_array_equal(app.encode(est, X), est.transform(X))
    np.testing.assert_array_equal(app.encode(est, X)[2050:], est.transform(X[2050:]))


def test_regression_report_generates_from_the_models_own_sampler():
    X = RNG.random((60, 16)).astype(np.float32)
    est = StackedAutoencoder(2, hidden_layer_sizes=(8,), sampler="uniform", **TINY).fit(X)
    report = aekit.report.build_report(est, X, X, n_show=3, iw_samples=2)
    html = report.to_html()
    assert "codes sampled from: uniform" in html and "from: gmm" not in html


def test_load_accepts_a_run_folder(tmp_path):
    X = RNG.random((20, 16)).astype(np.float32)
    est = StackedAutoencoder(2, hidden_layer_sizes=(4,), **TINY).fit(X)
    est.save(tmp_path / "run" / "model")
    back = aekit.load(tmp_path / "run")
    np.testing.assert_array_equal(back.transform(X), est.transform(X))


def test_dataset_head_reads_a_lazy_dataset_into_memory(tmp_path):
    from aekit.datasets import load

    raw = (RNG.random((30, 9)) * 255).astype(np.uint8)
    np.save(tmp_path / "x.npy", raw)
    lazy = load(tmp_path / "x.npy", mmap=True, split="all")
    eager = load(tmp_path / "x.npy", split="all")
    assert lazy.lazy
    part = lazy.head(5, in_memory=True)
    assert not part.lazy and part.X.shape == (5, 9)
    np.testing.assert_array_equal(part.X, eager.X[:5])
    assert lazy.head(5).lazy and lazy.head(5).X.shape == (5, 9)


def test_validate_params_is_public_and_names_the_option():
    from aekit.errors import ConfigError

    est = StackedAutoencoder(learning_rate=-1.0)
    with pytest.raises(ConfigError, match="learning_rate"):
        est.validate_params()
    assert StackedAutoencoder().validate_params().learning_rate == 5e-3


@pytest.mark.parametrize("kind", ["stacked", "conv-transpose", "vae-dense"])
def test_values_beyond_float32_are_refused_at_every_entry_point_never_nan(kind, saved):
    """float64 input beyond float32's range used to pass validation and become inf/NaN:
    transform and score_samples returned NaN, so no anomaly threshold flagged those rows."""
    from aekit.errors import DataError

    est, X, flat, folder = saved(kind, "flat-square")
    bad = flat.astype(np.float64)
    bad[3, 5] = 1e39  # finite in float64, inf in float32
    calls = {"fit": lambda: KINDS[kind]().fit(bad), "transform": lambda: est.transform(bad),
             "reconstruct": lambda: est.reconstruct(bad),
             "score_samples": lambda: est.score_samples(bad),
             "applications.encode": lambda: app.encode(folder, bad),
             "anomaly_scores": lambda: app.anomaly_scores(est, bad),
             "evaluation": lambda: ev.evaluate_model(est, bad)}
    for name, call in calls.items():
        with pytest.raises(DataError, match="float32|NaN or infinite"):
            call()
