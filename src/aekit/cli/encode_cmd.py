"""``aekit encode MODEL_DIR (--data NAME|PATH | --input FILE) --out codes.npy|csv``: the
codes of every row (VAE: the posterior mean)."""

from __future__ import annotations

import argparse
from pathlib import Path

from aekit.cli import common


def register(sub) -> None:
    p = sub.add_parser("encode", help="write the codes of rows (npy or csv)",
                       description=__doc__,
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR")
    common.add_data_args(p, required=False, split="test")
    p.add_argument("--input", type=Path, metavar="FILE",
                   help="rows as a .npy or .csv array, used as they are (instead of --data)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="codes.npy or codes.csv, one row per input row")
    common.add_force_arg(p)
    p.set_defaults(func=run)


def input_rows(args, model, run: dict | None = None):
    """Rows from --data or --input (exactly one), checked against the model. --data is
    scaled as the run scaled its training data (``run``: its recorded config)."""
    from aekit.errors import ConfigError

    if (args.data is None) == (args.input is None):
        raise ConfigError("give exactly one of --data and --input")
    if args.input is not None:
        X = common.read_array(args.input, "--input")
        where = f"--input {args.input}"
    else:
        X = common.load_data(args.data, args.split, args.max_rows,
                             **common.data_options(args, run)).X
        where = f"--data {args.data}"
    common.check_features(model, X, where)
    return X


def run(args) -> int:
    from aekit.applications import encode

    common.check_output_file(args.out, suffixes=(".npy", ".csv"), force=args.force,
                             inputs=(args.input, args.data))
    model, folder, run = common.load_model(args.model_dir)
    Z = encode(model, input_rows(args, model, run))
    common.write_array(args.out, Z)
    print(f"wrote {args.out}: {Z.shape[0]} codes of size {Z.shape[1]}")
    return 0
