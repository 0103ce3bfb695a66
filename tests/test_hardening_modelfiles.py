"""Hostile model files: refused with ModelFileError before any code runs or memory is allocated.

Cases: a pickle that would run code (as ``model.safetensors`` and as ``model.pt``), a torch
``.pt`` file, tensors whose shapes disagree with config.json, absurd sizes in the config,
tensor names with path tricks, an estimator class given as an importable dotted path, and
config/weights that are symlinks to endless devices.
"""

from __future__ import annotations

import json
import os
import pickle
import time
import tracemalloc
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import aekit
from aekit import ModelFileError
from aekit.fitted import files as model_files
from aekit.models import ModelConfig, build_model


class _RunsCode:
    """Unpickling this calls ``open(marker, 'w')``: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def folder(tmp_path) -> Path:
    """A valid model folder (dense 6 -> 4 -> 2)."""
    return model_files.save(tmp_path / "m", build_model(ModelConfig(6, hidden=(4,), code_size=2),
                                                        seed=0))


def _config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


def _write_config(folder: Path, config: dict) -> None:
    (folder / "config.json").write_text(json.dumps(config))


@pytest.fixture
def nothing_built(monkeypatch):
    """Fail the test if a module is built (even on the meta device) or tensors are read."""
    def refuse(*args, **kwargs):
        raise AssertionError("a module was built / tensors were read for a refused file")

    monkeypatch.setattr(model_files, "build_model", refuse)
    monkeypatch.setattr(model_files, "load_file", refuse)


def test_the_fixture_folder_loads(folder):
    assert isinstance(aekit.load(folder).module, torch.nn.Module)


@pytest.mark.parametrize("as_name", ["model.safetensors", "model.pt"])
def test_pickle_that_would_run_code_is_refused_and_never_unpickled(folder, tmp_path, as_name):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_RunsCode(marker))
    if as_name == "model.pt":
        target = tmp_path / "model.pt"
        target.write_bytes(payload)
        with pytest.raises(ModelFileError, match=r"never loads pickle-based files \(\.pt\)"):
            aekit.load(target)
    else:
        (folder / as_name).write_bytes(payload)
        with pytest.raises(ModelFileError, match="model.safetensors"):
            aekit.load(folder)
    assert not marker.exists()
    # Control: the payload does run code when unpickled, so the test above means something.
    pickle.loads(payload).close()
    assert marker.exists()


def test_torch_pt_file_is_refused(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(build_model(ModelConfig(6, hidden=(4,), code_size=2)).state_dict(), path)
    with pytest.raises(ModelFileError, match="pickle"):
        aekit.load(path)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    os.replace(path, folder / "model.pt")  # a folder with a .pt and no safetensors
    with pytest.raises(ModelFileError, match="missing model.safetensors"):
        aekit.load(folder)


def test_tensor_shapes_that_disagree_with_config_are_refused_before_reading(folder, monkeypatch):
    tensors = load_file(folder / "model.safetensors")
    key = "model/" + next(k for k in build_model(ModelConfig(6, hidden=(4,), code_size=2))
                          .state_dict() if k.endswith("weight"))
    tensors[key] = torch.zeros(*reversed(tensors[key].shape)) if tensors[key].ndim == 2 \
        else torch.zeros(tensors[key].numel() + 1)
    save_file(tensors, folder / "model.safetensors")
    monkeypatch.setattr(model_files, "load_file", lambda *a: pytest.fail("tensors were read"))
    with pytest.raises(ModelFileError, match=rf"tensor '{key}' has shape .* config.json implies"):
        aekit.load(folder)


@pytest.mark.parametrize("change", [
    {"hidden": [10**12]},
    {"n_features": 10**12},
    {"hidden": [1_000_000, 1_000_000]},  # each width allowed, 1e12 parameters in total
    {"code_size": 10**12},
    {"architecture": "conv", "image_shape": [1, 10**6, 10**6], "n_features": 10**12},
])
def test_absurd_sizes_are_refused_fast_without_allocating(folder, nothing_built, change):
    config = _config(folder)
    config["model"].update(change)
    _write_config(folder, config)
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(ModelFileError, match="config.json: invalid model config"):
            aekit.load(folder)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 1.0
    assert peak < 2**20  # under 1 MiB of Python allocations


@pytest.mark.parametrize("name", ["model/../../x", "model//etc/passwd",
                                  "model/encoder.0.weight/.."])
def test_tensor_names_with_path_tricks_are_refused(folder, name):
    # Names are only ever compared with the names the config implies, never used as paths.
    tensors = load_file(folder / "model.safetensors")
    tensors[name] = torch.zeros(1)
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(ModelFileError, match="tensors do not match config.json"):
        aekit.load(folder)


@pytest.mark.parametrize("cls", ["os.system", "builtins.eval",
                                 "aekit.estimators.StackedAutoencoder", "__import__"])
def test_estimator_class_is_looked_up_in_an_allow_list_never_imported(folder, cls, monkeypatch):
    config = _config(folder)
    config["estimator"] = {"class": cls, "params": {"command": "touch pwned"}, "state": {}}
    _write_config(folder, config)
    monkeypatch.setattr(os, "system", lambda *a: pytest.fail("os.system was called"))
    with pytest.raises(ModelFileError, match=r"unknown estimator class"):
        aekit.load(folder)


@pytest.mark.parametrize("name", ["config.json", "model.safetensors"])
def test_symlink_to_an_endless_device_is_refused(folder, name):
    (folder / name).unlink()
    (folder / name).symlink_to("/dev/zero")
    t0 = time.perf_counter()
    with pytest.raises(ModelFileError, match=f"missing {name}"):
        aekit.load(folder)
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize("name", ["config.json", "history.json"])
def test_deeply_nested_json_is_refused_or_ignored(folder, name):
    (folder / name).write_text("[" * 100_000 + "]" * 100_000)
    if name == "config.json":
        with pytest.raises(ModelFileError, match="not valid JSON"):
            aekit.load(folder)
    else:  # the history is optional: a damaged one is dropped, the model still loads
        assert aekit.load(folder).history is None


def test_oversized_config_and_header_are_refused_before_parsing(folder, monkeypatch):
    monkeypatch.setattr(model_files, "load_file", lambda *a: pytest.fail("tensors were read"))
    weights = folder / "model.safetensors"
    weights.write_bytes((2**62).to_bytes(8, "little") + b"{}")
    with pytest.raises(ModelFileError, match="header length .* is invalid"):
        aekit.load(folder)
    with open(folder / "config.json", "ab") as f:
        f.truncate(model_files.MAX_CONFIG_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ModelFileError, match="larger than"):
        aekit.load(folder)


def test_non_finite_and_integer_weights_are_refused(folder):
    tensors = load_file(folder / "model.safetensors")
    key = sorted(k for k in tensors if k.startswith("model/"))[0]
    original = tensors[key]
    tensors[key] = original.to(torch.int64)
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(ModelFileError, match="floats expected"):
        aekit.load(folder)
    tensors[key] = torch.full_like(original, float("nan"))
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(ModelFileError, match="NaN or Inf"):
        aekit.load(folder)
