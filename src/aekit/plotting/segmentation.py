"""Segmentation figures: images with their true and predicted masks laid over them."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from aekit import applications as app
from aekit.errors import DataError
from aekit.plotting.base import mosaic_figure

# Class colours: background black, then matplotlib's tab10 / tab20 cycle.
_PALETTE = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
            "tab:pink", "tab:olive", "tab:cyan", "gold", "lime", "navy", "teal", "maroon",
            "orchid", "salmon", "khaki", "slategray", "crimson", "chartreuse")


def class_colours(n_classes: int) -> np.ndarray:
    """(n_classes, 3) RGB in [0, 1]: class 0 (background) black, the others distinct
    (cycling after 20)."""
    rgb = [(0.0, 0.0, 0.0)] + [to_rgb(_PALETTE[i % len(_PALETTE)]) for i in range(n_classes - 1)]
    return np.asarray(rgb, np.float32)


def overlay(images, masks, n_classes: int, alpha: float = 0.6) -> np.ndarray:
    """Images (n, C, H, W) in [0, 1] with each object pixel tinted by its class colour
    (``alpha`` of the colour over the grey image; background pixels unchanged) -> RGB
    (n, 3, H, W)."""
    images = np.asarray(images, np.float32)
    masks = np.asarray(masks)
    if images.ndim != 4 or masks.shape != (len(images), *images.shape[2:]):
        raise DataError(f"overlay needs images (n, C, H, W) and masks (n, H, W) of the same "
                        f"size, got {images.shape} and {masks.shape}")
    grey = images.mean(axis=1, keepdims=True) if images.shape[1] != 3 else images
    base = np.broadcast_to(grey, (len(images), 3, *images.shape[2:]))
    colours = class_colours(max(n_classes, int(masks.max(initial=0)) + 1))
    tint = np.moveaxis(colours[masks], -1, 1)  # (n, 3, H, W)
    on = (masks > 0)[:, None]
    return np.where(on, (1 - alpha) * base + alpha * tint, base).astype(np.float32)


def plot_segmentation(model, X, masks=None, *, n: int = 8, class_names=None,
                      title: str | None = "Segmentation") -> Figure:
    """For the first ``n`` images of X ((n, C, H, W), or flat rows of the model's shape):
    the image, its true mask (when ``masks`` is given) and the model's predicted mask,
    each mask laid over the image in its class colours (legend: the classes shown)."""
    fitted = app.as_fitted(model)
    k = fitted.module.config.n_classes
    c, h, w = fitted.layout.image_shape
    imgs = np.asarray(X, np.float32)[:n].reshape(-1, c, h, w)
    pred = fitted.segment(imgs)
    rows, labels = [imgs.mean(axis=1, keepdims=True).repeat(3, axis=1) if c != 3 else imgs], \
        ["image"]
    shown = [pred]
    if masks is not None:
        true = np.asarray(masks)[:n].reshape(len(imgs), h, w)
        rows.append(overlay(imgs, true, k))
        labels.append("true mask")
        shown.append(true)
    rows.append(overlay(imgs, pred, k))
    labels.append("predicted")
    fig = mosaic_figure([r.reshape(len(r), -1) for r in rows], (3, h, w), labels, title=title)
    present = np.unique(np.concatenate([s.ravel() for s in shown]))
    colours = class_colours(k)
    names = list(class_names) if class_names is not None and len(class_names) == k else \
        [f"class {i}" for i in range(k)]
    handles = [Patch(color=colours[i], label=names[i]) for i in present if i > 0]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 6),
                   fontsize=7, frameon=False)
    return fig
