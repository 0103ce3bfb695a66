"""Issue 28, class 7: integrity of what aekit ships and reads. Each check generates its
instances:

- every byte-flip of every file of every pretrained model is refused by
  ``aekit.pretrained.load`` and ``aekit pretrained NAME --out`` (the recorded SHA-256s);
- every field of a provenance record, missing or of the wrong type, is one ModelFileError
  (one line, exit 2 in the CLI), never a KeyError;
- damaged estimator state in a model folder (non-whole or negative counts, feature names of
  the wrong length or type, class weights <= 0) and entropy tensors of another dtype are
  refused by ``aekit.load``;
- a mask that is not a PNG under a .png name is refused;
- every subpackage is reachable from ``import aekit`` (``aekit.pretrained.list()``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import aekit
import aekit.pretrained as pretrained
from aekit.cli import main
from aekit.errors import DataError, ModelFileError

NAMES = pretrained.list()


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """A copy of the shipped models that the test may damage, in their place."""
    copy = tmp_path / "models"
    shutil.copytree(pretrained.models_dir(), copy)
    monkeypatch.setattr(pretrained, "models_dir", lambda: copy)
    return copy


@pytest.mark.parametrize("file", pretrained.MODEL_FILES)
@pytest.mark.parametrize("name", NAMES)
def test_a_changed_pretrained_file_never_loads_under_its_name(shipped, name, file, tmp_path,
                                                               capsys):
    path = shipped / name / file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, where the weights or the JSON values are
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=f"{file}: does not match the SHA-256"):
        pretrained.load(name)
    out = tmp_path / "copy"
    assert main(["pretrained", name, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and file in err[0] and not out.exists()


def _field_paths(fields: dict, prefix=()):
    for key, kind in fields.items():
        yield (*prefix, key)
        if isinstance(kind, dict):
            yield from _field_paths(kind, (*prefix, key))


FIELDS = [*_field_paths(pretrained.RECORD_FIELDS),
          *[("files", f) for f in pretrained.MODEL_FILES]]


@pytest.mark.parametrize("damage", ["missing", "wrong type"])
@pytest.mark.parametrize("field", FIELDS, ids=".".join)
def test_a_damaged_provenance_record_is_one_clear_error(shipped, field, damage, capsys):
    name = NAMES[0]
    where = shipped / name / pretrained.PROVENANCE_NAME
    record = json.loads(where.read_text())
    parent = record
    for key in field[:-1]:
        parent = parent[key]
    if damage == "missing":
        del parent[field[-1]]
    else:  # a list is no string, number or object
        parent[field[-1]] = [True]
    where.write_text(json.dumps(record))
    with pytest.raises(ModelFileError, match=pretrained.PROVENANCE_NAME):
        pretrained.info(name)
    for argv in (["pretrained"], ["pretrained", name], ["pretrained", name, "--json"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "Traceback" not in err[0], err


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("saved")
    X = np.random.default_rng(0).random((64, 6), dtype=np.float32)
    est = aekit.StackedAutoencoder(n_components=2, hidden_layer_sizes=(8,), epochs=2,
                                   random_state=0)
    est.fit(X)
    est.feature_names_in_ = np.asarray([f"f{i}" for i in range(6)], dtype=object)
    est.save(root / "stacked")
    masks = np.zeros((8, 8, 8), np.int64)
    masks[:, 2:5, 2:5] = 1
    seg = aekit.ConvSegmenter(channels=(4,), epochs=1, random_state=0).fit(
        np.random.default_rng(0).random((8, 1, 8, 8), dtype=np.float32), masks)
    seg.save(root / "segmenter")
    return root


STATE_DAMAGE = [
    ("stacked", "n_features_in_", 6.7), ("stacked", "n_features_in_", "6"),
    ("stacked", "n_features_in_", True), ("stacked", "n_components_", -2),
    ("stacked", "seed_", 1.5), ("stacked", "n_iter_", None), ("stacked", "epochs_", 2.0),
    ("stacked", "feature_names_in_", ["a", "b"]), ("stacked", "feature_names_in_", [1] * 6),
    ("stacked", "feature_names_in_", "abcdef"),
    ("segmenter", "class_weight_", [1.0, -1.0]), ("segmenter", "class_weight_", [1.0, 0.0]),
    ("segmenter", "class_weight_", [True, 1.0]),
]


@pytest.mark.parametrize("model,key,value", STATE_DAMAGE)
def test_damaged_estimator_state_is_refused(saved, model, key, value, tmp_path):
    folder = tmp_path / model
    shutil.copytree(saved / model, folder)
    aekit.load(folder)  # the undamaged copy loads
    config = json.loads((folder / "config.json").read_text())
    config["estimator"]["state"][key] = value
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match=key):
        aekit.load(folder)


@pytest.mark.parametrize("dtype", [torch.int64, torch.float32, torch.int32])
def test_entropy_tensors_of_another_dtype_are_refused(saved, dtype, tmp_path):
    est = aekit.load(saved / "stacked")
    assert est.fitted_.entropy_model() is not None  # saved with the folder below
    folder = est.save(tmp_path / "m")
    tensors = load_file(str(folder / "model.safetensors"))
    names = [k for k in tensors if "/entropy/" in k]
    assert names
    tensors[names[0]] = tensors[names[0]].to(dtype)
    save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(ModelFileError, match="float64"):
        aekit.load(folder).fitted_.entropy_model()


@pytest.mark.parametrize("fmt", ["JPEG", "BMP", "GIF", "TIFF"])
def test_a_mask_that_is_not_a_png_is_refused(fmt, tmp_path):
    from PIL import Image

    from aekit.datasets import load

    for sub in ("images", "masks"):
        (tmp_path / "set" / sub).mkdir(parents=True)
    for i in range(5):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(
            tmp_path / "set" / "images" / f"{i}.png")
        mask = Image.fromarray((np.arange(64).reshape(8, 8) % 2).astype(np.uint8))
        mask.save(tmp_path / "set" / "masks" / f"{i}.png", format=fmt if i == 3 else "PNG")
    with pytest.raises(DataError, match=f"3.png: named .png but holds a {fmt}"):
        load(str(tmp_path / "set"))


SUBPACKAGES = sorted(p.name for p in Path(aekit.__file__).parent.iterdir()
                     if (p / "__init__.py").is_file())


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_every_subpackage_is_reachable_from_import_aekit(name):
    assert getattr(aekit, name).__name__ == f"aekit.{name}"
