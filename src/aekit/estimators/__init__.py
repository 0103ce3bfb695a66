"""scikit-learn estimators over aekit's modules, objective and training loop.

``ESTIMATORS`` is the allow-list :func:`aekit.load` consults: a model file names its class,
and only a class in this dict can be built from it (never an import by name).
"""

from __future__ import annotations

import importlib

from aekit.errors import ModelFileError
from aekit.estimators.base import BaseAutoencoder
from aekit.estimators.params import TUPLE_PARAMS
from aekit.fitted.files import DAMAGE_ERRORS, WEIGHTS_NAME, describe
from aekit.kinds import KINDS

# Every declared kind's class (aekit.kinds), by class name: only these can be built.
ESTIMATORS = {k.estimator: getattr(importlib.import_module(k.module), k.estimator)
              for k in KINDS}
globals().update(ESTIMATORS)  # aekit.estimators.StackedAutoencoder etc.


def estimator_from_model_file(path, fitted, config: dict, extra: dict):
    """Rebuild a fitted estimator from a model folder's parts (called by ``aekit.load``):
    ``fitted`` is the folder's :class:`~aekit.fitted.FittedAutoencoder`.

    The class comes from ``ESTIMATORS`` only; its parameters go through the constructor
    and the estimator's own validation, and the saved module must be exactly the one those
    parameters build.
    """
    where = f"{path}/config.json"
    est = config.get("estimator")
    if not isinstance(est, dict) or not isinstance(est.get("params"), dict) \
            or not isinstance(est.get("state"), dict):
        raise ModelFileError(f"{where}: 'estimator' must hold 'class', 'params' and 'state'")
    name = est.get("class")
    if not isinstance(name, str):
        raise ModelFileError(f"{where}: the estimator class must be a name (a string), got "
                             f"{type(name).__name__}; aekit knows {sorted(ESTIMATORS)}")
    cls = ESTIMATORS.get(name)
    if cls is None:
        raise ModelFileError(f"{where}: unknown estimator class {name!r}; "
                             f"aekit knows {sorted(ESTIMATORS)}")
    params = dict(est["params"])
    for key, value in cls._PARAMS_BEFORE.items():  # a keyword added since: its old meaning
        params.setdefault(key, value)
    unknown = set(params) - set(cls._get_param_names())
    if unknown:
        raise ModelFileError(f"{where}: unknown parameters {sorted(unknown)} for {cls.__name__}")
    for name in TUPLE_PARAMS:  # JSON has no tuples
        if isinstance(params.get(name), list):
            params[name] = tuple(params[name])
    try:
        estimator = cls(**params)
        estimator._check_params()
        estimator._restore(fitted, est["state"], extra)
        expected = estimator._model_config(fitted.layout).to_dict()
    except ModelFileError as exc:  # e.g. the classifier's head tensors: name the folder
        raise ModelFileError(str(exc) if str(path) in str(exc) else f"{path}: {exc}") from None
    except DAMAGE_ERRORS as exc:
        raise ModelFileError(f"{where}: invalid estimator: {describe(exc)}") from None
    if expected != fitted.module.config.to_dict():
        raise ModelFileError(f"{where}: the saved network does not match the estimator's "
                             "parameters")
    if isinstance(estimator, BaseAutoencoder) and not fitted.variational \
            and fitted.density is None:
        raise ModelFileError(
            f"{path}/{WEIGHTS_NAME}: no code density (tensors 'extra/sampler/...'), but "
            f"{cls.__name__} generates from one (sampler={params.get('sampler')!r}): the "
            "folder is incomplete; save the model again")
    return estimator


__all__ = ["ESTIMATORS", "BaseAutoencoder", *ESTIMATORS, "estimator_from_model_file"]
