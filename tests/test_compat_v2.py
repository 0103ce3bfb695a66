"""Model folders of every kind written before the kinds got their own types (issue 29;
tests/fixtures/models_v2, made by scripts/make_compat_fixtures.py at the commit its
reference.json names) still load and give the outputs they gave then."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import aekit

FIXTURES = Path(__file__).parent / "fixtures" / "models_v2"
REFERENCE = json.loads((FIXTURES / "reference.json").read_text())["models"]
TOL = dict(rtol=1e-5, atol=1e-5)  # same arithmetic: float32 results agree to rounding


def test_every_kind_has_a_folder():
    from aekit.kinds import KINDS

    kinds = {type(aekit.load(FIXTURES / name)).__name__ for name in REFERENCE}
    assert kinds == {k.estimator for k in KINDS}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_folder_loads_and_reproduces_its_outputs(name, load_script):
    ref = REFERENCE[name]
    make = load_script("make_compat_fixtures")
    rows = make.scenes()[0] if ref["data"] == "scenes" else make.digits()[0]
    X = rows[:make.ROWS[ref["data"]]]
    model = aekit.load(FIXTURES / name)
    if "predict_proba" in ref:
        np.testing.assert_allclose(model.predict_proba(X), ref["predict_proba"], **TOL)
        return
    np.testing.assert_allclose(model.transform(X), ref["transform"], **TOL)
    np.testing.assert_allclose(model.reconstruct(X), ref["reconstruct"], **TOL)
    np.testing.assert_allclose(model.score_samples(X), ref["score_samples"], rtol=1e-5)
    np.testing.assert_allclose(model.inverse_transform(model.transform(X[:5])),
                               ref["inverse_transform"], **TOL)
    np.testing.assert_allclose(model.sample(4, random_state=0), ref["sample"], **TOL)
