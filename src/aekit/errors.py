"""The one exception family aekit raises on purpose.

Every error a user can cause (bad data, bad options, a bad model file, a diverging run) is an
``AekitError``. Subclasses also derive from the built-in type scikit-learn and Python users
already catch (``ValueError`` for bad input, ``RuntimeError`` for training failures), so
``except ValueError`` keeps working in pipelines.
"""


class AekitError(Exception):
    """Base class of every error aekit raises deliberately."""


class DataError(AekitError, ValueError):
    """Input data is missing, malformed, corrupt or out of range. The message names the
    file (or argument) and, where it applies, the row and column."""


class DownloadError(DataError):
    """A download failed or its checksum did not match; nothing is left in the cache."""


class ConfigError(AekitError, ValueError):
    """An option or configuration value is unknown or out of range."""


class ModelFileError(AekitError, ValueError):
    """A model folder or checkpoint is missing, corrupt, or fails validation.
    Raised before any tensor memory is allocated for it."""


class TrainingError(AekitError, RuntimeError):
    """Training cannot go on (e.g. the loss became NaN/Inf); the last good weights are kept."""
