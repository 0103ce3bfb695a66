"""Applications on any fitted model: properties that would break if the code were wrong."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import ndtri

import aekit.applications as app
from aekit.errors import ConfigError, DataError
from aekit.fitted import fit_density
from aekit.models import ModelConfig, build_model

RNG = np.random.default_rng(0)
X = RNG.random((12, 64)).astype(np.float32)


# --- adapter ------------------------------------------------------------------------------
def test_as_fitted_accepts_module_fitted_model_estimator_and_folder(tmp_path, untrained_model):
    from aekit.estimators import StackedAutoencoder
    from aekit.fitted import FittedAutoencoder

    m = untrained_model()
    fitted = app.as_fitted(m)
    assert isinstance(fitted, FittedAutoencoder) and fitted.module is m
    assert app.as_fitted(fitted) is fitted and app.as_module(m) is m
    est = StackedAutoencoder(3, hidden_layer_sizes=(8,), epochs=1, random_state=0).fit(X)
    assert app.as_fitted(est) is est.fitted_ and app.as_module(est) is est.module_
    est.save(tmp_path / "m")
    for model in (est, est.fitted_, tmp_path / "m", str(tmp_path / "m")):
        np.testing.assert_array_equal(app.encode(model, X), est.transform(X))


@pytest.mark.parametrize("bad, message", [("unfitted", "not fitted"),
                                          (object(), "expected a fitted aekit")])
def test_as_fitted_rejects_others(bad, message):
    from aekit.estimators import StackedAutoencoder

    bad = StackedAutoencoder() if bad == "unfitted" else bad
    with pytest.raises(ConfigError, match=message):
        app.as_fitted(bad)


def test_image_shape_resolution(untrained_model):
    assert app.image_shape_of(untrained_model()) == (1, 8, 8)
    assert app.image_shape_of(None, (28, 28)) == (1, 28, 28)
    conv = build_model(ModelConfig(3 * 8 * 8, architecture="conv", hidden=(4,), code_size=2,
                                   image_shape=(3, 8, 8)), seed=0)
    assert app.image_shape_of(conv) == (3, 8, 8)
    with pytest.raises(ConfigError, match="image_shape"):
        app.image_shape_of(untrained_model(n_features=10))


def test_input_validation(untrained_model):
    m = untrained_model()
    assert app.encode(m, X[0]).shape == (1, 3)  # a single row is promoted
    with pytest.raises(DataError, match="expects 64"):
        app.encode(m, X[:, :10])
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        app.reconstruct(m, bad)


def test_model_mode_is_restored(untrained_model):
    m = untrained_model()
    m.train()
    app.reconstruct(m, X)
    assert m.training


# --- encode / decode / average --------------------------------------------------------------
@pytest.mark.parametrize("variational", [False, True])
def test_reconstruct_is_decode_of_encode(variational, untrained_model):
    m = untrained_model(variational=variational)
    Z = app.encode(m, X)
    assert Z.shape == (12, 3)
    np.testing.assert_allclose(app.reconstruct(m, X), app.decode(m, Z), atol=1e-6)
    with torch.no_grad():  # VAE: deterministic code = posterior mean
        ref = m.encode_distribution(torch.from_numpy(X))[0] if variational else m.encode(
            torch.from_numpy(X))
    np.testing.assert_allclose(Z, ref.numpy(), atol=1e-6)


def test_average_decodes_the_mean_code(untrained_model):
    m = untrained_model()
    Za, Zb = app.encode(m, X[:4]), app.encode(m, X[4:8])
    np.testing.assert_allclose(app.mix_codes(Za, Zb), (Za + Zb) / 2, atol=1e-7)
    np.testing.assert_allclose(app.average(m, X[:4], X[4:8]),
                               app.decode(m, (Za + Zb) / 2), atol=1e-6)
    np.testing.assert_allclose(app.average(m, X[:4], X[4:8], weight=0.0),
                               app.reconstruct(m, X[:4]), atol=1e-6)
    with pytest.raises(ConfigError):
        app.average(m, X[:4], X[4:8], weight=1.5)


def test_unpooling_decoder_decodes_free_codes_with_fixed_indices_and_says_so():
    conv = build_model(ModelConfig(64, architecture="conv", hidden=(4,), code_size=None,
                                   image_shape=(1, 8, 8), decoder="unpool"), seed=0)
    Z = app.encode(conv, X)
    # an input's reconstruction uses its own pooling indices ...
    with torch.no_grad():
        own = conv(torch.from_numpy(X))["recon"].numpy()
        fixed = conv.decode(torch.from_numpy(Z)).numpy()  # ... a free code the top-left cell
    np.testing.assert_allclose(app.reconstruct(conv, X), own, atol=1e-6)
    np.testing.assert_allclose(app.decode(conv, Z), fixed, atol=1e-6)
    assert not np.allclose(own, fixed)
    assert "top-left" in app.as_fitted(conv).free_code_note
    transpose = build_model(ModelConfig(64, architecture="conv", hidden=(4,), code_size=2,
                                        image_shape=(1, 8, 8)), seed=0)
    assert app.as_fitted(transpose).free_code_note is None


# --- interpolation ----------------------------------------------------------------------
@pytest.mark.parametrize("method", ["linear", "slerp"])
def test_interpolation_endpoints_are_the_codes(method, untrained_model):
    m = untrained_model()
    path = app.interpolate_codes(app.encode(m, X[0])[0], app.encode(m, X[1])[0], 7, method)
    assert path.shape == (7, 3)
    np.testing.assert_array_equal(path[0], app.encode(m, X[0])[0])
    np.testing.assert_array_equal(path[-1], app.encode(m, X[1])[0])
    images = app.interpolate(m, X[0], X[1], 7, method)
    assert images.shape == (7, 64)
    np.testing.assert_allclose(images[0], app.reconstruct(m, X[0])[0], atol=1e-6)
    np.testing.assert_allclose(images[-1], app.reconstruct(m, X[1])[0], atol=1e-6)
    batch = app.interpolate(m, X[:3], X[3:6], 5, method)
    assert batch.shape == (3, 5, 64)


def test_linear_interpolation_is_evenly_spaced():
    a, b = np.array([0.0, 1.0, -2.0]), np.array([4.0, -1.0, 2.0])
    path = app.interpolate_codes(a, b, 5)
    steps = np.diff(path, axis=0)
    np.testing.assert_allclose(steps, np.broadcast_to((b - a) / 4, steps.shape), atol=1e-6)


def test_slerp_keeps_the_norm_and_follows_the_great_circle():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 5, 16))
    b *= (np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))[:, None]  # equal norms
    path = app.interpolate_codes(a, b, 9, "slerp")  # (5, 9, 16)
    norms = np.linalg.norm(path, axis=2)
    np.testing.assert_allclose(norms, np.repeat(np.linalg.norm(a, axis=1)[:, None], 9, 1),
                               rtol=1e-5)
    linear = app.interpolate_codes(a, b, 9, "linear")
    assert (np.linalg.norm(linear[:, 4], axis=1) < norms[:, 4] - 1e-3).all()  # chord dips
    # orthogonal unit vectors: the midpoint is (a + b) / sqrt(2); equal angular steps
    e0, e1 = np.eye(2)
    np.testing.assert_allclose(app.interpolate_codes(e0, e1, 3, "slerp")[1],
                               (e0 + e1) / np.sqrt(2), atol=1e-6)
    angles = np.arctan2(*app.interpolate_codes(e0, e1, 5, "slerp").T[::-1])
    np.testing.assert_allclose(np.diff(angles), np.pi / 8, atol=1e-6)


def test_slerp_of_parallel_codes_falls_back_to_linear():
    a = np.array([1.0, 2.0])
    np.testing.assert_allclose(app.interpolate_codes(a, 3 * a, 3, "slerp")[1], 2 * a, atol=1e-6)


# --- latent grid and traversals -----------------------------------------------------------
def test_latent_grid_codes_shape_and_order():
    n = 5
    Z = app.latent_grid_codes(n, "range", low=-2, high=2)
    assert Z.shape == (n * n, 2)
    G = Z.reshape(n, n, 2)  # (row, column, dim)
    assert (np.diff(G[:, :, 0], axis=1) > 0).all()  # z0 grows left to right
    assert (np.diff(G[:, :, 1], axis=0) < 0).all()  # z1 grows bottom to top
    assert (G[:, :, 0] == G[0, :, 0]).all() and (G[:, :, 1].T == G[:, 0, 1]).all()
    np.testing.assert_allclose(G[0, :, 0], np.linspace(-2, 2, n))
    prior = app.latent_grid_codes(4, "prior", quantiles=(0.1, 0.9))
    np.testing.assert_allclose(prior[:4, 0], ndtri(np.linspace(0.1, 0.9, 4)), rtol=1e-6)


def test_latent_grid_quantiles_of_training_codes():
    codes = np.random.default_rng(2).standard_normal((500, 2)) * [1, 10] + [5, 0]
    Z = app.latent_grid_codes(3, "quantile", codes=codes, quantiles=(0.25, 0.75))
    np.testing.assert_allclose(Z[:3, 0], np.quantile(codes[:, 0], [0.25, 0.5, 0.75]), rtol=1e-5)
    np.testing.assert_allclose(Z[::3, 1], np.quantile(codes[:, 1], [0.75, 0.5, 0.25]),
                               rtol=1e-5)


def test_latent_grid_decodes_and_needs_a_2d_code(untrained_model):
    m2 = untrained_model(code_size=2)
    images, Z = app.latent_grid(m2, 4, X_fit=X)
    assert images.shape == (16, 64) and Z.shape == (16, 2)
    np.testing.assert_allclose(images, app.decode(m2, Z), atol=1e-6)
    with pytest.raises(ConfigError, match="training codes"):
        app.latent_grid(m2, 4)  # plain AE default = quantiles of codes: needs X_fit
    with pytest.raises(ConfigError, match="2-D code"):
        app.latent_grid(untrained_model(code_size=3), 4, "range")


def test_latent_traversal_changes_one_dimension_per_row(untrained_model):
    m = untrained_model(code_size=3, variational=True)
    images, values = app.latent_traversal(m, X[0], dims=[2, 0], n_steps=4, low=-1, high=1)
    assert images.shape == (2, 4, 64)
    np.testing.assert_allclose(values, [-1, -1 / 3, 1 / 3, 1], atol=1e-6)
    base = app.encode(m, X[0])[0]
    Z = base.copy()
    Z[2] = values[1]
    np.testing.assert_allclose(images[0, 1], app.decode(m, Z)[0], atol=1e-6)


# --- generation ----------------------------------------------------------------------
@pytest.mark.parametrize("method", ["uniform", "gaussian", "gmm"])
def test_generation_from_code_densities(method, untrained_model):
    m = untrained_model(code_size=3)
    a = app.generate(m, 30, method, X_fit=X, n_components=2, random_state=5)
    b = app.generate(m, 30, method, X_fit=X, n_components=2, random_state=5)
    c = app.generate(m, 30, method, X_fit=X, n_components=2, random_state=6)
    assert a.shape == (30, 64)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_uniform_samples_stay_in_the_box_of_training_codes():
    codes = np.random.default_rng(3).standard_normal((50, 4)) * [1, 2, 3, 4]
    Z = fit_density("uniform", codes).sample(2000, np.random.RandomState(0))
    assert Z.shape == (2000, 4)
    assert (Z >= codes.min(0) - 1e-6).all() and (Z <= codes.max(0) + 1e-6).all()
    # and it fills the box: the extremes come close to the box edges
    span = codes.max(0) - codes.min(0)
    assert (Z.max(0) - Z.min(0) > 0.95 * span).all()


def test_gaussian_and_gmm_samplers_match_the_code_distribution():
    rng = np.random.default_rng(4)
    codes = np.concatenate([rng.normal(-5, 0.5, (300, 2)), rng.normal(5, 0.5, (300, 2))])
    g = fit_density("gaussian", codes).sample(4000, np.random.RandomState(0))
    np.testing.assert_allclose(g.mean(0), codes.mean(0), atol=0.3)
    np.testing.assert_allclose(np.cov(g.T), np.cov(codes.T), rtol=0.1)
    mix = fit_density("gmm", codes, n_components=2).sample(4000, np.random.RandomState(0))
    # the mixture keeps the gap between the clusters that one Gaussian fills
    assert (np.abs(mix[:, 0]) < 2).mean() < 0.01 < (np.abs(g[:, 0]) < 2).mean()


def test_vae_generates_from_the_prior_and_plain_ae_needs_codes(untrained_model):
    v = untrained_model(code_size=3, variational=True)
    images, Z = app.generate(v, 8, random_state=0, return_codes=True)
    np.testing.assert_array_equal(Z, np.random.RandomState(0).standard_normal((8, 3))
                                  .astype(np.float32))
    np.testing.assert_allclose(images, app.decode(v, Z), atol=1e-6)
    with pytest.raises(ConfigError, match="X_fit"):
        app.generate(untrained_model(), 4, "gmm")


# --- denoising and inpainting -----------------------------------------------------------
def test_add_noise_is_reproducible_and_clipped():
    a = app.add_noise(X, "gaussian", 0.5, random_state=1)
    np.testing.assert_array_equal(a, app.add_noise(X, "gaussian", 0.5, random_state=1))
    assert a.min() >= 0 and a.max() <= 1 and not np.allclose(a, X)
    masked = app.add_noise(X, "mask", 0.3, random_state=1)
    assert 0.2 < (masked[X > 0] == 0).mean() < 0.4


def test_trained_model_denoises(trained_model, digits_data):
    model, _, _ = trained_model(code_size=8)
    Xt = digits_data[1].X
    noisy = app.add_noise(Xt, "gaussian", 0.5, random_state=0)
    err_noisy = np.mean((noisy - Xt) ** 2)
    err_out = np.mean((app.denoise(model, noisy) - Xt) ** 2)
    assert err_out < 0.7 * err_noisy


def test_make_mask_regions():
    m = app.make_mask((8, 8), "bottom", 0.5).reshape(8, 8)
    assert m[4:].all() and not m[:4].any()
    m = app.make_mask((2, 4, 4), "right", 0.25).reshape(2, 4, 4)
    assert m[:, :, 3].all() and not m[:, :, :3].any()
    r = app.make_mask((8, 8), "random", 0.3, n=200, random_state=0)
    assert r.shape == (200, 64) and 0.25 < r.mean() < 0.35


def test_inpaint_keeps_known_pixels_and_fills_the_rest(trained_model, digits_data):
    model, _, _ = trained_model(code_size=8)
    Xt = digits_data[1].X[:100]
    mask = app.make_mask((8, 8), "bottom", 0.5)
    out = app.inpaint(model, Xt, mask, n_iter=10)
    np.testing.assert_array_equal(out[:, ~mask], Xt[:, ~mask])
    start = app.inpaint(model, Xt, mask, n_iter=0)  # the "mean" fill alone
    err = lambda Y: np.mean((Y[:, mask] - Xt[:, mask]) ** 2)  # noqa: E731
    assert err(out) < 0.8 * err(start)
    with pytest.raises(DataError, match="mask"):
        app.inpaint(model, Xt, mask[:10])


# --- anomaly scores ------------------------------------------------------------------
@pytest.mark.parametrize("contamination", [0.01, 0.05, 0.1, 0.37])
def test_threshold_by_contamination_flags_that_fraction(contamination):
    scores = np.random.default_rng(5).standard_normal(1000)
    t = app.threshold_by_contamination(scores, contamination)
    assert abs((scores > t).mean() - contamination) <= 1 / len(scores)
    with pytest.raises(ConfigError):
        app.threshold_by_contamination(scores, 1.2)


def test_anomaly_scores_are_per_sample_errors(untrained_model):
    m = untrained_model()
    rec = app.reconstruct(m, X)
    np.testing.assert_allclose(app.anomaly_scores(m, X), ((rec - X) ** 2).mean(1), rtol=1e-5)
    p = np.clip(rec, 1e-7, 1 - 1e-7)
    bce = -(X * np.log(p) + (1 - X) * np.log(1 - p)).mean(1)
    np.testing.assert_allclose(app.anomaly_scores(m, X, "bce"), bce, rtol=1e-4)


def test_vae_anomaly_score_is_negative_elbo(untrained_model):
    from aekit.losses import Objective
    from aekit.training import evaluate

    v = untrained_model(variational=True)
    s = app.anomaly_scores(v, X, n_samples=1)
    assert s.shape == (12,)
    # same bound as the training objective's loss (beta = 1), up to Monte-Carlo noise
    loss = evaluate(v, Objective(), X)["loss"]
    many = app.negative_elbo(v, X, n_samples=200).mean()
    assert abs(many - loss) < 0.05 * abs(loss)


def test_anomaly_detector_flags_corrupted_inputs(trained_model, digits_data):
    model, _, _ = trained_model(code_size=8)
    train_X, test_X = digits_data[0].X, digits_data[1].X
    det = app.AnomalyDetector(model, contamination=0.05).fit(train_X)
    assert abs((det.predict(train_X) == -1).mean() - 0.05) < 0.01
    noisy = app.add_noise(test_X, "salt_pepper", 0.3, random_state=0)
    assert (det.predict(noisy) == -1).mean() > 0.9
    assert (det.predict(test_X) == -1).mean() < 0.2
    np.testing.assert_allclose(det.decision_function(test_X),
                               det.threshold_ + det.score_samples(test_X))


def test_the_objective_is_the_models_own_unless_given(untrained_model):
    from aekit.estimators import VariationalAutoencoder
    from aekit.losses import Objective

    est = VariationalAutoencoder(2, hidden_layer_sizes=(8,), likelihood="gaussian",
                                 likelihood_scale=0.5, beta=4.0, epochs=1,
                                 random_state=0).fit(X)
    got = app.as_fitted(est).objective
    assert (got.likelihood, got.likelihood_scale, got.beta) == ("gaussian", 0.5, 4.0)
    explicit = Objective(likelihood="bernoulli")
    assert app.as_fitted(est, explicit).objective is explicit
    assert app.as_fitted(est).objective is got  # the override is a copy, not a change
    # a bare module: the likelihood its output implies
    assert app.as_fitted(untrained_model(variational=True)).objective.likelihood == "bernoulli"
    linear = build_model(ModelConfig(64, hidden=(8,), code_size=2, variational=True,
                                     output_activation="linear"), seed=0)
    assert app.as_fitted(linear).objective.likelihood == "gaussian"
