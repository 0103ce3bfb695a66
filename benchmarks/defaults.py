"""Are the estimators' defaults good on anyone's data? (issue 13)

Every estimator is built with its default constructor (only ``random_state`` is set: no
recipe is pinned) and fitted on four data sets:

- ``digits``: scikit-learn's 8x8 digits, values in [0, 1] (aekit's train/test split);
- ``fashion-mnist``: the first ``--fm-train`` training and ``--fm-test`` test images
  (a subset: the CPU budget), values in [0, 1];
- ``breast-cancer`` and ``wine``: scikit-learn's bundled tables, a stratified 70/30 split
  (seed 0), standardised with the training rows' means and standard deviations.

Reported per data set (means over ``--seeds``; fewer for the slow conv model on
Fashion-MNIST, as the table says):

- test reconstruction MSE (mean over values) of each autoencoder against PCA with the same
  code size (``n_components_``), fitted on the same training rows;
- one-class AUROC: fitted on the training rows of one class, the test rows scored with
  ``score_samples`` (anomalies: the other classes), the mean over the first three classes;
  PCA's reconstruction error beside it;
- few-label accuracy: ``AutoencoderClassifier()`` fitted on every training row with all but
  a class-stratified draw of labels hidden (y = -1), against ``LogisticRegression`` on the
  raw inputs and on PCA codes of the same size, both fitted on the labelled rows;
- greedy layer-wise pretraining (``pretraining='greedy'``) against end-to-end training,
  test MSE ratio, on the image sets.

Floors (issue 13): the classifier beats both logistic regressions by >= 5 accuracy points
at 100 labels on Fashion-MNIST and 50 labels on digits; every dense estimator's test MSE is
below PCA's on every data set (the linear autoencoder *is* PCA at its optimum, which its
default solver computes exactly: its floor is <= 1.001 x PCA, a tie); greedy within 10% of
end to end on digits and Fashion-MNIST.

The defaults were chosen on validation splits of the training rows (never on these test
rows); this script only reports. Run:

    python benchmarks/defaults.py [--seeds 0 1 2 3 4] [--fm-train 20000] [--quick]

Writes ``defaults.json`` and ``defaults.md`` into ``--out`` (benchmarks/results).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from aekit import datasets
from aekit.estimators import (
    AutoencoderClassifier, ConvAutoencoder, LinearAutoencoder, StackedAutoencoder,
    VariationalAutoencoder,
)
from aekit.estimators.base import auto_code_size

DENSE = {"linear": LinearAutoencoder, "stacked": StackedAutoencoder,
         "vae": VariationalAutoencoder}
LABELS = {"digits": 50, "fashion-mnist": 100, "breast-cancer": 20, "wine": 15}
FLOOR_LABELS = ("digits", "fashion-mnist")  # where the issue sets the classifier floor
IMAGES = ("digits", "fashion-mnist")
ACCURACY_MARGIN = 0.05
GREEDY_RATIO = 1.10
LINEAR_RATIO = 1.001  # the linear AE's optimum is PCA's subspace: it can only tie


def load_sets(fm_train: int, fm_test: int, quick: bool) -> dict:
    """name -> (X_train, y_train, X_test, y_test), float32."""
    out = {}
    digits_tr, digits_te = datasets.load("digits", split="train"), datasets.load("digits", split="test")
    out["digits"] = (digits_tr.X, digits_tr.y, digits_te.X, digits_te.y)
    try:
        fm_tr = datasets.load("fashion-mnist", split="train", download=False)
        fm_te = datasets.load("fashion-mnist", split="test", download=False)
        out["fashion-mnist"] = (fm_tr.X[:fm_train], fm_tr.y[:fm_train], fm_te.X[:fm_test],
                                fm_te.y[:fm_test])
    except Exception as exc:  # noqa: BLE001 - reported, the other sets still run
        print(f"fashion-mnist skipped: {exc}")
    for name, loader in (("breast-cancer", load_breast_cancer), ("wine", load_wine)):
        X, y = loader(return_X_y=True)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
        scaler = StandardScaler().fit(Xtr)
        out[name] = (scaler.transform(Xtr).astype(np.float32), ytr,
                     scaler.transform(Xte).astype(np.float32), yte)
    if quick:  # a smoke run: few rows
        out = {k: (a[:300], b[:300], c[:100], d[:100]) for k, (a, b, c, d) in out.items()}
    return out


def mse(A, B) -> float:
    return float(np.mean((np.asarray(A, np.float64) - np.asarray(B, np.float64)) ** 2))


def pca_mse(Xtr, Xte, k) -> float:
    p = PCA(k).fit(Xtr)
    return mse(p.inverse_transform(p.transform(Xte)), Xte)


def summary(values) -> dict:
    return {"mean": float(np.mean(values)), "std": float(np.std(values)),
            "values": [float(v) for v in values]}


def reconstruction(name, data, seeds, conv_seeds) -> dict:
    Xtr, _, Xte, _ = data
    rows = {}
    models = dict(DENSE)
    if name in IMAGES:
        models["conv"] = ConvAutoencoder
    for model, cls in models.items():
        ratios, errors, pcas, secs, ks = [], [], [], [], []
        for seed in (conv_seeds if model == "conv" else seeds):
            t = time.perf_counter()
            est = cls(random_state=seed).fit(Xtr)
            secs.append(time.perf_counter() - t)
            k = int(est.n_components_)
            errors.append(mse(est.reconstruct(Xte), Xte))
            pcas.append(pca_mse(Xtr, Xte, min(k, *Xtr.shape)))
            ratios.append(errors[-1] / pcas[-1])
            ks.append(k)
        rows[model] = {"code_size": ks[0], "test_mse": summary(errors),
                       "pca_mse": summary(pcas), "ratio": summary(ratios),
                       "fit_seconds": summary(secs), "seeds": len(errors),
                       "epochs": ("solved (svd)" if getattr(est, "solver_", None) == "svd"
                                  else int(est.epochs_))}
        print(f"  {name:14s} {model:8s} k={ks[0]:3d} MSE {np.mean(errors):.5f} "
              f"PCA {np.mean(pcas):.5f} ratio {np.mean(ratios):.3f} "
              f"({np.mean(secs):.1f} s/fit)", flush=True)
    return rows


def one_class(name, data) -> dict:
    Xtr, ytr, Xte, yte = data
    out = {}
    classes = np.unique(ytr)[:3]
    for model in ("linear", "stacked", "vae", "pca"):
        aucs = []
        for c in classes:
            normal = Xtr[ytr == c]
            anomalous = (yte != c).astype(int)
            if model == "pca":
                p = PCA(min(auto_code_size(Xtr.shape[1]), *normal.shape)).fit(normal)
                score = ((p.inverse_transform(p.transform(Xte)) - Xte) ** 2).sum(axis=1)
            else:
                est = DENSE[model](random_state=0).fit(normal)
                score = -est.score_samples(Xte)
            aucs.append(roc_auc_score(anomalous, score))
        out[model] = summary(aucs)
    print(f"  {name:14s} one-class AUROC " + ", ".join(
        f"{m} {v['mean']:.3f}" for m, v in out.items()), flush=True)
    return out


def few_labels(name, data, seeds) -> dict:
    Xtr, ytr, Xte, yte = data
    n = LABELS[name]
    res = {"classifier": [], "logreg_raw": [], "logreg_pca": [], "seconds": []}
    for seed in seeds:
        idx, _ = train_test_split(np.arange(len(ytr)), train_size=n, stratify=ytr,
                                  random_state=seed)
        y = np.full(len(ytr), -1, dtype=np.int64)
        y[idx] = ytr[idx]
        t = time.perf_counter()
        clf = AutoencoderClassifier(random_state=seed).fit(Xtr, y)
        res["seconds"].append(time.perf_counter() - t)
        res["classifier"].append(float(np.mean(clf.predict(Xte) == yte)))
        raw = LogisticRegression(max_iter=5000).fit(Xtr[idx], ytr[idx])
        res["logreg_raw"].append(float(np.mean(raw.predict(Xte) == yte)))
        k = int(clf.n_components_)
        pca = PCA(min(k, *Xtr.shape)).fit(Xtr)  # unsupervised: fitted on every row, as the AE
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        probe.fit(pca.transform(Xtr[idx]), ytr[idx])
        res["logreg_pca"].append(float(np.mean(probe.predict(pca.transform(Xte)) == yte)))
    out = {k: summary(v) for k, v in res.items()}
    out["labels"] = n
    out["gain"] = out["classifier"]["mean"] - max(out["logreg_raw"]["mean"],
                                                  out["logreg_pca"]["mean"])
    print(f"  {name:14s} {n} labels: classifier {out['classifier']['mean']:.4f}, LogReg raw "
          f"{out['logreg_raw']['mean']:.4f}, LogReg PCA {out['logreg_pca']['mean']:.4f}",
          flush=True)
    return out


def greedy(name, data, seeds) -> dict:
    Xtr, _, Xte, _ = data
    e2e, gr = [], []
    for seed in seeds:
        e2e.append(mse(StackedAutoencoder(random_state=seed).fit(Xtr).reconstruct(Xte), Xte))
        gr.append(mse(StackedAutoencoder(pretraining="greedy", random_state=seed)
                      .fit(Xtr).reconstruct(Xte), Xte))
    out = {"end_to_end": summary(e2e), "greedy": summary(gr),
           "ratio": float(np.mean(gr) / np.mean(e2e))}
    print(f"  {name:14s} greedy {np.mean(gr):.5f} vs end to end {np.mean(e2e):.5f}: "
          f"{out['ratio']:.3f}x", flush=True)
    return out


def floors(results) -> list:
    """(what, measured, floor, holds) rows."""
    rows = []
    for name, r in results["sets"].items():
        for model, rec in r["reconstruction"].items():
            if model == "conv":
                continue
            limit = LINEAR_RATIO if model == "linear" else 1.0
            ratio = rec["ratio"]["mean"]
            rows.append((f"{name}: {model} test MSE / PCA({rec['code_size']})", f"{ratio:.3f}",
                         f"{'<=' if model == 'linear' else '<'} {limit:g}",
                         ratio <= limit if model == "linear" else ratio < limit))
        if name in FLOOR_LABELS and "few_labels" in r:
            f = r["few_labels"]
            rows.append((f"{name}: classifier - best LogReg at {f['labels']} labels",
                         f"{f['gain'] * 100:+.1f} pts", f">= +{ACCURACY_MARGIN * 100:.0f} pts",
                         f["gain"] >= ACCURACY_MARGIN))
        if "greedy" in r:
            g = r["greedy"]["ratio"]
            rows.append((f"{name}: greedy / end-to-end test MSE", f"{g:.3f}",
                         f"<= {GREEDY_RATIO:g}", g <= GREEDY_RATIO))
    return rows


def write(results, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "defaults.json").write_text(json.dumps(results, indent=2))
    lines = ["# Defaults on anyone's data (issue 13)", "",
             "Written by `benchmarks/defaults.py`: every estimator with its default "
             "constructor (only `random_state` set), test rows never used to choose "
             f"anything. {results['note']}", "",
             "## Reconstruction: test MSE against PCA with the same code size", "",
             "| data set | model | code | epochs ('auto') | test MSE | PCA MSE | ratio | s/fit | seeds |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results["sets"].items():
        for model, rec in r["reconstruction"].items():
            lines.append(f"| {name} | {model} | {rec['code_size']} | {rec['epochs']} | "
                         f"{rec['test_mse']['mean']:.5f} | {rec['pca_mse']['mean']:.5f} | "
                         f"{rec['ratio']['mean']:.3f} ± {rec['ratio']['std']:.3f} | "
                         f"{rec['fit_seconds']['mean']:.1f} | {rec['seeds']} |")
    lines += ["", "## One-class AUROC (fitted on one class; mean over the first three classes)",
              "", "| data set | linear | stacked | vae | PCA |", "|---|---:|---:|---:|---:|"]
    for name, r in results["sets"].items():
        a = r["one_class"]
        lines.append(f"| {name} | " + " | ".join(f"{a[m]['mean']:.3f}" for m in
                                                 ("linear", "stacked", "vae", "pca")) + " |")
    lines += ["", "## Few labels: accuracy on the test rows (mean ± std over label draws)", "",
              "| data set | labels | AutoencoderClassifier() | LogReg raw | LogReg PCA | gain | s/fit |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in results["sets"].items():
        f = r["few_labels"]
        lines.append(f"| {name} | {f['labels']} | {f['classifier']['mean']:.4f} ± "
                     f"{f['classifier']['std']:.4f} | {f['logreg_raw']['mean']:.4f} | "
                     f"{f['logreg_pca']['mean']:.4f} | {f['gain'] * 100:+.1f} pts | "
                     f"{f['seconds']['mean']:.0f} |")
    lines += ["", "## Greedy layer-wise pretraining vs end to end (test MSE)", "",
              "| data set | end to end | greedy + fine-tune | ratio |", "|---|---:|---:|---:|"]
    for name, r in results["sets"].items():
        if "greedy" in r:
            g = r["greedy"]
            lines.append(f"| {name} | {g['end_to_end']['mean']:.5f} | "
                         f"{g['greedy']['mean']:.5f} | {g['ratio']:.3f} |")
    lines += ["", "## Floors", "", "| what | measured | floor | holds |", "|---|---:|---|---|"]
    for what, measured, floor, holds in floors(results):
        lines.append(f"| {what} | {measured} | {floor} | {'yes' if holds else '**no**'} |")
    lines += ["", f"Total {results['seconds']:.0f} s on {results['machine']}."]
    (out / "defaults.md").write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--conv-seeds", type=int, default=1,
                    help="seeds of the conv model on Fashion-MNIST (slow on a CPU)")
    ap.add_argument("--greedy-seeds", type=int, default=2)
    ap.add_argument("--fm-seeds", type=int, default=2,
                    help="seeds of the dense reconstructions on Fashion-MNIST")
    ap.add_argument("--fm-train", type=int, default=10000)
    ap.add_argument("--fm-test", type=int, default=2000)
    ap.add_argument("--only", nargs="+", default=None, help="data sets to run")
    ap.add_argument("--quick", action="store_true", help="a smoke run: few rows, one seed")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    torch.set_num_threads(1)
    seeds = args.seeds[:1] if args.quick else args.seeds
    start = time.perf_counter()
    sets = load_sets(args.fm_train, args.fm_test, args.quick)
    results = {"sets": {}, "note": (
        f"Fashion-MNIST: the first {args.fm_train} training and {args.fm_test} test images "
        f"(the CPU budget). Seeds / label draws {seeds}; on Fashion-MNIST the dense "
        f"reconstructions use {args.fm_seeds} seed(s) and the conv model {args.conv_seeds}; "
        f"greedy {args.greedy_seeds} seed(s); one-class AUROC seed 0." + (" QUICK smoke run: not a measurement." if
                                         args.quick else ""))}
    for name, data in sets.items():
        if args.only and name not in args.only:
            continue
        print(name, flush=True)
        fm = name == "fashion-mnist"
        conv_seeds = seeds[:args.conv_seeds] if fm else seeds
        recon_seeds = seeds[:args.fm_seeds] if fm else seeds
        r = {"reconstruction": reconstruction(name, data, recon_seeds, conv_seeds),
             "one_class": one_class(name, data),
             "few_labels": few_labels(name, data, seeds)}
        if name in IMAGES:
            r["greedy"] = greedy(name, data, seeds[:args.greedy_seeds])
        results["sets"][name] = r
    results["seconds"] = time.perf_counter() - start
    results["machine"] = f"{platform.processor() or platform.machine()}, 1 torch thread"
    results["floors"] = [dict(zip(("what", "measured", "floor", "holds"), row))
                         for row in floors(results)]
    write(results, args.out)
    print((args.out / "defaults.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
