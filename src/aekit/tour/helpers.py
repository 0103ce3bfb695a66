"""Small measurements the tour's sections share."""

from __future__ import annotations

import numpy as np


def nearest_mse(A, B) -> np.ndarray:
    """For each row of A (n, D): mean squared difference per value to its nearest row of
    B (m, D). A plausibility proxy: decoded outputs that look like real items lie close
    to some real item. Returns (n,)."""
    from sklearn.neighbors import NearestNeighbors

    A, B = np.asarray(A, np.float64), np.asarray(B, np.float64)
    dist, _ = NearestNeighbors(n_neighbors=1).fit(B).kneighbors(A)
    return dist[:, 0] ** 2 / A.shape[1]


def params_of(model) -> int:
    """Trainable parameters of a fitted estimator's network."""
    return int(sum(p.numel() for p in model.module_.parameters()))


def fmt(x: float) -> str:
    return f"{x:.4g}"
