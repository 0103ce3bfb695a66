"""Model folders: save -> load round trips for every kind; hostile or broken files refused."""

from __future__ import annotations

import json
import pickle
import struct

import pytest
import torch
from safetensors.torch import load_file, save_file

import aekit
from aekit.errors import ModelFileError
from aekit.fitted.files import CONFIG_NAME, HISTORY_NAME, WEIGHTS_NAME, load_module, save

# Every test here runs torch on one thread (conftest.py: one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


def test_save_then_load_gives_identical_outputs(tmp_path, kind, make_model, model_batch):
    model = make_model(kind, seed=1)
    with torch.no_grad():  # non-zero biases too, so a lost tensor would show
        for p in model.parameters():
            p.add_(0.01)
    history = [{"epoch": 1, "loss": 0.5}]
    save(tmp_path / "m", model, history=history)
    assert {p.name for p in (tmp_path / "m").iterdir()} == {CONFIG_NAME, WEIGHTS_NAME,
                                                             HISTORY_NAME}
    fitted = aekit.load(tmp_path / "m")  # a bare module's folder: a FittedAutoencoder
    loaded = fitted.module
    assert type(loaded) is type(model) and loaded.config == model.config
    assert fitted.history == history
    x = model_batch(kind, 4)
    model.eval()
    a = model(x, generator=torch.Generator().manual_seed(0))
    b = loaded(x, generator=torch.Generator().manual_seed(0))
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_tied_model_stays_tied_after_loading(tmp_path, make_model):
    save(tmp_path / "m", make_model("tied"))
    loaded = aekit.load(tmp_path / "m").module
    assert not any("decoder" in k and "weight" in k for k in loaded.state_dict())
    z = torch.randn(2, 3)
    before = loaded.decode_logits(z)
    with torch.no_grad():
        loaded.encoder.layers[-1].weight.mul_(3)
    assert not torch.allclose(before, loaded.decode_logits(z))


def test_extra_config_and_tensors_round_trip_and_saving_replaces(tmp_path, make_model):
    path = tmp_path / "m"
    save(path, make_model("dense", seed=0))
    save(path, make_model("dense", seed=1), extra_config={"objective": {"beta": 2.0}},
         extra_tensors={"means": torch.arange(3.0)})
    model, config, extra = load_module(path)
    assert config["objective"] == {"beta": 2.0}
    assert torch.equal(extra["means"], torch.arange(3.0))
    assert torch.equal(model.encoder.layers[0].weight,
                       make_model("dense", seed=1).encoder.layers[0].weight)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temp folders left


# --- refusals ---------------------------------------------------------------------------------
@pytest.fixture
def saved(tmp_path, make_model):
    path = tmp_path / "m"
    save(path, make_model("dense"))
    return path


def edit_config(path, fn):
    cfg = json.loads((path / CONFIG_NAME).read_text())
    fn(cfg)
    (path / CONFIG_NAME).write_text(json.dumps(cfg))


def test_refuses_tampered_tensor_shapes(saved):
    tensors = load_file(str(saved / WEIGHTS_NAME))
    tensors["model/encoder.layers.0.weight"] = torch.zeros(8, 13)
    save_file(tensors, str(saved / WEIGHTS_NAME))
    with pytest.raises(ModelFileError, match=r"encoder.layers.0.weight.*shape \[8, 13\]"):
        aekit.load(saved)


def test_refuses_a_config_that_disagrees_with_the_tensors(saved):
    edit_config(saved, lambda c: c["model"].update(hidden=[9, 6]))
    with pytest.raises(ModelFileError, match="config.json implies"):
        aekit.load(saved)


def test_refuses_missing_or_extra_tensors(saved):
    tensors = load_file(str(saved / WEIGHTS_NAME))
    tensors.pop("model/decoder.layers.0.bias")
    tensors["model/backdoor"] = torch.zeros(1)
    save_file(tensors, str(saved / WEIGHTS_NAME))
    with pytest.raises(ModelFileError, match="do not match"):
        aekit.load(saved)


@pytest.mark.parametrize("edit, match", [
    (dict(hidden=[10**12]), "hidden"),
    (dict(hidden=[10**6, 10**6]), "parameters"),
    (dict(n_features=10**12), "n_features"),
    (dict(code_size=-1), "code_size"),
    (dict(activation="__import__('os')"), "activation"),
    (dict(hidden="100"), "hidden"),
    (dict(hidden=[8.5, 6]), "hidden"),
    (dict(tied="yes"), "tied"),
    (dict(layers=3), "unknown keys"),
])
def test_refuses_absurd_or_malformed_configs_before_allocating(saved, monkeypatch, edit, match):
    edit_config(saved, lambda c: c["model"].update(edit))
    import aekit.fitted.files as mf

    def no_reading(*a, **k):
        raise AssertionError("tensors were read before the config was validated")

    monkeypatch.setattr(mf, "load_file", no_reading)
    monkeypatch.setattr(mf, "safe_open", no_reading)
    with pytest.raises(ModelFileError, match=match):
        aekit.load(saved)


def test_refuses_pickle_files_without_unpickling(tmp_path, make_model):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    for name in ("model.pt", "model.pkl", "model.pth"):
        (tmp_path / name).write_bytes(pickle.dumps(Evil()))
        with pytest.raises(ModelFileError, match="pickle"):
            aekit.load(tmp_path / name)
    # A pickle posing as the weights file inside a real folder.
    folder = tmp_path / "m"
    save(folder, make_model("dense"))
    torch.save({"state": Evil()}, folder / WEIGHTS_NAME)
    with pytest.raises(ModelFileError, match="safetensors"):
        aekit.load(folder)
    assert not marker.exists()


@pytest.mark.parametrize("damage, match", [
    (lambda p: (p / CONFIG_NAME).write_text("{not json"), "not valid JSON"),
    (lambda p: edit_config(p, lambda c: c.update(format="keras-v3")), "format"),
    (lambda p: (p / CONFIG_NAME).write_text("[1, 2]"), "format"),
    (lambda p: (p / WEIGHTS_NAME).unlink(), "missing model.safetensors"),
    (lambda p: (p / CONFIG_NAME).unlink(), "missing config.json"),
    (lambda p: (p / WEIGHTS_NAME).write_bytes(b"\x01\x02"), "truncated"),
    (lambda p: (p / WEIGHTS_NAME).write_bytes(struct.pack("<Q", 2**40) + b"{}"), "header length"),
    (lambda p: (p / WEIGHTS_NAME).write_bytes((p / WEIGHTS_NAME).read_bytes()[:-40]), "safetensors"),
])
def test_refuses_damaged_folders(saved, damage, match):
    damage(saved)
    with pytest.raises(ModelFileError, match=match):
        aekit.load(saved)


def test_refuses_nan_weights_and_integer_tensors(saved):
    tensors = load_file(str(saved / WEIGHTS_NAME))
    good = dict(tensors)
    tensors["model/encoder.layers.0.bias"] = torch.full((8,), float("nan"))
    save_file(tensors, str(saved / WEIGHTS_NAME))
    with pytest.raises(ModelFileError, match="NaN"):
        aekit.load(saved)
    good["model/encoder.layers.0.bias"] = torch.zeros(8, dtype=torch.int64)
    save_file(good, str(saved / WEIGHTS_NAME))
    with pytest.raises(ModelFileError, match="dtype"):
        aekit.load(saved)


def test_refuses_paths_that_are_not_model_folders(tmp_path, make_model):
    with pytest.raises(ModelFileError, match="no such"):
        aekit.load(tmp_path / "nothing")
    (tmp_path / "weights.safetensors").write_bytes(b"")
    with pytest.raises(ModelFileError, match="folder"):
        aekit.load(tmp_path / "weights.safetensors")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelFileError, match="not a folder"):
        save(tmp_path / "file", make_model("dense"))


def test_save_never_replaces_a_folder_aekit_did_not_write(tmp_path, monkeypatch):
    """est.save('results') deleted the user's files in results/; est.save(os.getcwd())
    the working directory's. Only aekit's own model folders (or empty ones) are replaced."""
    import numpy as np

    from aekit.errors import ModelFileError
    from aekit.estimators import StackedAutoencoder

    X = np.random.default_rng(0).random((20, 6)).astype(np.float32)
    est = StackedAutoencoder(2, hidden_layer_sizes=(4,), epochs=1, random_state=0).fit(X)
    user = tmp_path / "results"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    with pytest.raises(ModelFileError, match="not an aekit model folder"):
        est.save(user)
    assert (user / "notes.txt").read_text() == "mine"
    monkeypatch.chdir(user)
    with pytest.raises(ModelFileError, match="not an aekit model folder"):
        est.save(".")
    assert (user / "notes.txt").read_text() == "mine"
    # a model folder with a stray user file is not aekit's alone any more
    est.save(tmp_path / "m")
    (tmp_path / "m" / "README").write_text("mine too")
    with pytest.raises(ModelFileError):
        est.save(tmp_path / "m")
    (tmp_path / "m" / "README").unlink()
    est.save(tmp_path / "m")  # its own folder: replaced atomically
    (tmp_path / "empty").mkdir()
    est.save(tmp_path / "empty")
    assert (tmp_path / "empty" / CONFIG_NAME).is_file()
