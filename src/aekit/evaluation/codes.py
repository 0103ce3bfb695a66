"""How useful and faithful the codes are: linear probe, k-NN, 2-D maps and trustworthiness."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import TSNE, trustworthiness
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from aekit.applications.adapter import rng_of
from aekit.applications.codes import encode
from aekit.errors import DataError


def _check_labels(Z, y, name):
    Z, y = np.asarray(Z, np.float64), np.asarray(y).ravel()
    if Z.ndim != 2 or len(Z) != len(y):
        raise DataError(f"{name}: codes {Z.shape} and labels {y.shape} do not match")
    return Z, y


def linear_probe_accuracy(Z_train, y_train, Z_test, y_test, random_state=0) -> float:
    """Test accuracy in [0, 1] of a logistic regression on standardised codes.

    Z_*: (n, k) codes, y_*: (n,) labels. Measures how linearly decodable the classes are.
    """
    Z_train, y_train = _check_labels(Z_train, y_train, "train")
    Z_test, y_test = _check_labels(Z_test, y_test, "test")
    clf = make_pipeline(StandardScaler(),
                        LogisticRegression(max_iter=2000, random_state=random_state))
    return float(clf.fit(Z_train, y_train).score(Z_test, y_test))


def knn_accuracy(Z_train, y_train, Z_test, y_test, n_neighbors: int = 5) -> float:
    """Test accuracy in [0, 1] of a k-nearest-neighbour classifier (Euclidean) on codes."""
    Z_train, y_train = _check_labels(Z_train, y_train, "train")
    Z_test, y_test = _check_labels(Z_test, y_test, "test")
    n_neighbors = min(n_neighbors, len(Z_train))
    return float(KNeighborsClassifier(n_neighbors).fit(Z_train, y_train).score(Z_test, y_test))


def probe_metrics(Z_train, y_train, Z_test, y_test, random_state=0,
                  max_train: int | None = 10000) -> dict:
    """{"linear_probe", "knn"} accuracies for precomputed codes (model or PCA alike).

    The probes are fitted on at most ``max_train`` training rows, drawn with
    :func:`subsample` (the same rows for every model given the same N and random_state, so
    model and PCA stay comparable)."""
    idx = subsample(len(Z_train), max_train, random_state)
    Z_train, y_train = np.asarray(Z_train)[idx], np.asarray(y_train)[idx]
    return {"linear_probe": linear_probe_accuracy(Z_train, y_train, Z_test, y_test,
                                                  random_state),
            "knn": knn_accuracy(Z_train, y_train, Z_test, y_test)}


def code_metrics(model, X_train, y_train, X_test, y_test, random_state=0) -> dict:
    """:func:`probe_metrics` on the model's codes of X_train (N, D) and X_test (n, D)."""
    return probe_metrics(encode(model, X_train), y_train, encode(model, X_test), y_test,
                         random_state)


def subsample(n: int, max_points: int | None, random_state=0) -> np.ndarray:
    """Sorted indices of at most ``max_points`` of n rows (all rows when it fits)."""
    if max_points is None or n <= max_points:
        return np.arange(n)
    return np.sort(rng_of(random_state).choice(n, size=max_points, replace=False))


def embed_2d(Z, random_state=0, perplexity: float = 30.0,
             n_threads: int | None = 1) -> tuple[np.ndarray, str]:
    """A 2-D map of codes Z (n, k): the codes themselves when k == 2 (k == 1: against
    zero), else t-SNE (scikit-learn, PCA init, fixed ``random_state``).

    Codes with fewer than 4 distinct rows (a collapsed model: dead units give constant
    codes) get their PCA projection instead, method "PCA": scikit-learn's Barnes-Hut
    t-SNE crashes the process on identical points.

    Returns (Y (n, 2), method) with method "codes", "t-SNE" or "PCA". Subsample first (keep
    n <= ~2000). ``n_threads`` caps t-SNE's OpenMP threads (None: no cap). The default 1
    is deliberate: on a machine whose cores are busy with other work, the OpenMP gradient
    loop spin-waits and a 60-point map took minutes; single-threaded, 2000 points take
    seconds and the result does not depend on the thread count.
    """
    Z = np.asarray(Z, np.float32)
    if Z.ndim != 2 or len(Z) == 0:
        raise DataError(f"codes must have shape (n, k) with n >= 1, got {Z.shape}")
    if Z.shape[1] == 2:
        return Z.copy(), "codes"
    if Z.shape[1] == 1:
        return np.concatenate([Z, np.zeros_like(Z)], axis=1), "codes"
    if not np.isfinite(Z).all():
        raise DataError("codes contain NaN or infinite values")
    if len(np.unique(Z, axis=0)) < 4:
        centred = (Z - Z.mean(axis=0)).astype(np.float64)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)  # principal axes (rows)
        Y = centred @ vt[:2].T
        Y = np.pad(Y, ((0, 0), (0, 2 - Y.shape[1])))  # a 1-row SVD gives one axis
        return Y.astype(np.float32), "PCA"
    perplexity = min(perplexity, max(1.0, (len(Z) - 1) / 3))
    tsne = TSNE(2, perplexity=perplexity, init="pca", random_state=random_state)
    limit = threadpool_limits(n_threads, user_api="openmp") if n_threads else nullcontext()
    with limit:
        return tsne.fit_transform(Z).astype(np.float32), "t-SNE"


def map_trustworthiness(X, Y, n_neighbors: int = 5) -> float:
    """sklearn.manifold.trustworthiness of a low-dimensional map Y (n, d) of X (n, D), in
    [0, 1]: 1 when every point's nearest neighbours in Y are also its neighbours in X."""
    X, Y = np.asarray(X), np.asarray(Y)
    if len(X) != len(Y):
        raise DataError(f"X has {len(X)} rows but the map has {len(Y)}")
    n_neighbors = max(1, min(n_neighbors, len(X) // 2 - 1))
    return float(trustworthiness(X, Y, n_neighbors=n_neighbors))
