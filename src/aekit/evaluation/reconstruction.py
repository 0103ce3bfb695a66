"""Reconstruction quality (MSE, BCE, PSNR) and the PCA baseline at the same code size.

A linear autoencoder at its optimum spans the same subspace as PCA with k components, so PCA
is the bar any nonlinear autoencoder must clear; every metrics table shows it beside the
model (:func:`pca_baseline`).
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.decomposition import PCA

from aekit.applications.adapter import as_fitted, check_array
from aekit.errors import ConfigError, DataError

BCE_EPS = 1e-7


def psnr(X, X_hat, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB: 10 log10(peak^2 / MSE), MSE over all values.

    X, X_hat: same shape. Identical arrays give +inf. peak=1.0 for pixels in [0, 1].
    """
    mse = float(np.mean((np.asarray(X, np.float64) - np.asarray(X_hat, np.float64)) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(peak**2 / mse)


def reconstruction_metrics(X, X_hat, peak: float = 1.0) -> dict:
    """{"mse", "bce", "psnr"} between targets X and outputs X_hat, both (n, D).

    mse: mean squared error per value. bce: mean binary cross-entropy per value in nats,
    with X_hat clipped to [1e-7, 1 - 1e-7] (so PCA outputs outside [0, 1] are scored too).
    psnr: dB with the given peak. bce and psnr are given only when every value of X lies
    in [0, 1] (intensities): on standardised or other real-valued data a cross-entropy and
    a peak of 1 mean nothing, so the dict then holds "mse" alone.
    """
    X, X_hat = np.asarray(X, np.float64), np.asarray(X_hat, np.float64)
    if X.shape != X_hat.shape:
        raise DataError(f"targets {X.shape} and reconstructions {X_hat.shape} differ in shape")
    out = {"mse": float(np.mean((X - X_hat) ** 2))}
    if X.size and X.min() >= 0 and X.max() <= 1:
        p = np.clip(X_hat, BCE_EPS, 1 - BCE_EPS)
        out["bce"] = float(-np.mean(X * np.log(p) + (1 - X) * np.log1p(-p)))
        out["psnr"] = psnr(X, X_hat, peak)
    return out


def evaluate_reconstruction(model, X, peak: float = 1.0) -> dict:
    """:func:`reconstruction_metrics` of the model's deterministic reconstructions of X."""
    fitted = as_fitted(model)
    X = fitted.check_input(X)
    return reconstruction_metrics(X, fitted.reconstruct(X), peak)


def fit_pca(X_train, k: int, random_state=0) -> PCA:
    """scikit-learn PCA with k components fitted on X_train (N, D); k is clipped to
    min(N, D) (a code larger than the data has no PCA equivalent beyond that)."""
    X_train = check_array(X_train, name="X_train")
    if k < 1:
        raise ConfigError(f"k (code size) must be >= 1, got {k}")
    k = min(int(k), *X_train.shape)
    return PCA(n_components=k, random_state=random_state).fit(X_train)


def pca_reconstruct(pca: PCA, X) -> np.ndarray:
    """x_hat = mean + (x - mean) V V^T: projection onto the top-k principal subspace."""
    return pca.inverse_transform(pca.transform(check_array(X))).astype(np.float32)


def pca_baseline(X_train, X_test, k: int, y_train=None, y_test=None, *, peak: float = 1.0,
                 random_state=0) -> dict:
    """The metrics of PCA with k components, in the same keys as the model's.

    Fits on X_train (N, D), evaluates on X_test (n, D): "mse", "bce", "psnr" and, when
    labels are given, "linear_probe" and "knn" accuracies on the k PCA scores. Also
    "code_size" (the k actually used) and "name".
    """
    from aekit.evaluation.codes import probe_metrics

    pca = fit_pca(X_train, k, random_state)
    X_test = check_array(X_test, X_train.shape[1] if hasattr(X_train, "shape") else None,
                         name="X_test")
    out = {"name": f"PCA (k={pca.n_components_})", "code_size": int(pca.n_components_)}
    out.update(reconstruction_metrics(X_test, pca_reconstruct(pca, X_test), peak))
    if y_train is not None and y_test is not None:
        out.update(probe_metrics(pca.transform(check_array(X_train)), y_train,
                                 pca.transform(X_test), y_test, random_state=random_state))
    return out
