"""Generate new inputs by decoding sampled codes.

A VAE has a prior to sample from. A plain autoencoder has none, so a density is fitted on
the codes of training data and sampled instead: the box of the codes (uniform), one
Gaussian, or a Gaussian mixture (scikit-learn ``GaussianMixture``). Decoding a sample from a
density that matches the code distribution is what makes a plain AE "generate".
"""

from __future__ import annotations

import numpy as np
from sklearn.mixture import GaussianMixture

from aekit.applications.adapter import as_module, is_variational, rng_of
from aekit.applications.codes import decode, encode
from aekit.errors import ConfigError

GENERATION_METHODS = ("prior", "uniform", "gaussian", "gmm")


class CodeSampler:
    """A density over codes, fitted on training codes (scikit-learn style).

    method: "prior" (N(0, I), needs no fit data), "uniform" (per-dimension [min, max] box of
    the codes), "gaussian" (mean and full covariance) or "gmm" (``n_components``-component
    full-covariance GaussianMixture). ``fit(Z)`` with Z (N, k); ``sample(n, random_state)``
    returns (n, k) float32. The same ``random_state`` gives the same samples.
    """

    def __init__(self, method: str = "gmm", n_components: int = 10, random_state=0):
        self.method = method
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, Z, code_size: int | None = None):
        if self.method not in GENERATION_METHODS:
            raise ConfigError(f"method {self.method!r} is not one of {list(GENERATION_METHODS)}")
        if self.method == "prior":
            if code_size is None and Z is None:
                raise ConfigError("method='prior' needs the code size")
            self.code_size_ = int(code_size if code_size is not None else np.shape(Z)[1])
            return self
        if Z is None:
            raise ConfigError(f"method={self.method!r} fits a density on training codes: "
                              "pass X_fit (training inputs)")
        Z = np.asarray(Z, np.float64)
        if Z.ndim != 2 or len(Z) < 2:
            raise ConfigError(f"need at least 2 training codes of shape (N, k), got {Z.shape}")
        self.code_size_ = Z.shape[1]
        if self.method == "uniform":
            self.low_, self.high_ = Z.min(axis=0), Z.max(axis=0)
        elif self.method == "gaussian":
            self.mean_ = Z.mean(axis=0)
            # a small ridge keeps the covariance positive definite for dead code units
            self.cov_ = np.atleast_2d(np.cov(Z, rowvar=False)) + 1e-6 * np.eye(Z.shape[1])
        else:
            n_components = min(self.n_components, len(Z))
            self.gmm_ = GaussianMixture(n_components, covariance_type="full", reg_covar=1e-5,
                                        random_state=self.random_state).fit(Z)
        return self

    def sample(self, n: int, random_state=None) -> np.ndarray:
        if not hasattr(self, "code_size_"):
            raise ConfigError("CodeSampler is not fitted yet: call fit() first")
        if n < 0:
            raise ConfigError(f"n must be >= 0, got {n}")
        rng = rng_of(random_state)
        if self.method == "prior":
            Z = rng.standard_normal((n, self.code_size_))
        elif self.method == "uniform":
            Z = rng.uniform(self.low_, self.high_, size=(n, self.code_size_))
        elif self.method == "gaussian":
            Z = rng.multivariate_normal(self.mean_, self.cov_, size=n, method="cholesky")
        else:
            Z = _sample_gmm(self.gmm_, n, rng)
        return np.asarray(Z, np.float32).reshape(n, self.code_size_)


def _sample_gmm(gmm: GaussianMixture, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw from a fitted full-covariance mixture with our own RNG (GaussianMixture.sample
    uses the estimator's random_state and returns samples sorted by component)."""
    comp = rng.choice(len(gmm.weights_), size=n, p=gmm.weights_ / gmm.weights_.sum())
    eps = rng.standard_normal((n, gmm.means_.shape[1]))
    chol = np.linalg.cholesky(gmm.covariances_)  # (c, k, k)
    return gmm.means_[comp] + np.einsum("nij,nj->ni", chol[comp], eps)


def generate(model, n: int = 16, method: str | None = None, *, X_fit=None,
             n_components: int = 10, random_state=None, return_codes: bool = False):
    """n new samples decoded from sampled codes, shape (n, D) (decoder means, e.g. [0, 1]).

    method: "prior" (VAE default: z ~ N(0, I)), or for a density fitted on the codes of
    ``X_fit`` (N, D): "uniform", "gaussian", "gmm" (plain-AE default). ``random_state``
    (int / numpy Generator) makes the draw reproducible. With ``return_codes`` also
    returns the codes (n, k).
    """
    module = as_module(model)
    method = method or ("prior" if is_variational(module) else "gmm")
    Z_fit = encode(module, X_fit) if method != "prior" and X_fit is not None else None
    sampler = CodeSampler(method, n_components, random_state=0 if random_state is None
                          else _int_seed(random_state))
    Z = sampler.fit(Z_fit, code_size=module.code_size).sample(n, random_state)
    images = decode(module, Z)
    return (images, Z) if return_codes else images


def _int_seed(random_state) -> int:
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    return int(random_state)
