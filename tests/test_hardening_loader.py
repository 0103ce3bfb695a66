"""Only the documented error escapes the loader: damaged model folders raise ModelFileError.

``test_hardening_fuzz.py`` damages the *bytes* of a model folder; this module damages its
*structure*: valid ``config.json`` files of several model kinds (estimators of every class,
a padded conv model, a classifier, a bare module, a fitted model without an estimator) get
one value, at any depth, replaced by a value of another type (lists where a name belongs,
objects, strings, integers of 5000 digits, 1e308, NaN, Infinity, negative numbers, null),
a key deleted or a key added; the weights lose their sampler or classifier-head tensors.

The property: ``aekit.load`` either raises :class:`aekit.ModelFileError` whose message
names the folder, or returns a model that encodes, reconstructs and (where it generates)
samples without raising anything. Derandomized so CI sees the same examples every run.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

import aekit
from aekit import ModelFileError
from aekit.estimators import (
    AutoencoderClassifier, ConvAutoencoder, LinearAutoencoder, StackedAutoencoder,
    VariationalAutoencoder, VQVAE,
)
from aekit.fitted import FittedAutoencoder
from aekit.fitted import files as model_files
from aekit.models import ModelConfig, build_model

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
TINY = dict(epochs=1, batch_size=16, random_state=0)
HUGE = "@@HUGE-INT@@"  # written to config.json as a 5000-digit integer (json.dumps cannot)
RNG = np.random.default_rng(0)
X64 = RNG.random((30, 64)).astype(np.float32)
X50 = RNG.random((30, 50)).astype(np.float32)
Y = np.arange(30) % 3


def _estimator_folder(make, X, y=None):
    def build(path):
        est = make()
        est.fit(X, y) if y is not None else est.fit(X)
        est.save(path)
    return build


def _bare_folder(path):
    model_files.save(path, build_model(ModelConfig(6, hidden=(4,), code_size=2), seed=0))


def _fitted_folder(path):
    module = build_model(ModelConfig(64, hidden=(8,), code_size=2), seed=0)
    FittedAutoencoder(module).fit_density(X64, "gmm", 3).save(path)


KINDS = {
    "linear": _estimator_folder(lambda: LinearAutoencoder(3, **TINY), X64),
    "stacked-gmm": _estimator_folder(
        lambda: StackedAutoencoder(3, hidden_layer_sizes=(8,), sampler_components=3, **TINY),
        X64),
    "tied-uniform": _estimator_folder(
        lambda: StackedAutoencoder(2, hidden_layer_sizes=(8,), tied=True, sampler="uniform",
                                   **TINY), X64),
    "conv-padded": _estimator_folder(
        lambda: ConvAutoencoder(channels=(2, 2), n_components=2, sampler="gaussian", **TINY),
        X50),
    "vae": _estimator_folder(lambda: VariationalAutoencoder(2, hidden_layer_sizes=(8,), **TINY),
                             X64),
    "classifier": _estimator_folder(
        lambda: AutoencoderClassifier(method="pretrain", n_components=2, hidden_layer_sizes=(8,), pretrain_epochs=1,
                                      head_epochs=1, finetune_epochs=1, batch_size=16,
                                      random_state=0), X64, Y),
    "vqvae": _estimator_folder(
        lambda: VQVAE(channels=(2, 2), codebook_size=4, embedding_dim=2, prior_channels=4,
                      prior_layers=0, prior_epochs=1, **TINY), X64),
    "bare-module": _bare_folder,
    "fitted-no-estimator": _fitted_folder,
}
_FOLDERS: dict[str, dict[str, bytes]] = {}


def folder_bytes(kind: str) -> dict[str, bytes]:
    """The files of a valid model folder of ``kind`` (built once per process)."""
    if kind not in _FOLDERS:
        with tempfile.TemporaryDirectory() as d:
            KINDS[kind](Path(d) / "m")
            _FOLDERS[kind] = {f.name: f.read_bytes() for f in (Path(d) / "m").iterdir()}
    return _FOLDERS[kind]


# --- mutating the JSON structure ---------------------------------------------------------------
scalars = st.sampled_from([
    None, True, False, 0, 1, -1, 3, -(2**63) - 1, 2**63, 2**64, 10**30, 1e308, -1e308, 5e-324,
    0.5, -0.5, 2.0, math.nan, math.inf, -math.inf, "", "x", "gmm", "uniform", "prior",
    "sigmoid", "linear", "conv", "dense", "aekit-model-1", "aekit-model-2", "StackedAutoencoder",
    "VariationalAutoencoder", "os.system", HUGE,
])
hostile = st.one_of(
    scalars,
    st.recursive(scalars | st.integers() | st.floats() | st.text(max_size=6),
                 lambda inner: st.lists(inner, max_size=3)
                 | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=5),
)


def _children(node):
    if isinstance(node, dict):
        return sorted(node)
    if isinstance(node, list):
        return list(range(len(node)))
    return []


@st.composite
def mutated_config(draw, config: dict):
    """``config`` with one random structural edit at a random depth, then JSON text."""
    config = json.loads(json.dumps(config))
    parent, key = None, None
    node = config
    # Descend at least one level (test_hardening_fuzz replaces whole files), then stop at
    # each level with probability 1/4.
    while _children(node) and (parent is None or draw(st.integers(0, 3)) > 0):
        parent, key = node, draw(st.sampled_from(_children(node)))
        node = node[key]
    edit = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
    if edit == "delete" and isinstance(parent, dict):
        del parent[key]
    elif edit == "add" and isinstance(node, dict):
        node[draw(st.sampled_from(["class", "density", "format", "zz", "sampler/gmm", ""]))] = \
            draw(hostile)
    elif parent is None:
        config = draw(hostile)
    else:
        parent[key] = draw(hostile)
    text = json.dumps(config, allow_nan=True)
    return text.replace(json.dumps(HUGE), "9" * 5000)


def write_folder(root: Path, files: dict[str, bytes]) -> Path:
    folder = root / "m"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def load_and_use(folder: Path):
    """``aekit.load``: a ModelFileError naming the folder, or a model that works."""
    try:
        model = aekit.load(folder)
    except ModelFileError as exc:
        assert str(folder) in str(exc), f"the message does not name the folder: {exc}"
        return None
    use(model)
    return model


def use(model) -> None:
    """Every everyday call on a loaded model, on valid input: none may raise."""
    if isinstance(model, FittedAutoencoder):
        X = np.random.default_rng(1).random((3, model.n_features)).astype(np.float32)
        model.encode(X)
        model.reconstruct(X)
        model.decode(np.zeros((2, model.code_size), np.float32))
        if model.density is not None:
            assert np.isfinite(model.sample(2, random_state=0)).all()
        return
    X = np.random.default_rng(1).random((3, model.n_features_in_)).astype(np.float32)
    if isinstance(model, AutoencoderClassifier):
        model.encode(X)
        assert set(model.predict(X)) <= set(model.classes_)
        model.predict_proba(X)
        return
    model.transform(X)
    model.reconstruct(X)
    model.inverse_transform(np.zeros((2, model.n_components_), np.float32))
    if not model.fitted_.variational:
        model.score_samples(X)
    assert np.isfinite(model.sample(2, random_state=0)).all()


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_unmutated_folders_load_and_work(kind, tmp_path):
    # Guards the property tests against vacuity: every seed folder is valid.
    model = load_and_use(write_folder(tmp_path, folder_bytes(kind)))
    assert model is not None


@pytest.mark.parametrize("kind", list(KINDS))
def test_config_json_with_its_structure_damaged(kind):
    files = folder_bytes(kind)
    config = json.loads(files["config.json"])

    @FUZZ
    @given(text=mutated_config(config))
    def check(text):
        with tempfile.TemporaryDirectory() as d:
            load_and_use(write_folder(Path(d), {**files, "config.json": text.encode()}))

    check()


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("drop", ["extra/sampler/", "extra/head/", "extra/"])
def test_weights_without_their_extra_tensors(kind, drop, tmp_path):
    files = folder_bytes(kind)
    src = write_folder(tmp_path / "src", files) / "model.safetensors"
    tensors = load_file(str(src))
    kept = {k: v for k, v in tensors.items() if not k.startswith(drop)}
    if len(kept) == len(tensors):
        pytest.skip(f"{kind} has no {drop} tensors")
    save_file(kept, str(src), metadata={"format": model_files.FORMAT})
    load_and_use(src.parent)


@pytest.mark.parametrize("kind", ["stacked-gmm", "conv-padded", "fitted-no-estimator"])
def test_a_model_that_samples_but_lost_its_density_is_refused_at_load(kind, tmp_path):
    folder = write_folder(tmp_path, folder_bytes(kind))
    weights = folder / "model.safetensors"
    tensors = {k: v for k, v in load_file(str(weights)).items()
               if not k.startswith("extra/sampler/")}
    save_file(tensors, str(weights), metadata={"format": model_files.FORMAT})
    with pytest.raises(ModelFileError, match="code density") as info:
        aekit.load(folder)
    assert str(weights) in str(info.value)


@pytest.mark.parametrize("bad", [["StackedAutoencoder"], {"name": "StackedAutoencoder"}, 7,
                                 None])
def test_a_class_name_of_the_wrong_type(bad, tmp_path):
    folder = write_folder(tmp_path, folder_bytes("stacked-gmm"))
    config = json.loads((folder / "config.json").read_text())
    config["estimator"]["class"] = bad
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="estimator class"):
        aekit.load(folder)


@pytest.mark.parametrize("name", ["config.json", "history.json"])
def test_a_5000_digit_integer(name, tmp_path):
    folder = write_folder(tmp_path, folder_bytes("stacked-gmm"))
    text = (folder / name).read_text()
    key = '"seed": ' if name == "config.json" else '"epoch": '
    assert key in text
    (folder / name).write_text(text.replace(key, key + "9" * 5000 + ', "x": ', 1))
    if name == "history.json":  # the history is optional: dropped, the model loads
        assert aekit.load(folder).history_ == []
        return
    with pytest.raises(ModelFileError, match="config.json: not valid JSON.*digits"):
        aekit.load(folder)


@pytest.mark.parametrize("fmt", ["aekit-model-2", "aekit-model-17"])
def test_a_newer_format_says_so(fmt, tmp_path):
    folder = write_folder(tmp_path, folder_bytes("stacked-gmm"))
    config = json.loads((folder / "config.json").read_text())
    config["format"] = fmt
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match=f"made by a newer aekit.*{fmt}"):
        aekit.load(folder)


@pytest.mark.parametrize("fmt", ["aekit-model-0", "aekit-model-x", 1, None, ["aekit-model-1"]])
def test_other_formats_are_not_aekit_models(fmt, tmp_path):
    folder = write_folder(tmp_path, folder_bytes("stacked-gmm"))
    config = json.loads((folder / "config.json").read_text())
    config["format"] = fmt
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="not an aekit model config"):
        aekit.load(folder)


def test_fitted_load_has_the_same_guarantee(tmp_path):
    folder = write_folder(tmp_path, folder_bytes("stacked-gmm"))
    config = json.loads((folder / "config.json").read_text())
    config["fitted"]["seed"] = [1]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match=str(folder)):
        FittedAutoencoder.load(folder)
