"""``aekit.load`` and ``as_fitted``: from anything a user holds to a fitted model.

This module sits above the estimators (it must know their classes to rebuild one from a
folder) and below every consumer (applications, evaluation, plotting, report, CLI), which
all start with :func:`as_fitted` and then call the :class:`FittedAutoencoder`'s methods.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from aekit.errors import ConfigError
from aekit.estimators import estimator_from_model_file
from aekit.fitted import FittedAutoencoder, FittedModel, FittedSegmenter


def load(path):
    """Load a model folder written by aekit (``config.json`` + ``model.safetensors``), or a
    run folder of ``aekit train`` (its ``model/``).

    Returns the fitted estimator when the folder was saved from one, else a
    :class:`~aekit.fitted.FittedAutoencoder`. Loading never unpickles: see
    :mod:`aekit.fitted.files`.
    """
    fitted, folder, config, extra = FittedModel.read(path)
    if config.get("estimator") is None:
        return fitted
    return estimator_from_model_file(folder, fitted, config, extra)


def as_fitted(model, objective=None) -> FittedModel:
    """The fitted model behind ``model``: a :class:`FittedAutoencoder`, or a
    :class:`FittedSegmenter` for a segmentation network.

    model: a fitted aekit estimator (its ``fitted_``), a ``FittedAutoencoder``, an aekit
        torch module (wrapped with its own layout and :func:`default_objective`), or the
        path of a model or run folder (loaded with :func:`load`).
    objective: score under this :class:`~aekit.losses.Objective` instead of the model's.
    """
    fitted = _fitted(model)
    return fitted.with_objective(objective)


def _fitted(model) -> FittedModel:
    if isinstance(model, FittedModel):
        return model
    if isinstance(model, (str, os.PathLike)):
        return _fitted(load(Path(model)))
    found = getattr(model, "fitted_", None)
    if isinstance(found, FittedModel):
        return found
    if isinstance(model, torch.nn.Module) and hasattr(model, "config") \
            and hasattr(model, "encode"):
        segments = getattr(getattr(model, "config", None), "n_classes", None) is not None
        return FittedSegmenter(model) if segments else FittedAutoencoder(model)
    kind = type(model).__name__
    if hasattr(type(model), "fit") and hasattr(model, "get_params"):
        raise ConfigError(f"{kind} is not fitted yet: call fit() before using it here")
    raise ConfigError(f"expected a fitted aekit estimator, a FittedAutoencoder, an aekit "
                      f"module or a model folder, got {kind}")
