"""``aekit export MODEL_DIR --format onnx --part PART --out model.onnx``: a trained model for
deployment.

--format onnx writes one part of the model as an ONNX file with a dynamic batch axis (the
input layout, output activation, score and --threshold in its metadata), after checking it
against PyTorch in onnxruntime (needs pip install 'aekit[onnx]'):
  autoencoder   x -> reconstruction, score (the per-row error --score; anomaly: score >
                threshold)
  encoder       x -> code (a VAE: mu, logvar)
  decoder       code -> reconstruction (not for decoder 'unpool': its indices come from
                the encoder)
  classifier    x -> logits, probabilities (a classifier's run)
--format folder writes the plain model folder (config.json + model.safetensors) that
aekit.load reads, without the run's report, metrics and checkpoints.
MODEL_DIR is a model folder or a train run folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aekit.cli import model_folders, outputs

FORMATS = ("onnx", "folder")
PARTS = ("autoencoder", "encoder", "decoder", "classifier", "segmenter")
SCORES = ("sse", "mse", "bce")


def register(sub) -> None:
    p = sub.add_parser("export", help="write a model as ONNX (or a plain model folder) for "
                       "deployment", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR")
    p.add_argument("--format", choices=FORMATS, default="onnx",
                   help="onnx: an ONNX file; folder: a plain aekit model folder (default: onnx)")
    p.add_argument("--part", choices=PARTS, default=None,
                   help="which graph to export (--format onnx; default: autoencoder, or "
                   "segmenter for a segmentation model)")
    p.add_argument("--score", choices=SCORES, default=None,
                   help="--part autoencoder: the graph's per-row error, sse (summed squared "
                        "error, minus score_samples; the default), mse or bce")
    p.add_argument("--threshold", type=_finite, default=None, metavar="X",
                   help="anomaly threshold on the score, stored in the metadata (a row is "
                        "an anomaly when score > X)")
    p.add_argument("--out", type=Path, required=True, metavar="PATH",
                   help="model.onnx (--format onnx) or a new folder (--format folder)")
    outputs.add_force_arg(p)
    p.set_defaults(func=run)


def _finite(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def run(args) -> int:
    from aekit.errors import ConfigError

    if args.format == "folder":
        if args.part is not None or args.threshold is not None or args.score is not None:
            raise ConfigError("--part, --score and --threshold apply to --format onnx")
        with outputs.output_folder_lock(args.out):  # one writer per folder
            outputs.check_output_dir(args.out)
            model, folder, _ = model_folders.load_model(args.model_dir)
            if Path(args.out).resolve() == folder.resolve():
                raise ConfigError(f"--out {args.out}: is the model folder being exported")
            model.save(args.out)
        written = ", ".join(sorted(p.name for p in Path(args.out).iterdir()))
        print(f"wrote {args.out}/: {written} (from {folder})")
        return 0
    from aekit.fitted.onnx import require_onnx

    require_onnx()  # before the model is read
    outputs.check_output_file(args.out, suffixes=(".onnx",), force=args.force)
    for flag, value in (("--threshold", args.threshold), ("--score", args.score)):
        if value is not None and args.part not in (None, "autoencoder"):
            raise ConfigError(f"{flag} applies to --part autoencoder (the graph with the "
                              f"score), not --part {args.part}")
    model, folder, _ = model_folders.load_model(args.model_dir)
    from aekit.loading import as_fitted

    fitted = as_fitted(model)
    args.part = args.part or fitted.onnx_part
    if args.part == "classifier" and not fitted.classifies:
        raise ConfigError(f"--part classifier: {folder} holds no classifier (train one with "
                          "--model classifier)")
    path = model.export_onnx(args.out, args.part, threshold=args.threshold,
                             score=args.score or "sse", force=args.force)
    print(f"wrote {path}: the {args.part} of {folder} (ONNX, batch axis dynamic)")
    return 0
