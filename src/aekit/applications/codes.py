"""Encode, decode, reconstruct, and average codes: the basic probes of an autoencoder.

Each is the fitted model's own method (:class:`aekit.fitted.FittedAutoencoder`), so the
estimator, these functions and the CLI give the same numbers bit for bit.
"""

from __future__ import annotations

import numpy as np

from aekit.applications.adapter import as_fitted
from aekit.errors import ConfigError, DataError


def encode(model, X) -> np.ndarray:
    """Codes of X: (n, D) rows or images -> (n, k) float32; a VAE's posterior mean mu."""
    return as_fitted(model).encode(X)


def decode(model, Z) -> np.ndarray:
    """Outputs for codes Z (n, k) -> (n, D) float32, after the output activation
    (for a sigmoid output: Bernoulli means in [0, 1]).

    A max-unpooling decoder has no encoder indices for a free code and unpools to fixed
    (top-left) positions (``as_fitted(model).free_code_note``)."""
    return as_fitted(model).decode(Z)


def reconstruct(model, X) -> np.ndarray:
    """decode(encode(X)) deterministically (VAE: decoder mean at z = mu); (n, D) -> (n, D)."""
    return as_fitted(model).reconstruct(X)


def mix_codes(Z_a, Z_b, weight: float = 0.5) -> np.ndarray:
    """(1 - weight) * Z_a + weight * Z_b, row by row; shapes (m, k) -> (m, k)."""
    Z_a, Z_b = np.asarray(Z_a, dtype=np.float32), np.asarray(Z_b, dtype=np.float32)
    if Z_a.shape != Z_b.shape:
        raise DataError(f"codes to mix must have the same shape, got {Z_a.shape} and {Z_b.shape}")
    return ((1.0 - weight) * Z_a + weight * Z_b).astype(np.float32)


def average(model, X_a, X_b, weight: float = 0.5) -> np.ndarray:
    """Decode the (weighted) average of the codes of two inputs, row by row.

    X_a, X_b: (m, D) or (D,). Returns (m, D): decode((1 - w) * encode(X_a) + w * encode(X_b)).
    Compare with the pixel average (1 - w) * X_a + w * X_b to see what the code space adds.
    """
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"weight must be in [0, 1], got {weight}")
    fitted = as_fitted(model)
    return fitted.decode(mix_codes(fitted.encode(X_a), fitted.encode(X_b), weight))
