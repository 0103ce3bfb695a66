"""The applications' entry: any model -> its :class:`~aekit.fitted.FittedAutoencoder`.

Every application, metric and figure accepts a fitted estimator, a ``FittedAutoencoder``, an
aekit torch module or the path of a model folder, and starts with :func:`as_fitted`; the
numbers then come from the fitted model's own methods, the same ones the estimator uses.
Arrays cross the boundary as numpy: inputs (n, D) or images, codes (n, k).
"""

from __future__ import annotations

import numpy as np
import torch

from aekit.errors import ConfigError, DataError
from aekit.loading import as_fitted

__all__ = ["as_fitted", "as_module", "check_array", "image_shape_of", "image_shape_or_none",
           "rng_of", "torch_generator"]


def as_module(model) -> torch.nn.Module:
    """The PyTorch module behind ``model`` (for people building their own code on it)."""
    return as_fitted(model).module


def image_shape_of(model=None, image_shape=None) -> tuple[int, int, int]:
    """(C, H, W) for displaying rows of ``model``'s inputs as images: the explicit
    ``image_shape`` ((H, W) or (C, H, W)) if given, else the fitted model's own (its input
    layout, or a square single-channel image when D is a perfect square)."""
    if image_shape is not None:
        shape = tuple(int(s) for s in image_shape)
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ConfigError(f"image_shape must be (H, W) or (C, H, W), got {image_shape!r}")
        return shape
    if model is None:
        raise ConfigError("image_shape is needed when no model is given")
    return as_fitted(model).image_shape


def image_shape_or_none(model, image_shape=None):
    """(C, H, W) to draw ``model``'s rows as images, or None when the rows are not images:
    no image shape given or known to the model, and a width that is not a perfect square
    (tabular data, a CSV). An explicit ``image_shape`` that cannot be used is still an
    error."""
    if image_shape is not None:
        shape = image_shape_of(model, image_shape)
        n_features = as_fitted(model).n_features
        if int(np.prod(shape)) < n_features:
            raise DataError(f"image_shape {tuple(image_shape)} holds {int(np.prod(shape))} "
                            f"values, fewer than the {n_features} of each row")
        return shape
    try:
        return image_shape_of(model)
    except ConfigError:
        return None


def check_array(X, n_features: int | None = None, name: str = "X") -> np.ndarray:
    """X as a finite float32 (n, D) array when no model says more; a single row (D,)
    becomes (1, D)."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise DataError(f"{name} must hold numbers, got dtype {X.dtype}")
    with np.errstate(over="ignore"):
        X = X.astype(np.float32, copy=False)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2:
        raise DataError(f"{name} must be a 2-D array (n_samples, n_features), got shape "
                        f"{X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise DataError(f"{name} has {X.shape[1]} features but the model expects {n_features}")
    if not np.isfinite(X).all():
        raise DataError(f"{name} contains NaN or infinite values")
    return X


def rng_of(random_state) -> np.random.Generator:
    """A numpy Generator from None / int / Generator (never the global RNG)."""
    return np.random.default_rng(random_state)


def torch_generator(random_state, device="cpu") -> torch.Generator:
    """A torch.Generator seeded from ``random_state`` (an int, None or a numpy Generator)."""
    if isinstance(random_state, np.random.Generator):
        seed = int(random_state.integers(2**63 - 1))
    elif random_state is None:
        seed = int(np.random.default_rng().integers(2**63 - 1))
    else:
        seed = int(random_state)
    return torch.Generator(device=device).manual_seed(seed)
