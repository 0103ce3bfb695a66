"""aekit: autoencoders as real, fast, tested software."""

from aekit.errors import (
    AekitError,
    ConfigError,
    DataError,
    DownloadError,
    ModelFileError,
    TrainingError,
)

__version__ = "0.1.0"

__all__ = [
    "AekitError",
    "ConfigError",
    "DataError",
    "DownloadError",
    "ModelFileError",
    "TrainingError",
    "load",
    "__version__",
]


def load(path):
    """Load a model folder written by aekit (``config.json`` + ``model.safetensors``).

    Returns a fitted estimator when the folder was saved from one, else the PyTorch module.
    Loading never unpickles: see :mod:`aekit.io.model_files`.
    """
    from aekit.io.model_files import load as _load

    return _load(path)
