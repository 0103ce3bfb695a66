"""Pretrained models shipped inside the package: no download, nothing to go dead.

>>> import aekit.pretrained
>>> aekit.pretrained.list()
['digits-stacked-8', 'digits-vae-2', 'fashion-mnist-conv', ...]
>>> vae = aekit.pretrained.load("fashion-mnist-vae-2")   # a fitted VariationalAutoencoder
>>> vae.transform(X)                                      # X: (n, 784) in [0, 1]
>>> aekit.pretrained.info("fashion-mnist-vae-2")["command"]
'aekit train --model vae --data fashion-mnist ...'

Each model is an ordinary model folder (``config.json`` + ``model.safetensors`` +
``history.json``, read by :func:`aekit.load`: never unpickled) in ``models/NAME/``, with a
``provenance.json``: the exact ``aekit train`` command that trained it, the commit of the
code that ran it, the library versions, and its metrics on the full test split. All of
them are made by ``scripts/retrain_pretrained.py``; ``tests/test_pretrained.py`` reloads
each and reproduces its recorded test MSE.
"""

from __future__ import annotations

import builtins
import json
from importlib import resources
from pathlib import Path

from aekit.errors import ConfigError, ModelFileError
from aekit.loading import load as _load_folder

PROVENANCE_NAME = "provenance.json"


def models_dir() -> Path:
    """The folder holding the pretrained model folders (inside the installed package)."""
    root = resources.files(__name__) / "models"
    path = Path(str(root))
    if not path.is_dir():  # e.g. a zipped install: the files are not on disk
        raise ModelFileError(f"the pretrained models are not on disk at {path}; install "
                             "aekit as a regular (unzipped) package")
    return path


def list() -> builtins.list[str]:  # noqa: A001 - the public name the issue asks for
    """Names of the pretrained models, sorted."""
    return sorted(p.name for p in models_dir().iterdir()
                  if p.is_dir() and (p / PROVENANCE_NAME).is_file())


def path(name: str) -> Path:
    """The model folder of pretrained model ``name`` (ConfigError naming the choices)."""
    names = list()
    if not isinstance(name, str) or name not in names:
        raise ConfigError(f"no pretrained model {name!r}; choose one of {names}")
    return models_dir() / name


def info(name: str) -> dict:
    """The provenance record of ``name``: description, command, commit, versions,
    training time, ``test_metrics`` (and PCA's, ``pca_test_metrics``), file hashes."""
    where = path(name) / PROVENANCE_NAME
    try:
        record = json.loads(where.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{where}: unreadable provenance record ({exc})") from None
    if not isinstance(record, dict):
        raise ModelFileError(f"{where}: the provenance record is not a JSON object")
    return record


def load(name: str):
    """Pretrained model ``name`` as an ordinary fitted estimator (``aekit.load`` of its
    folder): transform, inverse_transform, score_samples, sample, save, ... all work."""
    return _load_folder(path(name))


__all__ = ["info", "list", "load", "models_dir", "path"]
