"""Variational-autoencoder metrics: ELBO, importance-sampled log-likelihood, KL (per
latent dimension for the N(0, I) prior, per row for any) and active units. All in nats
per sample unless stated.
"""

from __future__ import annotations

import numpy as np

from aekit.applications.adapter import as_fitted
from aekit.applications.codes import encode


def elbo(model, X, objective=None, n_samples: int | None = None,
         random_state=None) -> np.ndarray:
    """Evidence lower bound per row of X (n, D), shape (n,), nats:
    E_q[log p(x|z)] - KL(q(z|x) || N(0, I)) <= log p(x): the model's own
    (:meth:`aekit.fitted.FittedAutoencoder.elbo`; equals a VAE estimator's
    ``score_samples`` with the defaults)."""
    return as_fitted(model, objective).elbo(X, n_samples, random_state)


def importance_sampled_log_likelihood(model, X, k: int = 100, objective=None,
                                      random_state=None) -> np.ndarray:
    """Importance-sampled estimate of log p(x) per row of X (n, D), shape (n,), nats
    (Burda, Grosse & Salakhutdinov 2016, eq. 8; see
    :meth:`aekit.fitted.FittedAutoencoder.log_likelihood`)."""
    return as_fitted(model, objective).log_likelihood(X, k, random_state)


def kl_per_dimension(model, X) -> np.ndarray:
    """Mean over rows of X of KL(q(z_j|x) || N(0, 1)) for each latent dim j, shape (k,),
    nats. Sums to the total KL term of the ELBO (averaged over X). The N(0, I) prior
    only (a VampPrior is not a product over dimensions: :func:`kl`)."""
    return as_fitted(model).kl_per_dimension(X)


def kl(model, X, objective=None, n_samples: int | None = None,
       random_state=None) -> np.ndarray:
    """The ELBO's KL(q(z|x) || p(z)) per row of X, shape (n,), nats: closed form for the
    N(0, I) prior, estimated at the ELBO's own draws for a VampPrior (the same draws as
    :func:`elbo` with the same arguments)."""
    return as_fitted(model, objective).kl(X, n_samples, random_state)


def units_by_information(model, X) -> np.ndarray:
    """The code units ordered most informative first: by KL per dimension for the N(0, I)
    prior, else (a VampPrior) by activity Cov_x(E_q[z_j|x]) (:func:`unit_activity`)."""
    fitted = as_fitted(model)
    if fitted.variational and fitted.module.prior.kind == "standard":
        return np.argsort(-kl_per_dimension(fitted, X), kind="stable")
    return np.argsort(-unit_activity(fitted, X), kind="stable")


def unit_activity(model, X) -> np.ndarray:
    """A_j = Cov_x(E_q[z_j | x]): the variance over X of each code unit's posterior mean
    (the code itself for a plain AE), shape (k,) (Burda et al. 2016, sec. 5.2)."""
    return encode(model, X).astype(np.float64).var(axis=0)


def active_units(model, X, threshold: float = 0.01) -> int:
    """Number of code units with activity A_j > ``threshold`` (0.01 in Burda et al.)."""
    return int((unit_activity(model, X) > threshold).sum())


BINARIZE_SEED = 0  # the one draw of the test rows a dynamically binarised VAE is scored on


def scored_rows(model, X, objective=None) -> tuple[np.ndarray, str]:
    """The rows a VAE's likelihoods are measured on, and what they are: X itself (its
    intensities, the Bernoulli likelihood's probabilities), or for a model trained with
    binarize='dynamic' one fixed draw x ~ Bernoulli(X) (seed BINARIZE_SEED), the protocol
    its training followed (Burda et al. 2016, sec. 5)."""
    fitted = as_fitted(model, objective)
    if fitted.objective.binarize != "dynamic":
        return X, "none (intensities)"
    X = fitted.check_input(X)
    draw = np.random.default_rng(BINARIZE_SEED).random(X.shape)
    return (draw < np.clip(X, 0, 1)).astype(np.float32), \
        f"dynamic: one fixed draw (seed {BINARIZE_SEED})"


def vae_metrics(model, X, objective=None, k: int = 100, random_state=None) -> dict:
    """Mean metrics over X (n, D) for a VAE, nats per sample: "elbo", "recon_nll"
    (E_q[-log p(x|z)]), "kl", "log_likelihood" (importance-sampled, k samples),
    "iw_samples" (= k), "binarization" (the rows scored: :func:`scored_rows`) and
    "active_units" (count)."""
    X, binarization = scored_rows(model, X, objective)
    fitted = as_fitted(model, objective)
    kl_total = float(kl_per_dimension(model, X).sum()) if \
        fitted.module.prior.kind == "standard" else \
        float(kl(model, X, objective, random_state=random_state).mean())
    e = float(elbo(model, X, objective, random_state=random_state).mean())
    return {
        "elbo": e,
        "recon_nll": -e - kl_total,
        "kl": kl_total,
        "log_likelihood": float(importance_sampled_log_likelihood(
            model, X, k, objective, random_state).mean()),
        "iw_samples": int(k),
        "binarization": binarization,
        "active_units": active_units(model, X),
    }
