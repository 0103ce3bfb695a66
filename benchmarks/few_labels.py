"""Few labels (issue 30): AutoencoderClassifier's methods against the best logistic
regression on the same labelled rows, on the test rows, over label draws.

Data: scikit-learn's digits (aekit's train/test split, 50 labels) and Fashion-MNIST (all
60000 training rows, 100 labels, the 10000 test rows). Each label draw is class-stratified
(``train_test_split(..., stratify=y)`` seeded by the draw): 5 labels per class on digits,
10 on Fashion-MNIST; every other training row is unlabelled (y = -1).

The baseline is the best of several logistic regressions fitted on the labelled rows: on
the raw inputs, and on standardised PCA codes (PCA fitted on every training row) of 10, 30
and 100 components. "Best" is the maximum over those on the test rows (a baseline chosen
on the test rows: the comparison can only flatter the baseline).

Rows: ``AutoencoderClassifier()`` (the default: the ladder network) on every draw, plus
``method='m2'`` and ``method='pretrain'`` (on ``--other-draws`` draws: each costs as much as
the default on Fashion-MNIST). Fits run ``--jobs`` at a time, one process each (each fit
keeps to the thread count aekit chooses), so the seconds reported are those of a machine
busy with the other fit: the 15-minute budget of the default fit is checked that way.

``--validation``: the same protocol on validation splits of the training rows (10000 of
Fashion-MNIST's training rows held out, 20% of digits'), never the test rows: how the
defaults were chosen (results in few_labels_validation.*). Each ``--variant`` is a set of
keywords (a Python dict literal) tried beside the default.

    python benchmarks/few_labels.py [--draws 0 1 2] [--jobs 2] [--sets digits fashion-mnist]
    python benchmarks/few_labels.py --validation --variant "{'joint_epochs': 16}"

Writes ``few_labels.json`` and ``few_labels.md`` (or ``few_labels_validation.*``) into
``--out`` (benchmarks/results).
"""

from __future__ import annotations

import argparse
import ast
import json
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

LABELS = {"digits": 50, "fashion-mnist": 100}
MARGIN = 0.05  # the floor: the default beats the best logistic regression by 5 points
BUDGET_SECONDS = 15 * 60  # the default fit on Fashion-MNIST's 60000 rows
PCA_SIZES = (10, 30, 100)
# Published test errors on MNIST with 100 labels (the table); this project has no
# MNIST offline, so they stand beside Fashion-MNIST's and digits' numbers, not against.
PUBLISHED = [("M1 + TSVM (Kingma et al. 2014)", 11.82), ("M2 (Kingma et al. 2014)", 11.97),
             ("M1 + M2 (Kingma et al. 2014)", 3.33),
             ("Adversarial autoencoder (Makhzani et al. 2016)", 1.90),
             ("Ladder, full (Rasmus et al. 2015)", 1.06)]


def load(name: str, validation: bool, draw: int):
    """(X_train, y_train, X_test, y_test) float32; validation: a split of the training rows."""
    from sklearn.model_selection import train_test_split

    from aekit import datasets

    tr = datasets.load(name, split="train", download=False)
    if validation:
        held = 0.2 if len(tr.X) < 5000 else 10000
        Xf, Xv, yf, yv = train_test_split(tr.X, tr.y, test_size=held, stratify=tr.y,
                                          random_state=100 + draw)
        return Xf, yf, Xv, yv
    te = datasets.load(name, split="test", download=False)
    return tr.X, tr.y, te.X, te.y


def labels_of(y, n: int, draw: int) -> np.ndarray:
    """y with all but a class-stratified draw of n labels hidden (-1)."""
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=draw)
    out = np.full(len(y), -1, dtype=np.int64)
    out[idx] = y[idx]
    return out


def fit_one(task: dict) -> dict:
    """One fit of AutoencoderClassifier(**kw) on one draw (a worker process)."""
    from aekit import AutoencoderClassifier

    Xtr, ytr, Xte, yte = load(task["set"], task["validation"], task["draw"])
    y = labels_of(ytr, LABELS[task["set"]], task["draw"])
    kw = dict(task["kw"])
    t = time.perf_counter()
    clf = AutoencoderClassifier(random_state=task["draw"], **kw).fit(Xtr, y)
    seconds = time.perf_counter() - t
    return {**task, "accuracy": float(np.mean(clf.predict(Xte) == yte)),
            "seconds": seconds, "epochs": int(clf.epochs_),
            "hidden": list(clf.hidden_layer_sizes_)}


def baselines(name: str, validation: bool, draw: int) -> dict:
    """The logistic regressions on the draw's labelled rows (test accuracy each)."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    Xtr, ytr, Xte, yte = load(name, validation, draw)
    y = labels_of(ytr, LABELS[name], draw)
    keep = y >= 0
    out = {"raw": float(np.mean(LogisticRegression(max_iter=5000).fit(
        Xtr[keep], y[keep]).predict(Xte) == yte))}
    for k in PCA_SIZES:
        pca = PCA(min(k, Xtr.shape[1]), random_state=0).fit(Xtr)
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        probe.fit(pca.transform(Xtr[keep]), y[keep])
        out[f"pca{k}"] = float(np.mean(probe.predict(pca.transform(Xte)) == yte))
    return out


def summary(values) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "std": float(v.std()), "n": int(len(v)),
            "values": [float(x) for x in v]}


def run(args) -> dict:
    variants = {"default": {}}
    if not args.validation:
        variants.update({"m2": {"method": "m2"}, "pretrain": {"method": "pretrain"}})
    for text in args.variant:
        variants[text] = ast.literal_eval(text)
    tasks = []
    for name in args.sets:
        for label, kw in variants.items():
            draws = args.draws if label == "default" or name == "digits" or args.validation \
                else args.draws[:args.other_draws]
            tasks += [{"set": name, "variant": label, "kw": kw, "draw": d,
                       "validation": args.validation} for d in draws]
    # the slow ones first, so the pool ends together
    tasks.sort(key=lambda t: (t["set"] != "fashion-mnist", t["variant"] != "default"))
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        base = {(n, d): pool.submit(baselines, n, args.validation, d)
                for n in args.sets for d in args.draws}
        fits = []
        for res in pool.map(fit_one, tasks):
            print(f"  {res['set']:14s} {res['variant']:24s} draw {res['draw']}: accuracy "
                  f"{res['accuracy']:.4f} in {res['seconds']:.0f} s", flush=True)
            fits.append(res)
        base = {k: f.result() for k, f in base.items()}
    out = {"sets": {}, "machine": f"{platform.platform()}, {__import__('os').cpu_count()} "
           f"CPUs, torch {__import__('torch').__version__}", "jobs": args.jobs,
           "validation": args.validation}
    for name in args.sets:
        rows = {}
        best = [max(base[(name, d)].values()) for d in args.draws]
        for label in variants:
            mine = [f for f in fits if f["set"] == name and f["variant"] == label]
            if not mine:
                continue
            acc = [f["accuracy"] for f in mine]
            paired = [max(base[(name, f["draw"])].values()) for f in mine]
            rows[label] = {"accuracy": summary(acc), "seconds": summary([f["seconds"]
                                                                          for f in mine]),
                           "gain": float(np.mean(acc) - np.mean(paired)),
                           "epochs": mine[0]["epochs"], "hidden": mine[0]["hidden"],
                           "kw": mine[0]["kw"], "draws": [f["draw"] for f in mine],
                           "best_logreg": float(np.mean(paired))}
        out["sets"][name] = {
            "labels": LABELS[name], "draws": list(args.draws), "methods": rows,
            "baselines": {k: summary([base[(name, d)][k] for d in args.draws])
                          for k in base[(name, args.draws[0])]},
            "best_logreg": summary(best)}
    return out


def floors(results) -> list:
    if results["validation"]:
        return []
    out = []
    for name, r in results["sets"].items():
        d = r["methods"]["default"]
        out.append({"what": f"{name}: default >= best LogReg + {MARGIN * 100:.0f} pts",
                    "value": d["gain"], "holds": d["gain"] >= MARGIN})
        if name == "fashion-mnist":
            worst = max(d["seconds"]["values"])
            out.append({"what": "fashion-mnist: default fit on 60000 rows <= 15 min",
                        "value": worst, "holds": worst <= BUDGET_SECONDS})
    return out


def write(results, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stem = "few_labels_validation" if results["validation"] else "few_labels"
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2))
    rows_are = "validation rows (held out of the training split)" if results["validation"] \
        else "test rows"
    lines = [f"# Few labels: accuracy on the {rows_are} (issue 30)", "",
             f"Written by `benchmarks/few_labels.py`. Machine: {results['machine']}; "
             f"{results['jobs']} fits at a time (seconds are those of a busy machine).", "",
             "| data set | labels | classifier | hidden | epochs | accuracy (mean ± std) | "
             "best LogReg (same draws) | gain | s/fit (max) | draws |",
             "|---|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in results["sets"].items():
        for label, m in r["methods"].items():
            what = "AutoencoderClassifier() (ladder)" if label == "default" else \
                f"method='{label}'" if label in ("m2", "pretrain") else label
            lines.append(
                f"| {name} | {r['labels']} | {what} | {m['hidden']} | {m['epochs']} | "
                f"{m['accuracy']['mean']:.4f} ± {m['accuracy']['std']:.4f} | "
                f"{m['best_logreg']:.4f} | {m['gain'] * 100:+.1f} pts | "
                f"{max(m['seconds']['values']):.0f} | {m['accuracy']['n']} |")
    lines += ["", "Logistic regressions on the labelled rows (mean over the draws):", "",
              "| data set | raw | " + " | ".join(f"PCA({k})" for k in PCA_SIZES) + " |",
              "|---|---:|" + "---:|" * len(PCA_SIZES)]
    for name, r in results["sets"].items():
        b = r["baselines"]
        lines.append(f"| {name} | {b['raw']['mean']:.4f} | " + " | ".join(
            f"{b[f'pca{k}']['mean']:.4f}" for k in PCA_SIZES) + " |")
    if not results["validation"]:
        lines += ["", "## Floors", "", "| floor | measured | holds |", "|---|---:|---|"]
        for f in floors(results):
            value = f"{f['value'] * 100:+.1f} pts" if "pts" in f["what"] else \
                f"{f['value']:.0f} s"
            lines.append(f"| {f['what']} | {value} | {'yes' if f['holds'] else 'NO'} |")
        lines += ["", "## Beside the published numbers (MNIST, 100 labels, test error)", "",
                  "| method | MNIST error (paper) |", "|---|---:|"]
        lines += [f"| {m} | {e:.2f}% |" for m, e in PUBLISHED]
        lines += ["", "This project has no MNIST offline: its numbers above are on digits and "
                  "Fashion-MNIST, whose few-label errors are far higher than MNIST's for every "
                  "method (Fashion-MNIST's classes overlap: a fully supervised dense network "
                  "reaches about 89% there against 98% on MNIST)."]
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", nargs="+", default=list(LABELS), choices=list(LABELS))
    ap.add_argument("--draws", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--other-draws", type=int, default=1,
                    help="draws for method='m2' and 'pretrain' on Fashion-MNIST")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--validation", action="store_true")
    ap.add_argument("--variant", action="append", default=[])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args(argv)
    t = time.perf_counter()
    results = run(args)
    results["seconds"] = time.perf_counter() - t
    write(results, args.out)
    for f in floors(results):
        print(f"{'ok  ' if f['holds'] else 'FAIL'} {f['what']}: {f['value']:.4g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
