"""Anomaly detection with an autoencoder: inputs it reconstructs badly are unusual.

Score (higher = more anomalous): a plain AE uses the per-sample reconstruction error; a VAE
uses -ELBO in nats (the negative evidence lower bound, an upper bound on -log p(x)).
A threshold turns scores into decisions, set either by the expected contamination of the
data or by a quantile of scores on normal data.
"""

from __future__ import annotations

import numpy as np

from aekit.applications.adapter import as_fitted
from aekit.errors import ConfigError

SCORE_METRICS = ("mse", "bce", "elbo")


def negative_elbo(model, X, objective=None, n_samples: int | None = None,
                  random_state=None) -> np.ndarray:
    """-ELBO per sample in nats, shape (n,): E_q[-log p(x|z)] + KL(q(z|x) || N(0, I)).

    The model's own ELBO (:meth:`aekit.fitted.FittedAutoencoder.elbo`): ``n_samples``
    draws z ~ q(z|x) shared by all rows (default: the model's ``n_mc_samples``, seeded by
    ``random_state``, default the model's seed), the KL in closed form, the likelihood the
    model was trained with (or ``objective``'s). The KL weight beta is *not* applied: this
    is the true bound, whatever beta the model was trained with.
    """
    return -as_fitted(model, objective).elbo(X, n_samples, random_state)


def anomaly_scores(model, X, metric: str | None = None, *, objective=None,
                   n_samples: int | None = None, random_state=None) -> np.ndarray:
    """Anomaly score per row of X (n, D) -> (n,) float64; higher = more anomalous.

    metric: "mse" (mean squared error per value, plain-AE default), "bce" (mean binary
    cross-entropy per value in nats, for inputs in [0, 1]) or "elbo" (-ELBO in nats per
    sample; VAE default, see :func:`negative_elbo`).
    For VAEs, "mse"/"bce" use the deterministic reconstruction at z = mu.
    """
    fitted = as_fitted(model, objective)
    metric = metric or ("elbo" if fitted.variational else "mse")
    if metric not in SCORE_METRICS:
        raise ConfigError(f"metric {metric!r} is not one of {list(SCORE_METRICS)}")
    if metric == "elbo":
        return -fitted.elbo(X, n_samples, random_state)
    return fitted.reconstruction_error(X, metric)


def threshold_by_quantile(scores, quantile: float = 0.99) -> float:
    """The ``quantile`` of ``scores`` (n,) (linear interpolation): with scores of normal
    data, ``scores > threshold`` flags about a (1 - quantile) fraction of normal inputs."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if scores.size == 0 or not np.isfinite(scores).all():
        raise ConfigError("scores must be a non-empty array of finite numbers")
    if not 0 < quantile < 1:
        raise ConfigError(f"quantile must be in (0, 1), got {quantile}")
    return float(np.quantile(scores, quantile))


def threshold_by_contamination(scores, contamination: float = 0.05) -> float:
    """Threshold such that ``scores > threshold`` flags a ``contamination`` fraction of
    ``scores`` (to within 1/n for distinct scores): the (1 - contamination) quantile."""
    if not 0 < contamination < 1:
        raise ConfigError(f"contamination must be in (0, 1), got {contamination}")
    return threshold_by_quantile(scores, 1.0 - contamination)


class AnomalyDetector:
    """Outlier detection on top of a fitted autoencoder (scikit-learn outlier API).

    ``fit(X)`` scores X with :func:`anomaly_scores` and sets ``threshold_`` so a
    ``contamination`` fraction of X would be flagged. ``predict`` returns -1 for anomalies
    and +1 for normal rows; ``score_samples`` is minus the anomaly score (higher = more
    normal, like scikit-learn); ``decision_function`` = threshold - score (< 0: anomaly).
    """

    def __init__(self, model, contamination: float = 0.05, metric: str | None = None,
                 objective=None, random_state=None):
        self.model = model
        self.contamination = contamination
        self.metric = metric
        self.objective = objective
        self.random_state = random_state

    def anomaly_score(self, X) -> np.ndarray:
        return anomaly_scores(self.model, X, self.metric, objective=self.objective,
                              random_state=self.random_state)

    def fit(self, X, y=None):
        self.threshold_ = threshold_by_contamination(self.anomaly_score(X), self.contamination)
        return self

    def _check_fitted(self):
        if not hasattr(self, "threshold_"):
            raise ConfigError("AnomalyDetector is not fitted yet: call fit() first")

    def score_samples(self, X) -> np.ndarray:
        return -self.anomaly_score(X)

    def decision_function(self, X) -> np.ndarray:
        self._check_fitted()
        return self.threshold_ - self.anomaly_score(X)

    def predict(self, X) -> np.ndarray:
        return np.where(self.decision_function(X) < 0, -1, 1)
