"""``aekit decode MODEL_DIR --codes FILE --out rows.npy|csv [--png grid.png]``: decode codes
back to rows (the network's mean output)."""

from __future__ import annotations

import argparse
from pathlib import Path

from aekit.cli import common


def register(sub) -> None:
    p = sub.add_parser("decode", help="decode codes back to rows", description=__doc__,
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR")
    p.add_argument("--codes", type=Path, required=True, metavar="FILE",
                   help=".npy or .csv array (n, code size)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="rows.npy or rows.csv")
    p.add_argument("--png", type=Path, default=None, metavar="FILE",
                   help="also draw the decoded rows as images")
    common.add_force_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from aekit.errors import DataError
    from aekit.loading import as_fitted

    common.check_output_file(args.out, suffixes=(".npy", ".csv"), force=args.force,
                             inputs=(args.codes,))
    if args.png is not None:
        common.check_output_file(args.png, "--png", suffixes=(".png",), force=args.force,
                                 inputs=(args.codes, args.out))
    model, folder, run_cfg = common.load_model(args.model_dir)
    fitted = as_fitted(model)
    Z = common.read_array(args.codes, "--codes")
    if Z.shape[1] != fitted.code_size:
        raise DataError(f"--codes {args.codes}: rows have {Z.shape[1]} values but the code "
                        f"size is {fitted.code_size}")
    X = fitted.decode(Z)
    common.write_array(args.out, X)
    if args.png is not None:
        save_grid(model, X, args.png, run_cfg, "Decoded codes")
    print(f"wrote {args.out}: {X.shape[0]} rows of {X.shape[1]} values"
          + (f"; {args.png}" if args.png else ""))
    return 0


def save_grid(model, X, path, run_cfg, title, per_row: int = 10):
    """Rows drawn as images, ``per_row`` per line (shape from the run's data if known)."""
    from aekit.plotting import mosaic_figure

    ds = None
    if run_cfg.get("data"):
        try:
            ds = common.load_data(run_cfg["data"], "test", 1)
        except Exception:  # noqa: BLE001 - the run's data may be gone; fall back to the model
            ds = None
    shape = common.image_shape_for(model, ds)
    rows = [X[i:i + per_row] for i in range(0, len(X), per_row)]
    common.save_png(mosaic_figure(rows, shape, title=title), Path(path))
