"""Model folders: finding the model in a path (a run folder or a model folder), loading it
with its run's configuration, and the image shape its rows have."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path


from aekit.errors import ConfigError, DataError, ModelFileError

from aekit.cli.outputs import COLUMNS_FILE, RESOLVED_CONFIG, SCALING_FILE


def model_dir(path) -> Path:
    """MODEL_DIR may be a model folder or a ``train`` output folder (holding model/)."""
    from aekit.fitted.files import resolve_folder

    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such model folder")
    return resolve_folder(path)


def load_model(path):
    """(fitted estimator or FittedAutoencoder, its folder, the run config beside it or {})."""
    from aekit.loading import load

    folder = model_dir(path)
    model = load(folder)
    run = {}
    resolved = folder.parent / RESOLVED_CONFIG
    if resolved.is_file():
        with contextlib.suppress(json.JSONDecodeError, UnicodeDecodeError):
            run = json.loads(resolved.read_text(encoding="utf-8"))
    if not isinstance(run, dict):
        return model, folder, {}
    scaling = folder.parent / SCALING_FILE
    if scaling.is_file():  # how the run scaled its data
        try:
            run["scaling"] = json.loads(scaling.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise DataError(f"{scaling}: unreadable; it records how the run scaled its "
                            "data") from None
    columns = folder.parent / COLUMNS_FILE
    if columns.is_file():
        try:
            names = json.loads(columns.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            names = None
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            raise DataError(f"{columns}: not a list of column names")
        run["columns"] = names
    return model, folder, run


def image_shape_for(model, ds=None, run: dict | None = None):
    """(C, H, W) to show the model's rows as images: the data's, else the model's own."""
    from aekit.applications import image_shape_of

    if ds is not None and ds.image_shape is not None:
        return tuple(ds.image_shape)
    try:
        return image_shape_of(model)
    except ConfigError:
        raise ConfigError("cannot show rows as images: the model's inputs have no image "
                          "shape (give --data with images)") from None
