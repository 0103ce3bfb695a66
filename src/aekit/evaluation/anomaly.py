"""Anomaly-detection quality: AUROC, and the one-class protocol per class."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.metrics import roc_auc_score

from aekit.applications.anomaly import anomaly_scores
from aekit.errors import DataError


def auroc(scores, is_anomaly) -> float:
    """Area under the ROC curve in [0, 1] for anomaly ``scores`` (n,) (higher = more
    anomalous) against boolean ``is_anomaly`` (n,). 1.0: every anomaly scores above every
    normal row; 0.5: chance."""
    scores, is_anomaly = np.asarray(scores, np.float64).ravel(), np.asarray(is_anomaly).ravel()
    if scores.shape != is_anomaly.shape:
        raise DataError(f"scores {scores.shape} and labels {is_anomaly.shape} differ in length")
    if len(np.unique(is_anomaly)) != 2:
        raise DataError("AUROC needs both normal and anomalous rows")
    return float(roc_auc_score(is_anomaly.astype(bool), scores))


def one_class_auroc(fit: Callable, X_train, y_train, X_test, y_test, classes=None,
                    score: Callable | None = None) -> dict:
    """One-class anomaly detection, one run per class c.

    For each class c: ``model = fit(X_train[y_train == c])`` (any callable that trains and
    returns a fitted model; inject a tiny one in tests), scores = ``score(model, X_test)``
    (default :func:`aekit.applications.anomaly_scores`), and AUROC with class c as normal
    and every other class as anomalous. Returns {c: auroc} for ``classes`` (default: all
    classes of y_train), in that order.
    """
    X_train, y_train = np.asarray(X_train), np.asarray(y_train).ravel()
    X_test, y_test = np.asarray(X_test), np.asarray(y_test).ravel()
    if len(X_train) != len(y_train) or len(X_test) != len(y_test):
        raise DataError("X and y must have the same number of rows")
    score = score or (lambda model, X: anomaly_scores(model, X))
    classes = np.unique(y_train) if classes is None else classes
    out = {}
    for c in classes:
        normal = X_train[y_train == c]
        if len(normal) == 0:
            raise DataError(f"class {c!r} has no training rows")
        model = fit(normal)
        out[c.item() if hasattr(c, "item") else c] = auroc(score(model, X_test), y_test != c)
    return out
