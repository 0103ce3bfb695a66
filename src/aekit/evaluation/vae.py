"""Variational-autoencoder metrics: ELBO, importance-sampled log-likelihood, KL per
latent dimension and active units. All in nats per sample unless stated.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from aekit.applications.adapter import (
    as_variational, batched, check_array, objective_of, output_from_logits, torch_generator,
)
from aekit.applications.anomaly import negative_elbo
from aekit.applications.codes import encode
from aekit.errors import ConfigError
from aekit.losses import kl_to_standard_normal, negative_log_likelihood

LOG_2PI = math.log(2 * math.pi)


def elbo(model, X, objective=None, n_samples: int = 1, random_state=0) -> np.ndarray:
    """Evidence lower bound per row of X (n, D), shape (n,), nats:
    E_q[log p(x|z)] - KL(q(z|x) || N(0, I)) <= log p(x). See
    :func:`aekit.applications.negative_elbo` for the likelihood and sampling."""
    as_variational(model, "this metric")
    return -negative_elbo(model, X, objective, n_samples, random_state)


def importance_sampled_log_likelihood(model, X, k: int = 100, objective=None,
                                      random_state=0, batch_size: int = 256) -> np.ndarray:
    """Importance-sampled estimate of log p(x) per row of X (n, D), shape (n,), nats.

    log p(x) ~= logsumexp_i [log p(x|z_i) + log p(z_i) - log q(z_i|x)] - log k,
    z_1..z_k ~ q(z|x) (Burda, Grosse & Salakhutdinov 2016, eq. 8). For k = 1 its expectation
    is the ELBO; the expectation never decreases with k and tends to log p(x) (a lower bound
    for every finite k). log p(x|z) uses the likelihood of ``objective`` (the one the model
    was trained with; see :func:`aekit.applications.adapter.objective_of`).
    """
    module = as_variational(model, "this metric")
    if k < 1:
        raise ConfigError(f"k (importance samples) must be >= 1, got {k}")
    obj = objective_of(model, objective)
    X = check_array(X, module.config.n_features)
    g = torch_generator(random_state, device=next(module.parameters()).device)

    def fn(m, xb):
        b = len(xb)
        mu, logvar = m.encode_distribution(xb)  # (b, kz) each
        std = torch.exp(0.5 * logvar)
        log_w = []
        chunk = max(1, 2**15 // b)  # importance samples decoded at once
        for start in range(0, k, chunk):
            s = min(chunk, k - start)
            eps = torch.randn((s, *mu.shape), generator=g, device=mu.device, dtype=mu.dtype)
            z = mu + std * eps  # (s, b, kz)
            out = output_from_logits(m, m.decode_logits(z.reshape(s * b, -1)))
            target = xb.expand(s, *xb.shape).reshape(s * b, -1)
            log_px_z = -negative_log_likelihood(out, target, obj.likelihood,
                                                obj.likelihood_scale).view(s, b)
            log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)  # N(0, I)
            log_qz = -0.5 * (eps.pow(2) + logvar + LOG_2PI).sum(-1)  # N(mu, sigma^2) at z
            log_w.append(log_px_z + log_pz - log_qz)  # (s, b)
        return torch.logsumexp(torch.cat(log_w), dim=0) - math.log(k)

    return batched(module, fn, X, batch_size).astype(np.float64)


def kl_per_dimension(model, X, batch_size: int = 2048) -> np.ndarray:
    """Mean over rows of X of KL(q(z_j|x) || N(0, 1)) for each latent dim j, shape (k,),
    nats. Sums to the total KL term of the ELBO (averaged over X)."""
    module = as_variational(model, "this metric")
    X = check_array(X, module.config.n_features)
    kl = batched(module, lambda m, xb: kl_to_standard_normal(*m.encode_distribution(xb)), X,
                 batch_size)
    return kl.astype(np.float64).mean(axis=0)


def unit_activity(model, X) -> np.ndarray:
    """A_j = Cov_x(E_q[z_j | x]): the variance over X of each code unit's posterior mean
    (the code itself for a plain AE), shape (k,) (Burda et al. 2016, sec. 5.2)."""
    return encode(model, X).astype(np.float64).var(axis=0)


def active_units(model, X, threshold: float = 0.01) -> int:
    """Number of code units with activity A_j > ``threshold`` (0.01 in Burda et al.)."""
    return int((unit_activity(model, X) > threshold).sum())


def vae_metrics(model, X, objective=None, k: int = 100, random_state=0) -> dict:
    """Mean metrics over X (n, D) for a VAE, nats per sample: "elbo", "recon_nll"
    (E_q[-log p(x|z)]), "kl", "log_likelihood" (importance-sampled, k samples),
    "iw_samples" (= k) and "active_units" (count)."""
    kl = kl_per_dimension(model, X)
    e = float(elbo(model, X, objective, random_state=random_state).mean())
    return {
        "elbo": e,
        "recon_nll": -e - float(kl.sum()),
        "kl": float(kl.sum()),
        "log_likelihood": float(importance_sampled_log_likelihood(
            model, X, k, objective, random_state).mean()),
        "iw_samples": int(k),
        "active_units": active_units(model, X),
    }
