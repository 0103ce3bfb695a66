"""Issue 28, class 3: no silent wrong numbers at the edges of float32. Generated over seeded
random magnitudes up to float32's largest value, every model kind and every path:

- encode (transform), reconstruct, decode and compress return only finite numbers or refuse
  with a DataError naming the row; score_samples (float64) is never NaN (-inf) and scores
  huge rows below every normal one (a Bernoulli VAE refuses values outside [0, 1], where
  its likelihood once made them the most normal), and the exported ONNX graph's anomaly
  score is never NaN (saturated to +inf), so ``score > threshold`` flags such a row as
  aekit's own path does;
- scaling refuses values it would take beyond float32 (or whose range overflows float64)
  and nonzero values float32 would flush to 0, naming the row and column, on load and on
  ``aekit encode --input``.
"""

from __future__ import annotations

import numpy as np
import pytest

import aekit
from aekit.applications import compression as C
from aekit.datasets import load
from aekit.errors import DataError

X_TRAIN = load("digits").X[:300]
KINDS = {
    "linear": lambda: aekit.LinearAutoencoder(n_components=4),
    "stacked": lambda: aekit.StackedAutoencoder(n_components=4, hidden_layer_sizes=(16,),
                                                epochs=2, random_state=0),
    "vae": lambda: aekit.VariationalAutoencoder(n_components=2, hidden_layer_sizes=(16,),
                                                epochs=2, random_state=0),
    "conv": lambda: aekit.ConvAutoencoder((8, 8), channels=(4,), n_components=4, epochs=2,
                                          random_state=0),
}


@pytest.fixture(scope="module")
def fitted():
    return {k: make().fit(X_TRAIN) for k, make in KINDS.items()}


def _edge_rows(seed: int, n: int = 12) -> np.ndarray:
    """Normal rows with a few values of random sign and magnitude 10^0 .. 3.4e38."""
    rng = np.random.default_rng(seed)
    X = X_TRAIN[:n].copy()
    for i in range(n):
        cols = rng.choice(X.shape[1], size=rng.integers(1, 5), replace=False)
        mag = min(10.0 ** rng.uniform(0, 38.6), float(np.finfo(np.float32).max))
        X[i, cols] = np.float32(mag) * rng.choice([-1, 1], size=len(cols))
    return X


def _finite_or_refused(fn, X):
    try:
        out = fn(X)
    except DataError as exc:
        assert "row" in str(exc) and "float32" in str(exc), exc
        return None
    assert np.isfinite(out).all()
    return out


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_path_returns_finite_numbers_or_refuses(fitted, kind, seed):
    est = fitted[kind]
    X = _edge_rows(seed)
    refused = 0
    for fn in (est.transform, est.fitted_.reconstruct,
               lambda A: C.decompress(est, C.compress(est, A, 50))):
        refused += _finite_or_refused(fn, X) is None
    huge = X_TRAIN[:2].copy()
    huge[1] = np.finfo(np.float32).max  # every value at float32's edge
    with pytest.raises(DataError, match="row 1 .*overflows float32"):
        est.transform(huge)
    try:  # float64: huge rows score as the most abnormal (a Bernoulli VAE refuses them)
        scores = est.score_samples(X)
    except DataError as exc:
        assert "row" in str(exc) and "Bernoulli" in str(exc), exc
    else:
        assert not np.isnan(scores).any()
        edge = np.abs(X).max(axis=1) > 1e6
        assert (scores[edge] < est.score_samples(X_TRAIN[:100]).min()).all()


@pytest.mark.parametrize("kind", list(KINDS))
def test_decode_of_huge_codes_is_refused(fitted, kind):
    est = fitted[kind]
    Z = est.transform(X_TRAIN[:3])
    Z[2] = np.finfo(np.float32).max / 2
    try:
        out = est.inverse_transform(Z)
    except DataError as exc:
        assert "row 2" in str(exc)
    else:
        assert np.isfinite(out).all()  # a sigmoid output saturates: finite, in [0, 1]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["stacked", "linear"])
def test_the_onnx_anomaly_score_flags_huge_rows(fitted, kind, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="needs pip install 'aekit[onnx]'")
    est = fitted[kind]
    threshold = float(np.quantile(-est.score_samples(X_TRAIN), 0.99))
    path = est.export_onnx(tmp_path / "ae.onnx", threshold=threshold)
    X = X_TRAIN[:4].copy()
    X[1] = np.finfo(np.float32).max
    X[2, :5] = -np.finfo(np.float32).max
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    score = dict(zip(names, s.run(names, {s.get_inputs()[0].name: X})))[names[-1]]
    assert not np.isnan(score).any()
    assert (score[1:3] > threshold).all()  # flagged, as by aekit's own scores:
    assert (-est.score_samples(X[1:3]) > threshold).all()


SCALE_CASES = [  # (values in one column, rule, what the message says)
    ([1e300, 2e300, 0.5, 1.0, 2.0], "standard", "too large to scale"),
    ([1.7e308, -1.7e308, 0.5, 1.0, 2.0], "minmax", "too large to scale"),
    ([1e39, 0.5, 0.1, 0.2, 0.3], "none", "outside [0, 1]"),  # the unfitted rules' range
    ([1e-40, 0.5, 0.1, 0.2, 0.3], "none", "would become 0"),
    ([1e-45, 0.5, 0.1, 0.2, 0.3], "none", "would become 0"),
    ([1e-50, 0.5, 0.1, 0.2, 0.3], "none", "would become 0"),
    ([1e30, 1e-10, 0.0, 0.0, 0.0], "minmax", "would become 0"),  # 1e-10 / 1e30
]


@pytest.mark.parametrize("column,rule,says", SCALE_CASES)
def test_scaling_refuses_what_float32_cannot_hold(column, rule, says, tmp_path):
    values = np.c_[np.linspace(0, 1, 5), np.asarray(column, np.float64)]
    np.save(tmp_path / "x.npy", values)
    with pytest.raises(DataError) as err:
        load(str(tmp_path / "x.npy"), scale=rule, split="all")
    assert says in str(err.value) and "\n" not in str(err.value)


def test_values_far_apart_but_representable_are_kept(tmp_path):
    values = np.c_[np.linspace(0, 1, 5), [1e-30, 2e-30, 3e-30, 4e-30, 5e-30]]
    np.save(tmp_path / "x.npy", values)
    ds = load(str(tmp_path / "x.npy"), scale="minmax", split="all")
    np.testing.assert_allclose(ds.X[:, 1], [0, 0.25, 0.5, 0.75, 1], atol=1e-6)
