"""Figure plumbing shared by every plot: pyplot-free figures, PNG export, image mosaics.

Figures are built as ``matplotlib.figure.Figure`` with an Agg canvas, never through pyplot:
nothing is registered in pyplot's global figure list, so no backend is switched, no GUI
window opens, and a figure that goes out of scope is simply garbage-collected (no leaks).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from aekit.applications.adapter import image_shape_of
from aekit.errors import DataError
from aekit.io.atomic import write_bytes_atomic

DPI = 100
CELL_INCHES = 0.75  # size of one image tile in a mosaic


def new_figure(width: float, height: float) -> Figure:
    """A Figure of (width, height) inches on an Agg canvas, outside pyplot."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def close_figure(fig: Figure) -> None:
    """Release a figure; also drops it from pyplot if a caller made it there."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)
    fig.clear()


def figure_to_png(fig: Figure, dpi: int = DPI, close: bool = True) -> bytes:
    """PNG bytes of ``fig`` (closed afterwards unless ``close=False``)."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi)
    finally:
        if close:
            close_figure(fig)
    return buf.getvalue()


def save_figure(fig: Figure, path, dpi: int = DPI, close: bool = True) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically; returns the path."""
    path = Path(path)
    write_bytes_atomic(path, figure_to_png(fig, dpi, close))
    return path


def to_images(X, image_shape) -> np.ndarray:
    """Flat rows (..., D) -> displayable images (..., H, W) or (..., H, W, 3), clipped to
    [0, 1]. Rows shorter than the image are zero-padded at the end: the way a conv network
    lays out rows that fill no whole image (:class:`aekit.fitted.InputLayout`)."""
    c, h, w = image_shape
    X = np.asarray(X, np.float32)
    if X.shape[-1] < c * h * w:
        X = np.concatenate([X, np.zeros((*X.shape[:-1], c * h * w - X.shape[-1]),
                                        np.float32)], axis=-1)
    if X.shape[-1] != c * h * w:
        raise DataError(f"rows have {X.shape[-1]} values, image_shape {image_shape} needs "
                        f"{c * h * w}")
    imgs = np.clip(X.reshape(*X.shape[:-1], c, h, w), 0.0, 1.0)
    if c == 1:
        return imgs[..., 0, :, :]
    if c == 3:
        return np.moveaxis(imgs, -3, -1)
    return imgs.mean(axis=-3)  # other channel counts: show the mean


def mosaic_figure(rows, image_shape, row_labels=None, col_labels=None, title=None,
                  cell: float = CELL_INCHES, pad: int = 1) -> Figure:
    """One figure tiling images: ``rows`` is a list of (m_i, D) arrays (or an (r, m, D)
    array), one line of tiles per entry, left-aligned; ``row_labels`` name the lines.

    All tiles go into a single ``imshow`` (fast even for a 20 x 20 grid); pixels are shown
    in [0, 1] with a grey colormap, separated by a ``pad``-pixel white border.
    """
    c, h, w = image_shape
    rows = [np.atleast_2d(np.asarray(r, np.float32)) for r in rows]
    if not rows or max(len(r) for r in rows) == 0:
        raise DataError("nothing to show: no images")
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    rgb = c == 3
    H, W = n_rows * (h + pad) + pad, n_cols * (w + pad) + pad
    canvas = np.ones((H, W, 3) if rgb else (H, W), np.float32)
    for i, r in enumerate(rows):
        for j, img in enumerate(to_images(r, image_shape)):
            top, left = pad + i * (h + pad), pad + j * (w + pad)
            canvas[top:top + h, left:left + w] = img
    label_space = 1.4 if row_labels else 0.2
    fig = new_figure(min(n_cols * cell + label_space, 14), min(n_rows * cell + 0.5, 14))
    ax = fig.add_subplot()
    ax.imshow(canvas, cmap=None if rgb else "gray", vmin=0.0, vmax=1.0,
              interpolation="nearest")
    ax.set_yticks([pad + i * (h + pad) + h / 2 - 0.5 for i in range(n_rows)])
    ax.set_yticklabels(list(row_labels) if row_labels else [""] * n_rows)
    if col_labels is not None:
        ax.set_xticks([pad + j * (w + pad) + w / 2 - 0.5 for j in range(len(col_labels))])
        ax.set_xticklabels(list(col_labels), fontsize=8)
    else:
        ax.set_xticks([])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def shape_for(model, image_shape):
    """(C, H, W) for a model or an explicit image_shape (see ``image_shape_of``)."""
    return image_shape_of(model, image_shape)
