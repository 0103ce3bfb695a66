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
import tempfile
from pathlib import Path

import numpy as np

from aekit.errors import ConfigError, DataError, ModelFileError

# CLI model name -> estimator class name (classes are imported lazily: `aekit --help` stays
# fast). Ordered as `--help` lists them.
MODEL_CLASSES = {
    "linear": "LinearAutoencoder",
    "stacked": "StackedAutoencoder",
    "conv": "ConvAutoencoder",
    "vae": "VariationalAutoencoder",
    "classifier": "AutoencoderClassifier",
}
# Keys a config file may hold besides estimator parameters (the `train` flags of the run).
RUN_KEYS = ("model", "data", "split", "max_rows", "n_labelled")
RESOLVED_CONFIG = "config.resolved.json"
MODEL_SUBDIR = "model"


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
            if text in ("", "()"):
                return ()
            try:
                return tuple(int(v) for v in text.strip("()[]").split(",") if v.strip())
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
    group = parser.add_argument_group("estimator options", ESTIMATOR_FLAGS_TEXT)
    for name, entry in parameter_table().items():
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
            data = yaml.safe_load(text)
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


def resolve_train_config(args) -> dict:
    """Flags + optional config file -> the resolved run config (JSON-able).

    {"model", "estimator", "data", "split", "max_rows", "n_labelled", "params": every
    keyword of the estimator}. Unknown keys and keys of another model are errors that name
    the key and list the valid ones.
    """
    file = read_config_file(args.config) if getattr(args, "config", None) else {}
    where = f"--config {args.config}" if file else "flags"
    run = {k: file.pop(k) for k in RUN_KEYS if k in file}
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
    for source, values, from_text in ((where, file, False), ("flag", flag_params(args), True)):
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
    split = run.get("split") or "train"
    return {"model": model, "estimator": MODEL_CLASSES[model], "data": str(run["data"]),
            "split": split, "max_rows": run.get("max_rows"),
            "n_labelled": run.get("n_labelled"), "params": params}


def build_estimator(resolved: dict):
    """The estimator of a resolved config, its parameters validated up front."""
    est = estimator_class(resolved["model"])(**resolved["params"])
    est.validate_params()  # every option checked before data is loaded
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
def add_data_args(parser, *, required: bool = True, split: str = "train",
                  help_text: str | None = None) -> None:
    parser.add_argument("--data", required=required, metavar="NAME|PATH",
                        help=help_text or "a dataset name (digits, fashion-mnist, mnist) or a "
                        ".npy/.npz/.csv/IDX file or image folder")
    parser.add_argument("--split", default=split, choices=("train", "test", "all"),
                        help="which part of the data")
    parser.add_argument("--max-rows", type=int, default=None, metavar="N",
                        help="use only the first N rows (quick runs)")


def load_data(source: str, split: str, max_rows: int | None = None):
    """``aekit.datasets.load`` + optional row cap; a Dataset in memory."""
    from aekit.datasets import load

    if max_rows is not None and max_rows < 1:
        raise ConfigError(f"--max-rows must be >= 1, got {max_rows}")
    ds = load(source, split=split, progress=False).head(max_rows, in_memory=True)
    if len(ds.X) == 0:
        raise DataError(f"--data {source} --split {split}: no rows")
    return ds


def test_split_of(source: str, split: str, max_rows: int | None = None):
    """Held-out rows for metrics: the 'test' split when training used 'train', else None."""
    if split != "train":
        return None
    return load_data(source, "test", max_rows)


def check_features(model, X, source: str) -> None:
    from aekit.loading import as_fitted

    d = as_fitted(model).n_features
    if X.shape[1] != d:
        raise DataError(f"{source}: rows have {X.shape[1]} values but the model expects {d}")


def read_array(path, name: str) -> np.ndarray:
    """A 2-D float32 array from .npy or .csv (numbers only) for --input/--codes."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{name} {path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
        elif suffix == ".csv":
            arr = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
        else:
            raise DataError(f"{name} {path}: expected a .npy or .csv file")
    except ValueError as exc:
        raise DataError(f"{name} {path}: could not be read ({exc})") from None
    arr = np.atleast_2d(np.asarray(arr, dtype=np.float32))
    if arr.ndim != 2:
        raise DataError(f"{name} {path}: expected a 2-D array (rows x values), got shape "
                        f"{arr.shape}")
    if not np.isfinite(arr).all():
        raise DataError(f"{name} {path}: holds NaN or Inf")
    return arr


def write_array(path, arr: np.ndarray) -> Path:
    """Write ``arr`` to a .npy or .csv path atomically (after the path was checked)."""
    from aekit.io.atomic import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, arr)
        else:
            np.savetxt(tmp, arr, delimiter=",", fmt="%.7g")
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
    return model, folder, run


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
    failure it is removed so no partial output stays behind."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def move_into(src_dir: Path, dest: Path) -> None:
    """Move every entry of ``src_dir`` into folder ``dest`` (replacing same-named ones)."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in sorted(src_dir.iterdir()):
        target = dest / item.name
        if target.is_dir() and not target.is_symlink():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(item, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(item, target)


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
