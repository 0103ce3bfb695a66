"""``aekit encode MODEL_DIR (--data NAME|PATH | --input FILE) --out codes.npy|csv``: the
codes of every row (VAE: the posterior mean)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from aekit.cli import inputs, model_folders, outputs


def register(sub) -> None:
    p = sub.add_parser("encode", help="write the codes of rows (npy or csv)",
                       description=__doc__,
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR")
    add_rows_args(p)
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="codes.npy or codes.csv, one row per input row")
    outputs.add_force_arg(p)
    p.set_defaults(func=run)


INPUT_HELP = ("rows as a .npy or .csv array of numbers, in the units of the run's training "
              "data: the run's recorded scaling is applied, as to --data (instead of --data)")
DATA_ONLY = ("split", "max_rows", "scale", "label_column")  # flags that select/scale --data


def add_rows_args(p, data_help: str | None = None, input_help: str = INPUT_HELP) -> None:
    """--data (with --split, --max-rows, --scale, --label-column) or --input. --split has
    no default here, so that giving it with --input can be refused (it means test)."""
    inputs.add_data_args(p, required=False, split=None, help_text=data_help)
    p.add_argument("--input", type=Path, metavar="FILE", help=input_help)


def check_rows_args(args, required: bool = True) -> None:
    """Exactly one of --data and --input (at most one unless ``required``); the flags that
    select or scale --data are refused with --input (every row of FILE is used, scaled as
    the run recorded), never silently ignored."""
    from aekit.errors import ConfigError

    if args.data is not None and args.input is not None:
        raise ConfigError("give only one of --data and --input")
    if required and args.data is None and args.input is None:
        raise ConfigError("give exactly one of --data and --input")
    if args.input is not None:
        given = [f"--{name.replace('_', '-')}" for name in DATA_ONLY
                 if getattr(args, name, None) is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} applies to --data only: --input "
                              f"{args.input} is used whole, scaled as the run recorded")


def input_rows(args, model, run: dict | None = None):
    """Rows from --data or --input, checked against the model and scaled as the run scaled
    its training data (``run``: its recorded config). The caller checked the flags with
    :func:`check_rows_args` before any work."""
    if args.input is not None:
        where = f"--input {args.input}"
        X = inputs.to_model_units(inputs.read_array(args.input, "--input", np.float64), run,
                                  where)
    else:
        X = inputs.load_data(args.data, getattr(args, "split", "test"), args.max_rows,
                             **inputs.data_options(args, run)).X
        where = f"--data {args.data}"
    inputs.check_features(model, X, where)
    return X


def run(args) -> int:
    from aekit.applications import encode

    check_rows_args(args)
    outputs.check_output_file(args.out, suffixes=(".npy", ".csv"), force=args.force,
                             inputs=(args.input, args.data))
    model, folder, run = model_folders.load_model(args.model_dir)
    Z = encode(model, input_rows(args, model, run))
    outputs.write_array(args.out, Z)
    print(f"wrote {args.out}: {Z.shape[0]} codes of size {Z.shape[1]}")
    return 0
