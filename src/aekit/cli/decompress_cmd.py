"""``aekit decompress RUN images.aekz --out rows.npy [--png grid.png]``: rebuild rows from a
compressed stream and the model alone; report bits per pixel and, when the originals are
given (--data or --input), the PSNR."""

from __future__ import annotations

import argparse
from pathlib import Path

from aekit.cli import inputs, model_folders, outputs
from aekit.cli.compress_cmd import (
    add_fit_data_arg,
    ceiling_note,
    fit_rows,
    peak_of,
    scaled_note,
)
from aekit.cli.encode_cmd import add_rows_args, check_rows_args

GRID_ROWS = 50  # rows drawn in --png


def register(sub) -> None:
    p = sub.add_parser("decompress", help="rebuild rows from a bitstream (.aekz)",
                       description=__doc__,
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model_dir", type=Path, metavar="RUN",
                   help="the run or model folder the stream was compressed with")
    p.add_argument("stream", type=Path, metavar="STREAM", help="a file aekit compress wrote")
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="rows.npy or rows.csv")
    p.add_argument("--png", type=Path, default=None, metavar="FILE",
                   help=f"also draw the first {GRID_ROWS} rows as images")
    add_rows_args(p, data_help="the original rows (for PSNR): a dataset name or file",
                  input_help="the original rows (for PSNR) as a .npy or .csv array, in the "
                  "units of the run's training data")
    add_fit_data_arg(p)
    outputs.add_force_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from aekit.applications import compression
    from aekit.cli.decode_cmd import save_grid
    from aekit.cli.encode_cmd import input_rows
    from aekit.errors import DataError
    from aekit.loading import as_fitted

    check_rows_args(args, required=False)
    read = (args.stream, args.input, args.data, args.fit_data)
    outputs.check_output_file(args.out, suffixes=(".npy", ".csv"), force=args.force,
                              inputs=read)
    if args.png is not None:
        outputs.check_output_file(args.png, "--png", suffixes=(".png",), force=args.force,
                                  inputs=(*read, args.out))
    if not args.stream.is_file():
        raise DataError(f"STREAM {args.stream}: no such file")
    try:
        data = compression.read_stream(args.stream)
    except DataError as exc:
        raise DataError(f"STREAM {args.stream}: {exc}") from None
    except OSError as exc:
        raise DataError(f"STREAM {args.stream}: could not be read ({exc.strerror})") from None
    try:
        info = compression.stream_info(data)
    except DataError as exc:
        raise DataError(f"STREAM {args.stream}: {exc}") from None
    model, folder, run_cfg = model_folders.load_model(args.model_dir)
    originals = None
    if args.data is not None or args.input is not None:
        originals = input_rows(args, model, run_cfg)  # scaled as the model sees them
        if len(originals) != info.rows:
            raise DataError(f"the originals have {len(originals)} rows but the stream holds "
                            f"{info.rows}")
    try:
        X_hat = compression.decompress(model, data, X_fit=fit_rows(args))
    except DataError as exc:
        raise DataError(f"STREAM {args.stream}: {exc}") from None
    inputs.write_rows(args.out, X_hat, run_cfg)  # in the units of the run's data
    if args.png is not None:
        save_grid(model, X_hat[:GRID_ROWS], args.png, run_cfg,
                  f"Decompressed ({min(GRID_ROWS, len(X_hat))} of {len(X_hat)} rows)")
    bpp = compression.bits_per_pixel(model, data)
    line = (f"wrote {args.out}: {len(X_hat)} rows from {len(data)} bytes (quality "
            f"{info.quality:g}), {bpp:.4f} bits per pixel")
    if originals is not None:
        peak = peak_of(originals)
        line += (f"; PSNR {compression.psnr(originals, X_hat, peak):.2f} dB (peak {peak:g}"
                 f"{scaled_note(run_cfg)}); {ceiling_note(as_fitted(model), originals, peak)}")
    print(line + (f"; {args.png}" if args.png else ""))
    return 0
