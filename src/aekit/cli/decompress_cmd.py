"""``aekit decompress photo.aekz --out photo.png``: rebuild a photograph that ``aekit
compress IMAGE`` wrote (the pretrained photo codec; no model needed).

``aekit decompress RUN images.aekz --out rows.npy [--png grid.png]``: rebuild rows from a
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
    p.add_argument("model_dir", type=Path, metavar="RUN", nargs="?", default=None,
                   help="the run or model folder the stream was compressed with (none for a "
                        "photo stream)")
    p.add_argument("stream", type=Path, metavar="STREAM", help="a file aekit compress wrote")
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="rows.npy or rows.csv; for a photo stream, an image (.png)")
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

    if args.model_dir is None:
        return run_photo(args)
    check_rows_args(args, required=False)
    read = (args.stream, args.input, args.data, args.fit_data)
    outputs.check_output_file(args.out, suffixes=(".npy", ".csv"), force=args.force,
                              inputs=read)
    if args.png is not None:
        outputs.check_output_file(args.png, "--png", suffixes=(".png",), force=args.force,
                                  inputs=(*read, args.out))
    data = read_stream_file(args.stream, compression.read_stream)
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


def read_stream_file(path: Path, reader) -> bytes:
    """A stream file's bytes by ``reader``, every failure naming the file."""
    from aekit.errors import DataError

    if not path.is_file():
        raise DataError(f"STREAM {path}: no such file")
    try:
        return reader(path)
    except DataError as exc:
        raise DataError(f"STREAM {path}: {exc}") from None
    except OSError as exc:
        raise DataError(f"STREAM {path}: could not be read ({exc.strerror})") from None


def run_photo(args) -> int:
    """decompress STREAM --out image.png: the pretrained photo codec."""
    from aekit.applications import photo
    from aekit.cli.compress_cmd import refuse_row_options
    from aekit.errors import ConfigError, DataError
    from aekit.io.atomic import write_bytes_atomic

    refuse_row_options(args, "a photo stream")
    if args.png is not None:
        raise ConfigError("--png draws a model's rows; a photo stream's --out is the image")
    outputs.check_output_file(args.out, suffixes=(".png",), force=args.force,
                              inputs=(args.stream,))
    data = read_stream_file(args.stream, lambda p: p.read_bytes())
    try:
        info = photo.photo_stream_info(data)
        image = photo.decompress(data)
    except DataError as exc:
        raise DataError(f"STREAM {args.stream}: {exc}") from None
    write_bytes_atomic(args.out, photo.png_bytes(image))
    print(f"wrote {args.out}: {info.width}x{info.height} "
          f"{'grey' if info.channels == 1 else 'colour'} image from {len(data)} bytes "
          f"({8 * len(data) / (info.width * info.height):.3f} bits per pixel, quality "
          f"{info.quality:g})")
    return 0
