"""Generate new inputs by decoding sampled codes.

A VAE has a prior to sample from. A plain autoencoder has none, so a density is fitted on
the codes of training data and sampled instead: the box of the codes (uniform), one
Gaussian, or a Gaussian mixture. Decoding a sample from a density that matches the code
distribution is what makes a plain AE "generate". The densities live in
:mod:`aekit.fitted.density`; a fitted estimator carries the one it was trained with
(``sampler``), and :func:`generate` uses it unless told otherwise.
"""

from __future__ import annotations

import numpy as np

from aekit.applications.adapter import as_fitted
from aekit.errors import ConfigError
from aekit.fitted.density import DENSITIES

GENERATION_METHODS = DENSITIES


def generate(model, n: int = 16, method: str | None = None, *, X_fit=None,
             n_components: int = 10, random_state=None, return_codes: bool = False):
    """n new samples decoded from sampled codes, shape (n, D) (decoder means, e.g. [0, 1]).

    method: None uses the model's own density (a VAE's prior; the density a fitted plain
    autoencoder saved, chosen by its ``sampler``). Else "prior" (z ~ N(0, I)), or a
    density fitted here on the codes of ``X_fit`` (N, D): "uniform", "gaussian", "gmm"
    (``n_components`` components). A bare module has no density: it needs ``X_fit``
    (then "gmm" by default). ``random_state`` (int / RandomState / numpy Generator) makes
    the draw reproducible. With ``return_codes`` also returns the codes (n, k).
    """
    fitted = as_fitted(model)
    if method is not None and method not in GENERATION_METHODS:
        raise ConfigError(f"method {method!r} is not one of {list(GENERATION_METHODS)}")
    if method is None and fitted.density is None and X_fit is not None:
        method = "gmm"
    density = None if method is None else fitted.density_like(method, X_fit, n_components)
    if isinstance(random_state, np.random.Generator):
        random_state = int(random_state.integers(2**31 - 1))
    Z = fitted.sample_codes(n, random_state, density)
    images = fitted.decode(Z)
    return (images, Z) if return_codes else images
