"""Figure functions: they return Figures of the right layout, export PNGs, leak nothing."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

import aekit.plotting as pl
from aekit.errors import DataError
from aekit.evaluation import fit_pca

X = np.random.default_rng(0).random((12, 64)).astype(np.float32)
PNG = b"\x89PNG\r\n\x1a\n"


def _ylabels(fig):
    return [t.get_text() for t in fig.axes[0].get_yticklabels()]


def test_every_image_figure_renders_to_png(untrained_model):
    import matplotlib.pyplot as plt

    ae, vae = untrained_model(code_size=2), untrained_model(code_size=3, variational=True)
    figs = [
        pl.plot_reconstructions(ae, X, n=5),
        pl.plot_denoising(ae, X, n=4),
        pl.plot_inpainting(ae, X, n=4),
        pl.plot_generated(ae, n=6, X_fit=X, per_row=3),
        pl.plot_generated(vae, n=4),
        pl.plot_interpolations(vae, X[:2], X[2:4], n_steps=5),
        pl.plot_latent_grid(ae, n=4, X_fit=X),
        pl.plot_latent_traversals(vae, X[0], n_steps=5),
        pl.plot_average(ae, X[:3], X[3:6]),
        pl.plot_code_map(vae, X, np.arange(12) % 3),
        pl.plot_activation_histogram(ae, X),
        pl.plot_anomaly_histogram({"a": X.mean(1), "b": X.max(1)}, threshold=0.5),
    ]
    for fig in figs:
        assert isinstance(fig, Figure)
        png = pl.figure_to_png(fig)
        assert png.startswith(PNG) and len(png) > 1000
        assert not fig.axes  # closed: released after export
    assert plt.get_fignums() == []  # nothing was ever registered with pyplot


def test_reconstruction_rows_include_the_pca_baseline(untrained_model):
    ae = untrained_model(code_size=2)
    fig = pl.plot_reconstructions(ae, X, n=5, baseline=fit_pca(X, 2))
    assert _ylabels(fig) == ["original", "autoencoder", "PCA (k=2)"]
    image = fig.axes[0].get_images()[0].get_array()
    assert image.shape == (3 * 9 + 1, 5 * 9 + 1)  # 3 rows x 5 tiles of 8x8 with 1px gaps
    assert _ylabels(pl.plot_reconstructions(ae, X, n=5)) == ["original", "autoencoder"]


def test_mosaic_places_images_row_by_row():
    rows = [np.zeros((2, 4)), np.ones((3, 4))]
    fig = pl.mosaic_figure(rows, (1, 2, 2), ["zeros", "ones"])
    img = fig.axes[0].get_images()[0].get_array()
    assert img.shape == (7, 10)
    assert img[1:3, 1:3].max() == 0 and img[4:6, 7:9].min() == 1
    assert img[1:3, 7:9].min() == 1  # an empty slot stays white (1.0)
    with pytest.raises(DataError, match="image_shape"):
        pl.mosaic_figure([np.zeros((1, 5))], (1, 2, 2))


def test_latent_grid_figure_labels_follow_the_grid_order(untrained_model):
    fig = pl.plot_latent_grid(untrained_model(code_size=2), n=3, method="range")
    labels = _ylabels(fig)
    assert labels == ["z1=3.00", "z1=0.00", "z1=-3.00"]  # top row = largest z1


def test_training_curves_one_panel_per_term():
    history = [{"epoch": e, "lr": 1e-3, "loss": 1 / e, "recon": 0.9 / e, "kl": 0.1,
                "val_loss": 1.1 / e, "val_recon": 1 / e, "val_kl": 0.1, "seconds": 0.1}
               for e in range(1, 6)]
    assert pl.loss_terms(history) == ["loss", "recon", "kl"]
    fig = pl.plot_training_curves(history)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["loss", "recon", "kl"]
    assert all(len(ax.get_lines()) == 2 for ax in visible)  # train + validation
    with pytest.raises(DataError, match="empty"):
        pl.plot_training_curves([])


def test_save_figure_writes_a_png(tmp_path):
    path = pl.save_figure(pl.plot_anomaly_histogram({"x": [1.0, 2.0, 2.0]}), tmp_path / "h.png")
    assert path.read_bytes().startswith(PNG)
    assert [p.name for p in tmp_path.iterdir()] == ["h.png"]  # no temporary left behind
