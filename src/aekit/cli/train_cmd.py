"""aekit train: fit an estimator on a dataset and write the run folder.

DIR/ after a run:
  model/                 the fitted estimator (config.json, model.safetensors, history.json)
  config.resolved.json   every setting of the run (flags + config file + defaults)
  history.json           one record per epoch
  metrics.json           test metrics with PCA at the same code size beside them
  report/index.html      the HTML report (unless --no-report)
  checkpoints/           the last finished epoch (continue with --resume)

Every estimator keyword is a flag (below), and a TOML/YAML --config file may hold the
same keys plus model, data, split, max_rows, n_labelled; flags override the file.
Under torchrun (torchrun --nproc_per_node=2 -m aekit train ...) training is data
parallel and only rank 0 writes.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from aekit.cli import argtypes, inputs, options, outputs
from aekit.kinds import BY_NAME

log = logging.getLogger(__name__)

EXIT_INTERRUPTED = 130
MMAP_EVAL_ROWS = 10_000  # a streamed file's test rows read into memory for the metrics
REPORT_TRAIN_ROWS = 5000  # training rows used for probes/PCA in the report and metrics


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model; write the model folder, history, "
                       "metrics and an HTML report", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", metavar="MODEL",
                   help=f"one of {', '.join(options.MODEL_CLASSES)}")
    inputs.add_data_args(p, required=False, split=None)
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="run folder")
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="TOML (.toml) or YAML (.yaml) file with the same keys as the flags")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in DIR from its last checkpoint")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report")
    p.add_argument("--n-labelled", type=argtypes.IntArg(1), default=None, metavar="N",
                   help="classifier: keep the labels of N training rows (the rest are "
                   "unlabelled, -1); default all")
    p.add_argument("--progress", dest="param_verbose", action=argparse.BooleanOptionalAction,
                   default=argparse.SUPPRESS,
                   help="show a progress bar while training (the estimator's verbose); "
                   "default: on when stderr is a terminal or with -v, off otherwise")
    p.add_argument("--mmap", action="store_true", default=None,
                   help="stream a .npy --data from disk (memory-mapped, read a batch at a "
                   "time) instead of loading it: peak memory stays flat as the file grows")
    p.add_argument("--eval-rows", type=argtypes.IntArg(1), default=None, metavar="N",
                   help="test rows used for the metrics and the report (default: every "
                   f"test row, at most {MMAP_EVAL_ROWS} with --mmap), so 'test MSE' is the "
                   "number aekit evaluate prints for the same run and data")
    options.add_estimator_flags(p)
    # The name --n-threads took over (the estimator's n_threads); scripts keep working.
    p.add_argument("--threads", dest="param_n_threads", default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args) -> int:
    """One writer per run folder: the whole run, ``--resume`` too, holds the folder's lock
    (a second run on it fails at once; a killed run leaves no stale lock)."""
    with outputs.output_folder_lock(args.out), _thread_override(args):
        return _run(args)


@contextlib.contextmanager
def _thread_override(args):
    """``--n-threads N``: a fixed count for every call of this run (training, the metrics,
    the report), as an estimator's ``n_threads`` gives its own calls
    (:func:`aekit.training.threads.for_calls`). A value that is not a count is left to the
    parameter check, which names the flag."""
    from aekit.training import threads

    value = str(getattr(args, "param_n_threads", "")).strip()
    with threads.for_calls(int(value) if value.isdigit() and int(value) > 0 else None):
        yield


@dataclasses.dataclass
class _Run:
    """What one ``aekit train`` run has settled before training, passed to its phases."""

    args: argparse.Namespace
    resolved: dict
    est: object
    out: Path
    existed: bool  # the output folder was there before (a fresh run removes its own)
    main: bool  # this process writes the outputs (rank 0)
    ds: object
    X: object
    y: object
    fit_args: tuple
    eval_rows: int | None

    @property
    def kind(self):
        return BY_NAME[self.resolved["model"]]

    @property
    def ckpt(self) -> Path:
        return self.out / "checkpoints"


def _run(args) -> int:
    """Check everything, train, then write the model, metrics and report."""
    run = _prepare(args)
    seconds, stopped = _train(run)
    if stopped is not None:
        return stopped
    return _write_outputs(run, seconds) if run.main else 0


def _prepare(args) -> _Run:
    """Every flag, the data and the output folder checked, before any training."""
    from aekit.cli import is_verbose
    from aekit.errors import ConfigError, DataError
    from aekit.training import distributed

    # A progress bar when someone watches (stderr is a terminal) or asked for it (-v,
    # --verbose / --progress); --no-progress / --no-verbose turn it off.
    resolved = options.resolve_train_config(
        args, progress_default=is_verbose(args) or sys.stderr.isatty())
    est = options.build_estimator(resolved)
    if args.eval_rows is not None and args.eval_rows < 1:
        raise ConfigError("--eval-rows must be >= 1")
    out = Path(args.out)
    existed = out.exists()
    outputs.check_output_dir(out, allow_nonempty=args.resume)
    if existed and args.resume and not (out / outputs.RESOLVED_CONFIG).is_file():
        raise ConfigError(f"--out {out}: not an aekit train folder (no "
                          f"{outputs.RESOLVED_CONFIG}); nothing to resume")

    distributed.maybe_init_distributed(resolved["params"].get("device", "cpu"))
    mmap = resolved.get("mmap", False)
    kind = BY_NAME[resolved["model"]]
    if mmap and kind.target is not None:
        raise ConfigError(f"--mmap: the {resolved['model']} trains on labelled rows in "
                          "memory; leave --mmap out")
    ds = inputs.load_data(resolved["data"], resolved["split"], resolved["max_rows"],
                          scale=resolved.get("scale", "auto"),
                          label_column=resolved.get("label_column"), mmap=mmap)
    # X: what the estimator fits; a streamed Dataset with --mmap (never read whole)
    X, y = (ds if mmap else ds.X), ds.y
    eval_rows = args.eval_rows or (MMAP_EVAL_ROWS if mmap else None)
    _give_image_shape(est, resolved, ds)
    y = _check_data_fits_model(resolved, ds, y)
    inputs.check_rows_before_training(resolved, len(X), eval_rows=eval_rows or sys.maxsize,
                                      report=not args.no_report)
    if args.resume and (out / outputs.RESOLVED_CONFIG).is_file():
        _check_same_run(out, resolved)
    fit_args = ()
    if kind.target == "classes":
        if y is None:
            raise DataError(f"--data {resolved['data']}: the {kind.name} needs labels")
        fit_args = (_keep_labels(y, resolved["n_labelled"], resolved["params"]),)
    elif kind.target == "masks":
        fit_args = (_masks_of(ds, resolved["data"]),)
    return _Run(args, resolved, est, out, existed, distributed.is_main_process(), ds, X, y,
                fit_args, eval_rows)


def _train(run: _Run) -> tuple:
    """Fit (resuming from the checkpoint when asked). Returns (seconds, None), or (None,
    exit code) when Ctrl-C or SIGTERM stopped it. A failed fresh run leaves no folder;
    one that diverged keeps the best weights so far."""
    from aekit.cli import Terminated
    from aekit.errors import TrainingError
    from aekit.io.atomic import write_text_atomic

    out, main, ckpt = run.out, run.main, run.ckpt
    if run.args.resume and not ckpt.is_dir():
        print(f"aekit train: no checkpoint in {ckpt}; starting from scratch", file=sys.stderr)
    if main:
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / outputs.RESOLVED_CONFIG, outputs.to_json(run.resolved))
    t0 = time.perf_counter()
    try:
        run.est.fit(run.X, *run.fit_args, checkpoint_dir=ckpt, resume=run.args.resume)
    except (KeyboardInterrupt, Terminated) as exc:  # Ctrl-C, SIGTERM (see aekit.cli.main)
        return None, _stopped_in_training(exc, ckpt, out, fresh=main and not run.existed)
    except TrainingError as exc:  # diverged: train() restored the best weights so far
        if main and getattr(exc, "history", None) and _save_best(
                run.est, out / outputs.MODEL_SUBDIR):
            raise TrainingError(f"{exc} The best weights so far are saved in "
                                f"{out / outputs.MODEL_SUBDIR}.") from None
        if main and not run.existed:
            shutil.rmtree(out, ignore_errors=True)
        raise
    except BaseException:
        if main and not run.existed:  # no partial output from a failed fresh run
            shutil.rmtree(out, ignore_errors=True)
        raise
    return time.perf_counter() - t0, None


def _write_outputs(run: _Run, seconds: float) -> int:
    """The model, history, scaling, metrics and report, staged and moved in at once; an
    interruption or a full disk leaves the previous outputs and says how to finish."""
    from aekit.cli import Terminated
    from aekit.io.atomic import is_write_fault, write_failed

    args, resolved, est, ds, y, out = run.args, run.resolved, run.est, run.ds, run.y, run.out
    mmap = resolved.get("mmap", False)
    # The test split scaled by the training rows' fitted scaling (ds.scaler), as aekit
    # evaluate/encode/report apply it later from scaling.json.
    test = inputs.test_split_of(resolved["data"], resolved["split"],
                                scale=ds.scaler or "auto",
                                label_column=resolved.get("label_column"), mmap=mmap)
    held = (test if test is not None else ds).head(run.eval_rows, in_memory=True)
    X_eval, y_eval = held.X, (held.y if y is not None else None)
    n_held = len(test if test is not None else ds)
    rng = np.random.default_rng(0)
    sub = np.sort(rng.permutation(len(run.X))[:REPORT_TRAIN_ROWS])
    X_fit, y_fit = ds.batch(sub), (None if y is None else y[sub])
    evaluated_on = "test split" if test is not None else "training rows (no test split)"
    try:
        with outputs.staging_dir(out) as tmp:
            from aekit.training.checkpoint import pause_point_for_tests

            pause_point_for_tests("outputs")  # crash tests only (inert otherwise)
            with outputs.phase("train", "saving the model"):  # fits the code density
                est.save(tmp / outputs.MODEL_SUBDIR)
            (tmp / "history.json").write_text(outputs.to_json(est.history_))
            if ds.scaler is not None:
                (tmp / outputs.SCALING_FILE).write_text(outputs.to_json(ds.scaler.to_dict()))
            if ds.feature_names is not None:  # rows written back get the CSV's header
                (tmp / outputs.COLUMNS_FILE).write_text(outputs.to_json(ds.feature_names))
            metrics = _metrics_and_report(run, tmp, X_fit, y_fit, X_eval, y_eval,
                                          held.factors)
            if getattr(est, "solver_", None) == "svd":  # LinearAutoencoder's exact solve
                metrics["solver"] = "svd"
            metrics.update(train_seconds=seconds, epochs_trained=len(est.history_),
                           evaluated_on=evaluated_on, eval_rows=len(X_eval),
                           eval_rows_available=n_held)
            (tmp / "metrics.json").write_text(outputs.to_json(metrics))
            outputs.move_into(tmp, out)
    except (KeyboardInterrupt, Terminated) as exc:  # staging_dir removed what it held
        what, code = _stop_kind(exc)
        print(f"aekit train: {what} while writing outputs; training finished and the "
              f"checkpoint is in {run.ckpt}: rerun with --resume to write them",
              file=sys.stderr)
        return code
    except Exception as exc:  # a full disk: OSError, or safetensors' SafetensorError
        if not is_write_fault(exc):
            raise
        raise write_failed(out, exc, f"; training finished and the checkpoint is in "
                           f"{run.ckpt}: rerun with --resume to write the outputs") from None
    _print_summary(resolved, metrics, seconds, out, report=not args.no_report)
    return 0


def _metrics_and_report(run: _Run, tmp: Path, X_fit, y_fit, X_eval, y_eval,
                        factors=None) -> dict:
    """metrics.json's numbers, and the report into ``tmp/report`` unless --no-report."""
    from aekit.fitted import FittedClassifier

    est, resolved, ds, kind = run.est, run.resolved, run.ds, run.kind
    report_too = not run.args.no_report
    # a classifier's test accuracy, predicted once for the metrics and the report
    accuracy = (float(np.mean(est.predict(X_eval) == y_eval))
                if kind.target == "classes" and y_eval is not None else None)
    # a ladder's or M2's: the rows fit saw labelled, and the logistic regressions on them
    # that the accuracy must beat (the report's table; metrics.json with or without it)
    few_labels = isinstance(est.fitted_, FittedClassifier)
    labelled = _labelled_rows(run) if few_labels else None
    baselines = None
    if kind.target == "masks":
        metrics = _segmenter_outputs(est, tmp, X_eval, y_eval, ds, resolved,
                                     report=report_too)
    elif not report_too:
        with outputs.phase("train", f"metrics on {len(X_eval)} rows"):
            metrics = _metrics(est, X_fit, y_fit, X_eval, y_eval)
            if factors is not None:  # known factors: the report's disentanglement numbers
                from aekit import evaluation as ev
                from aekit.datasets.sprites import Sprites

                metrics["disentanglement"] = ev.disentanglement_metrics(
                    est, Sprites(X_eval.reshape(len(X_eval), *ds.image_shape), factors))
    else:
        from aekit.report import build_report

        with outputs.phase("train", f"metrics and report on {len(X_eval)} rows"):
            report = build_report(
                est, X_fit, X_eval, y_train=y_fit, y_test=y_eval,
                history=est.history_, config=resolved, image_shape=ds.image_shape,
                class_names=ds.classes, factors_test=factors, labelled=labelled,
                title=f"aekit train: {resolved['model']} on {resolved['data']}")
            if few_labels:  # its report has no reconstruction metrics: the same as without
                metrics = _metrics(est, X_fit, y_fit, X_eval, y_eval)
                baselines = report.results["baselines"]
            else:
                metrics = {"model": report.results["model"], "pca": report.results["pca"],
                           **({"disentanglement": report.results["disentanglement"]}
                              if "disentanglement" in report.results else {})}
                if accuracy is not None:
                    _classifier_section(est, report, accuracy)
            report.save(tmp / "report")
    if accuracy is not None:
        metrics["accuracy"] = accuracy
    if few_labels and accuracy is not None:
        if baselines is None:  # (no report computed them)
            from aekit.report.few_labels import logistic_baselines

            baselines = logistic_baselines(X_fit, *labelled, X_eval, y_eval,
                                           est.fitted_.code_size)
        metrics["baselines"] = baselines
    return metrics


# Options a resumed run may change: they do not alter what is computed (``epochs`` may
# grow unless a cosine schedule was planned over it, which the trainer refuses itself;
# ``log_dir`` only says where the TensorBoard events go).
RESUME_NEUTRAL = ("verbose", "epochs", "log_dir")


def _check_same_run(out: Path, resolved: dict) -> None:
    """``--resume`` continues the run recorded in OUT only with the same options and data
    selection; any difference is refused, each one named, before any training."""
    import json

    from aekit.errors import ConfigError
    from aekit.training.trainer import differences

    try:
        before = json.loads((out / outputs.RESOLVED_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--out {out}: {outputs.RESOLVED_CONFIG} is unreadable ({exc}); "
                          "cannot tell which run to resume") from None
    now = json.loads(outputs.to_json(resolved))  # the same JSON form as the file
    for d in (before, now):
        for key in RESUME_NEUTRAL:
            (d.get("params") or {}).pop(key, None)
    changed = differences(before, now)
    if changed:
        raise ConfigError(f"--resume: the run in {out} was made with other settings ("
                          + "; ".join(c.removeprefix("params.") for c in changed)
                          + "); resume with the original ones, or train into another --out")


def _check_data_fits_model(resolved: dict, ds, y):
    """Mismatches between --model and --data, refused before training (issue 28, class 6);
    returns the class labels the metrics may use (None for a segmentation set's masks,
    which are no per-row classes)."""
    from aekit.errors import ConfigError

    model, params, data = resolved["model"], resolved["params"], resolved["data"]
    kind = BY_NAME[model]
    masks = y is not None and np.ndim(y) == 3
    if kind.target == "classes" and masks:
        raise ConfigError(f"--model classifier needs one class label per row, but --data "
                          f"{data} has a mask per image (a segmentation set): train --model "
                          "segmenter on it, or an autoencoder")
    # A CSV is a table. (A flat .npy without a shape is laid out on a square, as the
    # estimators document: a 784-value row is a 28x28 image.)
    table = str(data).lower().endswith(".csv")
    if kind.is_convolutional(params) and table and params.get("image_shape") is None:
        raise ConfigError(
            f"--model {model}"
            f"{' --architecture conv' if kind.convolutional == 'architecture' else ''}"
            f" treats each row as an image, but --data {data} is a table (a CSV): "
            "a convolution's filters need neighbouring pixels, and a table's columns are not "
            "(on such data it trails PCA); use --model stacked, or give --image-shape H,W "
            "(or C,H,W) when each row is an image")
    if masks and kind.target != "masks":
        log.info("--data %s: its masks are not class labels; the metrics leave the label "
                 "probes out", data)
        return None
    return y


def _give_image_shape(est, resolved: dict, ds) -> None:
    """Image data (an RGB folder, IDX images) trains on its own shape: the estimator gets
    the dataset's (C, H, W) unless the user set image_shape; the resolved config records
    it, so it describes what ran."""
    params = est.get_params(deep=False)
    if "image_shape" in params and params["image_shape"] is None and ds.image_shape:
        shape = tuple(int(s) for s in ds.image_shape)
        est.set_params(image_shape=shape)
        resolved["params"]["image_shape"] = shape


def _save_best(est, path: Path) -> bool:
    """After divergence (some epochs done): save the module, which holds the best weights
    so far, as a model folder that ``aekit.load`` reads; False if that fails."""
    if getattr(est, "module_", None) is None:
        return False
    try:
        est.save(path)
    except Exception:  # noqa: BLE001 - the divergence error is the one to report
        return False
    return True


def _keep_labels(y, n_labelled, params) -> np.ndarray:
    """Labels of ``n_labelled`` rows (random, seeded by random_state), -1 elsewhere."""
    from aekit.errors import ConfigError

    y = np.asarray(y)
    if n_labelled is None or n_labelled >= len(y):
        return y
    if n_labelled < 1:
        raise ConfigError(f"--n-labelled must be >= 1, got {n_labelled}")
    seed = params.get("random_state")
    rng = np.random.default_rng(seed if isinstance(seed, int) else 0)
    keep = rng.permutation(len(y))[:n_labelled]
    out = np.full(len(y), -1, dtype=np.int64)
    out[keep] = y[keep]
    return out


def _labelled_rows(run: _Run) -> tuple:
    """(X, y) of the training rows fit saw labelled (the others are -1 in its y)."""
    from aekit.estimators.classifier import unlabelled_mask

    y = run.fit_args[0]
    keep = np.flatnonzero(~unlabelled_mask(y))
    return run.ds.batch(keep), y[keep]


def _metrics(est, X_fit, y_fit, X_eval, y_eval) -> dict:
    from aekit import evaluation as ev

    y_fit, y_eval = inputs.enough_labels(y_fit, y_eval)  # probes need two classes
    labelled = y_fit is not None
    kw = dict(X_train=X_fit, y_train=y_fit, y_test=y_eval) if labelled else {}
    model = ev.evaluate_model(est, X_eval, **kw)
    pca = ev.pca_baseline(X_fit, X_eval, model["code_size"], *((y_fit, y_eval) if labelled
                                                               else ()))
    return {"model": model, "pca": pca}


def _classifier_section(est, report, acc: float) -> None:
    report.section(
        "Classification",
        claim="Codes learned without labels make a good starting point for a classifier "
              "trained on few labels (pretraining, then fine-tuning).",
        measured=f"Test accuracy {acc:.3f} with {est.n_labelled_} labelled training rows.")


def _stop_kind(exc: BaseException) -> tuple[str, int]:
    """("interrupted", 130) for Ctrl-C, ("terminated", 143) for SIGTERM."""
    from aekit.cli import EXIT_TERMINATED, Terminated

    if isinstance(exc, Terminated):
        return "terminated", EXIT_TERMINATED
    return "interrupted", EXIT_INTERRUPTED


def _stopped_in_training(exc: BaseException, ckpt: Path, out: Path, *, fresh: bool) -> int:
    """Ctrl-C or SIGTERM during training: one line saying which epoch the checkpoint holds,
    or, before the first checkpoint, that there is none (a fresh run then leaves no
    folder, so the same command starts again)."""
    what, code = _stop_kind(exc)
    done = _checkpoint_epoch(ckpt)
    if done is None:
        if fresh:
            shutil.rmtree(out, ignore_errors=True)
        print(f"aekit train: {what} before the first checkpoint was written, so there is "
              "nothing to resume: rerun the same command to start again", file=sys.stderr)
    else:
        print(f"aekit train: {what} after {done}; the checkpoint is in {ckpt}: "
              "rerun the same command with --resume to continue", file=sys.stderr)
    return code


def _checkpoint_epoch(ckpt: Path) -> str | None:
    """How far the checkpoints got: "epoch N", or "epoch N of phase P" for a schedule
    (greedy pretraining checkpoints each phase in a sub-folder); None when there is no
    checkpoint file yet."""
    from aekit.training import load_checkpoint
    from aekit.training.checkpoint import CHECKPOINT_NAME

    found = [(ckpt / CHECKPOINT_NAME, "")]
    if ckpt.is_dir():
        found += [(d / CHECKPOINT_NAME, f" of phase {d.name}") for d in ckpt.iterdir()
                  if (d / CHECKPOINT_NAME).is_file()]
    found = [(f, phase) for f, phase in found if f.is_file()]
    if not found:
        return None
    latest, phase = max(found, key=lambda fp: fp[0].stat().st_mtime_ns)
    try:
        return f"epoch {int(load_checkpoint(latest)['epoch'])}{phase}"
    except Exception:  # noqa: BLE001 - only for the message: a file is there, keep it
        return f"the last finished epoch{phase}"


def _masks_of(ds, data: str) -> np.ndarray:
    """The training masks of a segmentation dataset (its y, (n, H, W))."""
    from aekit.errors import DataError

    if ds.y is None or np.ndim(ds.y) != 3:
        raise DataError(f"--data {data}: the segmenter needs per-pixel labels (masks): use "
                        "scenes:NAME (e.g. scenes:digits) or a folder holding images/ and "
                        "masks/ (PNG masks with the images' names)")
    return ds.y


def _segmenter_outputs(est, tmp, X_eval, y_eval, ds, resolved, *, report: bool) -> dict:
    """A segmenter's metrics (SegNet's, on the evaluation rows) and its report."""
    from aekit.evaluation import evaluate_segmenter

    if y_eval is None or np.ndim(y_eval) != 3:
        from aekit.errors import DataError

        raise DataError(f"--data {resolved['data']}: the evaluation rows have no masks")
    if not report:
        return {"model": evaluate_segmenter(est, X_eval, y_eval, ds.classes)}
    from aekit.report import build_report

    rep = build_report(est, X_eval, X_eval, y_test=y_eval, history=est.history_,
                       config=resolved, class_names=ds.classes,
                       title=f"aekit train: {resolved['model']} on {resolved['data']}")
    rep.save(tmp / "report")
    return {"model": rep.results["model"]}


def _print_summary(resolved, metrics, seconds, out, *, report: bool) -> None:
    from aekit.evaluation import SEGMENTATION_LABELS, comparison_rows

    if "pca" not in metrics:  # a segmenter: SegNet's metrics, no PCA beside
        m = metrics["model"]
        print(f"{resolved['model']} on {resolved['data']}: {metrics['epochs_trained']} epochs "
              f"in {seconds:.1f} s; metrics on the {metrics['evaluated_on']} "
              f"({metrics['eval_rows']} images)")
        print(outputs.format_table(["metric", "value"], [[label, f"{m[k]:.4f}"] for k, label
                                                        in SEGMENTATION_LABELS.items()]))
        written = ["model/", "config.resolved.json", "history.json", "metrics.json",
                   *(["report/index.html"] if report else [])]
        print(f"wrote {out}/: " + ", ".join(written))
        return
    header, rows = comparison_rows(metrics["model"], metrics["pca"],
                                   keys=[k for k in ("code_size", "mse", "psnr", "knn", "elbo", "perplexity")
                                         if k in metrics["model"]])
    n, of = metrics["eval_rows"], metrics.get("eval_rows_available", metrics["eval_rows"])
    trained = ("solved exactly (solver 'svd')" if metrics.get("solver") == "svd"
               else f"{metrics['epochs_trained']} epochs")
    print(f"{resolved['model']} on {resolved['data']}: {trained} in "
          f"{seconds:.1f} s; metrics on the {metrics['evaluated_on']} "
          f"({f'all {n}' if n == of else f'{n} of {of}'} rows)")
    print(outputs.format_table([header[0], *header[2:]], [[r[0], *r[2:]] for r in rows]))
    if "accuracy" in metrics:
        print(f"classification accuracy: {metrics['accuracy']:.3f}")
    if metrics.get("baselines"):
        b = metrics["baselines"]
        print(f"logistic regression on the {b['labelled']} labelled rows: raw inputs "
              f"{b['logreg_raw']:.3f}, PCA codes {b['logreg_pca']:.3f}")
    written = ["model/", "config.resolved.json", "history.json", "metrics.json"]
    for name in (outputs.SCALING_FILE, outputs.COLUMNS_FILE):
        if (Path(out) / name).is_file():
            written.append(name)
    if report:
        written.append("report/index.html")
    print(f"wrote {out}/: " + ", ".join(written))
