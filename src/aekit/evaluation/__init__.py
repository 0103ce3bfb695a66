"""Metrics of a fitted autoencoder, always with PCA at the same code size beside it.

- reconstruction: :func:`psnr`, :func:`reconstruction_metrics`, :func:`evaluate_reconstruction`,
  :func:`fit_pca`, :func:`pca_reconstruct`, :func:`pca_baseline`
- VAE: :func:`elbo`, :func:`importance_sampled_log_likelihood`, :func:`kl`,
  :func:`kl_per_dimension`, :func:`unit_activity`, :func:`units_by_information`,
  :func:`active_units`, :func:`vae_metrics`
- codes: :func:`linear_probe_accuracy`, :func:`knn_accuracy`, :func:`probe_metrics`,
  :func:`code_metrics`, :func:`embed_2d`, :func:`map_trustworthiness`
- anomalies: :func:`auroc`, :func:`one_class_auroc`
- segmentation: :func:`segmentation_metrics` (SegNet's global / class-average accuracy,
  mean IoU, boundary F1), :func:`evaluate_segmenter`
- disentanglement (known factors, e.g. :func:`aekit.datasets.make_sprites`): :func:`mig`,
  :func:`factor_vae_score`, :func:`dci`, :func:`disentanglement_metrics`
- information: :func:`entropy`, :func:`kl_divergence`, :func:`cross_entropy` (bits or nats)
- one call for a report or CLI: :func:`evaluate_model`, :func:`comparison_rows`
"""

from __future__ import annotations

import math

from aekit.applications.adapter import as_fitted
from aekit.evaluation.anomaly import auroc, one_class_auroc
from aekit.evaluation.information import cross_entropy, entropy, kl_divergence
from aekit.evaluation.codes import (
    code_metrics, embed_2d, knn_accuracy, linear_probe_accuracy, map_trustworthiness,
    probe_metrics, subsample,
)
from aekit.evaluation.reconstruction import (
    evaluate_reconstruction, fit_pca, pca_baseline, pca_reconstruct, psnr,
    reconstruction_metrics,
)
from aekit.evaluation.disentanglement import (
    dci, disentanglement_metrics, factor_vae_score, mig, mutual_information,
)
from aekit.evaluation.segmentation import (
    SEGMENTATION_LABELS, evaluate_segmenter, segmentation_metrics,
)
from aekit.evaluation.vae import (
    active_units, elbo, importance_sampled_log_likelihood, kl, kl_per_dimension,
    unit_activity, units_by_information,
    vae_metrics,
)

# key -> (label, unit/direction) in the order tables show them
METRIC_LABELS = {
    "code_size": ("code size", ""),
    "mse": ("test MSE", "per value, lower is better"),
    "bce": ("test BCE", "nats per value, lower is better"),
    "psnr": ("test PSNR", "dB, peak 1.0, higher is better"),
    "linear_probe": ("linear-probe accuracy", "logistic regression on codes"),
    "knn": ("5-NN accuracy", "on codes"),
    "trustworthiness": ("trustworthiness of the 2-D map", "5 neighbours, 1 = perfect"),
    "elbo": ("ELBO", "nats per sample, higher is better"),
    "recon_nll": ("reconstruction -log p(x|z)", "nats per sample"),
    "kl": ("KL(q(z|x) || p(z))", "nats per sample"),
    "log_likelihood": ("log p(x), importance-sampled", "nats per sample"),
    "active_units": ("active units", "Cov_x E[z_j] > 0.01"),
    "iw_samples": ("importance samples k", "for the log-likelihood"),
    "binarization": ("binarisation of the rows scored", "ELBO and log p(x)"),
    "codebook_size": ("codebook size K", "VQ-VAE"),
    "perplexity": ("codebook perplexity", "codes in use, as if used equally (1 .. K)"),
    "code_bits": ("code bits per row", "h*w*log2(K)"),
    "prior_bits": ("bits per row under the prior", "-log2 p(indices), lower is better"),
}


def evaluate_model(model, X_test, *, X_train=None, y_train=None, y_test=None, objective=None,
                   iw_samples: int = 100, random_state=0, mc_seed=None) -> dict:
    """Every applicable metric of ``model`` on X_test (n, D), as a flat dict.

    Always: "code_size", "mse"; "bce" and "psnr" when X_test lies in [0, 1]. With X_train,
    y_train, y_test:
    "linear_probe", "knn" (not for a VQ-VAE, whose codes are indices: it gets
    :func:`codebook_metrics`). For VAEs: :func:`vae_metrics` with ``iw_samples`` importance
    samples (likelihood from ``objective``, default the model's own; Monte Carlo draws
    seeded by ``mc_seed``, default the model's seed, so the ELBO equals
    ``score_samples``). ``random_state`` seeds the probes. Units: see ``METRIC_LABELS``.
    """
    fitted = as_fitted(model, objective)
    X_test = fitted.check_input(X_test, "X_test")
    out = {"code_size": fitted.code_size}
    if fitted.reconstructs:  # (the ladder classifies without reconstructing)
        out.update(evaluate_reconstruction(fitted, X_test))
    if fitted.discrete_codes:  # a VQ-VAE's codes are indices: no probes on their values
        out.update(codebook_metrics(fitted, X_test))
    elif X_train is not None and y_train is not None and y_test is not None:
        out.update(code_metrics(fitted, X_train, y_train, X_test, y_test, random_state))
    if fitted.variational:
        out.update(vae_metrics(fitted, X_test, None, iw_samples, mc_seed))
    return out


def codebook_metrics(fitted, X_test) -> dict:
    """A VQ-VAE's codebook on X_test: its size K, the perplexity of X_test's codes, the
    code's bits per row (h*w*log2 K) and the mean bits per row under the model's prior."""
    return {"codebook_size": fitted.codebook_size, "perplexity": fitted.perplexity(X_test),
            "code_bits": float(fitted.code_size * math.log2(fitted.codebook_size)),
            "prior_bits": float(fitted.prior_bits(X_test).mean())}


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.6g}"
    return str(value)


def comparison_rows(model_metrics: dict, baseline_metrics: dict | None = None,
                    keys=None) -> tuple[list[str], list[list[str]]]:
    """A metrics table with PCA beside the model: (header, rows) of strings.

    header = ["metric", "unit", "model", <baseline name>]; one row per key present in
    ``model_metrics`` (default order: ``METRIC_LABELS``, then any other keys); "—" where the
    baseline has no value (e.g. the ELBO of PCA).
    """
    baseline_metrics = baseline_metrics or {}
    keys = list(keys) if keys is not None else (
        [k for k in METRIC_LABELS if k in model_metrics]
        + [k for k in model_metrics if k not in METRIC_LABELS and k != "name"])
    header = ["metric", "unit", model_metrics.get("name", "model"),
              baseline_metrics.get("name", "PCA")]
    rows = []
    for k in keys:
        label, unit = METRIC_LABELS.get(k, (k, ""))
        rows.append([label, unit, _fmt(model_metrics.get(k)), _fmt(baseline_metrics.get(k))])
    return header, rows


__all__ = [
    "METRIC_LABELS", "SEGMENTATION_LABELS", "active_units", "auroc", "code_metrics",
    "codebook_metrics",
    "comparison_rows",
    "cross_entropy", "dci", "disentanglement_metrics", "elbo", "entropy",
    "factor_vae_score", "kl_divergence", "mig", "mutual_information",
    "embed_2d", "evaluate_model", "evaluate_segmenter", "evaluate_reconstruction", "fit_pca",
    "importance_sampled_log_likelihood", "kl", "kl_per_dimension", "knn_accuracy",
    "linear_probe_accuracy", "map_trustworthiness", "one_class_auroc", "pca_baseline",
    "pca_reconstruct", "probe_metrics", "psnr", "reconstruction_metrics",
    "segmentation_metrics", "subsample",
    "unit_activity", "units_by_information", "vae_metrics",
]
