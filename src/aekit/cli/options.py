"""The ``aekit train`` estimator options: one flag per estimator keyword, from the parameter
table that also generates the estimators' docstrings and validation
(:mod:`aekit.estimators.params`), and TOML/YAML config files with the same keys.
Precedence: estimator default < config file < flag. Config files are parsed as data
(``tomllib`` / ``yaml.safe_load``), never executed.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import sys
from pathlib import Path


from aekit.errors import ConfigError
from aekit.kinds import BY_NAME, MODELS

from aekit.cli.inputs import check_data_options, LabelColumnArg, ScaleArg


MODEL_CLASSES = MODELS


# Keys a config file may hold besides estimator parameters (the `train` flags of the run).
RUN_KEYS = ("model", "data", "split", "max_rows", "n_labelled", "scale", "label_column",
            "mmap")


def estimator_class(model: str):
    from aekit import estimators

    if model not in MODEL_CLASSES:
        raise ConfigError(f"unknown model {model!r}; valid models: {', '.join(MODEL_CLASSES)}")
    return getattr(estimators, MODEL_CLASSES[model])


def estimator_defaults(model: str) -> dict:
    """Keyword -> default, from the estimator's signature (the single source of truth)."""
    sig = inspect.signature(estimator_class(model).__init__)
    return {n: p.default for n, p in sig.parameters.items() if n != "self"}


def parameter_table() -> dict:
    """name -> {"kind", "defaults": {model: default}, "doc", "help"} for every estimator
    keyword, from the estimators' parameter table (:mod:`aekit.estimators.params`), in
    its order. ``kind`` is the value's form on the command line (int, float, bool, ints,
    str); ``help`` the flag's ``--help`` text."""
    from aekit.estimators.params import PARAMS, cli_help

    return {p.name: {"kind": p.kind, "defaults": dict(p.defaults), "doc": p.doc,
                     "help": cli_help(p)} for p in PARAMS}


def parse_scalar(text: str):
    """Command-line text -> None / bool / int / float / str (no evaluation of code)."""
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for conv in (int, float):
        with contextlib.suppress(ValueError):
            return conv(text)
    return text


def coerce(name: str, value, kind: str, *, from_text: bool):
    """A flag or config-file value -> the Python value the estimator expects.
    Type errors name the key; range checks are left to the estimator's own validation."""
    if from_text:
        if kind == "ints":
            text = value.strip()
            if text.lower() in ("none", "null"):
                return None
            inner = text.strip("()[]").strip()
            if inner == "":
                return ()
            items = [v.strip() for v in inner.split(",")]
            if "" in items:
                raise ConfigError(f"{name}: empty item {items.index('') + 1} in {value!r}; "
                                  "expected comma-separated integers like '128,64'")
            try:
                return tuple(int(v) for v in items)
            except ValueError:
                raise ConfigError(f"{name}: expected comma-separated integers like "
                                  f"'128,64', got {value!r}") from None
        value = parse_scalar(value)
    if kind == "ints" and isinstance(value, list):
        value = tuple(value)
    if kind == "ints" and isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind == "bool" and not isinstance(value, bool):
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    return value


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


ESTIMATOR_FLAGS_TEXT = """\
every keyword argument of the estimators, generated from the same parameter
table as their docstrings and validation. Values: numbers, words, 'none',
'true'/'false' (or --flag/--no-flag), comma-separated integers for tuples.
An option marked [models] belongs to those models only; the others, to all."""


def add_estimator_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per estimator keyword (the union over every model). Flags left out keep
    the default (argparse.SUPPRESS: absent from the namespace), so a config file can set
    them and an explicit flag always wins."""
    from aekit.cli import flag_table

    group = parser.add_argument_group("estimator options", ESTIMATOR_FLAGS_TEXT)
    # The table's plain-data snapshot: building the parser imports no torch.
    for entry in flag_table.load()["flags"]:
        name = entry["name"]
        help_text = entry["help"].replace("%", "%%")
        if entry["kind"] == "bool":
            group.add_argument(_flag(name), dest=f"param_{name}",
                               action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=help_text)
        else:
            metavar = {"ints": "N,N", "int": "N", "float": "X"}.get(entry["kind"], "V")
            group.add_argument(_flag(name), dest=f"param_{name}", metavar=metavar,
                               default=argparse.SUPPRESS, help=help_text)


def flag_params(args) -> dict:
    """Estimator parameters given as flags (raw: text, or bool for switches)."""
    return {k[len("param_"):]: v for k, v in vars(args).items() if k.startswith("param_")}


def read_config_file(path) -> dict:
    """A TOML (.toml) or YAML (.yaml/.yml) file of flat keys -> dict (dashes -> '_')."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--config {path}: no such file")
    suffix = path.suffix.lower()
    text = path.read_bytes()
    if suffix == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            import tomli as tomllib
        try:
            data = tomllib.loads(text.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--config {path}: not valid TOML ({exc})") from None
    elif suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ModuleNotFoundError:
            raise ConfigError(f"--config {path}: YAML config files need PyYAML "
                              "(pip install 'aekit[yaml]'), or use a .toml file") from None
        try:
            data = yaml.load(text, Loader=_yaml_loader())  # a SafeLoader: data only
        except yaml.YAMLError as exc:
            msg = str(exc).replace("\n", " ")
            raise ConfigError(f"--config {path}: not valid YAML ({msg})") from None
        data = {} if data is None else data
    else:
        raise ConfigError(f"--config {path}: unknown config format {path.suffix or '(none)'};"
                          " use .toml, .yaml or .yml")
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: expected a mapping of keys to values")
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            raise ConfigError(f"--config {path}: key {key!r} holds a table; the file is flat "
                              "(the same keys as the flags)")
        out[str(key).replace("-", "_")] = value
    return out


def _yaml_loader():
    """PyYAML's SafeLoader, except that numbers without a dot such as ``1e-3`` are floats
    (YAML 1.2, and TOML): YAML 1.1 reads them as the string '1e-3'."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"))
    return Loader


def _check_run_value(key: str, value, where: str) -> None:
    """A run key (model, data, split, max_rows, n_labelled) from a config file, checked
    for its type and range like the flag it stands for."""
    problem = None
    if key in ("model", "data", "split") and not isinstance(value, str):
        problem = f"must be a string, got {value!r}"
    elif key == "split" and value not in ("train", "test", "all"):
        problem = f"{value!r} is not one of 'train', 'test', 'all'"
    elif key in ("max_rows", "n_labelled") and value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1):
        problem = f"must be an integer >= 1, got {value!r}"
    elif key == "scale":
        try:
            ScaleArg()(value if isinstance(value, str) else repr(value))
        except argparse.ArgumentTypeError as exc:
            problem = str(exc)
    elif key == "label_column" and (isinstance(value, (bool, float)) or
                                    not isinstance(value, (int, str))):
        problem = f"must be a column name or a 0-based index, got {value!r}"
    elif key == "mmap" and not isinstance(value, bool):
        problem = f"must be true or false, got {value!r}"
    if problem:
        raise ConfigError(f"{where}: {key} {problem}")


def resolve_train_config(args, progress_default: bool | None = None) -> dict:
    """Flags + optional config file -> the resolved run config (JSON-able).

    progress_default: the estimator's ``verbose`` (progress bar) when neither a flag nor the
    file sets it (``aekit train``: on when stderr is a terminal or -v was given).

    {"model", "estimator", "data", "split", "max_rows", "n_labelled", "params": every
    keyword of the estimator}. Unknown keys and keys of another model are errors that name
    the key and list the valid ones.
    """
    file = read_config_file(args.config) if getattr(args, "config", None) else {}
    where = f"--config {args.config}" if file else "flags"
    run = {k: file.pop(k) for k in RUN_KEYS if k in file}
    for key, value in run.items():
        _check_run_value(key, value, where)
    for key in RUN_KEYS:  # flags beat the file
        value = getattr(args, key, None)
        if value is not None:
            run[key] = value
    model = run.get("model")
    if model is None:
        raise ConfigError(f"--model is required (flag or 'model' in the config file); "
                          f"valid models: {', '.join(MODEL_CLASSES)}")
    if run.get("data") is None:
        raise ConfigError("--data is required (flag or 'data' in the config file)")
    defaults = estimator_defaults(model)  # raises for an unknown model
    table = parameter_table()
    params = dict(defaults)
    flags = flag_params(args)
    for values in (file, flags):
        _phase_epochs(values, BY_NAME[model].phases)
    for source, values, from_text in ((where, file, False), ("flag", flags, True)):
        for key, value in values.items():
            if key not in defaults:
                hint = (f"it is an option of {', '.join(table[key]['defaults'])}, not of "
                        f"{model}" if key in table else "unknown key")
                valid = ", ".join([*RUN_KEYS, *defaults]) if source != "flag" else \
                    ", ".join(_flag(k) for k in defaults)
                raise ConfigError(f"{source}: {_flag(key) if source == 'flag' else key!r}: "
                                  f"{hint}; valid keys for {model}: {valid}")
            kind = table[key]["kind"]
            params[key] = coerce(key, value, kind, from_text=from_text and kind != "bool")
    if progress_default is not None and "verbose" in defaults and "verbose" not in file \
            and "verbose" not in flags:
        params["verbose"] = bool(progress_default)
    split = run.get("split") or "train"
    scale = run.get("scale")
    scale = "auto" if scale is None else ScaleArg()(str(scale))
    label_column = run.get("label_column")
    if isinstance(label_column, str):
        label_column = LabelColumnArg()(label_column)
    check_data_options(str(run["data"]), scale=scale, label_column=label_column,
                       mmap=bool(run.get("mmap")))
    return {"model": model, "estimator": MODEL_CLASSES[model], "data": str(run["data"]),
            "split": split, "max_rows": run.get("max_rows"),
            "n_labelled": run.get("n_labelled"), "scale": scale,
            "label_column": label_column, "mmap": bool(run.get("mmap")), "params": params}


def _phase_epochs(values: dict, phases: tuple) -> None:
    """``epochs`` for a kind that trains in ``phases`` (the classifier: pretraining, head,
    fine-tuning): each phase's epochs that ``values`` does not set itself; the resolved
    config records the phases."""
    if phases and "epochs" in values:
        epochs = values.pop("epochs")
        for phase in phases:
            values.setdefault(phase, epochs)


def build_estimator(resolved: dict):
    """The estimator of a resolved config, its parameters validated up front."""
    from aekit.estimators.params import device_problem

    est = estimator_class(resolved["model"])(**resolved["params"])
    est.validate_params()  # every option checked before data is loaded
    problem = device_problem(est.device, available=True)  # is it in this torch build?
    if problem:
        raise ConfigError(problem)
    return est
