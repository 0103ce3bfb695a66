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

What is read is checked (tests/test_integrity.py): ``info`` refuses a provenance
record missing a field or holding one of the wrong type, and ``load`` (and ``aekit
pretrained NAME --out``) refuses a folder whose files do not match the SHA-256s the record
lists, so a changed weights file never loads under the pretrained name.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import re
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
    _check_record(record, name, where)
    return record


# The fields of a provenance record that aekit reads, and their types (a number is an int
# or a float, never a bool). Nested dicts list their own required fields.
_NUMBER = (int, float)
RECORD_FIELDS = {
    "name": str, "description": str, "command": str, "commit": str, "versions": dict,
    "machine": str, "trained_at": str, "data": {"name": str}, "train_seconds": _NUMBER,
    "epochs_trained": int, "evaluated_on": str, "eval_rows": int,
    "test_metrics": {"code_size": int, "mse": _NUMBER},
    "pca_test_metrics": {"mse": _NUMBER}, "files": dict,
}
MODEL_FILES = ("config.json", "model.safetensors", "history.json")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _check_record(record: dict, name: str, where) -> None:
    def check(d: dict, fields: dict, prefix: str) -> None:
        for key, kind in fields.items():
            value = d.get(key)
            if isinstance(kind, dict):
                if not isinstance(value, dict):
                    raise ModelFileError(f"{where}: {prefix}{key} is missing or not an object")
                check(value, kind, f"{prefix}{key}.")
            elif isinstance(value, bool) or not isinstance(value, kind):
                raise ModelFileError(f"{where}: {prefix}{key} is missing or not of the right "
                                     "type")

    check(record, RECORD_FIELDS, "")
    if record["name"] != name or "--model " not in record["command"]:
        raise ModelFileError(f"{where}: the record does not describe model {name!r}")
    files = record["files"]
    for f in MODEL_FILES:
        if not (isinstance(files.get(f), str) and _SHA256.fullmatch(files[f])):
            raise ModelFileError(f"{where}: files.{f} is not a SHA-256 (64 hex digits)")


def verify(name: str) -> Path:
    """The model folder of ``name`` after checking every file against the SHA-256 its
    provenance record lists (ModelFileError naming the file that differs)."""
    folder, record = path(name), info(name)
    for f in MODEL_FILES:
        h = hashlib.sha256()
        try:
            with open(folder / f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        except OSError as exc:
            raise ModelFileError(f"{folder / f}: unreadable ({exc.strerror})") from None
        if h.hexdigest() != record["files"][f]:
            raise ModelFileError(f"{folder / f}: does not match the SHA-256 in its provenance "
                                 f"record; the installed pretrained model {name!r} was "
                                 "changed: reinstall aekit")
    return folder


def load(name: str):
    """Pretrained model ``name`` as an ordinary fitted estimator (``aekit.load`` of its
    folder, its files checked first): transform, inverse_transform, score_samples, sample,
    save, ... all work."""
    return _load_folder(verify(name))


__all__ = ["info", "list", "load", "models_dir", "path", "verify"]
