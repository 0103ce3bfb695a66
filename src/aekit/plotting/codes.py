"""Figures about the codes: 2-D maps coloured by label, activation histograms."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from aekit import applications as app
from aekit.evaluation.codes import embed_2d, subsample
from aekit.plotting.base import new_figure


def plot_code_map(model=None, X=None, y=None, *, embedding=None, max_points: int = 2000,
                  random_state=0, title: str | None = None, class_names=None,
                  n_total: int | None = None) -> Figure:
    """Codes of X (n, D) in 2-D, coloured by label y (n,).

    A 2-D code is drawn as is; a larger code is mapped with t-SNE (fixed random_state) on
    at most ``max_points`` rows. Pass ``embedding=(Y, method, index)`` (as returned by
    :func:`code_map`) to reuse a map that was already computed; ``n_total``: the rows it
    was drawn from (default len(X)), so the title can say when it shows a subsample.
    class_names: names of the labels in label order (a Dataset's ``classes``, e.g.
    Fashion-MNIST's "T-shirt/top", "Trouser", ...) for the legend; default the numbers.
    The legend sits beside the axes, where it hides no points.
    """
    if embedding is None:
        embedding = code_map(model, X, max_points=max_points, random_state=random_state)
        n_total = len(X) if n_total is None else n_total
    Y, method, index = embedding
    fig = new_figure(6.8 if y is not None else 5.5, 4.5)
    ax = fig.add_subplot()
    if y is None:
        ax.scatter(Y[:, 0], Y[:, 1], s=6, alpha=0.7)
    else:
        labels = np.asarray(y)[index]
        for c in np.unique(labels):
            sel = labels == c
            ax.scatter(Y[sel, 0], Y[sel, 1], s=6, alpha=0.7, label=label_name(c, class_names))
        ax.legend(markerscale=2.5, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5),
                  frameon=False, title="class", title_fontsize=8)
    names = ("z0", "z1") if method == "codes" else (f"{method} 1", f"{method} 2")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title(title if title is not None else
                 "Codes: " + code_map_caption(embedding, n_total), fontsize=10)
    return fig


def label_name(c, class_names=None) -> str:
    """The name of label ``c``: ``class_names[c]`` when given and in range, else ``c``."""
    integer = isinstance(c, (int, np.integer, float, np.floating)) and \
        not isinstance(c, bool) and float(c).is_integer()  # (a string label names itself)
    if class_names is not None and integer and 0 <= int(c) < len(class_names):
        return str(class_names[int(c)])
    return str(c)


def code_map_caption(embedding, n_total: int | None = None) -> str:
    """What a code map shows, naming a subsample as one: "t-SNE of 2,000 of 10,000 test
    rows" (or "2-D codes of all 360 test rows")."""
    Y, method, _ = embedding
    what = "2-D codes" if method == "codes" else method
    m = len(Y)
    n = m if n_total is None else int(n_total)
    return (f"{what} of all {m:,} test rows" if m >= n else
            f"{what} of {m:,} of {n:,} test rows (a random subsample)")


def code_map(model, X, *, max_points: int = 2000, random_state=0):
    """(Y (m, 2), method, index (m,)): the 2-D map of the codes of X[index], m <= max_points
    (see :func:`aekit.evaluation.embed_2d`)."""
    index = subsample(len(X), max_points, random_state)
    Y, method = embed_2d(app.encode(model, np.asarray(X)[index]), random_state)
    return Y, method, index


def plot_activation_histogram(model, X, *, bins: int = 50,
                              title: str | None = "Code activations") -> Figure:
    """Left: histogram of all code values on X (a sparse code piles up at 0). Right: mean
    activation of each code unit."""
    Z = app.encode(model, X)
    fig = new_figure(9, 3.2)
    a, b = fig.subplots(1, 2)
    a.hist(Z.ravel(), bins=bins, color="tab:blue")
    a.set_yscale("log")
    a.set_xlabel("code value")
    a.set_ylabel("count (log)")
    b.bar(np.arange(Z.shape[1]), Z.mean(axis=0), color="tab:orange")
    b.set_xlabel("code unit")
    b.set_ylabel("mean activation")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_codebook_usage(model, X, *, title: str | None = "Codebook usage") -> Figure:
    """A VQ-VAE's codes on X: how often each codebook vector is used, most used first
    (a codebook in full use is flat; dead codes are the zeros at the right), and the
    index grid of X's first row (each cell one code)."""
    from aekit.loading import as_fitted

    fitted = as_fitted(model)
    codes = app.encode(fitted, X).astype(np.int64)
    counts = np.bincount(codes.ravel(), minlength=fitted.codebook_size)
    share = np.sort(counts)[::-1] / max(1, counts.sum())
    fig = new_figure(9, 3.2)
    a, b = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    a.bar(np.arange(len(share)), share, width=1.0, color="tab:blue")
    a.axhline(1 / len(share), color="tab:red", lw=1, ls="--", label="uniform use")
    a.set_xlabel("codebook vector (most used first)")
    a.set_ylabel("share of the cells")
    a.legend(fontsize=8)
    b.imshow(codes[0].reshape(fitted.grid), cmap="tab20", interpolation="nearest")
    for (i, j), v in np.ndenumerate(codes[0].reshape(fitted.grid)):
        b.text(j, i, str(v), ha="center", va="center", fontsize=6)
    b.set_xticks([])
    b.set_yticks([])
    b.set_title("index grid of the first row", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_latents_by_factor(model, X, factors, *, names=None, max_units: int = 10,
                           title: str | None = "Code units against the known factors") -> Figure:
    """One row per code unit (the most active first, up to ``max_units``), one column per
    known factor (``factors`` (n, F) integer levels): the unit's mean over the rows at each
    level of the factor. A disentangled unit follows one factor and is flat in the others."""
    Z = app.encode(model, X).astype(np.float64)
    factors = np.asarray(factors)
    names = list(names) if names is not None else [f"factor {j}" for j in
                                                   range(factors.shape[1])]
    units = np.argsort(-Z.var(axis=0), kind="stable")[:max_units]
    F = factors.shape[1]
    fig = new_figure(1.7 * F + 0.6, 0.95 * len(units) + 0.8)
    axes = fig.subplots(len(units), F, squeeze=False, sharey="row")
    for r, unit in enumerate(units):
        for j in range(F):
            levels = np.unique(factors[:, j])
            means = [Z[factors[:, j] == v, unit].mean() for v in levels]
            ax = axes[r, j]
            ax.plot(levels, means, color="tab:blue", lw=1.2)
            ax.tick_params(labelsize=6)
            if r == 0:
                ax.set_title(names[j], fontsize=8)
            if j == 0:
                ax.set_ylabel(f"z{unit}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
