"""One adapter from "any fitted model" to the aekit torch module, plus batched numpy I/O.

Every application, metric and figure accepts either an aekit module
(:class:`aekit.models.Autoencoder` / :class:`aekit.models.VariationalAutoencoder`) or a fitted
estimator that holds one in ``module_``. They all call :func:`as_module` first, so the rest of
the code only ever sees a module. Arrays cross the boundary as flat numpy ``(n, D)`` float32.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
from torch import nn

from aekit.errors import ConfigError, DataError
from aekit.losses import Objective

DEFAULT_BATCH = 2048


def as_module(model) -> nn.Module:
    """The aekit torch module behind ``model``.

    model: an aekit ``Autoencoder``/``VariationalAutoencoder``, or a fitted estimator with a
        ``module_`` attribute holding one. Raises :class:`ConfigError` for anything else
        (e.g. an estimator that is not fitted yet).
    """
    module = getattr(model, "module_", model)
    if not (isinstance(module, nn.Module) and hasattr(module, "encode")
            and hasattr(module, "decode") and hasattr(module, "config")):
        kind = type(model).__name__
        if hasattr(type(model), "fit") and not hasattr(model, "module_"):
            raise ConfigError(f"{kind} is not fitted yet: call fit() before using it here")
        raise ConfigError(f"expected an aekit autoencoder module or a fitted estimator with "
                          f"`module_`, got {kind}")
    return module


def as_variational(model, what: str) -> nn.Module:
    """:func:`as_module` for ``what`` only a variational autoencoder has (ConfigError else)."""
    module = as_module(model)
    if not module.variational:
        raise ConfigError(f"{what} is defined for variational autoencoders only")
    return module


def is_variational(model) -> bool:
    """True when the model is a VAE (has a posterior ``encode_distribution``)."""
    return bool(getattr(as_module(model), "variational", False))


def code_size(model) -> int:
    """Length k of the code vector produced by ``encode``."""
    return int(as_module(model).code_size)


def image_shape_of(model=None, image_shape=None) -> tuple[int, int, int]:
    """(C, H, W) for displaying rows of ``model``'s inputs as images.

    Order: the explicit ``image_shape`` argument ((H, W) or (C, H, W)); else
    ``module.config.image_shape``; else a square single-channel image when D is a perfect
    square (64 -> 8x8 digits, 784 -> 28x28 Fashion-MNIST). Raises ConfigError otherwise.
    """
    if image_shape is not None:
        shape = tuple(int(s) for s in image_shape)
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ConfigError(f"image_shape must be (H, W) or (C, H, W), got {image_shape!r}")
        return shape
    if model is None:
        raise ConfigError("image_shape is needed when no model is given")
    config = as_module(model).config
    if config.image_shape is not None:
        return tuple(config.image_shape)
    side = math.isqrt(config.n_features)
    if side * side == config.n_features:
        return (1, side, side)
    raise ConfigError(f"cannot show {config.n_features} features as an image: pass "
                      "image_shape=(C, H, W)")


def objective_of(model, objective=None) -> Objective:
    """The training objective that defines the model's likelihood (VAE ELBO, scores).

    Order: the explicit ``objective``; the estimator's ``objective_`` attribute or
    ``_objective()`` method (aekit estimators); an :class:`Objective` built from the estimator parameters whose names match
    Objective fields (``likelihood``, ``likelihood_scale``, ``reconstruction``, ``beta``...);
    else the default ``Objective()`` (Bernoulli likelihood, MSE reconstruction).
    """
    if objective is not None:
        return objective
    found = getattr(model, "objective_", None)
    if isinstance(found, Objective):
        return found
    build = getattr(model, "_objective", None)  # aekit estimators build theirs on demand
    if callable(build):
        with contextlib.suppress(ConfigError, TypeError):
            found = build()
            if isinstance(found, Objective):
                return found
    if hasattr(model, "get_params"):
        fields = Objective.__dataclass_fields__
        params = {k: v for k, v in model.get_params(deep=False).items() if k in fields}
        with contextlib.suppress(ConfigError, TypeError):
            return Objective(**params)
    return Objective()


def check_array(X, n_features: int | None = None, name: str = "X") -> np.ndarray:
    """X as a finite float32 (n, D) array; a single row (D,) becomes (1, D)."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = np.asarray(X, dtype=np.float32)
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


def _device(module) -> torch.device:
    return next(module.parameters()).device


@contextlib.contextmanager
def eval_mode(module):
    """``eval()`` + ``no_grad`` for the block; the previous train/eval mode is restored."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield module
    finally:
        module.train(was_training)


def batched(module, fn, X: np.ndarray, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Apply ``fn(module, xb) -> tensor (b, ...)`` over rows of X in eval mode; numpy out."""
    dev = _device(module)
    outs = []
    with eval_mode(module):
        for start in range(0, len(X), batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(X[start:start + batch_size])).to(dev)
            outs.append(fn(module, xb).detach().cpu().numpy())
    if not outs:
        return np.zeros((0,), dtype=np.float32)
    return np.concatenate(outs).astype(np.float32, copy=False)


def output_from_logits(module, logits: torch.Tensor) -> dict:
    """The decoder output dict (``logits``, ``recon``) the likelihoods in aekit.losses read."""
    recon = torch.sigmoid(logits) if module.output_activation == "sigmoid" else logits
    return {"logits": logits, "recon": recon}


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
