"""Anomaly-score histograms."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from aekit.plotting.base import new_figure


def plot_anomaly_histogram(groups: dict, *, threshold: float | None = None, bins: int = 50,
                           xlabel: str = "anomaly score", log_x: bool = False,
                           title: str | None = "Anomaly scores") -> Figure:
    """Overlaid density histograms of score groups, e.g. {"test, normal": s0, "other
    classes": s1}; each value an (n_i,) array. ``threshold`` draws a vertical line."""
    fig = new_figure(7.5, 3.5)
    ax = fig.add_subplot()
    arrays = [np.asarray(v, np.float64).ravel() for v in groups.values()]
    finite = np.concatenate([a[np.isfinite(a)] for a in arrays]) if arrays else np.zeros(0)
    if log_x and finite.size and finite.min() > 0:
        edges = np.geomspace(finite.min(), finite.max() * 1.0001, bins + 1)
        ax.set_xscale("log")
    else:
        edges = bins
        if finite.size and finite.min() == finite.max():
            edges = np.linspace(finite.min() - 0.5, finite.max() + 0.5, bins + 1)
    for name, a in zip(groups, arrays):
        ax.hist(a[np.isfinite(a)], bins=edges, density=True, histtype="stepfilled", alpha=0.45,
                label=f"{name} (n={len(a)})")
    if threshold is not None:
        ax.axvline(threshold, color="k", linestyle="--", label=f"threshold {threshold:.4g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    # beside the axes: inside, it hides the tails where the threshold sits
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    return fig
