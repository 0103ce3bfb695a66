"""Figures of a classifier: its confusion matrix, test rows by predicted class, and for a
model of x given its class (M2) rows generated class by class and one image's style
decoded under every class."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from aekit import applications as app
from aekit.plotting.base import mosaic_figure, new_figure
from aekit.plotting.codes import label_name


def confusion_matrix(y_true, y_pred, classes) -> np.ndarray:
    """(k, k) counts: row = true class, column = predicted class, in ``classes`` order."""
    index = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        if t in index and p in index:
            out[index[t], index[p]] += 1
    return out


def plot_confusion_matrix(y_true, y_pred, classes, class_names=None) -> Figure:
    """The confusion matrix as a heat map, each cell's count written in it."""
    m = confusion_matrix(y_true, y_pred, classes)
    names = [label_name(c, class_names) for c in classes]
    k = len(classes)
    fig = new_figure(min(1.0 + 0.45 * k, 12), min(0.8 + 0.45 * k, 12))
    ax = fig.add_subplot()
    ax.imshow(m, cmap="Blues")
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if m[i, j] > m.max() / 2 else "black")
    ax.set_xticks(range(k))
    ax.set_xticklabels(names, rotation=90, fontsize=7)
    ax.set_yticks(range(k))
    ax.set_yticklabels(names, fontsize=7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    return fig


def plot_rows_by_class(model, X, *, n: int = 10, image_shape=None, class_names=None) -> Figure:
    """One line per class: the first ``n`` rows of X the model assigns to it."""
    fitted = app.as_fitted(model)
    X = fitted.check_input(X)
    pred = np.asarray(fitted.classes, dtype=object)[fitted.classify(X).argmax(axis=1)]
    rows, labels = [], []
    for c in fitted.classes:
        chosen = X[pred == c][:n]
        rows.append(chosen if len(chosen) else np.zeros((0, X.shape[1]), np.float32))
        labels.append(f"{label_name(c, class_names)} ({int(np.sum(pred == c))})")
    shape = image_shape or fitted.image_shape
    return mosaic_figure(rows, shape, row_labels=labels)


def plot_class_samples(model, *, n: int = 10, image_shape=None, class_names=None,
                       random_state=0) -> Figure:
    """A model of x given its class: one line of ``n`` generated rows per class (the same
    n draws of z in every line, so each column keeps its style)."""
    fitted = app.as_fitted(model)
    rng = np.random.default_rng(random_state)
    Z = rng.standard_normal((n, fitted.code_size)).astype(np.float32)
    rows = [fitted.decode(Z, c) for c in fitted.classes]
    labels = [label_name(c, class_names) for c in fitted.classes]
    return mosaic_figure(rows, image_shape or fitted.image_shape, row_labels=labels)


def plot_style_transfer(model, X, *, image_shape=None, class_names=None) -> Figure:
    """For each row of X (a line): the row, then its style z ~ q(z|x, y) under the class
    the model infers, decoded under every class (Kingma et al. 2014, figure 1)."""
    fitted = app.as_fitted(model)
    X = fitted.check_input(X)
    codes = fitted.encode(X)  # z's posterior mean under the inferred class
    k = len(fitted.classes)
    rows = [np.concatenate([x[None], fitted.decode(np.repeat(z[None], k, axis=0),
                                                   fitted.classes)])
            for x, z in zip(X, codes)]
    cols = ["input"] + [label_name(c, class_names) for c in fitted.classes]
    return mosaic_figure(rows, image_shape or fitted.image_shape, col_labels=cols)
