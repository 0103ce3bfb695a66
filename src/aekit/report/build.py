"""Assemble the standard run report from the figure functions and metrics.

:func:`build_report` only assembles: every number comes from :mod:`aekit.evaluation`, every
image from :mod:`aekit.plotting`. Sections appear when they apply (a latent grid needs a
2-D code, traversals a VAE, the activation histogram a sparse objective, ...).
"""

from __future__ import annotations

import logging

import numpy as np

from aekit import applications as app
from aekit import evaluation as ev
from aekit import plotting as pl
from aekit.errors import DataError
from aekit.applications.adapter import image_shape_or_none
from aekit.fitted import FittedClassifier, FittedSegmenter
from aekit.report.few_labels import few_labels_report
from aekit.report.html import Report
from aekit.report.latent_map import add_latent_map
from aekit.report.segmentation import segmentation_report

log = logging.getLogger(__name__)

# Rows the report needs: PCA (the baseline beside the model) fits on the training rows;
# the interpolation pairs and the neighbours of the 2-D map's trustworthiness need a few
# test rows. Callers (aekit train, aekit report) check these before any work.
MIN_TRAIN_ROWS = 2
MIN_TEST_ROWS = 3


def model_summary(model) -> dict:
    """Key facts about a model for the config table: kind, architecture, sizes."""
    fitted = app.as_fitted(model)
    module, c = fitted.module, fitted.module.config
    return {
        "model": type(model).__name__ if hasattr(model, "fitted_") else type(module).__name__,
        "architecture": c.architecture,
        "variational": bool(module.variational),
        "n_features": c.n_features,
        "hidden": list(c.hidden),
        "code_size": int(module.code_size),
        "tied": bool(c.tied),
        "activation": c.activation,
        "output_activation": c.output_activation,
        "parameters": int(sum(p.numel() for p in module.parameters())),
    }


def _config_tables(config: dict) -> tuple[dict, dict]:
    """(run settings, estimator parameters) of a resolved run config as readable rows: the
    parameters get one row each instead of one JSON blob, and an unset value (None) reads
    "none" rather than Python's None."""
    def readable(v):
        if v is None:
            return "none"
        if isinstance(v, (list, tuple)):
            return ", ".join(str(readable(x)) for x in v) or "()"
        return v

    params = config.get("params") if isinstance(config.get("params"), dict) else {}
    run = {k: readable(v) for k, v in config.items() if not (k == "params" and params)}
    return run, {k: readable(v) for k, v in params.items()}


def _pairs(X, y, n: int, rng):
    """n pairs of rows, from different classes when labels are known."""
    n = min(n, len(X) // 2)
    if y is None:
        idx = rng.choice(len(X), size=2 * n, replace=False)
        return X[idx[:n]], X[idx[n:]]
    a = rng.choice(len(X), size=n, replace=False)
    b = np.array([rng.choice(np.flatnonzero(y != y[i]) if (y != y[i]).any() else len(X))
                  for i in a])
    return X[a], X[b]


def build_report(model, X_train, X_test, *, y_train=None, y_test=None, history=None,
                 config: dict | None = None, objective=None, title: str = "aekit run",
                 subtitle: str | None = None, image_shape=None, noise: str = "gaussian",
                 noise_level: float = 0.3, contamination: float = 0.05,
                 iw_samples: int = 100, n_show: int = 10, max_map_points: int = 2000,
                 random_state: int = 0, class_names=None, factors_test=None,
                 labelled=None) -> Report:
    """The standard report of one fitted model (module or estimator).

    X_train (N, D) and X_test (n, D): flat inputs in [0, 1], at least MIN_TRAIN_ROWS and
    MIN_TEST_ROWS rows (a DataError otherwise, before any work); y_*: optional labels (n,),
    used by the probes when y_train holds two classes or more. Rows that are not images
    (no image_shape, and no image shape the model knows: tabular data) get every section
    that does not need images; the image figures are left out and the report says so.
    history: ``TrainResult.history`` (per-epoch dicts) for training curves. config: the
    resolved run configuration (shown as a key-value table). objective: the training
    :class:`aekit.losses.Objective` (VAE likelihood, sparsity); default: the one the model
    was trained with (``as_fitted(model).objective``).
    PCA with the model's code size sits beside the model in the metrics table and in the
    reconstruction and denoising figures. ``report.results`` holds the numbers:
    {"model": metrics, "pca": metrics, "denoising": ..., "anomaly": ...}.

    A segmentation model (ConvSegmenter) gets its own report instead
    (:func:`aekit.report.segmentation.segmentation_report`): y_test holds the test masks,
    ``class_names`` names the mask labels. Otherwise ``class_names`` (the dataset's
    ``classes``, label order) names the classes in the code map's legend.
    ``factors_test`` (n, F): the known factors of X_test's rows (procedural sprites),
    for a disentanglement section (MIG, FactorVAE score, DCI; ``results["disentanglement"]``).
    A classifier trained with the ladder or M2 gets its own report
    (:func:`aekit.report.few_labels.few_labels_report`; ``labelled``: (X, y) of the rows
    fit saw labelled).

    Long only in its docstring (25 lines): the body is the sequence of section functions.
    """
    if isinstance(app.as_fitted(model), FittedSegmenter):
        return segmentation_report(model, X_test, y_test, history=history, config=config,
                                   title=title, subtitle=subtitle, class_names=class_names)
    if isinstance(app.as_fitted(model), FittedClassifier):
        return few_labels_report(model, X_train, X_test, y_train, y_test, labelled=labelled,
                                 history=history, config=config, title=title,
                                 subtitle=subtitle, image_shape=image_shape,
                                 class_names=class_names, n_show=n_show,
                                 random_state=random_state)
    fitted = app.as_fitted(model, objective)
    obj = fitted.objective
    X_train, X_test, y_train, y_test = _checked_rows(X_train, X_test, y_train, y_test)
    labelled = y_test is not None and y_train is not None
    rng = np.random.default_rng(random_state)
    k = fitted.code_size
    vae = fitted.variational
    shape = image_shape_or_none(fitted, image_shape)
    images = shape is not None
    report = Report(title, subtitle)
    _configuration_section(report, model, config, X_train, X_test, shape)
    metrics, pca, pca_metrics, Y_map = _metrics_section(
        report, fitted, X_train, X_test, y_train, y_test, iw_samples, max_map_points,
        random_state, labelled)
    _training_section(report, history)
    show = X_test[:n_show]
    discrete = fitted.discrete_codes  # a VQ-VAE: its codes are indices
    s = report.section(
        "Reconstructions",
        claim="An undercomplete autoencoder keeps what matters to rebuild the input; detail "
              "beyond what the code can hold is lost (blur), as it is for PCA.",
        measured=(f"PSNR {metrics['psnr']:.2f} dB vs PCA {pca_metrics['psnr']:.2f} dB."
                  if "psnr" in metrics and "psnr" in pca_metrics else
                  f"Test MSE {metrics['mse']:.4g} vs PCA {pca_metrics['mse']:.4g}."))
    if images:
        s.figure(pl.plot_reconstructions(fitted, show, baseline=pca, image_shape=shape),
                 "test inputs (top), autoencoder, PCA with the same code size")
    if discrete:
        _codebook_section(report, fitted, metrics, X_test, shape, n_show, random_state)
    else:
        _code_map_sections(report, fitted, metrics, pca_metrics, Y_map, X_test, y_test,
                           shape, labelled, max_map_points, random_state, class_names)
    # --- generation, interpolation, averaging, grid, traversals -------------------------
    if images and not discrete:
        _image_sections(report, fitted, obj, metrics, X_train, X_test, y_test, rng, k, vae,
                        shape, n_show, random_state)
    noisy = _denoising_sections(report, fitted, obj, pca, X_test, show, shape, noise,
                                noise_level, random_state)
    _anomaly_section(report, fitted, X_train, X_test, noisy, vae, contamination, noise,
                     noise_level)
    _sparsity_section(report, fitted, obj, X_test)
    if factors_test is not None:
        _disentanglement_section(report, fitted, X_test, factors_test, shape)
    log.info("report %r assembled: %d sections, %d figures", title, len(report.sections),
             len(report.figures()))
    return report


def _checked_rows(X_train, X_test, y_train, y_test):
    """float32 rows, enough of them (a DataError before any work), and labels for the
    probes only when both splits have them and the training labels hold two classes."""
    X_train = np.asarray(X_train, np.float32)
    X_test = np.asarray(X_test, np.float32)
    if X_train.ndim != 2 or len(X_train) < MIN_TRAIN_ROWS:
        raise DataError(f"the report needs at least {MIN_TRAIN_ROWS} training rows (PCA is "
                        f"fitted on them), got X_train of shape {X_train.shape}")
    if X_test.ndim != 2 or len(X_test) < MIN_TEST_ROWS:
        raise DataError(f"the report needs at least {MIN_TEST_ROWS} test rows (interpolation "
                        f"pairs, the 2-D map's neighbours), got X_test of shape {X_test.shape}")
    y_train = None if y_train is None else np.asarray(y_train)
    y_test = None if y_test is None else np.asarray(y_test)
    if y_train is not None and len(np.unique(y_train)) < 2:
        y_train = None  # one class: nothing for the probes to tell apart
    if y_train is None or y_test is None:
        y_train = None  # the probes use both or neither
    return X_train, X_test, y_train, y_test


def _configuration_section(report, model, config, X_train, X_test, shape) -> None:
    s = report.section("Configuration")
    s.key_values(model_summary(model), caption="model")
    if config:
        run, params = _config_tables(config)
        s.key_values(run, caption="run configuration")
        if params:
            s.key_values(params, caption="estimator parameters")
    images = shape is not None
    s.key_values({"train rows": len(X_train), "test rows": len(X_test),
                  "image shape (C, H, W)": list(shape) if images else "none"}, caption="data")
    if not images:
        s.text(f"The rows ({X_test.shape[1]} values each) are not images, so the image "
               "figures (reconstructions, samples, interpolations, denoising, inpainting) are "
               "left out; every other section is here.")


def _metrics_section(report, fitted, X_train, X_test, y_train, y_test, iw_samples,
                     max_map_points, random_state, labelled):
    """The model's test metrics beside PCA's; returns (metrics, the fitted PCA, PCA's
    metrics, the 2-D code map or None)."""
    k = fitted.code_size
    metrics = ev.evaluate_model(fitted, X_test, X_train=X_train, y_train=y_train,
                                y_test=y_test, iw_samples=iw_samples,
                                random_state=random_state)
    pca = ev.fit_pca(X_train, k, random_state)
    pca_metrics = ev.pca_baseline(X_train, X_test, k, y_train, y_test,
                                  random_state=random_state)
    Y_map = None
    if (labelled or k > 2) and not fitted.discrete_codes:  # (indices: no map of values)
        Y_map = pl.code_map(fitted, X_test, max_points=max_map_points,
                            random_state=random_state)
        idx = Y_map[2]
        metrics["trustworthiness"] = ev.map_trustworthiness(X_test[idx], Y_map[0])
    report.results.update(model=metrics, pca=pca_metrics)
    header, rows = ev.comparison_rows(metrics, pca_metrics)
    ratio = metrics["mse"] / max(pca_metrics["mse"], 1e-12)
    better = "below" if ratio < 1 else "above"
    report.section(
        "Metrics on the test set",
        claim="With the same code size, PCA is the best linear code; a linear autoencoder can "
              "at most match it, so a nonlinear autoencoder earns its keep by going below "
              "PCA's reconstruction error.",
        measured=f"Test MSE {metrics['mse']:.4g} vs PCA {pca_metrics['mse']:.4g} "
                 f"({ratio:.2f}x, {better} PCA) at code size {k}.",
    ).table(header, rows, caption=f"model vs {pca_metrics['name']} on {len(X_test)} test rows")
    return metrics, pca, pca_metrics, Y_map


def _training_section(report, history) -> None:
    if history and all(h.get("solver") == "svd" for h in history):
        # LinearAutoencoder's exact solve: one record, no curve to draw
        report.section(
            "Training",
            measured=f"Solved exactly (solver 'svd': the closed-form MSE minimum) in "
                     f"{history[-1]['seconds']:.2g} s; training loss {history[-1]['loss']:.4g}.")
    elif history:
        last = history[-1]
        val = f", validation loss {last['val_loss']:.4g}" if "val_loss" in last else ""
        report.section(
            "Training curves",
            measured=f"{len(history)} epochs; final training loss {last['loss']:.4g}{val}.",
        ).figure(pl.plot_training_curves(history), "each loss term per epoch "
                 "(solid: training, dashed: validation)")


def _code_map_sections(report, fitted, metrics, pca_metrics, Y_map, X_test, y_test, shape,
                       labelled, max_map_points, random_state, class_names) -> None:
    """The 2-D map of the codes, and the interactive one the page decodes."""
    if Y_map is not None:
        parts = [f"trustworthiness {metrics['trustworthiness']:.3f}"]
        if labelled:
            parts.append(f"5-NN accuracy on codes {metrics['knn']:.3f} "
                         f"(PCA {pca_metrics['knn']:.3f})")
        report.section(
            "Codes in two dimensions",
            claim="Without ever seeing labels, an autoencoder places similar inputs near each "
                  "other: classes form clusters in code space (shown directly for 2-D codes, "
                  "through t-SNE otherwise).",
            measured="; ".join(parts) + ".",
        ).figure(pl.plot_code_map(embedding=Y_map, y=None if y_test is None else y_test,
                                  class_names=class_names, n_total=len(X_test)),
                 pl.code_map_caption(Y_map, len(X_test)))
    if fitted.code_size >= 2:  # rows that are no images: one bar per feature
        add_latent_map(report, fitted, X_test, y_test, image_shape=shape,
                       max_points=max_map_points, random_state=random_state,
                       class_names=class_names, rows=shape is None)


def _denoising_sections(report, fitted, obj, pca, X_test, show, shape, noise, noise_level,
                        random_state):
    """Denoising (and, for images, inpainting); returns the noisy test rows."""
    images = shape is not None
    noisy = app.add_noise(X_test, noise, noise_level, random_state)
    den = {"noisy": ev.reconstruction_metrics(X_test, noisy)["mse"],
           "autoencoder": ev.reconstruction_metrics(X_test, app.denoise(fitted, noisy))["mse"],
           "pca": ev.reconstruction_metrics(X_test, ev.pca_reconstruct(pca, noisy))["mse"]}
    report.results["denoising"] = {"noise": noise, "level": noise_level, "mse": den}
    denoising = obj.noise is not None and obj.noise_level > 0
    s = report.section(
        "Denoising",
        claim="A denoising autoencoder, trained to map corrupted inputs to clean ones, removes "
              "noise; any undercomplete model removes some just by projecting onto what it "
              "can represent." + ("" if denoising else " (This model was trained without "
                                  "input noise.)"),
        measured=f"MSE to the clean {'images' if images else 'rows'}: noisy "
                 f"{den['noisy']:.4g}, autoencoder {den['autoencoder']:.4g}, PCA "
                 f"{den['pca']:.4g}.")
    if images:
        s.figure(pl.plot_denoising(fitted, show, noise=noise, level=noise_level,
                                   random_state=random_state, baseline=pca, image_shape=shape),
                 "clean / noisy / autoencoder output / PCA")
        report.section(
            "Inpainting",
            claim="Iterating reconstruction while clamping the known pixels fills a missing "
                  "region with content consistent with the rest of the input.",
        ).figure(pl.plot_inpainting(fitted, show, kind="bottom", image_shape=shape),
                 "bottom half missing; 20 iterations")
    return noisy


def _anomaly_section(report, fitted, X_train, X_test, noisy, vae, contamination, noise,
                     noise_level) -> None:
    metric = "elbo" if vae else "mse"
    s_train = app.anomaly_scores(fitted, X_train, metric)
    s_test = app.anomaly_scores(fitted, X_test, metric)
    s_noisy = app.anomaly_scores(fitted, noisy, metric)
    thr = app.threshold_by_contamination(s_train, contamination)
    flagged = float((s_test > thr).mean())
    auc = ev.auroc(np.concatenate([s_test, s_noisy]),
                   np.r_[np.zeros(len(s_test)), np.ones(len(s_noisy))])
    report.results["anomaly"] = {"metric": metric, "threshold": thr,
                                 "contamination": contamination,
                                 "test_flagged_fraction": flagged, "auroc_noisy_vs_clean": auc}
    unit = "-ELBO (nats)" if vae else "reconstruction MSE per value"
    report.section(
        "Anomaly scores",
        claim="Inputs unlike the training data are reconstructed badly, so the reconstruction "
              "error (for a VAE, -ELBO) is an anomaly score.",
        measured=f"Threshold at {contamination:.0%} contamination of the training scores: "
                 f"{thr:.4g}; it flags {flagged:.1%} of the test set. AUROC of clean vs "
                 f"noisy test inputs: {auc:.3f}.",
    ).figure(pl.plot_anomaly_histogram({"train": s_train, "test": s_test,
                                        f"test + {noise} noise {noise_level:g}": s_noisy},
                                       threshold=thr, xlabel=unit, log_x=not vae),
             f"score = {unit}")


def _codebook_section(report, fitted, metrics, X_test, shape, n_show, random_state) -> None:
    """A VQ-VAE's codebook (its use, the bits of a code) and what its prior generates; its
    codes are indices, so the map, interpolation and traversal sections are left out."""
    s = report.section(
        "Codebook",
        claim="A VQ-VAE's code is a grid of indices into a learned codebook; dead-code "
              "restarts and the codebook's moving averages keep most vectors in use.",
        measured=f"Perplexity {metrics['perplexity']:.1f} of {metrics['codebook_size']} "
                 f"codes on the test rows; a code is {metrics['code_bits']:.0f} bits, "
                 f"{metrics['prior_bits']:.1f} under the learned prior.")
    s.figure(pl.plot_codebook_usage(fitted, X_test), "share of the test rows' cells per "
             "codebook vector; the first test row's index grid")
    s.text("Codes are indices, not points of a space: the 2-D map, interpolation, the latent "
           "grid and traversals do not apply to them and are left out.")
    if shape is not None:
        report.section(
            "Generated samples",
            claim="The VQ-VAE generates by decoding index grids drawn from its "
                  "autoregressive prior (a PixelCNN fitted to the training rows' grids).",
        ).figure(pl.plot_generated(fitted, n=2 * n_show, random_state=random_state,
                                   per_row=n_show, image_shape=shape),
                 "index grids drawn from the prior, decoded")


def _disentanglement_section(report, fitted, X_test, factors, shape) -> None:
    from aekit.datasets.sprites import FACTORS, Sprites

    factors = np.asarray(factors)
    if len(factors) != len(X_test) or shape is None:
        raise DataError(f"factors_test: {len(factors)} rows of factors for {len(X_test)} "
                        "test rows of images")
    m = report.results["disentanglement"] = ev.disentanglement_metrics(
        fitted, Sprites(X_test.reshape(len(X_test), *shape), factors))
    report.section(
        "Disentanglement",
        claim="Where the factors of variation are known, a disentangled code gives each "
              "factor a unit of its own (a beta-TCVAE's tc_weight > 1 pushes for it).",
        measured=f"MIG {m['mig']:.3f}, FactorVAE score {m['factor_vae']:.3f}, DCI "
                 f"disentanglement {m['disentanglement']:.3f} / completeness "
                 f"{m['completeness']:.3f} / informativeness {m['informativeness']:.3f}.",
    ).figure(pl.plot_latents_by_factor(fitted, X_test, factors,
                                       names=FACTORS if factors.shape[1] == len(FACTORS)
                                       else None),
             "each code unit's mean at each level of each factor (test rows)")


def _sparsity_section(report, fitted, obj, X_test) -> None:
    if obj.sparsity is None or not obj.sparsity_weight > 0:
        return
    Z = app.encode(fitted, X_test)
    near_zero = float((np.abs(Z) < 1e-2).mean())
    report.section(
        "Code activations",
        claim="A sparsity penalty makes most code units inactive for any given input.",
        measured=f"{near_zero:.1%} of test code values are within 0.01 of zero "
                 f"({obj.sparsity} penalty, weight {obj.sparsity_weight:g}).",
    ).figure(pl.plot_activation_histogram(fitted, X_test), "code values on the test set")


def _image_sections(report, fitted, obj, metrics, X_train, X_test, y_test, rng, k, vae,
                    shape, n_show, random_state) -> None:
    """The sections that are figures of images: generated samples, interpolation and
    averaging, the latent grid (2-D codes) and latent traversals (VAEs)."""
    note = fitted.free_code_note  # how free codes are decoded, when it differs
    # The model's own density (a VAE's prior, the sampler a plain AE was fitted with);
    # a bare module has none: fit one here (a full-covariance mixture on a huge code,
    # such as a conv feature map, is too slow, so one Gaussian there).
    own = fitted.density is not None
    method = (fitted.density.kind if own else ("gmm" if k <= 64 else "gaussian"))
    report.section(
        "Generated samples",
        claim="A VAE generates by decoding draws from its prior. A plain autoencoder has "
              "no prior, so codes are drawn from a density fitted to the training codes "
              f"(here: {method}); drawn from an arbitrary region of code space "
              "its outputs are rarely plausible.",
    ).figure(pl.plot_generated(fitted, n=2 * n_show, method=None if own else method,
                               X_fit=None if own else X_train, random_state=random_state,
                               per_row=n_show, image_shape=shape),
             f"codes sampled from: {method}" + (f"; {note}" if note else ""))
    A, B = _pairs(X_test, y_test, 4, rng)
    interp = "slerp" if vae else "linear"
    report.section(
        "Interpolation and averaging",
        claim="Walking between two codes gives outputs that morph from one input to the "
              "other, unlike a pixel cross-fade which superimposes them; decoding the "
              "mean of two codes gives one blended item rather than a double exposure.",
    ).figure(pl.plot_interpolations(fitted, A, B, n_steps=n_show, method=interp,
                                    image_shape=shape),
             f"{interp} interpolation between codes, with the pixel cross-fade below each"
             + (f"; {note}" if note else "")
             ).figure(pl.plot_average(fitted, A, B, image_shape=shape),
                      "decoded code average vs pixel average")
    if k == 2:
        grid_method = "prior" if vae else "quantile"
        report.section(
            "Latent grid",
            claim="With a 2-D code the whole code space can be laid out as a map: nearby "
                  "codes decode to similar items and classes occupy regions.",
        ).figure(pl.plot_latent_grid(fitted, n=15, method=grid_method,
                                     X_fit=None if vae else X_train, image_shape=shape),
                 ("N(0,1) quantiles 5%..95% per axis" if fitted.module.prior.kind == "standard"
                  else "5%..95% quantiles of the VampPrior's draws per axis") if vae else
                 "5%..95% quantiles of the training codes per axis")
    if vae:
        dims = ev.units_by_information(fitted, X_test)[:min(k, 10)]
        report.section(
            "Latent traversals",
            claim="In a beta-VAE (beta > 1) single latent dimensions tend to control single "
                  "factors of variation; dimensions the KL pushed to the prior change "
                  "nothing.",
            measured=f"beta = {obj.beta:g}; {metrics['active_units']} of {k} units "
                     "active. Rows ordered by KL (by activity under a VampPrior), most "
                     "informative first.",
        ).figure(pl.plot_latent_traversals(fitted, X_test[0], dims=dims, image_shape=shape),
                 "each row varies one dimension from -3 to 3 around a test code")
