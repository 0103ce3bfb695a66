"""``aekit demo``: the main job on embedded data, in well under two minutes on 2 CPU cores.

Trains a stacked autoencoder on scikit-learn's 8x8 digits, prints its test reconstruction
error next to PCA's at the same code size, and writes figures (originals over
reconstructions with a PCA row; 2-D map of the codes coloured by label) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from aekit.cli import argtypes, outputs
from aekit.io.atomic import write_text_atomic

# Tuned for the 1.4k digits (100 short epochs); the estimator's own defaults suit big data.
# (ReLU without weight decay: 0.538 x PCA here, where the estimator's ELU + 'auto' decay
# gives 0.556 with these epochs.)
DEFAULTS = {"code_size": 8, "hidden": (128,), "epochs": 100, "batch_size": 64,
            "learning_rate": 3e-3, "warmup_epochs": 0.0, "activation": "relu",
            "weight_decay": 0.0}


def register(sub) -> None:
    p = sub.add_parser(
        "demo", help="train a stacked autoencoder on the embedded digits and compare with PCA",
        description="Train a stacked autoencoder on scikit-learn's embedded 8x8 digits, print "
                    "its test reconstruction error next to PCA's at the same code size, and "
                    "write figures (originals over reconstructions with a PCA row; 2-D map "
                    "of the codes coloured by label), metrics.json and the model to --out.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("aekit-demo"),
                   help="folder for the figures, metrics.json and the model")
    p.add_argument("--code-size", type=argtypes.IntArg(1), default=DEFAULTS["code_size"],
                   help="code size of the autoencoder and number of PCA components")
    p.add_argument("--epochs", type=argtypes.IntArg(1), default=DEFAULTS["epochs"],
                   help="training epochs")
    p.add_argument("--seed", type=argtypes.seed_arg(), default=0, help="random seed")
    p.set_defaults(func=run)


def run(args) -> int:
    with outputs.output_folder_lock(args.out):  # one writer per output folder
        return _run(args)


def _run(args) -> int:
    # Imports here keep `aekit --help` fast.
    from aekit.datasets import load
    from aekit.errors import ConfigError
    from aekit.estimators import StackedAutoencoder
    from aekit.evaluation import evaluate_reconstruction, fit_pca, pca_baseline
    from aekit.plotting import plot_code_map, plot_reconstructions, save_figure

    if args.code_size < 1 or args.epochs < 1:
        raise ConfigError("--code-size and --epochs must be >= 1")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a folder")
    train, test = load("digits", split="train"), load("digits", split="test")
    k = args.code_size
    print(f"digits: {len(train.X)} train / {len(test.X)} test images of 8x8, code size {k}")

    t0 = time.perf_counter()
    ae = StackedAutoencoder(
        n_components=k, hidden_layer_sizes=DEFAULTS["hidden"], code_activation="linear",
        epochs=args.epochs, batch_size=DEFAULTS["batch_size"],
        learning_rate=DEFAULTS["learning_rate"], lr_schedule="cosine",
        warmup_epochs=DEFAULTS["warmup_epochs"], activation=DEFAULTS["activation"],
        weight_decay=DEFAULTS["weight_decay"], random_state=args.seed,
    ).fit(train.X)
    seconds = time.perf_counter() - t0
    ae_metrics = evaluate_reconstruction(ae, test.X)
    pca_metrics = pca_baseline(train.X, test.X, k)

    rows = [("stacked autoencoder", ae_metrics), (pca_metrics["name"], pca_metrics)]
    print(f"\n{'model':<22}{'test MSE':>10}{'PSNR dB':>9}")
    for name, m in rows:
        print(f"{name:<22}{m['mse']:>10.5f}{m['psnr']:>9.2f}")
    ratio = ae_metrics["mse"] / pca_metrics["mse"]
    print(f"\nautoencoder / PCA error ratio: {ratio:.3f} (trained in {seconds:.1f} s)")

    out.mkdir(parents=True, exist_ok=True)
    save_figure(plot_reconstructions(ae, test.X, n=12, baseline=fit_pca(train.X, k),
                                     image_shape=train.image_shape),
                out / "reconstructions.png")
    save_figure(plot_code_map(ae, test.X, test.y, title="Test codes (t-SNE), coloured by digit"),
                out / "codes.png")
    ae.save(out / "model")
    write_text_atomic(out / "metrics.json", json.dumps(
        {"code_size": k, "autoencoder": ae_metrics, "pca": pca_metrics,
         "error_ratio": ratio, "train_seconds": seconds}, indent=2))
    print(f"wrote {out}/reconstructions.png, {out}/codes.png, {out}/metrics.json, {out}/model/")
    return 0
