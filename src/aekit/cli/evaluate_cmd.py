"""``aekit evaluate MODEL_DIR --data ...``: test metrics of a saved model with PCA at the
same code size beside them (PCA is fitted on the data's training split)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from aekit.cli import argtypes, inputs, model_folders, outputs


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="metrics of a saved model, with PCA beside",
                       description=__doc__,
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR",
                   help="a model folder, or a `aekit train` folder holding model/")
    inputs.add_data_args(p, split="test")
    p.add_argument("--fit-rows", type=argtypes.IntArg(2), default=5000, metavar="N",
                   help="training rows used to fit PCA and the linear/kNN probes")
    p.add_argument("--iw-samples", type=argtypes.IntArg(1, 100000), default=100, metavar="K",
                   help="VAE: importance samples for log p(x)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE.json",
                   help="also write the metrics as JSON")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    outputs.add_force_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from aekit import evaluation as ev
    from aekit.errors import ConfigError, DataError
    from aekit.fitted import FittedSegmenter
    from aekit.loading import as_fitted

    if args.out is not None:
        outputs.check_output_file(args.out, suffixes=(".json",), force=args.force,
                                 inputs=(args.data,))
    if args.fit_rows < 2 or args.iw_samples < 1:
        raise ConfigError("--fit-rows must be >= 2 and --iw-samples >= 1")
    model, folder, run = model_folders.load_model(args.model_dir)
    options = inputs.data_options(args, run)  # the run's fitted scaling, label column
    ds = inputs.load_data(args.data, args.split, args.max_rows, **options)
    inputs.check_features(model, ds.X, f"--data {args.data}")
    if isinstance(as_fitted(model), FittedSegmenter):
        return _segmenter(args, model, folder, ds)
    fit = inputs.load_data(args.data, "train", None, **options) if args.split == "test" else ds
    if len(fit.X) < 2:
        raise DataError(f"--data {args.data}: {len(fit.X)} training row(s); PCA, fitted "
                        "beside the model, needs at least 2")
    rng = np.random.default_rng(0)
    idx = np.sort(rng.permutation(len(fit.X))[:args.fit_rows])
    X_fit, y_fit = fit.X[idx], None if fit.y is None else fit.y[idx]
    labelled = inputs.enough_labels(y_fit, ds.y)[0] is not None  # probes: two classes
    with outputs.phase("evaluate", f"metrics on {len(ds.X)} rows, PCA beside"):
        metrics = ev.evaluate_model(model, ds.X, X_train=X_fit if labelled else None,
                                    y_train=y_fit, y_test=ds.y if labelled else None,
                                    iw_samples=args.iw_samples)
        pca = ev.pca_baseline(X_fit, ds.X, metrics["code_size"],
                              *((y_fit, ds.y) if labelled else ()))
    out = {"model_dir": str(folder), "data": args.data, "split": args.split,
           "rows": len(ds.X), "model": metrics, "pca": pca}
    fitted = as_fitted(model)
    if fitted.classifies and ds.y is not None:  # a classifier's
        predicted = np.asarray(fitted.classes)[fitted.classify(ds.X).argmax(axis=1)]
        out["accuracy"] = float(np.mean(predicted == ds.y))
    if ds.factors is not None:  # known factors (sprites): how the codes follow them
        from aekit.datasets.sprites import Sprites

        with outputs.phase("evaluate", f"disentanglement on {len(ds.X)} rows"):
            out["disentanglement"] = ev.disentanglement_metrics(
                model, Sprites(ds.X.reshape(len(ds.X), *ds.image_shape), ds.factors))
    if args.json:
        print(outputs.to_json(out))
    else:
        header, rows = ev.comparison_rows(metrics, pca)
        print(f"{folder} on {args.data} ({args.split}, {len(ds.X)} rows)")
        print(outputs.format_table(header, rows))
        if "accuracy" in out:
            print(f"classification accuracy: {out['accuracy']:.4f}")
        if "disentanglement" in out:
            m = out["disentanglement"]
            print(f"disentanglement (known factors): MIG {m['mig']:.4f}, FactorVAE score "
                  f"{m['factor_vae']:.4f}, DCI {m['disentanglement']:.4f} / "
                  f"{m['completeness']:.4f} / {m['informativeness']:.4f}")
    if args.out is not None:
        from aekit.io.atomic import write_text_atomic

        write_text_atomic(args.out, outputs.to_json(out))
    return 0


def _segmenter(args, model, folder, ds) -> int:
    """A segmentation model: SegNet's metrics against the data's masks (no PCA)."""
    from aekit import evaluation as ev
    from aekit.errors import DataError

    if ds.y is None or np.ndim(ds.y) != 3:
        raise DataError(f"--data {args.data}: a segmentation model is evaluated against "
                        "masks: use scenes:NAME or a folder holding images/ and masks/")
    metrics = ev.evaluate_segmenter(model, ds.X, ds.y, ds.classes)
    out = {"model_dir": str(folder), "data": args.data, "split": args.split,
           "rows": len(ds.X), "model": metrics}
    if args.json:
        print(outputs.to_json(out))
    else:
        print(f"{folder} on {args.data} ({args.split}, {len(ds.X)} images)")
        print(outputs.format_table(["metric", "value"], [
            [label, f"{metrics[k]:.4f}"] for k, label in ev.SEGMENTATION_LABELS.items()]))
        names = metrics.get("class_names") or [f"class {i}" for i in range(len(metrics["iou"]))]
        print(outputs.format_table(["class", "IoU"], [
            [n, "-" if v is None else f"{v:.4f}"] for n, v in zip(names, metrics["iou"])]))
    if args.out is not None:
        from aekit.io.atomic import write_text_atomic

        write_text_atomic(args.out, outputs.to_json(out))
    return 0
