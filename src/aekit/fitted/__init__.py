"""The fitted-model core: one object per trained autoencoder.

- :class:`FittedModel` (``model.py``): what every trained network shares (its module, input
  layout, the one inference path, its folder, ONNX export); its two kinds are
  :class:`FittedAutoencoder` (objective, code density, encode / decode / reconstruct /
  scores / sample, and a classifier's head), with :class:`FittedQuantized` (a VQ-VAE: index
  grids, its prior), :class:`FittedClassifier` (the few-label networks) and
  :class:`FittedSegmenter` (a class per pixel).
- :class:`InputLayout` (``layout.py``): user rows <-> network rows (image shape, padding).
- ``density.py``: code densities (the VAE prior; GMM / Gaussian / box over a plain AE's codes).
- ``entropy.py``: the entropy model of the codes (quantiles, medians, decoder gains) that
  compression codes under.
- ``files.py``: model folders on disk (safetensors + JSON, validated before any tensor is read).

Estimators build one in ``fit`` (``est.fitted_``); every other layer takes it through
:func:`aekit.loading.as_fitted`.
"""

from aekit.fitted.density import CodeDensity, StandardNormal, fit_density
from aekit.fitted.entropy import EntropyModel
from aekit.fitted.layout import InputLayout
from aekit.fitted.model import (INFER_ROWS, FittedAutoencoder, FittedClassifier, FittedModel,
                                FittedQuantized, FittedSegmenter, default_objective)

__all__ = ["INFER_ROWS", "CodeDensity", "EntropyModel", "FittedAutoencoder", "FittedClassifier",
           "FittedModel", "FittedQuantized", "FittedSegmenter", "InputLayout", "StandardNormal", "default_objective",
           "fit_density"]
