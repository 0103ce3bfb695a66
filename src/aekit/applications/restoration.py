"""Repair inputs with a trained autoencoder: denoising and inpainting."""

from __future__ import annotations

import numpy as np
import torch

from aekit.applications.adapter import (
    as_fitted, check_array, image_shape_of, rng_of, torch_generator,
)
from aekit.errors import ConfigError, DataError
from aekit.losses import NOISE_KINDS, corrupt

MASK_KINDS = ("bottom", "top", "left", "right", "center", "random")


def add_noise(X, kind: str = "gaussian", level: float = 0.3, random_state=None,
              clip: bool = True) -> np.ndarray:
    """Corrupt X (n, D) the way a denoising AE is trained (see ``aekit.losses.corrupt``).

    kind: "gaussian" (std ``level``, clipped to [0, 1] when ``clip``), "mask" (each value
    zeroed with probability ``level``) or "salt_pepper". Returns (n, D) float32.
    """
    if kind not in NOISE_KINDS:
        raise ConfigError(f"noise kind {kind!r} is not one of {list(NOISE_KINDS)}")
    X = check_array(X)
    g = torch_generator(random_state)
    return corrupt(torch.from_numpy(X.copy()), kind, float(level), g, clip=clip).numpy()


def denoise(model, X_noisy, n_iter: int = 1) -> np.ndarray:
    """Reconstruct noisy inputs (n, D) -> (n, D); ``n_iter`` > 1 feeds the output back in."""
    if n_iter < 1:
        raise ConfigError(f"n_iter must be >= 1, got {n_iter}")
    fitted = as_fitted(model)
    out = X_noisy
    for _ in range(n_iter):
        out = fitted.reconstruct(out)
    return out


def make_mask(image_shape, kind: str = "bottom", fraction: float = 0.5, n: int | None = None,
              random_state=None) -> np.ndarray:
    """A boolean mask of *missing* values (True = unknown) for flat images.

    image_shape: (H, W) or (C, H, W). kind: "bottom"/"top"/"left"/"right" (that fraction of
    rows/columns), "center" (a centred square covering ~``fraction`` of the area) or
    "random" (each pixel missing with probability ``fraction``, all channels together).
    Returns (D,), or (n, D) when ``n`` is given (random masks then differ per row).
    """
    if kind not in MASK_KINDS:
        raise ConfigError(f"mask kind {kind!r} is not one of {list(MASK_KINDS)}")
    if not 0 < fraction < 1:
        raise ConfigError(f"fraction must be in (0, 1), got {fraction}")
    c, h, w = image_shape_of(None, image_shape)
    rows = 1 if n is None else n
    m = np.zeros((rows, h, w), dtype=bool)
    if kind == "random":
        m = rng_of(random_state).random((rows, h, w)) < fraction
    elif kind in ("bottom", "top"):
        cut = max(1, round(h * fraction))
        if kind == "bottom":
            m[:, h - cut:, :] = True
        else:
            m[:, :cut, :] = True
    elif kind in ("left", "right"):
        cut = max(1, round(w * fraction))
        if kind == "right":
            m[:, :, w - cut:] = True
        else:
            m[:, :, :cut] = True
    else:
        sh, sw = max(1, round(h * fraction ** 0.5)), max(1, round(w * fraction ** 0.5))
        top, left = (h - sh) // 2, (w - sw) // 2
        m[:, top:top + sh, left:left + sw] = True
    m = np.repeat(m[:, None], c, axis=1).reshape(rows, c * h * w)
    return m[0] if n is None else m


def inpaint(model, X, mask, n_iter: int = 20, fill: float | str = "mean") -> np.ndarray:
    """Fill in missing values by iterated reconstruction, keeping the known values.

    X: (n, D); mask: bool (D,) or (n, D), True where the value is missing (its content in X
    is ignored). Missing values start at ``fill`` ("mean" = the mean of the known values of
    the row, or a number), then n_iter times: x[missing] <- reconstruct(x)[missing].
    Known values are returned unchanged, bit for bit. Returns (n, D) float32.
    """
    fitted = as_fitted(model)
    X = fitted.check_input(X)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape not in ((X.shape[1],), X.shape):
        raise DataError(f"mask must have shape ({X.shape[1]},) or {X.shape}, got {mask.shape}")
    mask = np.broadcast_to(mask, X.shape)
    if n_iter < 0:
        raise ConfigError(f"n_iter must be >= 0, got {n_iter}")
    out = X.copy()
    if fill == "mean":
        known = np.where(mask, 0.0, X).sum(1) / np.maximum((~mask).sum(1), 1)
        start = np.broadcast_to(known[:, None], X.shape)
    else:
        start = np.full(X.shape, float(fill), np.float32)
    out[mask] = start[mask]
    for _ in range(n_iter):
        out[mask] = fitted.reconstruct(out)[mask]
    return out
