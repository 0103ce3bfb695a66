"""Bad input at the library's public entry points: datasets.load, the estimators, config files.

Each case is one row of ``CASES``: an id (also a row of the table in docs/errors.md, which a
test keeps in sync), a call that must fail, the exception type and a pattern the message must
match (naming what is wrong). The CLI's side of the same cases is in test_hardening_cli.py.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aekit import AekitError, ConfigError, DataError
from aekit.datasets import load
from aekit.estimators import (
    ConvAutoencoder,
    LinearAutoencoder,
    StackedAutoencoder,
    VariationalAutoencoder,
)

ERRORS_DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
RNG = np.random.default_rng(0)
X = RNG.random((40, 16), dtype=np.float32)  # in [0, 1]


def tiny(cls=StackedAutoencoder, **kw):
    base = dict(n_components=2, epochs=1, batch_size=16, random_state=0)
    if cls is not ConvAutoencoder:
        base["hidden_layer_sizes"] = (8,)
    return cls(**{**base, **kw})


def _npy(tmp: Path, array) -> Path:
    np.save(tmp / "x.npy", array)
    return tmp / "x.npy"


def _text(tmp: Path, name: str, text: str) -> Path:
    (tmp / name).write_text(text)
    return tmp / name


def _images(tmp: Path, damage) -> Path:
    folder = tmp / "imgs"
    folder.mkdir()
    buffer = io.BytesIO()  # noise: the pixel data spans many bytes, so a cut lands in it
    Image.fromarray(RNG.integers(0, 256, (32, 32), dtype=np.uint8)).save(buffer, format="PNG")
    (folder / "a.png").write_bytes(buffer.getvalue())
    (folder / "b.png").write_bytes(damage(buffer.getvalue()))
    return folder


def _fitted():
    return tiny().fit(X)


# (id, call(tmp_path), exception type, message pattern)
CASES = [
    # --- datasets.load -------------------------------------------------------------------
    ("data-nan", lambda t: load(_npy(t, np.array([[0.1, np.nan], [0.2, 0.3]]))),
     DataError, r"x\.npy: 1 NaN/Inf value\(s\); the first is at row 0 .*column 2"),
    ("data-inf-csv", lambda t: load(_text(t, "x.csv", "0.1,0.2\n0.3,inf\n")),
     DataError, r"x\.csv: 1 NaN/Inf value\(s\); the first is at row 2, column 2"),
    ("data-empty-array", lambda t: load(_npy(t, np.zeros((0, 4), np.float32))),
     DataError, r"x\.npy: no data \(array shape \(0, 4\)\)"),
    ("data-empty-file", lambda t: load(_text(t, "x.csv", "")), DataError, r"x\.csv: empty file"),
    ("data-1d", lambda t: load(_npy(t, np.zeros(5, np.float32))),
     DataError, r"x\.npy: expected \(n_samples, n_features\) .* got shape \(5,\)"),
    ("data-5d", lambda t: load(_npy(t, np.zeros((1, 1, 1, 1, 1), np.float32))),
     DataError, r"got shape \(1, 1, 1, 1, 1\)"),
    ("data-non-numeric-csv", lambda t: load(_text(t, "x.csv", "1,2\n3,abc\n")),
     DataError, r"x\.csv: row 2, column 2: 'abc' is not a number"),
    ("data-ragged-csv", lambda t: load(_text(t, "x.csv", "1,2\n3\n")),
     DataError, r"x\.csv: row 2 has 1 columns, expected 2"),
    ("data-unreadable-image", lambda t: load(_images(t, lambda b: b"not an image")),
     DataError, r"b\.png: not a readable image"),
    ("data-truncated-image", lambda t: load(_images(t, lambda b: b[: len(b) // 2])),
     DataError, r"b\.png: truncated or corrupt image"),
    ("data-missing-file", lambda t: load(t / "nope.npy"), DataError, r"nope\.npy: no such file"),
    ("data-unknown-name", lambda t: load("fashion_mnits"), DataError, r"fashion_mnits"),
    ("data-unsupported-type", lambda t: load(_text(t, "x.txt", "1")),
     DataError, r"x\.txt: unsupported file type \.txt"),
    ("data-out-of-range", lambda t: load(_npy(t, np.array([[0.5, 2.0]]))),
     DataError, r"values in \[0\.5, 2\] are outside \[0, 1\]; rescale with scale='minmax'"),
    ("option-split", lambda t: load("digits", split="validation"),
     ConfigError, r"split='validation' is not one of"),
    ("option-scale", lambda t: load(_npy(t, X), scale="zscore"),
     ConfigError, r"scale='zscore' is not one of"),
    ("option-mode", lambda t: load(_images(t, lambda b: b), mode="CMYK"),
     ConfigError, r"mode='CMYK' is not one of"),
    ("option-not-for-kind", lambda t: load(_npy(t, X), label_column=0),
     ConfigError, r"label_column=0 does not apply to .* \(npy\); it is for csv"),
    # --- estimators ------------------------------------------------------------------------
    ("fit-nan", lambda t: tiny().fit(np.where(X > 0.99, np.nan, X)),
     ValueError, r"Input X contains NaN"),
    ("fit-inf", lambda t: tiny().fit(np.where(X > 0.99, np.inf, X)),
     ValueError, r"Input X contains infinity"),
    ("fit-empty", lambda t: tiny().fit(np.zeros((0, 16), np.float32)),
     ValueError, r"Found array with 0 sample\(s\)"),
    ("fit-1d", lambda t: tiny().fit(X[0]), ValueError, r"Expected 2D array, got 1D array"),
    ("fit-3d-dense", lambda t: tiny().fit(X.reshape(40, 4, 4)),
     ValueError, r"Found array with dim 3"),
    ("fit-out-of-range", lambda t: tiny(output_activation="sigmoid").fit(X * 3),
     DataError, r"X has values in \[.*\] but StackedAutoencoder reconstructs values in \[0, 1\]"),
    ("transform-n-features", lambda t: _fitted().transform(X[:, :5]),
     ValueError, r"X has 5 features, but StackedAutoencoder is expecting 16 features"),
    ("inverse-transform-n-features", lambda t: _fitted().inverse_transform(X[:, :5]),
     ValueError, r"X has 5 features, but StackedAutoencoder.inverse_transform is expecting 2"),
    ("transform-nan", lambda t: _fitted().transform(np.full((2, 16), np.nan)),
     ValueError, r"Input X contains NaN"),
    ("transform-unfitted", lambda t: tiny().transform(X), ValueError, r"not fitted yet"),
    ("image-shape-size", lambda t: tiny(ConvAutoencoder, image_shape=(7, 7), channels=(4,)).fit(X),
     DataError, r"image_shape \(1, 7, 7\) has 49 values but X has 16 features per row"),
    ("image-shape-form", lambda t: tiny(ConvAutoencoder, image_shape=(4,), channels=(4,)).fit(X),
     ConfigError, r"image_shape must be \(H, W\) or \(C, H, W\), got \(4,\)"),
    ("image-shape-mismatch", lambda t: tiny(ConvAutoencoder, channels=(4,))
     .fit(X.reshape(40, 1, 4, 4)).transform(X.reshape(40, 1, 2, 8)),
     DataError, r"X holds images of shape \(1, 2, 8\), but ConvAutoencoder was fitted on "
     r"images of shape \(1, 4, 4\)"),
    ("option-activation", lambda t: tiny(activation="swish").fit(X),
     ConfigError, r"activation 'swish' is not one of"),
    ("option-optimizer", lambda t: tiny(optimizer="lbfgs").fit(X),
     ConfigError, r"optimizer 'lbfgs' is not one of"),
    ("option-learning-rate", lambda t: tiny(learning_rate=math.nan).fit(X),
     ConfigError, r"learning_rate must be a finite number > 0, got nan"),
    ("option-n-components", lambda t: tiny(n_components=0).fit(X),
     ConfigError, r"n_components must be an integer >= 1, got 0"),
    ("option-hidden", lambda t: tiny(hidden_layer_sizes=(8, -1)).fit(X),
     ConfigError, r"hidden_layer_sizes entries must be an integer >= 1, got -1"),
    ("option-epochs", lambda t: tiny(epochs=2.5).fit(X),
     ConfigError, r"epochs must be an integer >= 0 or one of 'auto', got 2.5"),
    ("option-likelihood", lambda t: tiny(VariationalAutoencoder, likelihood="poisson").fit(X),
     ConfigError, r"likelihood"),
    ("option-solver-epochs", lambda t: LinearAutoencoder(2, solver="svd", epochs=5).fit(X),
     ConfigError, r"solver='svd' does not apply with epochs=5 \(an epoch count asks for "
                  r"gradient training\): use solver='gradient' \(or 'auto'\)"),
]


@pytest.mark.parametrize("case, call, exc_type, pattern", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_a_clear_message(tmp_path, case, call, exc_type, pattern):
    with pytest.raises(exc_type) as info:
        call(tmp_path)
    message = str(info.value)
    assert re.search(pattern, message), f"{case}: message {message!r} does not match {pattern!r}"
    if issubclass(exc_type, AekitError):  # aekit's own messages are one line (the CLI's
        assert "\n" not in message.strip()   # error line); scikit-learn's may be longer


def test_every_case_is_in_the_docs_table():
    text = ERRORS_DOC.read_text()
    missing = [case for case, *_ in CASES if f"`{case}`" not in text]
    assert not missing, f"docs/errors.md lacks rows for {missing}"


def test_failed_fit_leaves_an_unfitted_estimator():
    est = tiny(optimizer="lbfgs")
    with pytest.raises(ConfigError):
        est.fit(X)
    assert not hasattr(est, "module_")
