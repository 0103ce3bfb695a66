"""What the ``aekit`` subcommands share: data arguments, model folders, estimator flags and
config files, and output paths that are checked first and written atomically.

Configuration has one source of truth, the estimators' keyword arguments (STYLE.md pattern
8): ``aekit train`` derives one flag per keyword, with its help text, from the parameter
table that also generates the estimators' docstrings and validation
(:mod:`aekit.estimators.params`), and a TOML/YAML config file holds the same keys.
Precedence: estimator default < config file < flag. Config files are parsed as data
(``tomllib`` / ``yaml.safe_load``), never executed.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from aekit.errors import ConfigError, DataError, ModelFileError
from aekit.kinds import BY_NAME, MODELS

# CLI model name -> estimator class name, declared once in aekit.kinds (plain data: the
# classes are imported lazily, so `aekit --help` stays fast). Ordered as `--help` lists them.
MODEL_CLASSES = MODELS
# Keys a config file may hold besides estimator parameters (the `train` flags of the run).
RUN_KEYS = ("model", "data", "split", "max_rows", "n_labelled", "scale", "label_column",
            "mmap")
SCALING_FILE = "scaling.json"  # beside config.resolved.json: the fitted scaling of the run
COLUMNS_FILE = "columns.json"  # a CSV run's feature names (its header), for rows written back
RESOLVED_CONFIG = "config.resolved.json"
MODEL_SUBDIR = "model"


# --- phases that take seconds ------------------------------------------------------------
@contextlib.contextmanager
def phase(command: str, what: str):
    """A phase of a command that may take seconds (metrics, the report with its t-SNE map,
    evaluation, saving with the code density): on a terminal one status line on stderr
    (``aekit train: writing the report ... 12.3 s``); otherwise, with -v, one log line when
    it ends. So no command sits silent for long (issue 27)."""
    import logging
    import time

    tty = sys.stderr.isatty()
    if tty:
        print(f"aekit {command}: {what} ...", end="", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    done = False
    try:
        yield
        done = True
    finally:
        seconds = time.perf_counter() - t0
        if tty:
            print(f" {seconds:.1f} s" if done else " stopped", file=sys.stderr, flush=True)
        logging.getLogger(f"aekit.cli.{command}").info("%s: %.1f s", what, seconds)


# --- estimators and their parameters -----------------------------------------------------
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


class IntArg:
    """An argparse ``type``: an integer in ``[low, high]`` (None: unbounded). Other text, or
    a number out of range, is a usage error naming the flag (one line, exit 2) before any
    work. The bounds are attributes, so tests probe every such flag from the parsers."""

    def __init__(self, low: int | None = None, high: int | None = None):
        self.low, self.high = low, high
        self.__name__ = "integer"  # argparse's name for the type in its own messages

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"an integer in [{self.low}, {self.high}]"
        if self.low is not None:
            return f"an integer >= {self.low}"
        if self.high is not None:
            return f"an integer <= {self.high}"
        return "an integer"

    def __call__(self, text):
        try:
            value = int(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {self.describe()}, got {text!r}") \
                from None
        if (self.low is not None and value < self.low) or \
                (self.high is not None and value > self.high):
            raise argparse.ArgumentTypeError(f"expected {self.describe()}, got {value}")
        return value

    def __repr__(self):
        return f"IntArg({self.low}, {self.high})"


SEED_MAX = 2**32 - 1  # numpy's seeds; the estimators' random_state has the same range


def seed_arg() -> IntArg:
    return IntArg(0, SEED_MAX)


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


# --- config files ----------------------------------------------------------------------
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


def to_json(obj) -> str:
    """JSON for resolved configs, histories and metrics: what model files encode
    (:func:`aekit.io.json_values.json_default`), and anything else (paths) as its text."""
    from aekit.io.json_values import json_default

    def default(o):
        try:
            return json_default(o)
        except TypeError:
            return str(o)

    return json.dumps(obj, indent=2, default=default)


# --- data ------------------------------------------------------------------------------
class ScaleArg:
    """An argparse ``type`` for ``--scale``: a rule of :mod:`aekit.datasets.scaling` or a
    positive number (returned as a float); anything else is a usage error naming the flag."""

    __name__ = "scale rule"

    def __call__(self, text):
        from aekit.datasets.scaling import RULES, check_rule

        text = str(text).strip()
        if text in RULES:
            return text
        try:
            check_rule(text, "--scale")
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc).replace("--scale=", "")) from None
        return float(text)


class LabelColumnArg:
    """An argparse ``type`` for ``--label-column``: an integer is a 0-based column index
    (negative counts from the end), other text a header name."""

    __name__ = "column"

    def __call__(self, text):
        text = str(text).strip()
        if not text:
            raise argparse.ArgumentTypeError("expected a column name or a 0-based index, "
                                             "got an empty value")
        try:
            return int(text)
        except ValueError:
            return text


SCALE_HELP = ("how a file's values become features: auto (8-bit /255, [0, 1] kept), none, "
              "minmax or standard (per feature, fitted on the training rows; evaluate/"
              "encode/report on the run apply the same fitted scaling), minmax-global (one "
              "range for all values, e.g. images), or a divisor; default: auto, or for a "
              "saved run the scaling it recorded")


def add_data_args(parser, *, required: bool = True, split: str = "train",
                  help_text: str | None = None) -> None:
    parser.add_argument("--data", required=required, metavar="NAME|PATH",
                        help=help_text or "a dataset name (digits, fashion-mnist, mnist) or a "
                        ".npy/.npz/.csv/IDX file or image folder")
    # split=None: the flag has no default (test is used), so that a command can tell
    # whether it was given (aekit encode refuses it with --input).
    parser.add_argument("--split", default=argparse.SUPPRESS if split is None else split,
                        choices=("train", "test", "all"),
                        help="which part of the data" + (" (default: test)" if split is None
                                                         else ""))
    parser.add_argument("--max-rows", type=IntArg(1), default=None, metavar="N",
                        help="use only the first N rows (quick runs)")
    parser.add_argument("--scale", type=ScaleArg(), default=None, metavar="RULE",
                        help=SCALE_HELP)
    parser.add_argument("--label-column", type=LabelColumnArg(), default=None,
                        metavar="NAME|INDEX",
                        help="CSV: the column holding class labels (header name or 0-based "
                        "index; default: none, or for a saved run the one it used)")


# The library's keyword names in messages -> the flags that set them.
_FLAG_WORDS = (("label_column=", "--label-column "), ("scale=", "--scale "),
               ("mmap=True", "--mmap"))


def cli_words(text: str) -> str:
    """A data-loading message in the command line's words (``scale='minmax'`` ->
    ``--scale 'minmax'``): the CLI's user sets flags, not keywords."""
    import re

    for word, flag in _FLAG_WORDS:
        text = re.sub(r"(?<![\w_])" + re.escape(word), flag, text)
    return text


def check_data_options(source: str, *, scale="auto", label_column=None,
                       mmap: bool = False) -> None:
    """--scale / --label-column / --mmap apply to --data: checked before any work, in the
    flags' names (a named dataset is already scaled; label columns are CSV's)."""
    from aekit.datasets import check_options
    from aekit.errors import AekitError

    if isinstance(scale, str) and scale == "auto" and label_column is None and not mmap:
        return  # nothing to check (a missing --data is reported where it is loaded)
    try:
        check_options(source, scale=scale, label_column=label_column, mmap=mmap)
    except AekitError as exc:
        raise type(exc)(f"--data {source}: {cli_words(str(exc))}") from None


def data_options(args, run: dict | None = None) -> dict:
    """load options for a command that uses a saved run: the flags, else what the run
    recorded (its fitted scaling from scaling.json, its label column) when they apply to
    --data; a --scale that contradicts the run's fitted scaling is refused."""
    from aekit.datasets.scaling import Scaler

    run = run or {}
    scale, label_column = getattr(args, "scale", None), getattr(args, "label_column", None)
    recorded = run.get("scaling")
    if scale is not None and recorded and recorded.get("rule") in ("minmax", "standard",
                                                                    "minmax-global"):
        raise ConfigError(f"--scale {scale}: the model was trained on data scaled by "
                          f"{recorded['rule']} fitted on its training rows, and that fitted "
                          f"scaling is applied to --data; leave --scale out")
    if scale is None:
        scale = "auto"
        if recorded and recorded.get("rule") in ("minmax", "standard", "minmax-global"):
            scale = Scaler.from_dict(recorded, f"{SCALING_FILE} of the run")
        elif run.get("scale") not in (None, "auto"):
            scale = run["scale"]
    is_csv = str(getattr(args, "data", "") or "").lower().endswith(".csv")
    if label_column is None and is_csv:
        label_column = run.get("label_column")
    if getattr(args, "data", None) is not None:
        check_data_options(args.data, scale=scale, label_column=label_column)
    return {"scale": scale, "label_column": label_column}


def load_data(source: str, split: str, max_rows: int | None = None, *, scale="auto",
              label_column=None, mmap: bool = False):
    """``aekit.datasets.load`` + optional row cap; a Dataset in memory (lazy with
    ``mmap``: the memmap stays, rows are read as they are used). Loading errors speak of
    the flags (--scale, --label-column)."""
    from aekit.datasets import load
    from aekit.errors import AekitError

    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int)
                                 or max_rows < 1):
        raise ConfigError(f"--max-rows must be an integer >= 1, got {max_rows!r}")
    kw = {} if mmap is False else {"mmap": True}
    if label_column is not None:
        kw["label_column"] = label_column
    if not (isinstance(scale, str) and scale == "auto"):
        kw["scale"] = scale
    try:
        ds = load(source, split=split, progress=False, **kw)
    except AekitError as exc:
        raise type(exc)(cli_words(str(exc))) from None
    ds = ds.head(max_rows, in_memory=not mmap)
    if len(ds) == 0:
        hint = (": a file's test split is every 5th row, so it needs 5 rows or more; pass "
                "--split all to use every row" if split == "test" else "")
        raise DataError(f"--data {source} --split {split}: no rows{hint}")
    return ds


def enough_labels(y_fit, y_eval) -> tuple:
    """(y_fit, y_eval) when the probes (logistic regression, k-NN on the codes) can use
    them: both given and at least two classes to tell apart; else (None, None), and the
    metrics leave the probes out."""
    if y_fit is None or y_eval is None or len(np.unique(y_fit)) < 2:
        return None, None
    return y_fit, y_eval


def check_rows_before_training(resolved: dict, n_train: int, *, eval_rows: int,
                               report: bool) -> None:
    """Everything after training needs rows too: check them before training starts, so a
    run never trains and then fails. Training rows: at least two (PCA, the metrics'
    baseline, and the probes fit on them) and some left by validation_fraction; the test
    split (when training on 'train') must hold rows to evaluate on; the report needs a
    few evaluation rows (pairs to interpolate, neighbours for the 2-D map). One line
    naming the option (or the data) to change."""
    from aekit.report.build import MIN_TEST_ROWS, MIN_TRAIN_ROWS

    data, split, max_rows = resolved["data"], resolved["split"], resolved["max_rows"]
    given = f"--data {data}" + ("" if split == "train" else f" --split {split}")
    if n_train < MIN_TRAIN_ROWS:
        fix = (f"raise --max-rows (now {max_rows})" if max_rows is not None and max_rows <
               MIN_TRAIN_ROWS else "give more rows")
        raise DataError(f"{given}: {n_train} training row(s); aekit train needs at least "
                        f"{MIN_TRAIN_ROWS} (PCA, the metrics' baseline, is fitted on them): "
                        f"{fix}")
    fraction = resolved["params"].get("validation_fraction") or 0.0
    if round(n_train * fraction) >= n_train:
        raise ConfigError(f"validation_fraction {fraction:g} leaves none of the {n_train} "
                          "training rows to train on")
    if split == "train":
        n_test = _test_rows(data, resolved)
        if n_test == 0:
            raise DataError(f"--data {data}: no test rows for the metrics: a file's test "
                            f"split is every 5th row, so it needs 5 rows or more ({n_train} "
                            "train here); pass --split all to train and evaluate on every row")
        what = "test row(s)"
    else:
        n_test, what = n_train, "row(s)"
    n_eval = min(eval_rows, n_test)
    if report and n_eval < MIN_TEST_ROWS:
        which = (f"--eval-rows {eval_rows}" if eval_rows < MIN_TEST_ROWS else
                 f"{given}: {n_test} {what}")
        raise DataError(f"{which}: the report needs at least {MIN_TEST_ROWS} evaluation "
                        "rows; give more, or pass --no-report")


def test_split_of(source: str, split: str, max_rows: int | None = None, **options):
    """Held-out rows for metrics: the 'test' split when training used 'train', else None.
    ``options``: load options (the training data's scale - its fitted Scaler -, label
    column, mmap)."""
    if split != "train":
        return None
    return load_data(source, "test", max_rows, **options)


def _test_rows(data, resolved: dict) -> int:
    """Rows of --data's test split (a labelled file's split depends on its labels); with
    --mmap the file is mapped, not read."""
    from aekit.datasets import load
    from aekit.errors import AekitError

    kw = {"scale": resolved.get("scale") or "auto"}
    if resolved.get("label_column") is not None:
        kw["label_column"] = resolved["label_column"]
    if resolved.get("mmap"):
        kw["mmap"] = True
    if kw["scale"] == "auto":
        del kw["scale"]
    try:
        return len(load(data, split="test", progress=False, **kw))
    except AekitError as exc:
        raise type(exc)(cli_words(str(exc))) from None


def check_features(model, X, source: str) -> None:
    from aekit.loading import as_fitted

    d = as_fitted(model).n_features
    if X.shape[1] != d:
        raise DataError(f"{source}: rows have {X.shape[1]} values but the model expects {d}")


def read_array(path, name: str, dtype=np.float32) -> np.ndarray:
    """A 2-D float32 array from .npy or .csv (numbers only) for --input/--codes: at least
    one row of at least one value, finite. Anything else is one DataError naming ``name``
    and the file. ``dtype=np.float64`` keeps a file's values unrounded (rows that a run's
    scaling maps first, in float64, as aekit train scaled the training file)."""
    import warnings

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{name} {path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".csv"):
        raise DataError(f"{name} {path}: expected a .npy or .csv file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy warns about an empty CSV: refused below
            if suffix == ".npy":
                arr = np.load(path, allow_pickle=False)
            else:
                arr = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except (ValueError, EOFError, OSError, UnicodeDecodeError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(f"{name} {path}: could not be read ({reason})") from None
    if not isinstance(arr, np.ndarray):  # an .npz archive under a .npy name
        raise DataError(f"{name} {path}: not a single array ({type(arr).__name__})")
    if arr.dtype.kind not in "biuf":
        what = {"U": "text", "S": "bytes", "O": "Python objects", "c": "complex numbers",
                "V": "records", "M": "dates", "m": "time spans"}.get(arr.dtype.kind, "values")
        raise DataError(f"{name} {path}: holds {what} (dtype {arr.dtype}), not numbers")
    arr = np.atleast_2d(arr)
    if arr.ndim != 2:
        raise DataError(f"{name} {path}: expected a 2-D array (rows x values), got shape "
                        f"{arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"{name} {path}: no data (array shape {arr.shape})")
    with np.errstate(over="ignore"):
        arr = arr.astype(dtype)
    if not np.isfinite(arr).all():
        raise DataError(f"{name} {path}: holds NaN or Inf (or values beyond "
                        f"{np.dtype(dtype).name}'s range)")
    return arr


def write_array(path, arr: np.ndarray, columns: list[str] | None = None) -> Path:
    """Write ``arr`` to a .npy or .csv path atomically (after the path was checked);
    ``columns``: a header line for a .csv (quoted as CSV quotes)."""
    import csv
    import io

    from aekit.io.atomic import atomic_path

    path = Path(path)
    header = ""
    if columns is not None and path.suffix.lower() == ".csv":
        line = io.StringIO()
        csv.writer(line, lineterminator="").writerow(columns)
        header = line.getvalue()
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, arr)
        else:
            np.savetxt(tmp, arr, delimiter=",", fmt="%.7g", header=header, comments="")
    return path


# --- models ----------------------------------------------------------------------------
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


def run_scaler(run: dict, where: str = "the run"):
    """The Scaler the run's training data went through (scaling.json), or None."""
    from aekit.datasets.scaling import Scaler

    recorded = (run or {}).get("scaling")
    if not recorded:
        return None
    scaler = Scaler.from_dict(recorded, f"{SCALING_FILE} of {where}")
    return None if scaler.identity else scaler


def to_model_units(X: np.ndarray, run: dict, where: str) -> np.ndarray:
    """Rows in the units of the run's training file -> what the model sees: the run's
    recorded scaling applied, as aekit train applied it. Values the scaling takes beyond
    float32's range are refused, naming ``where``."""
    scaler = run_scaler(run)
    if scaler is not None:  # apply refuses what it takes beyond float32, naming row, column
        scaler.check_features(X.shape[1], where)
        return scaler.apply(X, where)
    with np.errstate(over="ignore"):
        out = X.astype(np.float32)
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        raise DataError(f"{where}: row {int(np.argmax(bad))} (0-based) leaves float32's range")
    return out


def to_data_units(X: np.ndarray, run: dict) -> np.ndarray:
    """The model's output rows -> the units of the run's training file (the inverse of its
    recorded scaling; float32, as the rows aekit reads)."""
    scaler = run_scaler(run)
    return X if scaler is None else scaler.inverse(X).astype(np.float32)


def write_rows(path, X: np.ndarray, run: dict) -> Path:
    """Rows a model produced (decoded, generated, decompressed) written in the units of the
    run's training data; a .csv gets the training CSV's header when the run recorded one."""
    names = (run or {}).get("columns")
    if names is not None and len(names) != X.shape[1]:
        names = None
    return write_array(path, to_data_units(X, run), columns=names)


# --- outputs ---------------------------------------------------------------------------
def add_force_arg(parser) -> None:
    parser.add_argument("--force", action="store_true",
                        help="replace output files that already exist (never an input of "
                             "the same command)")


def check_output_file(path, option: str = "--out", suffixes=None, *, force: bool = False,
                      inputs=()) -> Path:
    """A file to be written: not a folder, suffix allowed, parent exists or can be made and
    is writable; not one of ``inputs`` (the files this command reads), and not an existing
    file unless ``force``. Checked before any work so mistakes fail fast and nothing a user
    did not ask to replace is written over."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{option} {path}: is a folder; give a file name")
    if suffixes and path.suffix.lower() not in suffixes:
        raise ConfigError(f"{option} {path}: expected a file ending in {' or '.join(suffixes)}")
    for given in inputs:
        if given is not None and _same_file(path, Path(given)):
            raise ConfigError(f"{option} {path}: is an input of this command; write the "
                              "output to another file")
    if path.exists() and not force:
        raise ConfigError(f"{option} {path}: exists; pass --force to replace it")
    check_writable_parent(path, option)
    return path


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_output_dir(path, option: str = "--out", *, allow_nonempty: bool = False) -> Path:
    """A folder to be written: refuse a file; refuse a non-empty folder unless allowed."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path}: exists and is not a folder")
    if path.is_dir() and not allow_nonempty and any(path.iterdir()):
        raise ConfigError(f"{option} {path}: folder exists and is not empty; choose another "
                          f"{option}")
    check_writable_parent(path, option)
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: folder is not writable")
    return path


def check_writable_parent(path: Path, option: str) -> None:
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{option} {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: folder {parent} is not writable")


@contextlib.contextmanager
def staging_dir(final: Path):
    """A temporary folder beside ``final``; on success the caller moves results in, on any
    failure it is removed so no partial output stays behind. That includes Ctrl-C and
    SIGTERM, which :func:`aekit.cli.main` turns into exceptions."""
    from aekit.io.atomic import make_temp_dir, write_failed

    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp = make_temp_dir(final.parent, prefix=f".{final.name}.tmp-", suffix="")
    except OSError as exc:
        raise write_failed(final, exc) from None
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def move_into(src_dir: Path, dest: Path) -> None:
    """Move every entry of ``src_dir`` into folder ``dest`` (replacing same-named ones; a
    replaced folder keeps the files aekit did not write: :func:`aekit.io.atomic.carry_over`).
    What is moved gets the modes a plain ``mkdir``/``open`` gives under the umask, whatever
    modes the code that wrote it into the staging folder chose."""
    from aekit.io.atomic import (
        REPORT_MARKER,
        apply_default_modes,
        carry_over,
        read_manifest,
        swap_folder,
    )

    dest.mkdir(parents=True, exist_ok=True)
    for item in sorted(src_dir.iterdir()):
        apply_default_modes(item)
        target = dest / item.name
        if target.is_dir() and not target.is_symlink():
            # a folder aekit wrote before (RUN/model/, RUN/report/ on --resume): files
            # someone else added there are kept; aekit replaces only what it wrote
            carry_over(target, item, read_manifest(target / REPORT_MARKER))
            swap_folder(item, target)  # a failure puts the previous folder back
        else:
            os.replace(item, target)


LOCK_SUFFIX = ".aekit-lock"


def lock_file_of(folder) -> Path:
    """The lock file of an output folder: ``.NAME.aekit-lock`` beside it (not inside, so a
    folder that is replaced whole, like a report, keeps one lock, and a fresh folder stays
    empty for the checks)."""
    # realpath: a folder reached through a symlink is the same folder, so the same lock
    # (issue 28: two --resume runs, one through a symlink, mixed a run folder)
    folder = Path(os.path.realpath(os.path.abspath(folder)))
    return folder.parent / f".{folder.name or 'root'}{LOCK_SUFFIX}"


@contextlib.contextmanager
def output_folder_lock(folder, option: str = "--out"):
    """Hold an exclusive lock on output folder ``folder`` for the whole run: one writer per
    folder. A second aekit run on the same folder fails at once with a ConfigError naming
    it. The lock is ``fcntl.flock`` on :func:`lock_file_of`: the kernel releases it when the
    process ends, however it ends, so a killed run leaves no stale lock (at most the empty
    file, which the next run reuses). The file is removed when the lock is released.

    Under torchrun only rank 0 writes, so only rank 0 locks. Folders created for the lock
    file are removed again if they are still empty at the end (a failed fresh run leaves
    nothing)."""
    import errno
    import fcntl

    from aekit.io.atomic import write_failed

    if os.environ.get("RANK", "0") not in ("", "0"):
        yield None
        return
    folder = Path(folder)
    check_writable_parent(folder, option)
    lock = lock_file_of(folder)
    created = []
    for parent in reversed([lock.parent, *lock.parent.parents]):
        if not parent.exists():
            try:
                parent.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                raise write_failed(folder, exc) from None
            created.append(parent)
    fd = None
    try:
        while fd is None:
            if lock.is_symlink():  # never follow a link aekit did not make: it may
                # point at a user's file, which the process id would overwrite
                raise ConfigError(f"{option} {folder}: the lock file {lock} is a symbolic "
                                  "link, not one aekit made; remove it and run again")
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW,
                             0o666)
            except OSError as exc:
                if exc.errno == errno.ELOOP:  # made a link between the check and the open
                    raise ConfigError(f"{option} {folder}: the lock file {lock} is a "
                                      "symbolic link; remove it and run again") from None
                raise write_failed(folder, exc) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                fd = None
                raise ConfigError(
                    f"{option} {folder}: another aekit run is writing this folder (it holds "
                    f"the lock {lock}); wait until it ends, or choose another {option}") from None
            # The run before us may have removed the file between our open and our lock:
            # then we locked an orphan, and must lock the file that is there now.
            try:
                current = os.stat(lock)
            except FileNotFoundError:
                current = None
            if current is None or not os.path.samestat(os.fstat(fd), current):
                os.close(fd)
                fd = None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield lock
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(lock)  # before the release: a run that waits re-checks the file
            os.close(fd)
        for parent in reversed(created):
            with contextlib.suppress(OSError):
                parent.rmdir()


def save_png(fig, path: Path) -> Path:
    """Render a figure to PNG bytes and write them atomically."""
    from aekit.io.atomic import write_bytes_atomic
    from aekit.plotting import figure_to_png

    write_bytes_atomic(path, figure_to_png(fig))
    return path


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


def format_table(header, rows) -> str:
    """Rows of strings as aligned text columns."""
    cells = [[str(c) for c in header], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)
