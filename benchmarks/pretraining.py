"""Does unsupervised pretraining help when labels are few? (real Fashion-MNIST)

Protocol (nothing is chosen by looking at the test set):

- The 60k training images are split once: the first 50k are the *pool*, the last 10k a
  fixed *validation* set. The autoencoder and PCA(30) are fitted once on the 50k pool
  images (labels unused) and reused for every labelled subset and seed.
- For each subset size (100 and 1000) and seed, a class-stratified labelled subset is
  drawn from the pool; the other 49,900 / 49,000 pool images are unlabelled.
- Three classifiers:
  ``AutoencoderClassifier`` (the pretrained network, a softmax head on standardised codes
  trained with the encoder frozen, then optionally fine-tuned end to end);
  ``scratch``: the same network (same architecture, same code standardisation, same
  supervised epoch budget) trained on the labelled images alone from random weights;
  ``pca30_logreg``: StandardScaler + LogisticRegression on PCA(30) codes.
- Each neural classifier has a few candidate recipes (``CANDIDATES`` / ``SCRATCH_LRS``).
  Every candidate is trained for every seed; per subset size, the candidate with the best
  mean accuracy on the validation set is chosen and its test accuracies are reported.
  All validation accuracies are written to the JSON too.

Linear probe: LogisticRegression trained on the 50k pool labels, on the 30-d codes of
the (denoising) ``StackedAutoencoder`` versus on PCA(30) codes, tested on the test set.

Run:  python benchmarks/pretraining.py [--out benchmarks/results] [--seeds 0 1 2 3 4]
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

POOL = 50_000  # training images [0, POOL) are the pool, [POOL, 60k) the validation set
HIDDEN = (256,)
CODE = 30
AE = dict(hidden_layer_sizes=HIDDEN, n_components=CODE, activation="relu",
          code_activation="linear")
PRETRAIN = dict(noise="mask", noise_level=0.2, learning_rate=1e-3, batch_size=256,
                lr_schedule=None, warmup_epochs=0.0)  # pinned: StackedAutoencoder's defaults changed
PRETRAIN_EPOCHS = 20
BUDGET = 100  # supervised epochs of every neural classifier (head + fine-tuning)
# AutoencoderClassifier recipes: (name, head epochs, fine-tuning epochs, fine-tuning lr).
CANDIDATES = [("frozen", BUDGET, 0, None), ("head70+ft30@3e-4", 70, 30, 3e-4),
              ("head30+ft70@3e-4", 30, 70, 3e-4), ("head30+ft70@1e-3", 30, 70, 1e-3)]
SCRATCH_LRS = [3e-4, 1e-3, 3e-3]


def stratified_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of n labelled rows, class-stratified, reproducible from ``seed``."""
    idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    return np.sort(idx)


def logreg(seed: int):
    """Standardised codes -> LogisticRegression (scaling makes lbfgs converge fast)."""
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))


def accuracy(model, X, y) -> float:
    return float(np.mean(model.predict(X) == y))


def mean_std(values) -> dict:
    return {"mean": float(np.mean(values)), "std": float(np.std(values)),
            "values": [float(v) for v in values]}


def run(seeds, sizes, pretrain_epochs) -> dict:
    train, test = (datasets.load("fashion-mnist", split=s) for s in ("train", "test"))
    X_all, y_all = np.asarray(train.X, np.float32), np.asarray(train.y)
    X, y = X_all[:POOL], y_all[:POOL]
    Xv, yv = X_all[POOL:], y_all[POOL:]
    Xt, yt = np.asarray(test.X, np.float32), np.asarray(test.y)
    results = {"settings": {
        "pool": f"training images 0..{POOL - 1} (autoencoder, PCA and labelled subsets)",
        "validation": f"training images {POOL}..59999 (recipe selection only)",
        "autoencoder": {**AE, **PRETRAIN, "hidden_layer_sizes": list(HIDDEN)},
        "pretrain_epochs": pretrain_epochs, "supervised_epochs": BUDGET,
        "candidates": [dict(zip(("name", "head_epochs", "finetune_epochs", "finetune_lr"), c))
                       for c in CANDIDATES],
        "scratch_learning_rates": SCRATCH_LRS, "seeds": list(seeds), "sizes": list(sizes),
        "pca": "PCA(30) fitted on the pool images (no labels)",
        "probe": "StandardScaler + LogisticRegression on the 50k pool labels",
        "torch_threads": torch.get_num_threads(), "machine": platform.platform()}}

    t0 = time.perf_counter()
    pca = PCA(CODE, random_state=0).fit(X)
    P, Pt = pca.transform(X), pca.transform(Xt)
    ae = StackedAutoencoder(epochs=pretrain_epochs, random_state=0, **AE, **PRETRAIN).fit(X)
    results["pretrain_seconds"] = time.perf_counter() - t0
    C, Ct = ae.transform(X), ae.transform(Xt)
    results["linear_probe"] = {
        "pca30": accuracy(logreg(0).fit(P, y), Pt, yt),
        "autoencoder30": accuracy(logreg(0).fit(C, y), Ct, yt),
        "pca30_test_mse": float(np.mean((pca.inverse_transform(Pt) - Xt) ** 2)),
        "autoencoder30_test_mse": float(np.mean((ae.inverse_transform(Ct) - Xt) ** 2)),
    }

    results["sizes"] = {}
    for n in sizes:
        runs = {}  # candidate name -> list over seeds of {"val", "test"}
        pca_test = []
        for seed in seeds:
            lab = stratified_subset(y, n, seed)
            y_semi = np.full_like(y, -1)
            y_semi[lab] = y[lab]
            for name, head, ft, ft_lr in CANDIDATES:
                # pseudo_labels=None: this benchmark compares pretraining with scratch on
                # the same labelled rows (benchmarks/defaults.py measures the defaults)
                clf = AutoencoderClassifier(method="pretrain", head_epochs=head,
                                            finetune_epochs=ft,
                                            finetune_learning_rate=ft_lr, random_state=seed,
                                            pseudo_labels=None,
                                            **AE).fit(X, y_semi, pretrained=ae)
                runs.setdefault(f"pretrained/{name}", []).append(
                    {"val": accuracy(clf, Xv, yv), "test": accuracy(clf, Xt, yt)})
            for lr in SCRATCH_LRS:
                # Same network, labels only, random weights, same epoch budget.
                clf = AutoencoderClassifier(method="pretrain", pretrain_epochs=0, head_epochs=0,
                                            finetune_epochs=BUDGET, finetune_learning_rate=lr,
                                            random_state=seed, **AE).fit(X[lab], y[lab])
                runs.setdefault(f"scratch/lr={lr:g}", []).append(
                    {"val": accuracy(clf, Xv, yv), "test": accuracy(clf, Xt, yt)})
            pca_test.append(accuracy(logreg(seed).fit(P[lab], y[lab]), Pt, yt))
        entry = {"validation": {k: mean_std([r["val"] for r in v]) for k, v in runs.items()},
                 "pca30_logreg": mean_std(pca_test)}
        for kind, key in (("pretrained/", "autoencoder_classifier"), ("scratch/", "scratch")):
            best = max((k for k in runs if k.startswith(kind)),
                       key=lambda k: entry["validation"][k]["mean"])
            entry[key] = {"recipe": best, **mean_std([r["test"] for r in runs[best]])}
        gain = np.subtract(entry["autoencoder_classifier"]["values"], entry["scratch"]["values"])
        entry["paired_gain_over_scratch"] = {**mean_std(gain), "wins": int((gain > 0).sum())}
        entry["floors"] = {
            "beats_scratch": entry["autoencoder_classifier"]["mean"] > entry["scratch"]["mean"],
            "beats_pca30_logreg": (entry["autoencoder_classifier"]["mean"]
                                   > entry["pca30_logreg"]["mean"])}
        results["sizes"][str(n)] = entry
    results["seconds"] = time.perf_counter() - t0
    return results


def markdown(results: dict) -> str:
    s = results["settings"]
    pm = lambda d: f"{d['mean']:.4f} ± {d['std']:.4f}"  # noqa: E731
    lines = [
        "# Pretraining benchmark (Fashion-MNIST, accuracy on the 10k test images)",
        "",
        "Written by `benchmarks/pretraining.py`. Autoencoder: dense 784-256-30 (ReLU, linear "
        f"code), denoising (mask 0.2), {s['pretrain_epochs']} epochs on the 50k pool images, "
        "fitted once and reused. Labelled subsets are class-stratified draws from the pool "
        f"(seeds {s['seeds']}); mean ± std over seeds. Neural classifiers get "
        f"{s['supervised_epochs']} supervised epochs; each one's recipe is chosen by mean "
        "accuracy on a fixed validation set (training images 50000-59999), never on the test "
        f"set. {s['pca']}.",
        "",
        "| labelled images | AutoencoderClassifier | same network from scratch "
        "| LogisticRegression on PCA(30) | gain over scratch, same seed (wins) | floors |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for n, e in results["sizes"].items():
        f = e["floors"]
        g = e["paired_gain_over_scratch"]
        ok = "pass" if f["beats_scratch"] and f["beats_pca30_logreg"] else "FAIL"
        lines.append(f"| {n} | {pm(e['autoencoder_classifier'])} | {pm(e['scratch'])} "
                     f"| {pm(e['pca30_logreg'])} | {pm(g)} ({g['wins']}/{len(g['values'])}) "
                     f"| {ok} (> scratch: {f['beats_scratch']}, "
                     f"> PCA: {f['beats_pca30_logreg']}) |")
    lines += ["", "Chosen recipes (validation accuracy, mean ± std over seeds, of every "
              "candidate):", ""]
    for n, e in results["sizes"].items():
        lines.append(f"- {n} labels: pretrained `{e['autoencoder_classifier']['recipe']}`, "
                     f"scratch `{e['scratch']['recipe']}`. Validation: " + ", ".join(
                         f"`{k}` {pm(v)}" for k, v in e["validation"].items()))
    p = results["linear_probe"]
    lines += [
        "",
        f"## Linear probe on 30-d codes ({s['probe']})",
        "",
        "| codes | probe accuracy | test reconstruction MSE per pixel |",
        "|---|---:|---:|",
        f"| PCA(30) | {p['pca30']:.4f} | {p['pca30_test_mse']:.5f} |",
        f"| StackedAutoencoder(30), denoising | {p['autoencoder30']:.4f} | "
        f"{p['autoencoder30_test_mse']:.5f} |",
        "",
        f"Total time {results['seconds']:.0f} s (pretraining {results['pretrain_seconds']:.0f}"
        f" s) on {s['torch_threads']} torch thread(s), shared CPU.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="benchmarks/results", help="output folder (%(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4],
                        help="subset seeds (%(default)s)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000],
                        help="labelled-subset sizes (%(default)s)")
    parser.add_argument("--pretrain-epochs", type=int, default=PRETRAIN_EPOCHS,
                        help="autoencoder epochs (%(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (%(default)s)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = run(args.seeds, args.sizes, args.pretrain_epochs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pretraining.json").write_text(json.dumps(results, indent=2))
    (out / "pretraining.md").write_text(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
