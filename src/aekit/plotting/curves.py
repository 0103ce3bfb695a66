"""Training curves: one panel per loss term, train and validation."""

from __future__ import annotations

import math

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from aekit.errors import DataError
from aekit.plotting.base import new_figure

SKIP = {"epoch", "lr", "seconds", "threads", "shards"}


def loss_terms(history) -> list[str]:
    """Loss-term names in a training history (list of per-epoch dicts), without the
    ``val_`` prefix, in first-seen order; "loss" first."""
    names = []
    for record in history:
        for key in record:
            name = key[4:] if key.startswith("val_") else key
            if name not in SKIP and name not in names:
                names.append(name)
    return sorted(names, key=lambda n: n != "loss")


def plot_training_curves(history, *, title: str | None = "Training curves") -> Figure:
    """One panel per term (loss, recon, kl, mse, ...): train solid, validation dashed,
    against the epoch. ``history``: the list of dicts from ``aekit.training.train``."""
    history = list(history)
    if not history:
        raise DataError("training history is empty: nothing to plot")
    terms = loss_terms(history)
    cols = min(3, len(terms))
    nrows = math.ceil(len(terms) / cols)
    fig = new_figure(3.3 * cols, 2.6 * nrows)
    axes = fig.subplots(nrows, cols, squeeze=False).ravel()
    epochs = [r.get("epoch", i + 1) for i, r in enumerate(history)]
    for ax, term in zip(axes, terms):
        for key, style, label in ((term, "-", "train"), (f"val_{term}", "--", "validation")):
            pts = [(e, r[key]) for e, r in zip(epochs, history) if key in r]
            if pts:
                ax.plot(*zip(*pts), style, marker="." if len(pts) < 30 else None, label=label)
        ax.set_title(term, fontsize=9)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no "epoch 1.5" ticks
        ax.legend(fontsize=7)
    for ax in axes[len(terms):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
