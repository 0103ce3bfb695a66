"""``aekit report MODEL_DIR --data ... --out report_dir``: the standard HTML report of a saved
model (metrics with PCA beside, reconstructions, codes, generation, denoising, anomalies)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from aekit.cli import argtypes, inputs, model_folders, outputs


def register(sub) -> None:
    p = sub.add_parser("report", help="HTML report of a saved model", description=__doc__,
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR")
    inputs.add_data_args(p, split="test", help_text="evaluation data (name or path); the "
                         "training split of the same source fits PCA and the probes")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="report folder (index.html + figures/)")
    p.add_argument("--self-contained", action="store_true",
                   help="write one HTML file with inlined images instead (--out FILE.html)")
    p.add_argument("--fit-rows", type=argtypes.IntArg(2), default=5000, metavar="N",
                   help="training rows used to fit PCA and the probes")
    p.add_argument("--eval-rows", type=argtypes.IntArg(3), default=2000, metavar="N",
                   help="evaluation rows shown and scored in the report")
    outputs.add_force_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    """Folder mode holds the report folder's lock for the whole run (one writer)."""
    if args.self_contained:
        return _run(args)
    with outputs.output_folder_lock(args.out):
        return _run(args)


def _run(args) -> int:
    from aekit.fitted.files import read_history
    from aekit.report import build_report

    if args.self_contained:
        outputs.check_output_file(args.out, suffixes=(".html",), force=args.force,
                                 inputs=(args.data,))
    else:
        outputs.check_output_dir(args.out, allow_nonempty=(Path(args.out) / ".aekit-report")
                                .exists())
    model, folder, run_cfg = model_folders.load_model(args.model_dir)
    options = inputs.data_options(args, run_cfg)  # the run's fitted scaling, label column
    ds = inputs.load_data(args.data, args.split, args.max_rows, **options)
    inputs.check_features(model, ds.X, f"--data {args.data}")
    fit = inputs.load_data(args.data, "train", None, **options) if args.split == "test" else ds
    _check_rows(args, len(fit.X), min(len(ds.X), args.eval_rows))
    idx = np.sort(np.random.default_rng(0).permutation(len(fit.X))[:args.fit_rows])
    X_test, y_test = ds.X[:args.eval_rows], None if ds.y is None else ds.y[:args.eval_rows]
    y_fit = None if fit.y is None or y_test is None else fit.y[idx]
    with outputs.phase("report", f"metrics, figures and map on {len(X_test)} rows"):
        report = build_report(model, fit.X[idx], X_test, y_train=y_fit,
                              y_test=y_test if y_fit is not None else None,
                              history=read_history(folder), config=run_cfg or None,
                              image_shape=ds.image_shape, class_names=ds.classes,
                              title=f"aekit report: {folder}", subtitle=f"data: {args.data}")
        page = report.save(args.out, self_contained=args.self_contained)
    print(f"wrote {page}")
    return 0


def _check_rows(args, n_fit: int, n_eval: int) -> None:
    """The report's row needs, checked before any figure is made (one line naming the
    option or the data)."""
    from aekit.errors import DataError
    from aekit.report.build import MIN_TEST_ROWS, MIN_TRAIN_ROWS

    if n_fit < MIN_TRAIN_ROWS:
        raise DataError(f"--data {args.data}: {n_fit} training row(s); the report fits PCA "
                        f"beside the model on them and needs at least {MIN_TRAIN_ROWS}")
    if n_eval < MIN_TEST_ROWS:
        raise DataError(f"--data {args.data} --split {args.split}: {n_eval} evaluation "
                        f"row(s); the report needs at least {MIN_TEST_ROWS}")
