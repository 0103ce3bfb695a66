"""Encode, decode, reconstruct, and average codes: the basic probes of an autoencoder."""

from __future__ import annotations

import numpy as np

from aekit.applications.adapter import as_module, batched, check_array
from aekit.errors import ConfigError, DataError


def encode(model, X, batch_size: int = 2048) -> np.ndarray:
    """Codes of the rows of X.

    X: (n, D) in the model's input units (pixels in [0, 1] for images).
    Returns (n, k) float32; for a VAE the posterior mean mu (deterministic).
    """
    module = as_module(model)
    X = check_array(X, module.config.n_features)
    return batched(module, lambda m, xb: m.encode(xb), X, batch_size)


def decode(model, Z, batch_size: int = 2048) -> np.ndarray:
    """Outputs for codes Z (n, k) -> (n, D) float32, after the output activation
    (for a sigmoid output: Bernoulli means in [0, 1]).

    Dense and bottlenecked conv models only; a max-unpooling decoder needs the encoder's
    pooling indices and cannot decode a free code (ConfigError)."""
    module = as_module(model)
    if getattr(module.config, "decoder", None) == "unpool" and module.config.architecture == "conv":
        raise ConfigError("a decoder with max-unpooling needs pooling indices from an input; "
                          "it cannot decode codes alone (use reconstruct)")
    Z = check_array(Z, module.code_size, name="Z")
    return batched(module, lambda m, zb: m.decode(zb), Z, batch_size)


def reconstruct(model, X, batch_size: int = 2048) -> np.ndarray:
    """decode(encode(X)) deterministically (VAE: decoder mean at z = mu); (n, D) -> (n, D)."""
    module = as_module(model)
    X = check_array(X, module.config.n_features)

    def fn(m, xb):
        z, context = m._encode(xb)  # context: pooling indices of an unpooling decoder
        return m.decode(z, context)

    return batched(module, fn, X, batch_size)


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
    return decode(model, mix_codes(encode(model, X_a), encode(model, X_b), weight))
