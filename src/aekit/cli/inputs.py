"""What the subcommands read: the data arguments (``--data``, ``--scale``, ``--label-column``),
the data sets and arrays they name, the row checks made before training, and a run's
recorded scaling applied to rows read and written."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from aekit.errors import ConfigError, DataError

from aekit.cli.outputs import SCALING_FILE, write_array
from aekit.cli.argtypes import IntArg


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
