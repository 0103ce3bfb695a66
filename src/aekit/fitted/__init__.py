"""The fitted-model core: one object per trained autoencoder.

- :class:`FittedAutoencoder` (``model.py``): the module, its objective, input layout, code
  density, and the one inference path (encode / decode / reconstruct / scores / sample).
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
from aekit.fitted.model import INFER_ROWS, FittedAutoencoder, default_objective

__all__ = ["INFER_ROWS", "CodeDensity", "EntropyModel", "FittedAutoencoder", "InputLayout", "StandardNormal",
           "default_objective", "fit_density"]
