"""aekit: autoencoders as real, fast, tested software."""

from aekit.errors import (
    AekitError,
    ConfigError,
    DataError,
    DownloadError,
    ModelFileError,
    TrainingError,
)

from aekit.kinds import ESTIMATOR_NAMES

__version__ = "0.1.0"

__all__ = [
    "AekitError",
    "ConfigError",
    "DataError",
    "DownloadError",
    "ModelFileError",
    "TrainingError",
    *ESTIMATOR_NAMES,  # every model kind's estimator (aekit.kinds), imported on first use
    "compress",
    "decompress",
    "load",
    "__version__",
]


def load(path):
    """Load a model folder written by aekit (``config.json`` + ``model.safetensors``), or a
    run folder of ``aekit train`` (its ``model/``).

    Returns the fitted estimator when the folder was saved from one, else a
    :class:`aekit.fitted.FittedAutoencoder`. Loading never unpickles: see
    :mod:`aekit.fitted.files`. (Imported on first use: ``import aekit`` stays light.)
    """
    from aekit.loading import load as _load

    return _load(path)


def compress(image, quality=50, **options) -> bytes:
    """Compress a photograph (uint8 (H, W) or (H, W, 3), or float in [0, 1]; any size) with
    the pretrained photo codec: ``quality`` 1..100. See :mod:`aekit.applications.photo`."""
    from aekit.applications.photo import compress as _compress

    return _compress(image, quality, **options)


def decompress(data, **options):
    """The image a photo stream from :func:`compress` holds (uint8, as it was given)."""
    from aekit.applications.photo import decompress as _decompress

    return _decompress(data, **options)


_SUBPACKAGES = ("applications", "cli", "datasets", "estimators", "evaluation", "fitted", "io",
                "loading", "losses", "models", "plotting", "pretrained", "report", "tour",
                "training")


def __getattr__(name):
    """``aekit.StackedAutoencoder``, ``aekit.datasets`` etc., imported on first use (keeps
    ``import aekit`` light: torch is imported only when something needs it)."""
    import importlib

    if name in ESTIMATOR_NAMES:
        return getattr(importlib.import_module("aekit.estimators"), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"aekit.{name}")
    raise AttributeError(f"module 'aekit' has no attribute {name!r}")
