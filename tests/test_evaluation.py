"""Evaluation metrics: known values and the inequalities the theory guarantees."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

import aekit.evaluation as ev
from aekit.errors import ConfigError, DataError
from aekit.losses import Objective
from aekit.training import evaluate

RNG = np.random.default_rng(0)


# --- reconstruction ------------------------------------------------------------------
def test_psnr_known_values():
    X = RNG.random((20, 64))
    assert ev.psnr(X, X) == math.inf
    assert ev.psnr(X, X + 0.1) == pytest.approx(20.0, abs=1e-9)  # MSE 0.01 -> 20 dB
    assert ev.psnr(X, X + 0.1, peak=255.0) == pytest.approx(20 + 20 * math.log10(255), abs=1e-9)
    sigma = 0.05
    noisy = X + np.random.default_rng(1).normal(0, sigma, X.shape)
    assert ev.psnr(X, noisy) == pytest.approx(-20 * math.log10(sigma), abs=0.3)


def test_reconstruction_metrics_known_values():
    X = (RNG.random((10, 16)) > 0.5).astype(float)
    perfect = ev.reconstruction_metrics(X, X)
    assert perfect["mse"] == 0 and perfect["bce"] < 1e-6 and perfect["psnr"] == math.inf
    half = ev.reconstruction_metrics(X, np.full_like(X, 0.5))
    assert half["mse"] == pytest.approx(0.25) and half["bce"] == pytest.approx(math.log(2))
    with pytest.raises(DataError, match="shape"):
        ev.reconstruction_metrics(X, X[:, :3])


def test_pca_baseline_matches_sklearn_and_improves_with_k(digits_data):
    train_ds, test_ds = digits_data
    out = ev.pca_baseline(train_ds.X, test_ds.X, 5, train_ds.y, test_ds.y)
    pca = PCA(5).fit(train_ds.X)
    ref = np.mean((pca.inverse_transform(pca.transform(test_ds.X)) - test_ds.X) ** 2)
    assert out["mse"] == pytest.approx(ref, rel=1e-4)
    assert out["name"] == "PCA (k=5)" and out["code_size"] == 5
    assert 0.5 < out["linear_probe"] <= 1 and 0.5 < out["knn"] <= 1
    mses = [ev.pca_baseline(train_ds.X, test_ds.X, k)["mse"] for k in (1, 4, 16, 64)]
    assert all(a > b for a, b in zip(mses, mses[1:])) and mses[-1] < 1e-10
    assert ev.pca_baseline(train_ds.X[:10], test_ds.X, 30)["code_size"] == 10  # clipped


# --- VAE ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vae(trained_model, digits_data):
    model, obj, _ = trained_model(code_size=4, variational=True)
    return model, obj, digits_data[1].X[:100]


@pytest.mark.slow
def test_iwae_estimate_grows_with_k_and_bounds_the_elbo(vae):
    model, obj, X = vae
    elbo = ev.elbo(model, X, obj, n_samples=20).mean()
    ll = {k: ev.importance_sampled_log_likelihood(model, X, k, obj, random_state=3).mean()
          for k in (1, 10, 100, 500)}
    assert abs(ll[1] - elbo) < 0.3  # k = 1: an unbiased ELBO estimate
    assert ll[1] < ll[10] < ll[100] < ll[500]  # non-decreasing in k (in expectation)
    assert ll[100] > elbo
    assert ll[500] - ll[100] < ll[10] - ll[1]  # and it levels off
    per_row = ev.importance_sampled_log_likelihood(model, X, 100, obj, random_state=0)
    assert per_row.shape == (100,) and (per_row > ev.elbo(model, X, obj, n_samples=50) - 1).all()


def test_log_likelihood_uses_the_models_likelihood(untrained_model):
    torch.manual_seed(0)
    v = untrained_model(variational=True)
    X = RNG.random((30, 64)).astype(np.float32)
    gauss = Objective(likelihood="gaussian", likelihood_scale=0.5)
    e_g = ev.elbo(v, X, gauss, n_samples=100).mean()
    e_b = ev.elbo(v, X, Objective(), n_samples=100).mean()
    loss = evaluate(v, gauss, X)["loss"]  # the trainer's -ELBO with the same likelihood
    assert abs(-e_g - loss) < 0.05 * abs(loss) and abs(e_g - e_b) > 1


def test_kl_per_dimension_sums_to_the_total_kl(vae):
    model, obj, X = vae
    kl = ev.kl_per_dimension(model, X)
    assert kl.shape == (4,) and (kl >= 0).all()
    assert kl.sum() == pytest.approx(evaluate(model, obj, X)["kl"], rel=1e-4)


def test_active_units_counts_units_whose_posterior_mean_varies(untrained_model):
    v = untrained_model(code_size=4, variational=True)
    X = RNG.random((100, 64)).astype(np.float32)
    with torch.no_grad():  # make unit 1 ignore the input: its posterior mean is constant
        v.to_code[0].weight[1].zero_()
        v.to_code[0].weight[3].mul_(100.0)
    activity = ev.unit_activity(v, X)
    assert activity[1] == pytest.approx(0.0, abs=1e-12) and activity[3] > 0.01
    assert ev.active_units(v, X, threshold=0.0) == 3
    assert ev.active_units(v, X, threshold=activity.max()) == 0
    with pytest.raises(ConfigError, match="variational"):
        ev.kl_per_dimension(untrained_model(), X)


# --- codes ---------------------------------------------------------------------------------
def test_probes_separate_separable_codes_and_not_noise():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 60)
    Z = rng.normal(0, 0.1, (180, 3)) + np.eye(3)[y] * 3
    idx = rng.permutation(180)
    tr, te = idx[:120], idx[120:]
    assert ev.linear_probe_accuracy(Z[tr], y[tr], Z[te], y[te]) == 1.0
    assert ev.knn_accuracy(Z[tr], y[tr], Z[te], y[te]) == 1.0
    noise = rng.normal(size=(180, 3))
    assert ev.knn_accuracy(noise[tr], y[tr], noise[te], y[te]) < 0.6


def test_trustworthiness_of_identity_and_of_a_scramble():
    X = RNG.random((120, 10))
    assert ev.map_trustworthiness(X, X) == pytest.approx(1.0)
    assert ev.map_trustworthiness(X, X[:, :2]) < 0.95
    assert ev.map_trustworthiness(X, np.random.default_rng(2).permutation(X)[:, :2]) < 0.7


def test_embed_2d_passes_2d_codes_and_runs_a_seeded_tsne():
    Z2 = RNG.random((40, 2))
    Y, method = ev.embed_2d(Z2)
    assert method == "codes" and np.allclose(Y, Z2)
    Z5 = RNG.random((60, 5))
    Y1, m1 = ev.embed_2d(Z5, random_state=1)
    Y2, _ = ev.embed_2d(Z5, random_state=1)
    assert m1 == "t-SNE" and Y1.shape == (60, 2)
    np.testing.assert_allclose(Y1, Y2)
    assert ev.subsample(10, 20).tolist() == list(range(10))
    idx = ev.subsample(1000, 100, random_state=0)
    assert len(idx) == 100 and (np.diff(idx) > 0).all()


# --- anomalies -----------------------------------------------------------------------------
def test_auroc_of_perfect_reversed_and_tied_scores():
    labels = np.r_[np.zeros(50), np.ones(20)]
    perfect = np.r_[np.linspace(0, 1, 50), np.linspace(2, 3, 20)]
    assert ev.auroc(perfect, labels) == 1.0
    assert ev.auroc(-perfect, labels) == 0.0
    assert ev.auroc(np.ones(70), labels) == 0.5
    with pytest.raises(DataError, match="both"):
        ev.auroc(perfect, np.zeros(70))


def test_one_class_auroc_trains_per_class_with_an_injected_fit():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]])
    y_tr, y_te = np.repeat([0, 1, 2], 30), np.repeat([0, 1, 2], 20)
    X_tr = centres[y_tr] + rng.normal(size=(90, 2))
    X_te = centres[y_te] + rng.normal(size=(60, 2))
    fitted = []

    def fit(X_normal):
        fitted.append(len(X_normal))
        return X_normal.mean(axis=0)

    out = ev.one_class_auroc(fit, X_tr, y_tr, X_te, y_te,
                             score=lambda centre, X: np.linalg.norm(X - centre, axis=1))
    assert fitted == [30, 30, 30] and list(out) == [0, 1, 2]
    assert all(v > 0.99 for v in out.values())


def test_one_class_auroc_default_scores_with_a_tiny_autoencoder(digits_data, single_thread):
    from aekit.models import ModelConfig, build_model
    from aekit.training import TrainConfig, train

    train_ds, test_ds = digits_data

    def fit(X_normal):
        m = build_model(ModelConfig(64, hidden=(16,), code_size=4), seed=0)
        with single_thread():
            train(m, Objective(), X_normal, config=TrainConfig(epochs=15, batch_size=32, lr=3e-3))
        return m

    out = ev.one_class_auroc(fit, train_ds.X, train_ds.y, test_ds.X, test_ds.y, classes=[0, 1])
    assert set(out) == {0, 1} and all(0.6 < v <= 1 for v in out.values())


# --- one call ----------------------------------------------------------------------------
def test_evaluate_model_and_comparison_table(vae, digits_data):
    model, obj, X = vae
    train_ds, test_ds = digits_data
    m = ev.evaluate_model(model, test_ds.X, X_train=train_ds.X, y_train=train_ds.y,
                          y_test=test_ds.y, objective=obj, iw_samples=5)
    for key in ("mse", "bce", "psnr", "linear_probe", "knn", "elbo", "kl", "log_likelihood",
                "active_units"):
        assert key in m
    assert m["elbo"] == pytest.approx(-(m["recon_nll"] + m["kl"]))
    p = ev.pca_baseline(train_ds.X, test_ds.X, m["code_size"], train_ds.y, test_ds.y)
    header, rows = ev.comparison_rows(m, p)
    assert header == ["metric", "unit", "model", "PCA (k=4)"]
    by_label = {r[0]: r for r in rows}
    assert by_label["test MSE"][3] == f"{p['mse']:.4g}"
    assert by_label["ELBO"][3] == "—"
    assert ev.comparison_rows({"mse": 0.0, "psnr": math.inf})[1][1][2] == "∞"


def test_embed_2d_survives_collapsed_codes():
    """Constant codes (dead units) crashed the process inside scikit-learn's t-SNE."""
    from aekit.evaluation import embed_2d

    for Z in (np.zeros((39, 3), np.float32), np.repeat([[1.0, 2.0, 3.0]], 20, 0),
              np.r_[np.zeros((10, 5)), np.ones((10, 5))]):
        Y, method = embed_2d(Z)
        assert method == "PCA" and Y.shape == (len(Z), 2) and np.isfinite(Y).all()
    Y, method = embed_2d(np.random.default_rng(0).random((30, 3)))
    assert method == "t-SNE"
