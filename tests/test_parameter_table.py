"""One parameter table (aekit.estimators.params) generates the estimators' docstrings,
their validation, the `aekit train` flags and the internal mappings: these tests keep the
explicit signatures, the docs and the CLI in step with it."""

from __future__ import annotations

import dataclasses
import inspect
import pydoc
import re
from pathlib import Path

import numpy as np
import pytest

from aekit.cli import main
from aekit.cli import common
from aekit.errors import ConfigError
from aekit.estimators import ESTIMATORS
from aekit.estimators import params as table
from aekit.losses import Objective
from aekit.training import TrainConfig

CLI_DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
MARKUP = ("``", ":meth:", ":class:", ":func:", ":mod:", "(default: None)")
CLASSES = list(ESTIMATORS.values())
ids = [c.__name__ for c in CLASSES]


class BadType:
    """A value no keyword accepts."""

    def __repr__(self):
        return "<bad>"


def signature_defaults(cls) -> dict:
    return {n: p.default for n, p in inspect.signature(cls.__init__).parameters.items()
            if n != "self"}


def train_help(monkeypatch, capsys) -> str:
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps to the terminal width
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    return capsys.readouterr().out


def test_each_kind_is_declared_once_and_reaches_every_list():
    """aekit.kinds declares the kinds; the allow-list of aekit.load, the package's names,
    the parameter table and the command line all derive from it (issue 29: the list was
    written six times)."""
    import importlib

    import aekit
    from aekit.kinds import KINDS

    assert list(ESTIMATORS) == [k.estimator for k in KINDS]
    for k in KINDS:
        cls = ESTIMATORS[k.estimator]
        assert cls.__module__ == k.module and cls.__name__ == k.estimator
        assert getattr(aekit, k.estimator) is cls is getattr(importlib.import_module(k.module),
                                                              k.estimator)
        assert k.estimator in aekit.__all__
        assert common.MODEL_CLASSES[k.name] == k.estimator == table.MODELS[k.name]
        assert any(p.defaults.get(k.name) is not None or k.name in p.defaults
                   for p in table.PARAMS), k.name  # the table knows the kind


def test_each_kinds_declared_capabilities_match_its_estimator():
    """What aekit.kinds declares (and the command line relies on, instead of sniffing
    attributes or comparing kind names) is what the estimator class does."""
    from sklearn.base import is_classifier

    from aekit.kinds import KINDS

    for k in KINDS:
        cls = ESTIMATORS[k.estimator]
        names = set(cls._get_param_names())
        assert (k.target == "classes") == is_classifier(cls()), k.name
        assert (k.target == "masks") == (k.estimator == "ConvSegmenter"), k.name
        assert (k.target is None) == (not hasattr(cls, "predict")), k.name
        assert ("architecture" in names) == (k.convolutional == "architecture"), k.name
        assert ("channels" in names) == (k.convolutional != "never"), k.name
        assert set(k.phases) <= names and (not k.phases or "epochs" not in names), k.name


@pytest.mark.parametrize("cls", CLASSES, ids=ids)
def test_signature_defaults_are_the_tables(cls):
    model = table.model_of(cls)
    in_table = {p.name: p.defaults[model] for p in table.PARAMS if model in p.defaults}
    assert signature_defaults(cls) == in_table
    for name, default in in_table.items():  # same types too (1 is not 1.0, () not [])
        assert type(signature_defaults(cls)[name]) is type(default), name


def test_every_table_default_is_accepted():
    for cls in CLASSES:
        cls()._check_params()
        cls()._validate_params()  # scikit-learn's own validation of the same constraints


@pytest.mark.parametrize("cls", CLASSES, ids=ids)
def test_parameter_constraints_cover_every_keyword(cls):
    assert set(cls._parameter_constraints) == set(cls().get_params(deep=False))


@pytest.mark.parametrize("cls", CLASSES, ids=ids)
def test_help_documents_every_keyword_without_markup(cls):
    text = pydoc.render_doc(cls, renderer=pydoc.plaintext)
    doc = inspect.getdoc(cls)
    section = doc[doc.index("Parameters\n----------"):doc.index("Attributes\n----------")]
    names = re.findall(r"^(\w+) : ", section, flags=re.M)
    assert names == list(signature_defaults(cls))  # every keyword, in signature order
    for name in names:
        assert re.search(rf"^[ |]*{name} : .*, default=", text, flags=re.M), name
    assert not [m for m in MARKUP if m in doc], doc


def test_train_help_has_every_keyword_and_no_markup(monkeypatch, capsys):
    text = train_help(monkeypatch, capsys)
    for cls in CLASSES:
        for name in cls._get_param_names():
            assert "--" + name.replace("_", "-") in text, name
    assert not [m for m in MARKUP if m in text]
    flat = " ".join(text.split())
    # a remark about one model stays in that model's docstring
    assert "linear autoencoder is benign" not in flat
    assert "Larger than the deep estimators" in table.TABLE["learning_rate"].for_model(
        "linear").doc
    # each flag says what it takes and each model's default
    assert "--channels N,N Channels of the conv layers; each is followed by a 2x2 max-pool. " \
           "(integers, comma-separated; defaults: conv=16,32,64, vae=32,64, " \
           "segmenter=16,32,64) [conv, vae, segmenter]" in flat
    assert "--engine V" in flat and "(one of: auto, autograd; default: auto)" in flat


def test_cli_doc_shows_the_current_help(monkeypatch, capsys):
    text = train_help(monkeypatch, capsys)
    section = text[text.index("estimator options:"):].rstrip()
    doc = CLI_DOC.read_text()
    start = doc.index("```\nestimator options:") + 4
    assert doc[start:doc.index("```", start)].rstrip() == section, \
        "docs/cli.md: paste the estimator options of `aekit train --help` (COLUMNS=80)"


def test_the_cli_reads_no_docstring():
    assert "__doc__" not in inspect.getsource(common)
    assert not hasattr(common, "parameter_docs")


def _cases():
    for cls in CLASSES:
        for name in cls._get_param_names():
            yield pytest.param(cls, name, id=f"{cls.__name__}-{name}")


@pytest.mark.parametrize("cls, name", list(_cases()))
def test_a_bad_value_is_refused_in_the_keywords_own_name(cls, name):
    with pytest.raises(ConfigError) as info:
        cls(**{name: BadType()})._check_params()
    message = str(info.value)
    assert message.startswith(f"{name} "), message
    assert "\n" not in message


@pytest.mark.parametrize("kw, expected", [
    ({"learning_rate": -1}, "learning_rate must be a finite number > 0, got -1"),
    ({"learning_rate": float("inf")}, "learning_rate must be a finite number > 0, got inf"),
    ({"verbose": "yes"}, "verbose must be True or False, got 'yes'"),
    ({"loss": "l2"}, "loss 'l2' is not one of ['mse', 'bce']"),
    ({"hidden_layer_sizes": (8, 0)}, "hidden_layer_sizes entries must be an integer >= 1"),
    ({"n_components": 10**9}, "n_components must be an integer <= 1000000, got 1000000000"),
    ({"batch_size": True}, "batch_size must be an integer >= 1, got True"),
    ({"pretrain_epochs": 0}, "pretrain_epochs must be an integer >= 1 or None, got 0"),
    ({"lr_schedule": "step"}, "lr_schedule 'step' is not one of ['cosine', 'plateau', None]"),
    ({"engine": "jit"}, "engine 'jit' is not one of ['auto', 'autograd']"),
    ({"noise": "mask", "noise_level": 1.0}, "noise_level must be below 1 with noise='mask'"),
    ({"device": "gpu"}, "device 'gpu' is not a torch device"),
])
def test_messages_use_the_user_names(kw, expected):
    from aekit.estimators import StackedAutoencoder

    with pytest.raises(ConfigError) as info:
        StackedAutoencoder(**kw).fit(np.random.default_rng(0).random((20, 4)))
    message = str(info.value)
    assert expected in message
    for internal in ("lr must", "reconstruction", "progress", "code_size", "model config"):
        assert internal not in message


def test_numpy_scalars_and_random_states_are_accepted():
    from sklearn.model_selection import GridSearchCV

    from aekit.estimators import StackedAutoencoder

    X = np.random.default_rng(0).random((40, 6)).astype(np.float32)
    est = StackedAutoencoder(n_components=np.int64(2), hidden_layer_sizes=(np.int32(4),),
                             epochs=np.int64(1), batch_size=np.int64(16),
                             learning_rate=np.float32(1e-2), warmup_epochs=np.float64(0.5),
                             early_stopping=np.int64(2), verbose=np.bool_(False),
                             random_state=np.random.RandomState(0))
    est.fit(X)
    assert est.transform(X).shape == (40, 2)
    grid = {"batch_size": np.array([8, 16]), "learning_rate": np.array([1e-3, 1e-2])}
    search = GridSearchCV(StackedAutoencoder(n_components=2, hidden_layer_sizes=(4,),
                                             epochs=1, random_state=0), grid, cv=2)
    assert search.fit(X).best_params_["batch_size"] in (8, 16)


@pytest.mark.parametrize("cls", CLASSES, ids=ids)
def test_engine_is_a_keyword_that_reaches_the_training_config(cls):
    assert signature_defaults(cls)["engine"] == "auto"
    est = cls(engine="autograd")
    est._check_params()
    assert est._train_config(1, 0).engine == "autograd"


def test_internal_mappings_name_real_fields():
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    objective_fields = {f.name for f in dataclasses.fields(Objective)}
    assert set(table.TRAIN_PARAMS.values()) <= train_fields
    assert set(table.OBJECTIVE_PARAMS.values()) <= objective_fields
    assert table.TRAIN_PARAMS["learning_rate"] == "lr"
    assert table.TRAIN_PARAMS["verbose"] == "progress"
    assert table.OBJECTIVE_PARAMS["loss"] == "reconstruction"
    for p in table.PARAMS:
        assert p.goes_to.split(":")[0] in ("train", "objective", "model", "estimator"), p.name
        assert list(p.defaults) == [m for m in table.MODELS if m in p.defaults], p.name


def test_cli_flags_take_the_tables_kinds():
    resolved = common.resolve_train_config(common_args(
        ["--model", "vae", "--data", "digits", "--channels", "8,16", "--beta", "2",
         "--engine", "autograd", "--no-verbose", "--early-stopping", "none"]))
    params = resolved["params"]
    assert params["channels"] == (8, 16) and params["beta"] == 2.0
    assert isinstance(params["beta"], float) and params["engine"] == "autograd"
    assert params["early_stopping"] is None and params["verbose"] is False
    common.build_estimator(resolved)  # validated, in user names


def common_args(argv):
    from aekit.cli import build_parser

    return build_parser().parse_args(["train", "--out", "unused", *argv])
