"""The VQ-VAE (issue 31) against the conv autoencoder at the same number of code bits.

    python benchmarks/vq.py                 # the floor's run: Fashion-MNIST, test rows
    python benchmarks/vq.py --validation    # how the defaults were chosen (no test rows)
    python benchmarks/vq.py --quick         # smoke mode: 2000 rows, 1 epoch

A ``VQVAE()`` row's code is an h x w grid of indices into codebook_size vectors: h*w*log2(K)
bits (7*7*7 = 343 for 28x28 images and the defaults). The conv autoencoders beside it have
the same conv channels and a dense code of ceil(bits / 32) float32 numbers (11 for 343
bits: 352 bits, never fewer than the VQ-VAE's), trained for the same epochs: one with
ConvAutoencoder's defaults (a relu code) and one with a linear code, the stronger baseline
at this size (a relu code of 11 units loses most of them). Reported:
test MSE per pixel of the reconstructions, the codebook perplexity of the test rows (the
floor: at least 25% of the codebook), the prior's bits per image of the test rows' grids
(what an entropy coder driven by it would spend, against h*w*log2(K) without), and the
fit time of each (the VQ-VAE's includes its prior).

Published counterpart: van den Oord et al. (2017) report CIFAR-10 and ImageNet (bits/dim of
the prior, reconstructions), not Fashion-MNIST; the floor here is the comparison above.

``--validation``: codebook sizes and widths on validation splits (the last 10000 of
Fashion-MNIST's training rows; 20% of digits' training rows), fewer epochs; the default
was chosen from this table. Writes ``vq.{json,md}`` (or ``vq_validation.*``) into
``--out`` (benchmarks/results).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results"
PERPLEXITY_SHARE = 0.25  # the floor: perplexity >= 25% of the codebook
VARIANTS = [{"codebook_size": 64, "embedding_dim": 16}, {"codebook_size": 128, "embedding_dim": 16},
            {"codebook_size": 256, "embedding_dim": 16}, {"codebook_size": 128, "embedding_dim": 64}]


def data(name: str, validation: bool, quick: bool, train_rows: int | None = None):
    from sklearn.model_selection import train_test_split

    from aekit import datasets

    train, test = datasets.load(name, split="train"), datasets.load(name, split="test")
    X, X_test = np.asarray(train.X, np.float32), np.asarray(test.X, np.float32)
    if validation:
        if name == "fashion-mnist":
            X, X_test = X[:-10_000], X[-10_000:]
        else:
            X, X_test = train_test_split(X, test_size=0.2, random_state=0)
    if quick:
        X, X_test = X[:2000], X_test[:500]
    if train_rows:
        X = X[:train_rows]
    return X, X_test, tuple(train.image_shape[1:]) if train.image_shape else None


def code_bits(est) -> float:
    return est.n_components_ * math.log2(est.codebook_size)


def run(name, X, X_test, shape, epochs, options, seed):
    import aekit

    t0 = time.perf_counter()
    vq = aekit.VQVAE(image_shape=shape, epochs=epochs, random_state=seed, **options).fit(X)
    options = {k: v for k, v in options.items() if k != "prior_epochs"}
    vq_s = time.perf_counter() - t0
    bits = code_bits(vq)
    mse = float(np.mean((vq.reconstruct(X_test) - X_test) ** 2))
    row = {"data": name, "options": options, "epochs": epochs, "seed": seed,
           "fit_s": vq_s, "code_bits": bits, "grid": list(vq.grid_),
           "codebook_size": vq.codebook_size, "test_mse": mse,
           "perplexity": vq.perplexity(X_test),
           "prior_bits_per_image": float(vq.fitted_.prior_bits(X_test).mean())}
    row["perplexity_share"] = row["perplexity"] / vq.codebook_size
    return row, vq


# The conv autoencoders beside the VQ-VAE: its defaults, and a linear code (the
# StackedAutoencoder's default: a relu code of a few units loses units for good).
CONV_VARIANTS = ({}, {"code_activation": "linear"})


def conv_row(name, validation, quick, train_rows, epochs, bits, channels, seed, options):
    """One conv autoencoder's row (run in a worker process: it loads its own data)."""
    import aekit

    X, X_test, shape = data(name, validation, quick, train_rows)
    k = math.ceil(bits / 32)
    t0 = time.perf_counter()
    ae = aekit.ConvAutoencoder(image_shape=shape, channels=channels, n_components=k,
                               epochs=epochs, random_state=seed, **options).fit(X)
    return {"data": name, "model": "ConvAutoencoder", "options": options, "n_components": k,
            "code_bits": 32 * k, "fit_s": time.perf_counter() - t0,
            "test_mse": float(np.mean((ae.reconstruct(X_test) - X_test) ** 2))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--validation", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--epochs", default="auto", help="epochs of every fit (default 'auto')")
    ap.add_argument("--prior-epochs", default="auto",
                    help="the prior's epochs (default 'auto'; --quick: 1)")
    ap.add_argument("--sets", nargs="*", default=None)
    ap.add_argument("--train-rows", type=int, default=None,
                    help="fit on the first N training rows only (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reuse-vq", action="store_true",
                    help="keep the VQ-VAE rows of the last run (same settings); run only "
                         "the conv autoencoders")
    ap.add_argument("--jobs", type=int, default=2,
                    help="conv autoencoders fitted at once, one process each (%(default)s)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    def count(v):
        return v if v == "auto" else int(v)

    epochs, prior_epochs = (1, 1) if args.quick else (count(args.epochs),
                                                      count(args.prior_epochs))
    sets = args.sets or (["fashion-mnist", "digits"] if args.validation else ["fashion-mnist"])
    rows = []
    stem = "vq_validation" if args.validation else ("vq-quick" if args.quick else "vq")
    old = args.out / f"{stem}.json"
    kept = [r for r in json.loads(old.read_text())["rows"] if r["model"] == "VQVAE"] \
        if args.reuse_vq and old.exists() else []
    for name in sets:
        vq_rows = [r for r in kept if r["data"] == name]
        if not vq_rows:
            X, X_test, shape = data(name, args.validation, args.quick, args.train_rows)
            for options in (VARIANTS if args.validation else [{}]):
                row, _ = run(name, X, X_test, shape, epochs,
                             {**options, "prior_epochs": prior_epochs}, args.seed)
                vq_rows.append({"model": "VQVAE", **row})
                print(json.dumps(vq_rows[-1]), flush=True)
        rows += vq_rows
        if args.validation:
            continue
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            jobs = [pool.submit(conv_row, name, args.validation, args.quick, args.train_rows,
                                epochs, vq_rows[0]["code_bits"], (32, 64), args.seed, options)
                    for options in CONV_VARIANTS]
            for job in jobs:
                rows.append(job.result())
                print(json.dumps(rows[-1]), flush=True)
    result = {"machine": f"{platform.platform()}, {os.cpu_count()} CPUs, torch "
                         f"{torch.__version__}", "epochs": epochs, "prior_epochs": prior_epochs, "train_rows": args.train_rows,
              "rows": rows,
              "perplexity_floor_share": PERPLEXITY_SHARE}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    where = "validation rows" if args.validation else "test rows"
    lines = [f"# VQ-VAE against the conv autoencoder at the same code bits ({where})", "",
             f"Machine: {result['machine']}; epochs: {epochs} (each fit), the prior's: "
             f"{prior_epochs}; training rows: {args.train_rows or 'all'}." +
             (" **Quick mode: smoke figures only.**" if args.quick else ""), "",
             "| data | model | options | code bits | MSE per pixel | perplexity (share of K) "
             "| prior bits per image | fit s |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        opts = ", ".join([*([f"n_components={r['n_components']}"] if "n_components" in r
                            else []), *(f"{k}={v}" for k, v in r.get("options", {}).items())])
        opts = opts or "defaults"
        ppl = (f"{r['perplexity']:.1f} ({r['perplexity_share']:.0%})" if "perplexity" in r
               else "—")
        prior = f"{r['prior_bits_per_image']:.1f}" if "prior_bits_per_image" in r else "—"
        lines.append(f"| {r['data']} | {r['model']} | {opts} | {r['code_bits']:.0f} | "
                     f"{r['test_mse']:.5f} | {ppl} | {prior} | {r['fit_s']:.0f} |")
    lines += ["", "Floors (issue 31): perplexity >= 25% of the codebook; the VQ-VAE's test MSE "
              "below the conv autoencoder's at the same code bits (the autoencoder gets "
              "ceil(bits / 32) float32 numbers), here below the better of the two.", ""]
    if not args.validation:
        for name in sets:
            vq = [r for r in rows if r["data"] == name and r["model"] == "VQVAE"][0]
            conv = min((r for r in rows if r["data"] == name and r["model"] != "VQVAE"),
                       key=lambda r: r["test_mse"])
            holds = vq["perplexity_share"] >= PERPLEXITY_SHARE and \
                vq["test_mse"] < conv["test_mse"]
            lines.append(f"- {name}: perplexity {vq['perplexity_share']:.0%} of K; MSE "
                         f"{vq['test_mse']:.5f} vs {conv['test_mse']:.5f} "
                         f"({vq['test_mse'] / conv['test_mse']:.2f}x): "
                         f"{'both floors hold' if holds else 'a floor FAILS'}.")
        lines.append("")
    (args.out / f"{stem}.md").write_text("\n".join(lines))
    print(f"wrote {args.out / stem}.json and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
