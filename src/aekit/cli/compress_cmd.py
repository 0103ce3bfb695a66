"""``aekit compress IMAGE --quality Q --out photo.aekz``: compress a photograph (PNG, JPEG,
... of any size, grey or colour) with the pretrained photo codec; no model needed.

``aekit compress RUN (--data NAME|PATH | --input FILE) --quality Q --out images.aekz``:
write rows as a compressed stream (codes quantised and range-coded under the model's entropy
model).

Both report the stream's size in bits per pixel and the PSNR of what ``aekit decompress``
will rebuild from it."""

from __future__ import annotations

import argparse
from pathlib import Path

from aekit.cli import argtypes, inputs, model_folders, outputs
from aekit.cli.encode_cmd import add_rows_args, check_rows_args

SUFFIX = ".aekz"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm",
                  ".pgm")


def is_image_file(path: Path) -> bool:
    """Whether a positional names an image (the photo codec) rather than a model folder."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES and not Path(path).is_dir()


def refuse_row_options(args, what: str) -> None:
    """The options that select rows or a model's entropy data, refused in photo mode."""
    from aekit.errors import ConfigError

    given = [flag for flag, value in (("--data", args.data), ("--input", args.input),
                                      ("--fit-data", args.fit_data)) if value is not None]
    if given:
        raise ConfigError(f"{', '.join(given)} applies to a model's rows, not to {what}")


def register(sub) -> None:
    p = sub.add_parser("compress", help="compress rows to a bitstream (.aekz)",
                       description=__doc__,
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model_dir", type=Path, metavar="RUN|IMAGE",
                   help="an image file (" + ", ".join(IMAGE_SUFFIXES) + ") for the photo "
                        "codec, or a run folder (aekit train --out) or model folder")
    add_rows_args(p)
    add_quality_arg(p)
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help=f"the stream to write (a {SUFFIX} file)")
    add_fit_data_arg(p)
    outputs.add_force_arg(p)
    p.set_defaults(func=run)


def add_quality_arg(p) -> None:
    p.add_argument("--quality", type=argtypes.IntArg(1, 100), default=50, metavar="Q",
                   help="1..100: higher keeps more detail and costs more bits (quantisation "
                        "noise Q/2 dB below the signal the codes carry)")


def add_fit_data_arg(p) -> None:
    p.add_argument("--fit-data", default=None, metavar="NAME|PATH",
                   help="only for a model saved without an entropy model: the training data "
                        "(train split) to fit one from; give the same to decompress")


def fit_rows(args):
    """The --fit-data rows (train split), or None."""
    if args.fit_data is None:
        return None
    return inputs.load_data(args.fit_data, "train").X


def peak_of(X) -> float:
    """The PSNR peak: 1 for data in [0, 1] (images), else the data's range."""
    lo, hi = float(X.min()), float(X.max())
    return 1.0 if lo >= 0 and hi <= 1 else max(hi - lo, 1e-12)


def run(args) -> int:
    from aekit.applications import compression
    from aekit.cli.encode_cmd import input_rows
    from aekit.io.atomic import write_bytes_atomic
    from aekit.loading import as_fitted

    if is_image_file(args.model_dir):
        return run_photo(args)
    check_rows_args(args)
    outputs.check_output_file(args.out, suffixes=(SUFFIX,), force=args.force,
                             inputs=(args.input, args.data, args.fit_data))
    model, folder, run = model_folders.load_model(args.model_dir)
    X = input_rows(args, model, run)  # in the model's units: the run's scaling applied
    X_fit = fit_rows(args)
    data = compression.compress(model, X, args.quality, X_fit=X_fit)
    write_bytes_atomic(args.out, data)
    fitted = as_fitted(model)
    X_hat = fitted.decode(compression.quantise(fitted, X, args.quality, X_fit=X_fit))
    bpp = compression.bits_per_pixel(fitted, data)
    peak = peak_of(X)
    print(f"wrote {args.out}: {len(X)} rows in {len(data)} bytes "
          f"({compression.HEADER.size}-byte header), {bpp:.4f} bits per pixel; "
          f"PSNR {compression.psnr(X, X_hat, peak):.2f} dB (peak {peak:g}{scaled_note(run)}); "
          + ceiling_note(fitted, X, peak))
    return 0


def ceiling_note(fitted, X, peak: float) -> str:
    """The model's own reconstruction PSNR (unquantised codes): the ceiling no quality
    passes, which is why quality stops paying past some point."""
    from aekit.applications import compression

    ceiling = compression.psnr(X, fitted.reconstruct(X), peak)
    return (f"the model itself reconstructs at {ceiling:.2f} dB, the ceiling for any "
            "quality")


def scaled_note(run: dict) -> str:
    """PSNR is measured where the codec works, on the rows the model sees: say so when the
    run's scaling made those differ from the file's values."""
    scaler = inputs.run_scaler(run)
    return "" if scaler is None else f", on the rows scaled by the run's {scaler.rule}"


def run_photo(args) -> int:
    """compress IMAGE: the pretrained photo codec."""
    import numpy as np

    from aekit.applications import photo
    from aekit.io.atomic import write_bytes_atomic

    refuse_row_options(args, f"an image ({args.model_dir})")
    outputs.check_output_file(args.out, suffixes=(SUFFIX,), force=args.force,
                              inputs=(args.model_dir,))
    image = photo.read_image(args.model_dir)
    data = photo.compress(image, args.quality)
    write_bytes_atomic(args.out, data)
    decoded = photo.decompress(data)
    mse = float(np.mean((decoded.astype(np.float64) - image) ** 2))
    psnr = 10 * np.log10(255 ** 2 / mse) if mse > 0 else float("inf")
    h, w = image.shape[:2]
    print(f"wrote {args.out}: {w}x{h} {'grey' if image.ndim == 2 else 'colour'} image in "
          f"{len(data)} bytes ({8 * len(data) / (h * w):.3f} bits per pixel, quality "
          f"{args.quality}); PSNR {psnr:.2f} dB")
    return 0
