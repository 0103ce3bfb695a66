"""The run report of a classifier trained on few labels with the ladder network or M2
(``AutoencoderClassifier(method='ladder'|'m2')``): accuracy beside logistic regressions on
the same labelled rows, the confusion matrix, test rows by predicted class, and for M2
(a model of x given its class) rows generated class by class and style transfer. Like
:func:`aekit.report.build.build_report`, which hands these models to it, it only
assembles."""

from __future__ import annotations

import numpy as np

from aekit import applications as app
from aekit import plotting as pl
from aekit.applications.adapter import image_shape_or_none
from aekit.errors import DataError
from aekit.report.html import Report


def few_labels_summary(model) -> dict:
    fitted = app.as_fitted(model)
    c = fitted.module.config
    out = {"model": type(model).__name__ if hasattr(model, "fitted_") else
           type(fitted.module).__name__,
           "method": c.name, "n_features": c.n_features, "hidden": list(c.hidden),
           "classes": len(fitted.classes), "code_size": int(fitted.code_size),
           "parameters": int(sum(p.numel() for p in fitted.module.parameters()))}
    if hasattr(model, "n_labelled_"):
        out["labelled training rows"] = int(model.n_labelled_)
    return out


def logistic_baselines(X_train, X_labelled, y_labelled, X_test, y_test,
                       code_size: int) -> dict:
    """Test accuracy of the logistic regressions a few-label learner must beat, fitted on
    the labelled rows: on the raw inputs, and on standardised PCA codes of the model's
    code size (PCA fitted on X_train, labelled or not)."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(y_labelled)) < 2:
        return {}
    raw = LogisticRegression(max_iter=5000).fit(X_labelled, y_labelled)
    pca = PCA(min(code_size, *X_train.shape), random_state=0).fit(X_train)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    probe.fit(pca.transform(X_labelled), y_labelled)
    return {"logreg_raw": float(np.mean(raw.predict(X_test) == y_test)),
            "logreg_pca": float(np.mean(probe.predict(pca.transform(X_test)) == y_test)),
            "labelled": int(len(y_labelled))}


def few_labels_report(model, X_train, X_test, y_train, y_test, *, labelled=None,
                      history=None,
                      config: dict | None = None, title: str = "aekit run",
                      subtitle: str | None = None, image_shape=None, class_names=None,
                      n_show: int = 10, random_state: int = 0) -> Report:
    """The report of a ladder or M2 classifier on training rows X_train (labels y_train, -1
    for an unlabelled row) and test rows X_test (labels y_test). ``labelled``: (X, y) of
    the rows fit saw labelled, for the logistic regressions beside the model (default:
    the labelled rows of X_train). ``report.results`` holds {"model": {"accuracy", ...},
    "baselines": the logistic regressions}."""
    fitted = app.as_fitted(model)
    if y_test is None or y_train is None:
        raise DataError("a classifier's report needs the labels of the training and test rows")
    X_test = fitted.check_input(X_test, "X_test")
    X_train = fitted.check_input(X_train, "X_train")
    classes = np.asarray(fitted.classes, dtype=object)
    pred = classes[fitted.classify(X_test).argmax(axis=1)]
    y_test = np.asarray(y_test)
    accuracy = float(np.mean(pred == y_test))
    if labelled is None:
        from aekit.estimators.classifier import unlabelled_mask

        keep = ~unlabelled_mask(np.asarray(y_train))
        labelled = (X_train[keep], np.asarray(y_train)[keep])
    X_l, y_l = fitted.check_input(labelled[0], "labelled rows"), np.asarray(labelled[1])
    baselines = logistic_baselines(X_train, X_l, y_l, X_test, y_test, fitted.code_size)
    report = Report(title, subtitle)
    report.results["model"] = {"accuracy": accuracy, "code_size": fitted.code_size}
    report.results["baselines"] = baselines
    s = report.section("Configuration")
    s.key_values(few_labels_summary(model), caption="model")
    if config:
        s.key_values({k: v for k, v in config.items() if k != "params"},
                     caption="run configuration")
    name = fitted.module.config.name
    rows = [[f"{name} (labelled and unlabelled rows)", round(accuracy, 4)]]
    if baselines:
        rows += [["logistic regression, raw inputs (labelled rows)",
                  round(baselines["logreg_raw"], 4)],
                 [f"logistic regression, PCA({fitted.code_size}) codes (labelled rows)",
                  round(baselines["logreg_pca"], 4)]]
    best = max(baselines.get("logreg_raw", 0.0), baselines.get("logreg_pca", 0.0))
    report.section(
        "Accuracy with the labels used",
        claim="A model trained on the unlabelled rows as well as the labelled ones (a ladder "
              "network's denoising costs, M2's likelihood of x) classifies better than a "
              "classifier fitted on the labelled rows alone.",
        measured=f"Test accuracy {accuracy:.4f} with {baselines.get('labelled', '?')} "
                 f"labelled rows; the best logistic regression on the same rows "
                 f"{best:.4f} ({100 * (accuracy - best):+.1f} points)." if baselines else
                 f"Test accuracy {accuracy:.4f}.",
    ).table(["classifier", "test accuracy"], rows)
    report.section("Confusion matrix", measured=f"{len(y_test)} test rows.").figure(
        pl.plot_confusion_matrix(y_test, pred, list(fitted.classes), class_names),
        "rows: true class, columns: predicted class")
    if history:
        last = history[-1]
        report.section(
            "Training curves",
            measured=f"{len(history)} epochs; final loss {last['loss']:.4g}.",
        ).figure(pl.plot_training_curves(history), "each loss term per epoch")
    shape = image_shape_or_none(fitted, image_shape)
    if shape is None:
        report.section("Images", measured="Rows that are not images: no image figures.")
        return report
    report.section("Test rows by predicted class").figure(
        pl.plot_rows_by_class(fitted, X_test, n=n_show, image_shape=shape,
                              class_names=class_names),
        "one line per class: test rows the model assigns to it (how many, in brackets)")
    if fitted.generative:
        report.section(
            "Generated by class",
            claim="M2 is a model of x given its class: the class sets what is drawn, the "
                  "code z the style (Kingma et al. 2014).",
        ).figure(pl.plot_class_samples(fitted, n=n_show, image_shape=shape,
                                       class_names=class_names, random_state=random_state),
                 "one line per class; each column decodes the same draw of z")
        report.section(
            "Style transfer",
            claim="One image's style (its z) decoded under every class.",
        ).figure(pl.plot_style_transfer(fitted, X_test[:min(5, len(X_test))],
                                        image_shape=shape, class_names=class_names),
                 "each line: a test image, then its z decoded under each class")
    return report
