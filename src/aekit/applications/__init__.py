"""What a trained autoencoder can do, on any fitted model.

Every function takes ``model`` = a fitted estimator, a
:class:`~aekit.fitted.FittedAutoencoder`, an aekit torch module or a model folder's path
(see :func:`as_fitted`), and numpy inputs: rows (n, D) or the images the model was fitted
on. Codes are (n, k). The numbers come from the fitted model's own methods.

- codes: :func:`encode`, :func:`decode`, :func:`reconstruct`, :func:`average`, :func:`mix_codes`
- restoration: :func:`add_noise`, :func:`denoise`, :func:`make_mask`, :func:`inpaint`
- walks: :func:`interpolate`, :func:`interpolate_codes`, :func:`slerp`, :func:`latent_grid`,
  :func:`latent_grid_codes`, :func:`latent_traversal`
- generation: :func:`generate`
- anomalies: :func:`anomaly_scores`, :func:`negative_elbo`, :func:`threshold_by_contamination`,
  :func:`threshold_by_quantile`, :class:`AnomalyDetector`
- compression: :func:`compress`, :func:`decompress` (real bitstreams), :func:`quantise`,
  :func:`stream_info`, :func:`bits_per_pixel`, :func:`psnr`
"""

from aekit.applications.adapter import as_fitted, as_module, image_shape_of
from aekit.applications.anomaly import (
    SCORE_METRICS, AnomalyDetector, anomaly_scores, negative_elbo, threshold_by_contamination,
    threshold_by_quantile,
)
from aekit.applications.codes import average, decode, encode, mix_codes, reconstruct
from aekit.applications.compression import (
    bits_per_pixel, compress, decompress, psnr, quantise, stream_info,
)
from aekit.applications.generation import GENERATION_METHODS, generate
from aekit.applications.interpolation import (
    GRID_METHODS, INTERPOLATIONS, grid_axis, interpolate, interpolate_codes, latent_grid,
    latent_grid_codes, latent_traversal, slerp,
)
from aekit.applications.restoration import MASK_KINDS, add_noise, denoise, inpaint, make_mask

__all__ = [
    "GENERATION_METHODS", "GRID_METHODS", "INTERPOLATIONS", "MASK_KINDS", "SCORE_METRICS",
    "AnomalyDetector", "add_noise", "anomaly_scores", "as_fitted", "as_module", "average",
    "bits_per_pixel", "compress", "decompress", "psnr", "quantise", "stream_info",
    "decode", "denoise", "encode", "generate", "grid_axis", "image_shape_of",
    "inpaint", "interpolate", "interpolate_codes", "latent_grid",
    "latent_grid_codes", "latent_traversal", "make_mask", "mix_codes", "negative_elbo",
    "reconstruct", "slerp", "threshold_by_contamination",
    "threshold_by_quantile",
]
