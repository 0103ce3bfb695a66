"""``aekit decode MODEL_DIR --codes FILE --out rows.npy|csv [--png grid.png]``: decode codes
back to rows (the network's mean output)."""

from __future__ import annotations

import argparse
from pathlib import Path

from aekit.cli import inputs, model_folders, outputs


def register(sub) -> None:
    p = sub.add_parser("decode", help="decode codes back to rows", description=__doc__,
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR")
    p.add_argument("--codes", type=Path, required=True, metavar="FILE",
                   help=".npy or .csv array (n, code size)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="rows.npy or rows.csv, in the units of the run's training data (its "
                   "recorded scaling undone; a CSV run's header kept)")
    p.add_argument("--png", type=Path, default=None, metavar="FILE",
                   help=f"also draw the decoded rows as images (the first {GRID_MAX}, "
                   "10 per line, so the tiles stay readable)")
    outputs.add_force_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from aekit.errors import DataError
    from aekit.loading import as_fitted

    outputs.check_output_file(args.out, suffixes=(".npy", ".csv"), force=args.force,
                             inputs=(args.codes,))
    if args.png is not None:
        outputs.check_output_file(args.png, "--png", suffixes=(".png",), force=args.force,
                                 inputs=(args.codes, args.out))
    model, folder, run_cfg = model_folders.load_model(args.model_dir)
    fitted = as_fitted(model)
    Z = inputs.read_array(args.codes, "--codes")
    if Z.shape[1] != fitted.code_size:
        raise DataError(f"--codes {args.codes}: rows have {Z.shape[1]} values but the code "
                        f"size is {fitted.code_size}")
    X = fitted.decode(Z)
    shown = write_rows_and_grid(args, model, X, run_cfg, "Decoded codes")
    print(f"wrote {args.out}: {X.shape[0]} rows of {X.shape[1]} values{shown}")
    return 0


def write_rows_and_grid(args, model, X, run_cfg, title: str) -> str:
    """Rows to ``--out`` in the units of the run's data, and with ``--png`` their grid;
    returns what the grid shows, for the command's one line."""
    inputs.write_rows(args.out, X, run_cfg)
    if args.png is None:
        return ""
    n = save_grid(model, X, args.png, run_cfg, title)
    return f"; {args.png} shows " + (f"all {n}" if n == len(X) else
                                     f"the first {n} of {len(X)}")


GRID_MAX = 100  # images drawn by --png: 10 lines of 10; more would shrink tiles to dots


def save_grid(model, X, path, run_cfg, title, per_row: int = 10, limit: int = GRID_MAX) -> int:
    """The first ``limit`` rows drawn as images, ``per_row`` per line (shape from the run's
    data if known); the title says when rows were left out. Returns how many are drawn."""
    from aekit.plotting import mosaic_figure

    ds = None
    if run_cfg.get("data"):
        try:
            ds = inputs.load_data(run_cfg["data"], "test", 1,
                                  label_column=run_cfg.get("label_column"))
        except Exception:  # noqa: BLE001 - the run's data may be gone; fall back to the model
            ds = None
    shape = model_folders.image_shape_for(model, ds)
    n = min(len(X), limit)
    if n < len(X):
        title = f"{title}: the first {n:,} of {len(X):,}"
    rows = [X[i:i + per_row] for i in range(0, n, per_row)]
    outputs.save_png(mosaic_figure(rows, shape, title=title), Path(path))
    return n
