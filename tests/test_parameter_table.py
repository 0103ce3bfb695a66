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
import torch
import pytest

from aekit.cli import main
from aekit.cli import inputs, options, outputs
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
        assert options.MODEL_CLASSES[k.name] == k.estimator == table.MODELS[k.name]
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


def test_each_declared_capability_is_what_the_kind_does():
    """Each capability in aekit.kinds (from which the table gives kinds their keywords)
    checked against behaviour: a fitted code density, a likelihood, closed-form steps,
    hidden layers, penalties on the codes, fit(X) alone."""
    from aekit.fitted.density import SAMPLERS
    from aekit.fitted import InputLayout
    from aekit.kinds import CAPABILITIES, KINDS
    from aekit.training import steps

    X = np.random.RandomState(0).rand(40, 16).astype(np.float32)
    for k in KINDS:
        cls = ESTIMATORS[k.estimator]
        if k.target is not None:  # supervised: none of the autoencoder capabilities
            assert not k.capabilities & {"epochs", "code_density", "likelihood",
                                         "closed_form", "penalties"}, k.name
            assert k.can("hidden_layers") == (k.target == "classes"), k.name
            continue
        kw = {"image_shape": (4, 4), "channels": (2,)} if k.convolutional == "always" else {}
        est = cls(epochs=1, random_state=0, **kw)
        est.fit(X)  # fit(X) alone, for `epochs`
        assert k.can("epochs") and len(est.history_) == 1, k.name
        density = est.fitted_.density
        assert k.can("code_density") == (density is not None and density.kind in SAMPLERS)
        assert k.can("likelihood") == est.fitted_.module.variational, k.name
        module = est.fitted_.module  # layers from the input to the code
        depth = sum(isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))
                    for m in module.encoder.modules()) + (module.to_code is not None)
        assert k.can("hidden_layers") == (depth > 1), k.name
        # the default training step for this kind's default network
        fresh = cls(random_state=0, **kw)
        fresh._resolve_auto(X)
        module = fresh._build_module(InputLayout(16, (1, 4, 4) if kw else None))
        step = steps.choose_step(module, fresh._objective(), fresh._train_config(1, 0),
                                 torch.device("cpu"), ddp=False)
        assert k.can("closed_form") == isinstance(step, steps.ClosedFormStep), k.name
        if k.can("penalties"):
            pen = cls(epochs=1, random_state=0, sparsity="l1", sparsity_weight=0.1, **kw)
            assert "l1" in pen.fit(X).history_[0], k.name
        else:
            assert "sparsity" not in cls._get_param_names(), k.name
    assert set().union(*(k.capabilities for k in KINDS)) == set(CAPABILITIES)


def test_a_kind_like_another_takes_its_column():
    """A kind declared ``like`` another gets that kind's keywords and defaults in the
    table, except the ones it declares itself; a default for a keyword it lacks fails."""
    from aekit.kinds import Kind

    toy = Kind("toy", "ToyAutoencoder", "toy", like="stacked",
               capabilities=frozenset({"hidden_layers", "epochs"}),
               defaults={"noise": "gaussian", "noise_level": 0.1})
    for p in table.inherit(table.PARAMS, (toy,)):
        if "stacked" in p.defaults:
            assert p.defaults["toy"] == toy.defaults.get(p.name, p.defaults["stacked"])
            assert p.for_model("toy").doc == p.for_model("stacked").doc
        else:
            assert "toy" not in p.defaults, p.name
    lean = Kind("lean", "Lean", "lean", like="stacked", without=frozenset({"noise", "tied"}))
    lean_params = {p.name: p for p in table.inherit(table.PARAMS, (lean,))}
    assert "lean" not in lean_params["noise"].defaults
    assert "lean" not in lean_params["tied"].defaults
    assert lean_params["sparsity"].defaults["lean"] == lean_params["sparsity"].defaults["stacked"]
    with pytest.raises(ConfigError, match="goes without \\['beta'\\]"):
        table.inherit(table.PARAMS, (Kind("odd", "Odd", "odd", like="stacked",
                                          without=frozenset({"beta"})),))
    bad = Kind("bad", "Bad", "bad", like="linear", defaults={"beta": 2.0})
    with pytest.raises(ConfigError, match="'bad' declares a default for 'beta'"):
        table.inherit(table.PARAMS, (bad,))
    with pytest.raises(ValueError, match="unknown capabilities"):
        Kind("odd", "Odd", "odd", capabilities=frozenset({"flies"}))


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
           "vqvae=32,64, segmenter=16,32,64) [conv, vae, vqvae, segmenter]" in flat
    assert "--engine V" in flat and "(one of: auto, autograd; default: auto)" in flat


def test_cli_doc_shows_the_current_help(monkeypatch, capsys):
    text = train_help(monkeypatch, capsys)
    section = text[text.index("estimator options:"):].rstrip()
    doc = CLI_DOC.read_text()
    start = doc.index("```\nestimator options:") + 4
    assert doc[start:doc.index("```", start)].rstrip() == section, \
        "docs/cli.md: paste the estimator options of `aekit train --help` (COLUMNS=80)"


def test_the_cli_reads_no_docstring():
    for module in (options, inputs, outputs):
        assert "__doc__" not in inspect.getsource(module)
        assert not hasattr(module, "parameter_docs")


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
    resolved = options.resolve_train_config(common_args(
        ["--model", "vae", "--data", "digits", "--channels", "8,16", "--beta", "2",
         "--engine", "autograd", "--no-verbose", "--early-stopping", "none"]))
    params = resolved["params"]
    assert params["channels"] == (8, 16) and params["beta"] == 2.0
    assert isinstance(params["beta"], float) and params["engine"] == "autograd"
    assert params["early_stopping"] is None and params["verbose"] is False
    options.build_estimator(resolved)  # validated, in user names


def common_args(argv):
    from aekit.cli import build_parser

    return build_parser().parse_args(["train", "--out", "unused", *argv])
