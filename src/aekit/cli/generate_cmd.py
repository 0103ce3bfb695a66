"""``aekit generate MODEL_DIR -n N --out samples.npy|csv [--png grid.png]``: new rows from
the model: a VAE decodes draws from its prior N(0, I); a plain autoencoder decodes draws
from the density fitted to its training codes (``sampler``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from aekit.cli import argtypes, model_folders, outputs


def register(sub) -> None:
    p = sub.add_parser("generate", help="sample new rows from a model", description=__doc__,
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR")
    p.add_argument("-n", "--n-samples", type=argtypes.IntArg(1, 1_000_000), default=16,
                   metavar="N",
                   help="how many rows")
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="samples.npy or samples.csv, in the units of the run's training "
                   "data (its recorded scaling undone; a CSV run's header kept)")
    p.add_argument("--png", type=Path, default=None, metavar="FILE",
                   help="also draw the samples as an image grid")
    p.add_argument("--seed", type=argtypes.seed_arg(), default=0, help="random seed")
    outputs.add_force_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from aekit.cli.decode_cmd import write_rows_and_grid
    from aekit.errors import ConfigError
    from aekit.loading import as_fitted

    if args.n_samples < 1:
        raise ConfigError(f"-n must be >= 1, got {args.n_samples}")
    outputs.check_output_file(args.out, suffixes=(".npy", ".csv"), force=args.force)
    if args.png is not None:
        outputs.check_output_file(args.png, "--png", suffixes=(".png",), force=args.force,
                                 inputs=(args.out,))
    model, folder, run_cfg = model_folders.load_model(args.model_dir)
    fitted = as_fitted(model)
    if fitted.density is None:
        raise ConfigError(f"{folder}: this model has no code density to sample from "
                          "(only VAEs and autoencoder estimators generate)")
    X = fitted.sample(args.n_samples, random_state=args.seed)  # = the estimator's sample()
    shown = write_rows_and_grid(args, model, X, run_cfg, "Generated samples")
    print(f"wrote {args.out}: {X.shape[0]} samples{shown}")
    return 0
