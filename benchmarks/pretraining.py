"""Does unsupervised pretraining help when labels are few? (real Fashion-MNIST)

For each labelled-subset size (100 and 1000 training images, stratified, seeded; the other
training images are unlabelled) three classifiers are compared on the 10k test images:

- ``AutoencoderClassifier``: autoencoder pretrained on all 60k training images (labels
  unused), then a softmax head trained on the labelled rows with the encoder frozen, then
  fine-tuned end to end;
- ``scratch``: the same network (encoder + softmax head) trained on the labelled rows
  alone, with the same number of supervised epochs (``pretrain_epochs=0``);
- ``pca30_logreg``: LogisticRegression on PCA(30) codes of the labelled images. PCA is
  fitted on all 60k training images (unsupervised, like the autoencoder's pretraining).

Every LogisticRegression sees standardised codes (StandardScaler first).

Linear probe: LogisticRegression trained on all 60k training labels, on the 30-d codes of
a plain ``StackedAutoencoder`` versus on PCA(30) codes.

Run:  python benchmarks/pretraining.py [--out benchmarks/results] [--seeds 0 1]
Writes ``pretraining.json`` and ``pretraining.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from aekit import datasets
from aekit.estimators import AutoencoderClassifier, StackedAutoencoder

HIDDEN = (256,)
CODE = 30
AE = dict(hidden_layer_sizes=HIDDEN, n_components=CODE, activation="relu",
          code_activation="linear", noise="mask", noise_level=0.2, learning_rate=1e-3,
          batch_size=256)
PRETRAIN_EPOCHS = 15
HEAD_EPOCHS, FINETUNE_EPOCHS = 20, 40
FINETUNE_LR = 1e-3  # the scratch network trains at this rate too


def stratified_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of n labelled rows, class-stratified, reproducible from ``seed``."""
    idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    return np.sort(idx)


def logreg(seed: int):
    """Standardised codes -> LogisticRegression (scaling makes lbfgs converge fast)."""
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))


def accuracy(model, X, y) -> float:
    return float(np.mean(model.predict(X) == y))


def run(seeds, sizes, pretrain_epochs) -> dict:
    train, test = (datasets.load("fashion-mnist", split=s) for s in ("train", "test"))
    X, y = np.asarray(train.X, np.float32), np.asarray(train.y)
    Xt, yt = np.asarray(test.X, np.float32), np.asarray(test.y)
    results = {"semi_supervised": [], "linear_probe": {}, "settings": {
        "autoencoder": {**AE, "hidden_layer_sizes": list(HIDDEN)},
        "pretrain_epochs": pretrain_epochs, "head_epochs": HEAD_EPOCHS,
        "finetune_epochs": FINETUNE_EPOCHS, "finetune_learning_rate": FINETUNE_LR, "seeds": list(seeds), "sizes": list(sizes),
        "pca": "PCA(30) fitted on all 60k training images (no labels)",
        "probe": "LogisticRegression on all 60k training labels",
        "torch_threads": torch.get_num_threads(), "machine": platform.platform()}}

    t0 = time.perf_counter()
    pca = PCA(CODE, random_state=0).fit(X)
    P, Pt = pca.transform(X), pca.transform(Xt)

    ae = StackedAutoencoder(epochs=pretrain_epochs, random_state=0, **AE).fit(X)
    C, Ct = ae.transform(X), ae.transform(Xt)
    results["linear_probe"] = {
        "pca30": accuracy(logreg(0).fit(P, y), Pt, yt),
        "autoencoder30": accuracy(logreg(0).fit(C, y), Ct, yt),
        "pca30_test_mse": float(np.mean((pca.inverse_transform(Pt) - Xt) ** 2)),
        "autoencoder30_test_mse": float(np.mean((ae.inverse_transform(Ct) - Xt) ** 2)),
    }

    for seed in seeds:
        for n in sizes:
            lab = stratified_subset(y, n, seed)
            y_semi = np.full_like(y, -1)
            y_semi[lab] = y[lab]
            row = {"n_labelled": n, "seed": seed}
            t = time.perf_counter()
            pre = AutoencoderClassifier(pretrain_epochs=pretrain_epochs, head_epochs=HEAD_EPOCHS,
                                        finetune_epochs=FINETUNE_EPOCHS,
                                        finetune_learning_rate=FINETUNE_LR, random_state=seed, **AE)
            row["autoencoder_classifier"] = accuracy(pre.fit(X, y_semi), Xt, yt)
            row["autoencoder_classifier_seconds"] = time.perf_counter() - t
            # Same network, labels only: same supervised epoch budget, full learning rate.
            scratch = AutoencoderClassifier(pretrain_epochs=0, head_epochs=0,
                                            finetune_epochs=HEAD_EPOCHS + FINETUNE_EPOCHS,
                                            finetune_learning_rate=FINETUNE_LR,
                                            random_state=seed, **AE)
            row["scratch"] = accuracy(scratch.fit(X[lab], y[lab]), Xt, yt)
            row["pca30_logreg"] = accuracy(logreg(seed).fit(P[lab], y[lab]), Pt, yt)
            results["semi_supervised"].append(row)
    results["seconds"] = time.perf_counter() - t0
    return results


def markdown(results: dict) -> str:
    s = results["settings"]
    lines = [
        "# Pretraining benchmark (Fashion-MNIST, test accuracy on 10k images)",
        "",
        "Written by `benchmarks/pretraining.py`. Autoencoder: dense 784-256-30, denoising "
        f"(mask 0.2), {s['pretrain_epochs']} pretraining epochs on all 60k training images; "
        f"head {s['head_epochs']} epochs (encoder frozen) + {s['finetune_epochs']} fine-tuning "
        "epochs on the labelled images. Scratch: same network, labels only, "
        f"{s['head_epochs'] + s['finetune_epochs']} epochs. {s['pca']}.",
        "",
        "| labelled images | seed | AutoencoderClassifier | same network from scratch "
        "| LogisticRegression on PCA(30) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in results["semi_supervised"]:
        lines.append(f"| {r['n_labelled']} | {r['seed']} | {r['autoencoder_classifier']:.4f} "
                     f"| {r['scratch']:.4f} | {r['pca30_logreg']:.4f} |")
    p = results["linear_probe"]
    lines += [
        "",
        f"## Linear probe on 30-d codes ({s['probe']})",
        "",
        "| codes | probe accuracy | test reconstruction MSE per pixel |",
        "|---|---:|---:|",
        f"| PCA(30) | {p['pca30']:.4f} | {p['pca30_test_mse']:.5f} |",
        f"| StackedAutoencoder(30) | {p['autoencoder30']:.4f} | "
        f"{p['autoencoder30_test_mse']:.5f} |",
        "",
        f"Total time {results['seconds']:.0f} s on {s['torch_threads']} torch threads.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="benchmarks/results", help="output folder (%(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="subset seeds (%(default)s)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000],
                        help="labelled-subset sizes (%(default)s)")
    parser.add_argument("--pretrain-epochs", type=int, default=PRETRAIN_EPOCHS,
                        help="autoencoder epochs (%(default)s)")
    args = parser.parse_args(argv)
    results = run(args.seeds, args.sizes, args.pretrain_epochs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pretraining.json").write_text(json.dumps(results, indent=2))
    (out / "pretraining.md").write_text(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
