"""output_activation='auto' / likelihood='auto' (the defaults): the output distribution is
chosen from the training data, recorded as a fitted attribute and in the model file, and
used the same way by every entry point; explicit values keep their behaviour."""

from __future__ import annotations

import json

import numpy as np
import pytest

import aekit
from aekit.errors import DataError, ModelFileError
from aekit.estimators import (
    AutoencoderClassifier, ConvAutoencoder, StackedAutoencoder, VariationalAutoencoder,
)

RNG = np.random.default_rng(0)
UNIT = RNG.random((48, 16), dtype=np.float32)  # in [0, 1]
REAL = (UNIT - 0.5) * 4  # in [-2, 2], like standardised data
LABELS = np.arange(48) % 3

TINY = {
    "stacked": lambda **kw: StackedAutoencoder(2, hidden_layer_sizes=(8,), epochs=2,
                                               random_state=0, **kw),
    "conv": lambda **kw: ConvAutoencoder(channels=(4,), n_components=3, epochs=2,
                                         random_state=0, **kw),
    "vae": lambda **kw: VariationalAutoencoder(2, hidden_layer_sizes=(8,), epochs=2,
                                               random_state=0, **kw),
    "conv-vae": lambda **kw: VariationalAutoencoder(2, architecture="conv", channels=(4,),
                                                    epochs=2, random_state=0, **kw),
    "classifier": lambda **kw: AutoencoderClassifier(2, method="pretrain", hidden_layer_sizes=(8,),
                                                     pretrain_epochs=2, head_epochs=1,
                                                     finetune_epochs=1, random_state=0, **kw),
}
OPTION = {"stacked": "output_activation", "conv": "output_activation", "vae": "likelihood",
          "conv-vae": "likelihood", "classifier": "output_activation"}
CHOICE = {"output_activation": {"unit": "sigmoid", "real": "linear"},
          "likelihood": {"unit": "bernoulli", "real": "gaussian"}}


def _fit(kind, X, **kw):
    est = TINY[kind](**kw)
    return est.fit(X, LABELS) if kind == "classifier" else est.fit(X)


@pytest.mark.parametrize("kind", TINY)
@pytest.mark.parametrize("data", ["unit", "real"])
def test_auto_chooses_from_the_data_and_records_it(kind, data, tmp_path):
    X = UNIT if data == "unit" else REAL
    option = OPTION[kind]
    est = _fit(kind, X)
    assert getattr(est, option) == "auto"  # the parameter stays as given (scikit-learn)
    chosen = CHOICE[option][data]
    assert getattr(est, option + "_") == chosen
    module = est.fitted_.module
    assert module.output_activation == ("sigmoid" if data == "unit" else "linear")
    if option == "likelihood":
        assert est.fitted_.objective.likelihood == chosen
    # the same model through a saved folder: the choice is in the file and the outputs agree
    est.save(tmp_path / "m")
    state = json.loads((tmp_path / "m" / "config.json").read_text())["estimator"]["state"]
    assert state[option + "_"] == chosen
    loaded = aekit.load(tmp_path / "m")
    assert getattr(loaded, option + "_") == chosen
    if kind == "classifier":
        np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    else:
        np.testing.assert_array_equal(loaded.reconstruct(X), est.reconstruct(X))
        np.testing.assert_array_equal(loaded.score_samples(X), est.score_samples(X))


@pytest.mark.parametrize("kind", TINY)
def test_explicit_unit_range_choice_still_refuses_data_outside_it(kind):
    option = OPTION[kind]
    with pytest.raises(DataError, match=r"X has values in \[-1.99.*reconstructs values in \[0, 1\]"):
        _fit(kind, REAL, **{option: CHOICE[option]["unit"]})


@pytest.mark.parametrize("kind", TINY)
def test_explicit_real_choice_is_kept_on_unit_data(kind):
    option = OPTION[kind]
    est = _fit(kind, UNIT, **{option: CHOICE[option]["real"]})
    assert getattr(est, option + "_") == CHOICE[option]["real"]
    assert est.fitted_.module.output_activation == "linear"


def test_partial_fit_decides_on_the_first_batch_and_says_so_later():
    est = StackedAutoencoder(2, hidden_layer_sizes=(8,), random_state=0)
    est.partial_fit(UNIT)
    assert est.output_activation_ == "sigmoid"
    with pytest.raises(DataError, match="output_activation='auto' chose it from the data"):
        est.partial_fit(REAL)


@pytest.mark.parametrize("layout", ["flat", "nhw", "nchw"])
def test_conv_defaults_take_every_image_layout(layout):
    """ConvAutoencoder() and the conv VAE with image_shape=None on flat rows, (n, H, W) and
    (n, C, H, W), real-valued or in [0, 1]."""
    X = RNG.standard_normal((24, 64)).astype(np.float32)
    data = {"flat": X, "nhw": X.reshape(-1, 8, 8), "nchw": X.reshape(-1, 1, 8, 8)}[layout]
    for est in (ConvAutoencoder(epochs=1, random_state=0),
                VariationalAutoencoder(architecture="conv", epochs=1, random_state=0)):
        est.fit(data)
        assert est.image_shape_ == (1, 8, 8)
        assert est.reconstruct(data).shape == (24, 64)
        assert est.transform(data).shape == (24, est.n_components_)


def test_a_state_that_contradicts_the_saved_network_is_refused(tmp_path):
    _fit("stacked", REAL).save(tmp_path / "m")
    cfg_file = tmp_path / "m" / "config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["estimator"]["state"]["output_activation_"] = "sigmoid"  # the network is linear
    cfg_file.write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="output_activation_"):
        aekit.load(tmp_path / "m")


def test_gaussian_noise_never_clips_real_valued_data():
    """A denoising autoencoder on standardised data: the noise is not clipped to [0, 1]
    (which cut away every negative value and left a model 1000x worse than PCA)."""
    import torch

    from aekit.losses import Objective

    obj = Objective(noise="gaussian", noise_level=0.1)
    real = torch.from_numpy(REAL)
    noisy = obj.corrupt(real, torch.Generator().manual_seed(0))
    assert float(noisy.min()) < -1.5 and float(noisy.max()) > 1.5
    assert float((noisy - real).std()) == pytest.approx(0.1, rel=0.1)
    unit = obj.corrupt(torch.from_numpy(UNIT), torch.Generator().manual_seed(0))
    assert float(unit.min()) >= 0 and float(unit.max()) <= 1  # images keep their range
    est = StackedAutoencoder(2, hidden_layer_sizes=(8,), noise="gaussian", noise_level=0.1,
                             epochs=30, random_state=0).fit(REAL)
    from sklearn.decomposition import PCA
    pca = PCA(2).fit(REAL)
    pca_mse = float(np.mean((pca.inverse_transform(pca.transform(REAL)) - REAL) ** 2))
    assert float(np.mean((est.reconstruct(REAL) - REAL) ** 2)) < 2 * pca_mse


def test_bce_and_psnr_are_reported_only_for_intensities():
    """On standardised data a cross-entropy and a PSNR with peak 1 mean nothing: evaluation
    gives the MSE alone (and the report's text uses it); on [0, 1] data all three."""
    from aekit.evaluation import evaluate_model, reconstruction_metrics

    real = _fit("stacked", REAL)
    assert set(evaluate_model(real, REAL)) == {"code_size", "mse"}
    assert set(reconstruction_metrics(UNIT, UNIT * 0.9)) == {"mse", "bce", "psnr"}
    assert set(reconstruction_metrics(REAL, REAL * 0.9)) == {"mse"}


# --- weight_decay='auto' (StackedAutoencoder's default) -------------------------------------
def _decay(X, n_train):
    return 0.5 * float(np.asarray(X, np.float64).var(axis=0).mean()) / n_train


@pytest.mark.parametrize("validation_fraction", [0.0, 0.25])
def test_auto_weight_decay_is_half_the_variance_per_training_row(validation_fraction, tmp_path):
    """0.5 x mean feature variance / training rows (less the validation split), used by the
    optimizer, recorded as weight_decay_ and in the model file's state and training record."""
    X = REAL * 3  # the variance scales it
    est = TINY["stacked"](validation_fraction=validation_fraction).fit(X)
    n_train = int(len(X) * (1 - validation_fraction))
    assert est.weight_decay == "auto"
    assert est.weight_decay_ == pytest.approx(_decay(X, n_train), rel=1e-12)
    assert est._trainer.optimizer.param_groups[0]["weight_decay"] == est.weight_decay_
    est.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["estimator"]["state"]["weight_decay_"] == est.weight_decay_
    assert cfg["training"]["weight_decay"] == est.weight_decay_
    assert aekit.load(tmp_path / "m").weight_decay_ == est.weight_decay_


def test_auto_weight_decay_changes_training_and_explicit_values_are_kept():
    auto = TINY["stacked"]().fit(REAL)
    none = TINY["stacked"](weight_decay=0.0).fit(REAL)
    assert not hasattr(none, "weight_decay_")
    assert none._trainer.optimizer.param_groups[0]["weight_decay"] == 0.0
    assert not np.array_equal(auto.transform(REAL), none.transform(REAL))
    same = TINY["stacked"](weight_decay=auto.weight_decay_).fit(REAL)
    np.testing.assert_array_equal(same.transform(REAL), auto.transform(REAL))


def test_auto_weight_decay_is_the_same_for_a_streamed_file(tmp_path):
    np.save(tmp_path / "x.npy", REAL)
    streamed = TINY["stacked"]().fit(np.load(tmp_path / "x.npy", mmap_mode="r"))
    in_memory = TINY["stacked"]().fit(REAL)
    assert streamed.weight_decay_ == in_memory.weight_decay_
    np.testing.assert_array_equal(streamed.transform(REAL), in_memory.transform(REAL))


def test_partial_fit_takes_its_weight_decay_from_the_first_call():
    est = StackedAutoencoder(2, hidden_layer_sizes=(8,), random_state=0)
    est.partial_fit(REAL)
    assert est.weight_decay_ == pytest.approx(_decay(REAL, len(REAL)), rel=1e-12)
    est.partial_fit(REAL[:10])
    assert est.weight_decay_ == pytest.approx(_decay(REAL, len(REAL)), rel=1e-12)


@pytest.mark.parametrize("kind", ["vae", "conv-vae"])
@pytest.mark.parametrize("scale", [0.1, 0.5])
def test_vae_auto_weight_decay_is_the_prior_in_nats_for_a_gaussian_likelihood(kind, scale,
                                                                             tmp_path):
    """Gaussian: 3 x the stacked prior x n_features / (2 scale^2) (the ELBO charges that
    many nats per unit of MSE), used by the optimizer and saved; Bernoulli: none."""
    est = TINY[kind](likelihood_scale=scale).fit(REAL)
    assert est.likelihood_ == "gaussian"
    expected = 3.0 * REAL.shape[1] / (2 * scale ** 2) * _decay(REAL, len(REAL))
    assert est.weight_decay_ == pytest.approx(expected, rel=1e-12)
    assert est._trainer.optimizer.param_groups[0]["weight_decay"] == est.weight_decay_
    assert aekit.load(est.save(tmp_path / "m")).weight_decay_ == est.weight_decay_
    unit = TINY[kind]().fit(UNIT)
    assert unit.likelihood_ == "bernoulli" and unit.weight_decay_ == 0.0
    assert unit._trainer.optimizer.param_groups[0]["weight_decay"] == 0.0


def test_vae_auto_weight_decay_changes_training_and_explicit_values_are_kept():
    auto = TINY["vae"]().fit(REAL)
    none = TINY["vae"](weight_decay=0.0).fit(REAL)
    assert not hasattr(none, "weight_decay_")
    assert not np.array_equal(auto.transform(REAL), none.transform(REAL))
    same = TINY["vae"](weight_decay=auto.weight_decay_).fit(REAL)
    np.testing.assert_array_equal(same.transform(REAL), auto.transform(REAL))


@pytest.mark.parametrize("cls", [ConvAutoencoder, AutoencoderClassifier])
def test_other_estimators_refuse_auto_weight_decay(cls):
    with pytest.raises(aekit.ConfigError, match=r"weight_decay must be a finite number >= 0, "
                                                r"got 'auto'"):
        cls(weight_decay="auto").validate_params()


def test_a_loaded_auto_weight_decay_must_be_a_number(tmp_path):
    TINY["stacked"]().fit(REAL).save(tmp_path / "m")
    cfg_file = tmp_path / "m" / "config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["estimator"]["state"]["weight_decay_"] = "lots"
    cfg_file.write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="weight_decay_"):
        aekit.load(tmp_path / "m")


# --- epochs='auto': 2000 optimizer steps on small data, capped per phase ----------------------
@pytest.mark.parametrize("est, name, rows, batch, expected", [
    (StackedAutoencoder(), "epochs", 60_000, 128, 20),  # large data: the base count
    (StackedAutoencoder(), "epochs", 1_257, 128, 200),  # 10 steps an epoch: 2000 steps
    (StackedAutoencoder(), "epochs", 124, 128, 1000),  # a wine-sized table: the cap
    (VariationalAutoencoder(), "epochs", 398, 256, 1000),  # 2 steps an epoch
    (AutoencoderClassifier(method="pretrain"), "pretrain_epochs", 124, 256, 1000),
    (AutoencoderClassifier(method="pretrain"), "head_epochs", 50, 32, 500),  # labelled rows: their own cap
    (AutoencoderClassifier(method="pretrain"), "finetune_epochs", 50, 32, 500),
])
def test_auto_epochs_make_2000_steps_up_to_the_phase_cap(est, name, rows, batch, expected):
    assert est._epochs(name, n_rows=rows, batch_size=batch) == expected


def test_a_small_table_trains_for_the_capped_auto_epochs():
    est = StackedAutoencoder(2, hidden_layer_sizes=(4,), random_state=0).fit(REAL[:40])
    assert est.n_iter_ == 1000  # one step an epoch: without the cap, 2000
