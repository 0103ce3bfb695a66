"""Model folders written by aekit before the fitted-model core (commit db1c3d4) still load
and give the outputs they gave then (tests/fixtures/models_v1, made by that version)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

import aekit

FIXTURES = Path(__file__).parent / "fixtures" / "models_v1"
REFERENCE = json.loads((FIXTURES / "reference.json").read_text())
TOL = dict(rtol=1e-5, atol=1e-5)  # as conftest's COMPAT_TOL: float32 agrees to rounding


def _data(spec: str) -> np.ndarray:
    X = (load_digits().data / 16.0).astype(np.float32)[:200]
    return X[:, :50] if spec.endswith("[:, :50]") else X


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_v1_folder_loads_and_reproduces_its_outputs(name, reproduces):
    ref = REFERENCE[name]
    X = _data(ref["X"])[:20]
    model = aekit.load(FIXTURES / name)
    if name == "bare_module":
        from aekit.applications import encode, reconstruct

        np.testing.assert_allclose(encode(model, X), ref["transform"], **TOL)
        np.testing.assert_allclose(reconstruct(model, X), ref["reconstruct"], **TOL)
        return
    reproduces(model, X, ref, score_rtol=1e-6)
