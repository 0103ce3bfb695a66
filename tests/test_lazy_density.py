"""fit() does no work the user did not ask for (issue 27): the code density behind
``sample()`` and the entropy model behind compression are fitted on first use, from the
codes fit() kept; seeded, so a saved or pickled model draws the same samples."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import aekit
from aekit.fitted import model as fitted_model

X = aekit.datasets.load("digits").X[:400]


@pytest.fixture
def counted(monkeypatch):
    calls = {"density": 0, "entropy": 0}
    density, entropy = fitted_model.fit_density, fitted_model.EntropyModel.fit

    def count_density(*a, **k):
        calls["density"] += 1
        return density(*a, **k)

    def count_entropy(*a, **k):
        calls["entropy"] += 1
        return entropy(*a, **k)

    monkeypatch.setattr(fitted_model, "fit_density", count_density)
    monkeypatch.setattr(fitted_model.EntropyModel, "fit", count_entropy)
    return calls


def _fit(sampler="gmm"):
    return aekit.StackedAutoencoder(4, hidden_layer_sizes=(16,), epochs=2, sampler=sampler,
                                    random_state=0).fit(X)


def test_fit_fits_neither_density_nor_entropy_model(counted):
    est = _fit()
    assert counted == {"density": 0, "entropy": 0}
    est.sample(3, random_state=0)
    est.sample(3, random_state=1)
    assert counted["density"] == 1 and counted["entropy"] == 0
    aekit.applications.compress(est, X[:5], quality=30)
    assert counted["entropy"] == 1


@pytest.mark.parametrize("sampler", ["gmm", "gaussian", "uniform"])
def test_saved_loaded_and_pickled_models_draw_the_same_samples(tmp_path, sampler):
    eager = _fit(sampler)
    eager.sampler_  # noqa: B018 - fitted right away, as before issue 27
    want = eager.sample(6, random_state=3)
    lazy = _fit(sampler)
    lazy.save(tmp_path / "m")  # the save fits it
    np.testing.assert_array_equal(aekit.load(tmp_path / "m").sample(6, random_state=3), want)
    np.testing.assert_array_equal(lazy.sample(6, random_state=3), want)
    again = pickle.loads(pickle.dumps(_fit(sampler)))
    assert again.fitted_.__dict__.get("_pending_density") is None  # no codes in pickles
    np.testing.assert_array_equal(again.sample(6, random_state=3), want)


def test_codes_no_density_can_take_fail_at_fit_not_at_the_first_sample():
    from aekit.errors import DataError
    from aekit.fitted import FittedAutoencoder

    est = _fit()
    fitted = FittedAutoencoder(est.module_)
    fitted.encode = lambda rows: np.full((len(rows), 4), np.nan, np.float32)
    with pytest.raises(DataError, match="no code density can be fitted"):
        fitted.fit_density(X, "gmm")
