"""The code density is fitted on a bounded, seeded subsample of the codes (issue 18): the
same codes and seed give the same density, it is the mixture fitted on exactly those
rows (regularised by every code's variance), small code sets are used whole, and a saved model keeps the fitted density."""

import numpy as np
import pytest

import aekit
from aekit.estimators import StackedAutoencoder
from aekit.fitted import density as dens


def _codes(n, k=3, seed=0):
    rng = np.random.RandomState(seed)
    centres = rng.randn(4, k) * 5
    return centres[rng.randint(0, 4, n)] + rng.randn(n, k)


def test_large_code_sets_are_fitted_on_a_seeded_subsample(monkeypatch):
    monkeypatch.setattr(dens, "GMM_FIT_ROWS", 300)
    codes = _codes(1000)
    a = dens.CodeDensity.fit(codes, "gmm", 4, seed=3)
    b = dens.CodeDensity.fit(codes, "gmm", 4, seed=3)
    for key in ("weights", "means", "chol"):
        np.testing.assert_array_equal(a.params[key], b.params[key])
    rows = np.sort(np.random.RandomState(3).choice(1000, 300, replace=False))
    reg = dens.REG * codes.var(axis=0).mean()  # the regulariser comes from every code
    direct = dens._mixture(codes[rows], 4, reg, 3)
    for key in ("weights", "means", "chol"):
        np.testing.assert_allclose(a.params[key], direct.params[key])
    other = dens.CodeDensity.fit(codes, "gmm", 4, seed=4)
    assert not np.array_equal(a.params["means"], other.params["means"])


def test_code_sets_up_to_the_bound_are_used_whole(monkeypatch):
    monkeypatch.setattr(dens, "GMM_FIT_ROWS", 300)
    codes = _codes(300)
    seen = []
    original = dens._mixture
    monkeypatch.setattr(dens, "_mixture", lambda c, *a: seen.append(len(c)) or original(c, *a))
    dens.CodeDensity.fit(codes, "gmm", 4, seed=0)
    dens.CodeDensity.fit(_codes(301), "gmm", 4, seed=0)
    assert seen == [300, 300]


@pytest.mark.parametrize("kind", ["gaussian", "uniform"])
def test_cheap_kinds_still_use_every_code(monkeypatch, kind):
    monkeypatch.setattr(dens, "GMM_FIT_ROWS", 10)
    codes = _codes(200)
    d = dens.CodeDensity.fit(codes, kind, 4, seed=0)
    if kind == "uniform":
        np.testing.assert_array_equal(d.params["low"], codes.min(0))
    else:
        np.testing.assert_allclose(d.params["means"][0], codes.mean(0))


def test_saved_estimator_keeps_its_subsampled_density(tmp_path, monkeypatch):
    monkeypatch.setattr(dens, "GMM_FIT_ROWS", 100)
    X = np.random.RandomState(0).rand(400, 16).astype(np.float32)
    est = StackedAutoencoder(4, hidden_layer_sizes=(8,), epochs=1, sampler_components=3,
                             random_state=0).fit(X)
    est.save(tmp_path / "m")
    loaded = aekit.load(tmp_path / "m")
    np.testing.assert_array_equal(est.sample(5, random_state=1), loaded.sample(5, random_state=1))
