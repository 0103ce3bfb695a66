"""Walks through the code space: interpolation (linear / slerp), 2-D latent grids and
single-dimension traversals (beta-VAE)."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from aekit.applications.adapter import as_fitted
from aekit.errors import ConfigError, DataError

INTERPOLATIONS = ("linear", "slerp")
GRID_METHODS = ("prior", "quantile", "range")
PRIOR_GRID_DRAWS = 4096  # a VampPrior's draws (seed 0) whose quantiles lay out its grid


def _points_of_a_space(fitted, what: str) -> None:
    """Refuse ``what`` for codes that are indices (a VQ-VAE's): between index 3 and index 9
    lies no code 'in between'."""
    if fitted.discrete_codes:
        raise ConfigError(f"{what} walks through code space, but this model's codes are "
                          "codebook indices (a VQ-VAE): there is no code between two "
                          "indices; sample() draws new index grids from its prior")


def slerp(z_a: np.ndarray, z_b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical linear interpolation (Shoemake 1985), row-wise.

    z(t) = sin((1-t) W) / sin W * z_a + sin(t W) / sin W * z_b, W = angle(z_a, z_b).
    Follows the great circle: with |z_a| = |z_b| = r every z(t) has norm r (the typical
    set of a high-dimensional Gaussian prior is a thin shell, which linear paths cut through).
    Falls back to linear interpolation when the angle is ~0 (or a code is ~0).
    z_a, z_b: (m, k); t: (s,) in [0, 1]. Returns (m, s, k).
    """
    a, b = z_a[:, None, :].astype(np.float64), z_b[:, None, :].astype(np.float64)
    t = np.asarray(t, dtype=np.float64)[None, :, None]  # (1, s, 1)
    na, nb = np.linalg.norm(a, axis=-1, keepdims=True), np.linalg.norm(b, axis=-1, keepdims=True)
    cos = np.sum(a * b, axis=-1, keepdims=True) / np.maximum(na * nb, 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))  # (m, 1, 1)
    sin = np.sin(omega)
    small = (sin < 1e-6) | (na < 1e-12) | (nb < 1e-12)
    safe = np.where(small, 1.0, sin)
    wa = np.where(small, 1 - t, np.sin((1 - t) * omega) / safe)
    wb = np.where(small, t, np.sin(t * omega) / safe)
    return (wa * a + wb * b).astype(np.float32)


def interpolate_codes(z_a, z_b, n_steps: int = 8, method: str = "linear") -> np.ndarray:
    """n_steps codes from z_a to z_b, both endpoints included (t = 0, 1/(s-1), ..., 1).

    z_a, z_b: (k,) or (m, k). Returns (n_steps, k) or (m, n_steps, k).
    method: "linear" (z_a + t (z_b - z_a)) or "slerp" (see :func:`slerp`).
    """
    if method not in INTERPOLATIONS:
        raise ConfigError(f"method {method!r} is not one of {list(INTERPOLATIONS)}")
    if n_steps < 2:
        raise ConfigError(f"n_steps must be >= 2, got {n_steps}")
    z_a, z_b = np.asarray(z_a, np.float32), np.asarray(z_b, np.float32)
    if z_a.shape != z_b.shape or z_a.ndim not in (1, 2):
        raise DataError(f"codes must have equal shapes (k,) or (m, k), got {z_a.shape} and "
                        f"{z_b.shape}")
    single = z_a.ndim == 1
    a, b = np.atleast_2d(z_a), np.atleast_2d(z_b)
    t = np.linspace(0.0, 1.0, n_steps)
    if method == "slerp":
        out = slerp(a, b, t)
    else:
        tt = t[None, :, None]
        out = ((1 - tt) * a[:, None, :] + tt * b[:, None, :]).astype(np.float32)
    out[:, 0], out[:, -1] = a, b  # exact endpoints, whatever the rounding
    return out[0] if single else out


def interpolate(model, x_a, x_b, n_steps: int = 8, method: str | None = None) -> np.ndarray:
    """Decoded path between the codes of two inputs.

    x_a, x_b: (D,) or (m, D). Returns (n_steps, D) or (m, n_steps, D).
    method: "linear" or "slerp"; None picks "slerp" for VAEs (prior ~ N(0, I)) and
    "linear" otherwise.
    """
    fitted = as_fitted(model)
    _points_of_a_space(fitted, 'interpolation')
    method = method or ("slerp" if fitted.variational else "linear")
    single = np.ndim(x_a) == 1
    path = interpolate_codes(fitted.encode(x_a), fitted.encode(x_b), n_steps, method)
    m, s, k = path.shape
    images = fitted.decode(path.reshape(m * s, k)).reshape(m, s, -1)
    return images[0] if single else images


def grid_axis(n: int, method: str = "prior", *, low: float = -3.0, high: float = 3.0,
              values=None, quantiles=(0.05, 0.95)) -> np.ndarray:
    """n increasing coordinates along one latent axis.

    prior: N(0, 1) quantiles Phi^-1(linspace(q0, q1, n)) (the classic VAE grid: equal
        probability mass between neighbours); quantile: the same quantiles of ``values``
        (e.g. the training codes of that dimension); range: linspace(low, high, n).
    """
    if n < 1:
        raise ConfigError(f"grid size must be >= 1, got {n}")
    q0, q1 = quantiles
    if not 0 < q0 < q1 < 1:
        raise ConfigError(f"quantiles must satisfy 0 < q0 < q1 < 1, got {quantiles}")
    probs = np.linspace(q0, q1, n)
    if method == "prior":
        return ndtri(probs).astype(np.float32)
    if method == "quantile":
        if values is None or len(values) == 0:
            raise ConfigError("method='quantile' needs the training codes (X_fit or codes)")
        return np.quantile(np.asarray(values, np.float64), probs).astype(np.float32)
    if method == "range":
        if not high > low:
            raise ConfigError(f"range needs low < high, got ({low}, {high})")
        return np.linspace(low, high, n, dtype=np.float32)
    raise ConfigError(f"grid method {method!r} is not one of {list(GRID_METHODS)}")


def latent_grid_codes(n: int = 15, method: str = "prior", *, codes=None, low: float = -3.0,
                      high: float = 3.0, quantiles=(0.05, 0.95)) -> np.ndarray:
    """An n x n grid of 2-D codes in display order, shape (n * n, 2).

    Row-major like an image: entry i * n + j has z_0 = axis_0[j] (increasing left to right)
    and z_1 = axis_1[n - 1 - i] (increasing bottom to top), so tiling the decoded images
    row by row gives a map with the usual plot orientation.
    codes: (N, 2) training codes, required for method="quantile".
    """
    codes = None if codes is None else np.asarray(codes, np.float32)
    if codes is not None and (codes.ndim != 2 or codes.shape[1] != 2):
        raise DataError(f"codes for a latent grid must have shape (N, 2), got {codes.shape}")
    axes = [grid_axis(n, method, low=low, high=high, quantiles=quantiles,
                      values=None if codes is None else codes[:, d]) for d in range(2)]
    xs, ys = np.meshgrid(axes[0], axes[1][::-1])  # (n, n): row i, column j
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)


def latent_grid(model, n: int = 15, method: str | None = None, *, X_fit=None,
                low: float = -3.0, high: float = 3.0, quantiles=(0.05, 0.95)):
    """Decode an n x n grid over a 2-D code space.

    method: "prior" (quantiles of the prior's marginals: N(0,1), or of a VampPrior's
    draws; default for VAEs), "quantile" (quantiles of the codes
    of ``X_fit``; default for plain AEs, which have no prior) or "range" ([low, high]^2).
    Returns (images (n*n, D), codes (n*n, 2)) in the order of :func:`latent_grid_codes`.
    Raises ConfigError when the code is not 2-D.
    """
    fitted = as_fitted(model)
    _points_of_a_space(fitted, 'a latent grid')
    k = fitted.code_size
    if k != 2:
        raise ConfigError(f"a latent grid needs a 2-D code, this model has code_size={k}; "
                          "use latent_traversal for one dimension at a time")
    method = method or ("prior" if fitted.variational else "quantile")
    codes = fitted.encode(X_fit) if method == "quantile" and X_fit is not None else None
    axes = method
    if method == "prior" and fitted.variational and fitted.module.prior.kind != "standard":
        # A VampPrior's marginals are not N(0, 1): the same quantiles of its own draws
        codes, axes = fitted.sample_codes(PRIOR_GRID_DRAWS, random_state=0), "quantile"
    Z = latent_grid_codes(n, axes, codes=codes, low=low, high=high, quantiles=quantiles)
    return fitted.decode(Z), Z


def latent_traversal(model, x=None, *, dims=None, n_steps: int = 9, low: float = -3.0,
                     high: float = 3.0):
    """Vary one code dimension at a time around a base code (beta-VAE disentanglement).

    x: (D,) input whose code is the base; None uses the zero code (the prior mean).
    dims: code dimensions to traverse (default: all). Each row sets z_d to
    linspace(low, high, n_steps), the other dimensions fixed at the base.
    Returns (images (len(dims), n_steps, D), values (n_steps,)).
    """
    fitted = as_fitted(model)
    _points_of_a_space(fitted, 'a latent traversal')
    k = fitted.code_size
    dims = list(range(k)) if dims is None else [int(d) for d in dims]
    if not dims or any(not 0 <= d < k for d in dims):
        raise ConfigError(f"dims must be code dimensions in 0..{k - 1}, got {dims}")
    base = np.zeros(k, np.float32) if x is None else fitted.encode(x)[0]
    values = np.linspace(low, high, n_steps, dtype=np.float32)
    Z = np.repeat(base[None, None, :], len(dims), 0).repeat(n_steps, 1)  # (len(dims), s, k)
    for row, d in enumerate(dims):
        Z[row, :, d] = values
    images = fitted.decode(Z.reshape(-1, k)).reshape(len(dims), n_steps, -1)
    return images, values
