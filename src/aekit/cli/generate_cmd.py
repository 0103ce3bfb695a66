"""``aekit generate MODEL_DIR -n N --out samples.npy|csv [--png grid.png] [--label K]``: new
rows from the model: a VAE decodes draws from its prior N(0, I); a plain autoencoder decodes
draws from the density fitted to its training codes (``sampler``); a classifier trained
with method='m2' (a model of x given its class) decodes draws of z under class K
(``--label``), or under classes drawn uniformly."""

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
    p.add_argument("--label", default=None, metavar="K",
                   help="generate rows of class K (a model of x given its class: "
                   "AutoencoderClassifier with method='m2'); default: classes drawn "
                   "uniformly")
    outputs.add_force_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from aekit.cli.decode_cmd import write_rows_and_grid
    from aekit.errors import ConfigError
    from aekit.fitted import FittedClassifier
    from aekit.loading import as_fitted

    if args.n_samples < 1:
        raise ConfigError(f"-n must be >= 1, got {args.n_samples}")
    outputs.check_output_file(args.out, suffixes=(".npy", ".csv"), force=args.force)
    if args.png is not None:
        outputs.check_output_file(args.png, "--png", suffixes=(".png",), force=args.force,
                                 inputs=(args.out,))
    model, folder, run_cfg = model_folders.load_model(args.model_dir)
    fitted = as_fitted(model)
    if isinstance(fitted, FittedClassifier):
        if not fitted.generative:
            raise ConfigError(f"{folder}: this classifier ({fitted.module.config.name}) does "
                              "not model x given its class; train one with --method m2")
        label = None if args.label is None else class_label(fitted, args.label)
        # = the estimator's sample(n, y=label)
        X = fitted.sample(args.n_samples, y=label, random_state=args.seed)
    else:
        if args.label is not None:
            raise ConfigError(f"--label: {folder} is not a model of x given its class (an "
                              "AutoencoderClassifier trained with --method m2 is)")
        if getattr(fitted, "density", None) is None:
            raise ConfigError(f"{folder}: this model has no code density to sample from "
                              "(only VAEs and autoencoder estimators generate)")
        X = fitted.sample(args.n_samples, random_state=args.seed)  # = the estimator's sample()
    shown = write_rows_and_grid(args, model, X, run_cfg, "Generated samples")
    print(f"wrote {args.out}: {X.shape[0]} samples{shown}")
    return 0


def class_label(fitted, text: str):
    """The class of ``fitted.classes`` that --label names (labels are compared as text: a
    flag's value is text, the classes may be numbers)."""
    from aekit.errors import ConfigError

    for c in fitted.classes:
        if str(c) == text:
            return c
    raise ConfigError(f"--label {text}: not a class of this model; its classes are "
                      + ", ".join(str(c) for c in fitted.classes))
