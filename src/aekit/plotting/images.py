"""Image figures of a fitted model: each is ``plot_*(model, X, ...) -> Figure``.

Inputs are flat (n, D); the image shape comes from the model config or ``image_shape``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from aekit import applications as app
from aekit.evaluation.reconstruction import pca_reconstruct
from aekit.plotting.base import mosaic_figure, shape_for


def plot_reconstructions(model, X, *, n: int = 10, baseline=None, baseline_name: str | None = None,
                         image_shape=None, title: str | None = "Reconstructions") -> Figure:
    """Originals over reconstructions for the first ``n`` rows of X (n, D).

    baseline: a fitted PCA (anything with ``transform``/``inverse_transform``) whose
    reconstructions form a third row, labelled ``baseline_name`` (default "PCA (k=..)").
    """
    X = np.asarray(X, np.float32)[:n]
    rows, labels = [X, app.reconstruct(model, X)], ["original", "autoencoder"]
    if baseline is not None:
        rows.append(pca_reconstruct(baseline, X))
        k = getattr(baseline, "n_components_", None)
        labels.append(baseline_name or (f"PCA (k={k})" if k is not None else "baseline"))
    return mosaic_figure(rows, shape_for(model, image_shape), labels, title=title)


def plot_denoising(model, X, *, noise: str = "gaussian", level: float = 0.3, n: int = 10,
                   random_state=0, baseline=None, image_shape=None,
                   title: str | None = None) -> Figure:
    """Clean / noisy / denoised triplets for the first ``n`` rows of X (n, D); noise from
    :func:`aekit.applications.add_noise`. A fitted PCA ``baseline`` adds its row."""
    X = np.asarray(X, np.float32)[:n]
    noisy = app.add_noise(X, noise, level, random_state)
    rows, labels = [X, noisy, app.denoise(model, noisy)], ["clean", "noisy", "autoencoder"]
    if baseline is not None:
        rows.append(pca_reconstruct(baseline, noisy))
        labels.append(f"PCA (k={getattr(baseline, 'n_components_', '?')})")
    title = title if title is not None else f"Denoising ({noise} noise, level {level:g})"
    return mosaic_figure(rows, shape_for(model, image_shape), labels, title=title)


def plot_inpainting(model, X, *, mask=None, kind: str = "bottom", n: int = 10, n_iter: int = 20,
                    image_shape=None, title: str | None = "Inpainting") -> Figure:
    """Original / with missing region (shown as 0.5 grey) / inpainted, for rows of X."""
    shape = shape_for(model, image_shape)
    X = np.asarray(X, np.float32)[:n]
    if mask is None:  # on the image grid; rows padded onto it keep their own values only
        mask = app.make_mask(shape, kind)[:X.shape[1]]
    mask = np.asarray(mask, bool)
    shown = np.where(np.broadcast_to(mask, X.shape), 0.5, X)
    return mosaic_figure([X, shown, app.inpaint(model, X, mask, n_iter)], shape,
                         ["original", "missing", "inpainted"], title=title)


def plot_generated(model, *, n: int = 20, method: str | None = None, X_fit=None,
                   random_state=0, per_row: int = 10, image_shape=None,
                   title: str | None = None) -> Figure:
    """``n`` samples from :func:`aekit.applications.generate`, ``per_row`` per line."""
    model = app.as_fitted(model)
    images = app.generate(model, n, method, X_fit=X_fit, random_state=random_state)
    rows = [images[i:i + per_row] for i in range(0, n, per_row)]
    if method is None:
        method = model.density.kind if model.density is not None else "gmm"
    title = title if title is not None else f"Generated samples (codes from: {method})"
    return mosaic_figure(rows, shape_for(model, image_shape), title=title)


def plot_interpolations(model, X_a, X_b, *, n_steps: int = 10, method: str | None = None,
                        pixel_baseline: bool = True, image_shape=None,
                        title: str | None = None) -> Figure:
    """One strip per pair (X_a[i] -> X_b[i]) decoded along the code path; with
    ``pixel_baseline`` each strip is followed by the plain pixel cross-fade."""
    model = app.as_fitted(model)
    X_a, X_b = np.atleast_2d(X_a), np.atleast_2d(X_b)
    method = method or ("slerp" if model.variational else "linear")
    paths = app.interpolate(model, X_a, X_b, n_steps, method)  # (m, s, D)
    t = np.linspace(0, 1, n_steps)[:, None]
    rows, labels = [], []
    for i, path in enumerate(paths):
        rows.append(path)
        labels.append(f"pair {i + 1}: codes")
        if pixel_baseline:
            rows.append((1 - t) * X_a[i] + t * X_b[i])
            labels.append("pixels")
    title = title if title is not None else f"Interpolation in code space ({method})"
    return mosaic_figure(rows, shape_for(model, image_shape), labels,
                         [f"{v:.2f}" for v in t[:, 0]], title=title)


def plot_latent_grid(model, *, n: int = 15, method: str | None = None, X_fit=None,
                     image_shape=None, title: str | None = None) -> Figure:
    """Decoded n x n grid over a 2-D code (see :func:`aekit.applications.latent_grid`);
    z_0 grows left to right, z_1 bottom to top."""
    model = app.as_fitted(model)
    images, Z = app.latent_grid(model, n, method, X_fit=X_fit)
    method = method or ("prior" if model.variational else "quantile")
    rows = images.reshape(n, n, -1)
    title = title if title is not None else f"Latent grid ({method})"
    return mosaic_figure(list(rows), shape_for(model, image_shape),
                         [f"z1={v:.2f}" for v in Z[::n, 1]],
                         [f"{v:.1f}" for v in Z[:n, 0]], title=title, cell=0.5)


def plot_latent_traversals(model, x=None, *, dims=None, n_steps: int = 9, low: float = -3.0,
                           high: float = 3.0, image_shape=None,
                           title: str | None = "Latent traversals") -> Figure:
    """One row per code dimension, varied over [low, high] around the code of ``x``
    (or zero); the beta-VAE disentanglement probe."""
    images, values = app.latent_traversal(model, x, dims=dims, n_steps=n_steps, low=low,
                                          high=high)
    k = app.as_fitted(model).code_size
    dims = list(range(k)) if dims is None else list(dims)
    return mosaic_figure(list(images), shape_for(model, image_shape), [f"z{d}" for d in dims],
                         [f"{v:.1f}" for v in values], title=title)


def plot_average(model, X_a, X_b, *, image_shape=None,
                 title: str | None = "Averaging codes vs pixels") -> Figure:
    """Rows: X_a, X_b, decode(mean of codes), pixel mean."""
    X_a, X_b = np.atleast_2d(X_a), np.atleast_2d(X_b)
    return mosaic_figure([X_a, X_b, app.average(model, X_a, X_b), (X_a + X_b) / 2],
                         shape_for(model, image_shape),
                         ["A", "B", "code average", "pixel average"], title=title)


def plot_equal_bytes(panels, *, crop=None, zoom_size: int = 96) -> Figure:
    """Images side by side with a zoomed crop under each: ``panels`` from
    :func:`aekit.applications.photo.equal_bytes` (label, bytes, psnr, image). ``crop``:
    (top, left) of the zoomed square (default: the centre)."""
    from matplotlib.patches import Rectangle

    from aekit.plotting.base import new_figure

    first = panels[0]["image"]
    h, w = first.shape[:2]
    size = min(zoom_size, h, w)
    top, left = crop if crop is not None else ((h - size) // 2, (w - size) // 2)
    fig = new_figure(2.6 * len(panels), 5.4)
    axes = fig.subplots(2, len(panels))
    grey = first.ndim == 2
    for col, panel in enumerate(panels):
        image = panel["image"]
        title = panel["label"] if panel["bytes"] is None else (
            f"{panel['label']}\n{panel['bytes']:,} bytes, {panel['psnr']:.2f} dB")
        for row, shown in enumerate((image, image[top:top + size, left:left + size])):
            ax = axes[row, col]
            ax.imshow(shown, cmap="gray" if grey else None, vmin=0, vmax=255,
                      interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, col].set_title(title, fontsize=8)
        axes[0, col].add_patch(Rectangle((left, top), size, size, fill=False,
                                         color="yellow", lw=0.8))
    return fig
