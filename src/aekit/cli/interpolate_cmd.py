"""``aekit interpolate MODEL_DIR --data ... --pair I J --steps K --out strip.png``: decode
the path between the codes of rows I and J (linear, or slerp for VAEs), with the plain
pixel cross-fade below for comparison."""

from __future__ import annotations

import argparse
from pathlib import Path

from aekit.cli import argtypes, inputs, model_folders, outputs


def register(sub) -> None:
    p = sub.add_parser("interpolate", help="walk between two rows in code space (PNG strip)",
                       description=__doc__,
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR")
    inputs.add_data_args(p, split="test")
    p.add_argument("--pair", type=argtypes.IntArg(), nargs=2, required=True, metavar=("I", "J"),
                   help="row indices of the two end points")
    p.add_argument("--steps", type=argtypes.IntArg(2, 1000), default=10, metavar="K",
                   help="images along the path")
    p.add_argument("--method", choices=("linear", "slerp"), default=None,
                   help="path in code space (default: slerp for VAEs, linear otherwise)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.png")
    outputs.add_force_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from aekit.errors import ConfigError
    from aekit.plotting import plot_interpolations

    outputs.check_output_file(args.out, suffixes=(".png",), force=args.force,
                             inputs=(args.data,))
    if args.steps < 2:
        raise ConfigError(f"--steps must be >= 2, got {args.steps}")
    model, folder, run = model_folders.load_model(args.model_dir)
    ds = inputs.load_data(args.data, args.split, args.max_rows,
                          **inputs.data_options(args, run))
    inputs.check_features(model, ds.X, f"--data {args.data}")
    n = len(ds.X)
    for i in args.pair:
        if not -n <= i < n:
            raise ConfigError(f"--pair {args.pair[0]} {args.pair[1]}: index {i} is out of "
                              f"range for {n} rows of --data {args.data} --split {args.split}")
    i, j = args.pair
    fig = plot_interpolations(model, ds.X[i], ds.X[j], n_steps=args.steps, method=args.method,
                              image_shape=model_folders.image_shape_for(model, ds),
                              title=f"rows {i} -> {j}")
    outputs.save_png(fig, args.out)
    print(f"wrote {args.out}")
    return 0
