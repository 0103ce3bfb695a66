"""What a trained autoencoder can do, on any fitted model (module or estimator).

Every function takes ``model`` = an aekit torch module or a fitted estimator with
``module_`` (see :func:`as_module`), and flat numpy arrays (n, D). Codes are (n, k).

- codes: :func:`encode`, :func:`decode`, :func:`reconstruct`, :func:`average`, :func:`mix_codes`
- restoration: :func:`add_noise`, :func:`denoise`, :func:`make_mask`, :func:`inpaint`
- walks: :func:`interpolate`, :func:`interpolate_codes`, :func:`slerp`, :func:`latent_grid`,
  :func:`latent_grid_codes`, :func:`latent_traversal`
- generation: :func:`generate`, :class:`CodeSampler`
- anomalies: :func:`anomaly_scores`, :func:`negative_elbo`, :func:`threshold_by_contamination`,
  :func:`threshold_by_quantile`, :class:`AnomalyDetector`
"""

from aekit.applications.adapter import (
    as_module, code_size, image_shape_of, is_variational, objective_of,
)
from aekit.applications.anomaly import (
    SCORE_METRICS, AnomalyDetector, anomaly_scores, negative_elbo, threshold_by_contamination,
    threshold_by_quantile,
)
from aekit.applications.codes import average, decode, encode, mix_codes, reconstruct
from aekit.applications.generation import GENERATION_METHODS, CodeSampler, generate
from aekit.applications.interpolation import (
    GRID_METHODS, INTERPOLATIONS, grid_axis, interpolate, interpolate_codes, latent_grid,
    latent_grid_codes, latent_traversal, slerp,
)
from aekit.applications.restoration import MASK_KINDS, add_noise, denoise, inpaint, make_mask

__all__ = [
    "GENERATION_METHODS", "GRID_METHODS", "INTERPOLATIONS", "MASK_KINDS", "SCORE_METRICS",
    "AnomalyDetector", "CodeSampler", "add_noise", "anomaly_scores", "as_module", "average",
    "code_size", "decode", "denoise", "encode", "generate", "grid_axis", "image_shape_of",
    "inpaint", "interpolate", "interpolate_codes", "is_variational", "latent_grid",
    "latent_grid_codes", "latent_traversal", "make_mask", "mix_codes", "negative_elbo",
    "objective_of", "reconstruct", "slerp", "threshold_by_contamination",
    "threshold_by_quantile",
]
