"""``aekit segment MODEL_DIR --data NAME|PATH --out masks.npy [--png overlay.png]``: the
per-pixel classes a segmentation model (``aekit train --model segmenter``) predicts for
every image, as one int64 array (n, H, W) (0: background); ``--png`` also draws the first
images with their predicted masks (and the true ones, when the data has masks)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from aekit.cli import argtypes, inputs, model_folders, outputs


def register(sub) -> None:
    p = sub.add_parser("segment", help="predict a class for every pixel (segmentation "
                       "models); write the masks (npy) and an overlay (png)",
                       description=__doc__,
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR",
                   help="a model folder, or a `aekit train` folder holding model/")
    inputs.add_data_args(p, split="test", help_text="images: scenes:NAME, a folder with "
                         "images/ and masks/, an image folder, or a .npy/.npz file")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.npy",
                   help="the predicted masks, int64 (n, H, W)")
    p.add_argument("--png", type=Path, default=None, metavar="FILE.png",
                   help="also draw images with their true (if known) and predicted masks")
    p.add_argument("--rows", type=argtypes.IntArg(1, 64), default=8, metavar="N",
                   help="images drawn in --png")
    outputs.add_force_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from aekit.errors import ConfigError
    from aekit.evaluation import segmentation_metrics
    from aekit.fitted import FittedSegmenter
    from aekit.loading import as_fitted
    from aekit.plotting import plot_segmentation

    outputs.check_output_file(args.out, suffixes=(".npy",), force=args.force,
                             inputs=(args.data,))
    if args.png is not None:
        outputs.check_output_file(args.png, "--png", suffixes=(".png",), force=args.force,
                                 inputs=(args.data, args.out))
    model, folder, run = model_folders.load_model(args.model_dir)
    # --scale / --label-column, or what the run recorded: refused where they do not apply
    ds = inputs.load_data(args.data, args.split, args.max_rows,
                          **inputs.data_options(args, run))
    fitted = as_fitted(model)
    if not isinstance(fitted, FittedSegmenter):
        raise ConfigError(f"{folder}: not a segmentation model (train one with aekit train "
                          "--model segmenter)")
    inputs.check_features(model, ds.X, f"--data {args.data}")
    pred = fitted.segment(ds.X)
    outputs.write_array(args.out, pred)
    h, w = pred.shape[1:]
    masks = ds.y if ds.y is not None and np.ndim(ds.y) == 3 else None
    k = fitted.n_classes
    print(f"wrote {args.out}: {len(pred)} masks of {h}x{w}, classes 0..{k - 1}")
    if masks is not None:
        m = segmentation_metrics(masks, pred, k)
        print(f"against the data's masks: global accuracy {m['global_accuracy']:.4f}, mean IoU "
              f"{m['miou']:.4f}")
    if args.png is not None:
        fig = plot_segmentation(fitted, ds.X[:args.rows],
                                None if masks is None else masks[:args.rows],
                                class_names=ds.classes)
        outputs.save_png(fig, args.png)
        print(f"wrote {args.png}")
    return 0
