"""The linear autoencoder's MSE minimum in closed form (``LinearAutoencoder(solver='svd')``).

For x_hat = W_dec (W_enc x + b_enc) + b_dec with a k-unit code, the mean squared error over
the rows is minimised by projecting the centred rows onto the span of the top k eigenvectors
V_k of their covariance (Eckart & Young 1936; Baldi & Hornik 1989 show every other critical
point of the autoencoder's loss is a saddle). One minimiser is

    W_enc = V_k^T,  b_enc = -V_k^T mean,  W_dec = V_k,  b_dec = mean,

which is also the tied form (W_dec = W_enc^T). Its codes are PCA's scores, in decreasing
order of variance. Gradient descent approaches this point slowly along directions of small
eigenvalue gaps; solving for it is exact in one pass over the data.
"""

from __future__ import annotations

import numpy as np
import torch

SVD_MAX_FEATURES = 4096  # solver='auto' solves up to this width (a D x D float64 matrix)


def principal_subspace(blocks, k: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(mean (D,), components (k, D), per-value training MSE) of the rows in ``blocks``
    (float row blocks, read once). The scatter matrix is accumulated in float64 about the
    first block's mean (a shifted sum: no cancellation when the mean is large next to the
    spread); the components are the top k eigenvectors of the covariance, each signed so
    that its largest-magnitude entry is positive (a deterministic choice, as
    scikit-learn's ``svd_flip``). The MSE is the sum of the discarded eigenvalues / D."""
    n, shift, total, scatter = 0, None, None, None
    for block in blocks:
        b = np.asarray(block, dtype=np.float64)
        if len(b) == 0:
            continue
        if shift is None:
            shift = b.mean(axis=0)
            total = np.zeros_like(shift)
            scatter = np.zeros((b.shape[1], b.shape[1]))
        b = b - shift
        total += b.sum(axis=0)
        scatter += b.T @ b
        n += len(b)
    if n == 0:
        raise ValueError("no rows to solve for")
    offset = total / n
    cov = scatter / n - np.outer(offset, offset)
    values, vectors = np.linalg.eigh((cov + cov.T) / 2)  # ascending
    order = np.argsort(values)[::-1]
    values, vectors = np.clip(values[order], 0.0, None), vectors[:, order]
    components = vectors[:, :k].T.copy()
    signs = np.sign(components[np.arange(k), np.abs(components).argmax(axis=1)])
    components *= np.where(signs == 0, 1.0, signs)[:, None]
    mse = float(values[k:].sum() / len(values))
    return shift + offset, components, mse


@torch.no_grad()
def set_principal_weights(module, mean: np.ndarray, components: np.ndarray) -> None:
    """Write the minimiser above into a one-layer dense autoencoder (tied or not)."""
    enc = module.encoder.layers[0]
    V = torch.as_tensor(components, dtype=enc.weight.dtype)  # (k, D)
    mu = torch.as_tensor(mean, dtype=enc.weight.dtype)
    enc.weight.copy_(V)
    enc.bias.copy_(-(V @ mu))
    if module.config.tied:
        module.decoder.biases[0].copy_(mu)
    else:
        dec = module.decoder.layers[-1]
        dec.weight.copy_(V.t())
        dec.bias.copy_(mu)
