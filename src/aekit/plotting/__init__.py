"""Figures as functions of a fitted model: ``plot_*(model, X, ...) -> matplotlib Figure``.

Figures are made outside pyplot on an Agg canvas (see :mod:`aekit.plotting.base`); turn one
into PNG bytes with :func:`figure_to_png` or a file with :func:`save_figure` (both close it).
"""

from aekit.plotting.anomaly import plot_anomaly_histogram
from aekit.plotting.base import (
    DPI, close_figure, figure_to_png, mosaic_figure, new_figure, save_figure,
)
from aekit.plotting.classes import (
    confusion_matrix, plot_class_samples, plot_confusion_matrix, plot_rows_by_class,
    plot_style_transfer,
)
from aekit.plotting.codes import (
    code_map, code_map_caption, label_name, plot_activation_histogram, plot_code_map,
    plot_codebook_usage, plot_latents_by_factor,
)
from aekit.plotting.curves import loss_terms, plot_training_curves
from aekit.plotting.segmentation import class_colours, overlay, plot_segmentation
from aekit.plotting.images import (
    plot_average, plot_denoising, plot_equal_bytes, plot_generated, plot_inpainting,
    plot_interpolations, plot_latent_grid, plot_latent_traversals, plot_reconstructions,
)

__all__ = [
    "DPI", "close_figure", "code_map", "code_map_caption", "figure_to_png", "label_name",
    "loss_terms", "mosaic_figure",
    "new_figure", "plot_activation_histogram", "plot_latents_by_factor", "plot_anomaly_histogram", "plot_average",
    "plot_code_map", "plot_codebook_usage", "plot_denoising", "plot_equal_bytes", "plot_generated", "plot_inpainting",
    "plot_interpolations", "plot_latent_grid", "plot_latent_traversals",
    "plot_reconstructions", "plot_segmentation", "plot_training_curves", "save_figure",
    "class_colours", "overlay", "confusion_matrix", "plot_class_samples",
    "plot_confusion_matrix", "plot_rows_by_class", "plot_style_transfer",
]
