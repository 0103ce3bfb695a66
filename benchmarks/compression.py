"""Rate-distortion benchmark: aekit's codec vs PCA through the same coder, JPEG, WebP, PNG.

On the 10,000 Fashion-MNIST test images, bits per pixel counted from real bytes against
PSNR (dB, from the mean squared error over all test pixels, peak 1):

- aekit: dense autoencoders (784-256-k and 784-512-256-k, sigmoid output, MSE; 55,000
  training images, 15 epochs or 30 for the widest, one torch thread) of several code
  sizes, with and without the rate term (rate_weight; chosen with --validate), each at
  many qualities; one stream holds all 10,000 images (its 30-byte header counted), and
  per-image streams are reported beside.
- PCA: k principal components as a linear autoencoder, through the same quantiser, entropy
  model (fitted on the training codes) and range coder; reconstructions clipped to [0, 1].
- JPEG and WebP (Pillow, grayscale, one file per image) at many qualities: whole files, and
  payload without headers (JPEG: the entropy-coded scan; WebP: the VP8/VP8L chunk data).
- PNG (lossless, one file per image).

Recipes are chosen on a validation split (the last 5,000 training images, never trained
on): the aekit and PCA curves reported on the test set are the (model, quality) points that
are Pareto-optimal on validation. Floors: at equal PSNR aekit's whole-stream bytes are at
most 0.5x JPEG's whole-file bytes; aekit beats PCA through the same coder by >= 1 dB at
equal bits per pixel over the range where both are measured; compressing + decompressing
the test images takes under 10 s.

    .venv/bin/python benchmarks/compression.py            # writes benchmarks/results/
    .venv/bin/python benchmarks/compression.py --quick    # a smoke run (not written)
    .venv/bin/python benchmarks/compression.py --validate # recipe selection (not written)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from aekit.applications import compression as C
from aekit.datasets import load
from aekit.estimators import StackedAutoencoder
from aekit.fitted import FittedAutoencoder
from aekit.models import ModelConfig, build_model
from aekit.tour.compression import image_codec as tour_image_codec

RESULTS = Path(__file__).parent / "results"
QUALITIES = (3, 6, 10, 15, 20, 26, 33, 42, 55)
IMAGE_QUALITIES = (1, 3, 5, 8, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95)
HIDDEN, WIDE = (256,), (512, 256)
# (code size, rate weight, hidden widths, epochs) per aekit model; weight 0 = plain MSE
# training, epochs None = --epochs. Small codes with a large rate weight cover the lowest
# rates, where a plain model's decoder breaks under coarse quantisation; wide models with
# large codes the highest, where PCA(128) is strong. Validation (55k rows, 15 epochs unless
# said; aekit - PCA at equal bpp):
# - at 0.0057 bpp, plain models and weights up to 0.1 at k=64: -3.1 dB; k=8 rate=1: +0.7;
#   k=8 and k=16 at rate=3: +0.9, +1.2 with 784-512-256-8; k=4 rate=1: +1.3 to +1.6 dB
#   from 0.009 to 0.02 bpp;
# - from 0.3 to 0.45 bpp, 784-256-64: +0.2 dB; 784-512-256-k: +0.9 (k=96), +0.6 to +1.1
#   (k=128); with rate 0.01 +1.3 to +2.0 from 0.08 to 0.27 bpp; k=128 rate 0.003 over 30
#   epochs +1.2 to +1.8 from 0.15 to 0.6 bpp; 784-1000-500-128 trained worse in 15 epochs.
RECIPES = (
    [(k, 0.0, HIDDEN, None) for k in (16, 32, 64)]
    + [(k, w, HIDDEN, None) for k in (8, 16, 64) for w in (0.1, 0.3, 1.0)]
    + [(4, 1.0, HIDDEN, None), (8, 3.0, WIDE, None), (16, 3.0, WIDE, None)]
    + [(64, 0.0, WIDE, None), (128, 0.0, WIDE, 30), (128, 0.003, WIDE, 30),
       (128, 0.01, WIDE, 30)])
PCA_SIZES = (8, 16, 32, 64, 128)
N_VAL = 5000
N_TRAIN = 55000  # training rows per model: every training image but the validation ones


def psnr_of(X, X_hat) -> float:
    return C.psnr(X, np.clip(X_hat, 0, 1))


def load_info() -> dict:
    one, five, fifteen = os.getloadavg()
    return {"load_1min": one, "load_5min": five, "load_15min": fifteen,
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()}


# --- image codecs -----------------------------------------------------------------------------
def image_codec(X: np.ndarray, fmt: str, **options) -> dict:
    """Every row saved as its own 28x28 grayscale file with Pillow and read back: the
    tour's codec (one implementation), without the decoded rows (not written to JSON)."""
    out = tour_image_codec(X, (1, 28, 28), fmt, **options)
    out.pop("rows")
    return out


# --- models -----------------------------------------------------------------------------------
def pca_model(X_train: np.ndarray, k: int) -> FittedAutoencoder:
    """PCA as a linear autoencoder: z = V^T (x - mean), x_hat = V z + mean (V: the top k
    principal directions), with an entropy model fitted on its training codes."""
    from sklearn.decomposition import PCA

    pca = PCA(k, random_state=0).fit(X_train)
    module = build_model(ModelConfig(n_features=X_train.shape[1], hidden=(), code_size=k,
                                     activation="linear", code_activation="linear",
                                     output_activation="linear"), seed=0)
    V = torch.from_numpy(pca.components_.astype(np.float32))  # (k, D)
    mean = torch.from_numpy(pca.mean_.astype(np.float32))
    weights = [p for p in module.parameters()]
    with torch.no_grad():
        enc_w, enc_b, dec_w, dec_b = weights
        enc_w.copy_(V)
        enc_b.copy_(-(V @ mean))
        dec_w.copy_(V.T)
        dec_b.copy_(mean)
    return FittedAutoencoder(module).fit_entropy(X_train)


def recipe_name(k: int, rate_weight: float, hidden: tuple, epochs: int | None) -> str:
    return (f"aekit k={k}" + (f" rate={rate_weight:g}" if rate_weight else "")
            + ("" if tuple(hidden) == HIDDEN else " " + "-".join(map(str, hidden)))
            + (f" {epochs}ep" if epochs else ""))


def parse_recipe(text: str) -> tuple:
    """'K:W', 'K:W:H1-H2-...' or 'K:W:H1-H2:E' -> (code size, rate weight, hidden widths,
    epochs or None)."""
    try:
        parts = text.split(":")
        if len(parts) not in (2, 3, 4):
            raise ValueError
        hidden = tuple(int(h) for h in parts[2].split("-")) if len(parts) >= 3 else HIDDEN
        return int(parts[0]), float(parts[1]), hidden, int(parts[3]) if len(parts) == 4 else None
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"recipe {text!r}: expected K:W, K:W:H1-H2 or K:W:H1-H2:EPOCHS") from None


def train_aekit(X_train, k: int, rate_weight: float, epochs: int, seed: int = 0,
                hidden: tuple = HIDDEN):
    return StackedAutoencoder(k, hidden_layer_sizes=tuple(hidden), rate_weight=rate_weight,
                              epochs=epochs, batch_size=128, learning_rate=3e-3,
                              sampler="gaussian", random_state=seed).fit(X_train)


def curve(model, X, qualities) -> list:
    """(quality, bpp whole stream, bpp per-image streams, PSNR) per quality."""
    rows = []
    for q in qualities:
        data = C.compress(model, X, quality=q)
        X_hat = C.decompress(model, data)
        per_image = len(data) + (len(X) - 1) * C.HEADER.size  # one header per image
        n = X.shape[0] * X.shape[1]
        rows.append({"quality": q, "bpp": 8 * len(data) / n, "per_image_bpp": 8 * per_image / n,
                     "psnr": psnr_of(X, X_hat), "bytes": len(data)})
    return rows


def pareto(points: list) -> list:
    """Points (dicts with bpp, psnr, ...) no other point beats in both, by bpp."""
    best, out = -np.inf, []
    for p in sorted(points, key=lambda p: (p["bpp"], -p["psnr"])):
        if p["psnr"] > best:
            out.append(p)
            best = p["psnr"]
    return out


# --- comparisons ------------------------------------------------------------------------------
def bpp_at_psnr(points, psnr_grid):
    """log bpp interpolated linearly in PSNR along a curve (NaN outside it)."""
    pts = sorted(points, key=lambda p: p["psnr"])
    x = np.array([p["psnr"] for p in pts])
    y = np.log(np.array([p["bpp"] for p in pts]))
    return np.where((psnr_grid >= x[0]) & (psnr_grid <= x[-1]),
                    np.exp(np.interp(psnr_grid, x, y)), np.nan)


def psnr_at_bpp(points, bpp_grid):
    pts = sorted(points, key=lambda p: p["bpp"])
    x = np.log(np.array([p["bpp"] for p in pts]))
    y = np.array([p["psnr"] for p in pts])
    g = np.log(bpp_grid)
    return np.where((g >= x[0]) & (g <= x[-1]), np.interp(g, x, y), np.nan)


def overlap_grid(a, b, key, n=200):
    lo = max(min(p[key] for p in a), min(p[key] for p in b))
    hi = min(max(p[key] for p in a), max(p[key] for p in b))
    if lo >= hi:
        return None
    return (np.geomspace(lo, hi, n) if key == "bpp" else np.linspace(lo, hi, n))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run, nothing written")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--n-train", type=int, default=N_TRAIN,
                        help="training rows per model (the first of the training split)")
    parser.add_argument("--recipes", type=parse_recipe, nargs="+", default=list(RECIPES),
                        help="aekit models as K:W (code size, rate weight; hidden 256), "
                             "K:W:H1-H2 (hidden widths) or K:W:H1-H2:EPOCHS; default: RECIPES")
    parser.add_argument("--validate", action="store_true",
                        help="recipe selection: the PCA floor on the validation rows only; "
                             "nothing written, the test rows unused")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: no oversubscription beside other jobs)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    loads = {"start": load_info()}
    train, test = load("fashion-mnist", split="train"), load("fashion-mnist", split="test")
    X_all = np.asarray(train.X, np.float32).reshape(len(train.X), -1)
    X_test = np.asarray(test.X, np.float32).reshape(len(test.X), -1)
    if not 0 < args.n_train <= len(X_all) - N_VAL:
        parser.error(f"--n-train must be in 1..{len(X_all) - N_VAL}")
    X_fit, X_val = X_all[:args.n_train], X_all[-N_VAL:]  # validation: never trained on
    epochs, qualities, pca_sizes = args.epochs, QUALITIES, PCA_SIZES
    recipes = list(args.recipes)
    if args.quick:
        X_fit, X_val, X_test = X_fit[:3000], X_val[:500], X_test[:500]
        epochs, qualities, pca_sizes = 1, (5, 20, 40), (16, 32)
        recipes = [(16, 0.0, HIDDEN, None), (16, 0.03, HIDDEN, None)]

    # aekit models: trained on the training rows, operating points chosen on validation
    models, val_points, train_seconds = {}, [], {}
    for k, w, hidden, recipe_epochs in recipes:
        name = recipe_name(k, w, hidden, recipe_epochs)
        t0 = time.perf_counter()
        models[name] = train_aekit(X_fit, k, w, recipe_epochs or epochs, hidden=hidden)
        train_seconds[name] = time.perf_counter() - t0
        for p in curve(models[name], X_val, qualities):
            val_points.append({**p, "model": name})
        print(f"{name}: trained in {train_seconds[name]:.0f} s; validation reconstruction "
              f"PSNR {psnr_of(X_val, models[name].reconstruct(X_val)):.2f} dB", flush=True)
    pcas, pca_val = {}, []
    for k in pca_sizes:
        pcas[f"PCA k={k}"] = pca_model(X_fit, k)
        for p in curve(pcas[f"PCA k={k}"], X_val, qualities):
            pca_val.append({**p, "model": f"PCA k={k}"})
    chosen = [(p["model"], p["quality"]) for p in pareto(val_points)]
    chosen_pca = [(p["model"], p["quality"]) for p in pareto(pca_val)]
    if args.validate:
        grid = overlap_grid(pareto(val_points), pareto(pca_val), "bpp")
        gain = psnr_at_bpp(pareto(val_points), grid) - psnr_at_bpp(pareto(pca_val), grid)
        print(f"validation: aekit - PCA at equal bpp ({grid[0]:.4f}-{grid[-1]:.4f}): min "
              f"{np.nanmin(gain):+.2f} dB, median {np.nanmedian(gain):+.2f} dB; chosen {chosen}")
        for b, g in list(zip(grid, gain))[::20]:
            print(f"  {b:.4f} bpp: {g:+.2f} dB")
        return 0

    # the test set: every model's curve, and the chosen points
    tests = {}
    for name, m in {**models, **pcas}.items():
        tests[name] = curve(m, X_test, qualities)
        for p in tests[name]:
            p["model"] = name
    aekit_test = [p for name, q in chosen for p in tests[name] if p["quality"] == q]
    pca_test = [p for name, q in chosen_pca for p in tests[name] if p["quality"] == q]
    print("chosen on validation (aekit):", chosen)
    print("chosen on validation (PCA):", chosen_pca)

    jpeg = [{"quality": q, **image_codec(X_test, "JPEG", quality=q)} for q in IMAGE_QUALITIES]
    webp = [{"quality": q, **image_codec(X_test, "WEBP", quality=q, method=6)}
            for q in IMAGE_QUALITIES]
    png = image_codec(X_test, "PNG", optimize=True)
    print(f"PNG lossless: {png['bpp']:.3f} bpp")

    # speed: the largest chosen model at its highest chosen quality, 10k images
    loads["before_timing"] = load_info()
    timing = {}
    for name in sorted({n for n, _ in chosen}):
        q = max(qq for n, qq in chosen if n == name)
        m = models[name]
        t0 = time.perf_counter()
        data = C.compress(m, X_test, quality=q)
        t1 = time.perf_counter()
        C.decompress(m, data)
        t2 = time.perf_counter()
        timing[name] = {"quality": q, "compress_s": t1 - t0, "decompress_s": t2 - t1,
                        "total_s": t2 - t0, "rows": len(X_test)}
    loads["after_timing"] = load_info()
    slowest = max(t["total_s"] for t in timing.values())

    # floors
    floors = {}
    grid = overlap_grid(aekit_test, jpeg, "psnr")
    if grid is not None:
        ratio = bpp_at_psnr(aekit_test, grid) / bpp_at_psnr(jpeg, grid)
        ratio_payload = bpp_at_psnr(aekit_test, grid) / bpp_at_psnr(
            [{"psnr": p["psnr"], "bpp": p["payload_bpp"]} for p in jpeg], grid)
        floors["aekit_vs_jpeg_whole_file"] = {
            "psnr_range": [float(grid[0]), float(grid[-1])],
            "max_ratio": float(np.nanmax(ratio)), "median_ratio": float(np.nanmedian(ratio)),
            "floor": 0.5, "pass": bool(np.nanmax(ratio) <= 0.5)}
        floors["aekit_vs_jpeg_payload (not a floor)"] = {
            "max_ratio": float(np.nanmax(ratio_payload)),
            "median_ratio": float(np.nanmedian(ratio_payload))}
    else:
        floors["aekit_vs_jpeg_whole_file"] = {"pass": False, "note": "curves do not overlap"}
    grid = overlap_grid(aekit_test, pca_test, "bpp")
    if grid is not None:
        gain = psnr_at_bpp(aekit_test, grid) - psnr_at_bpp(pca_test, grid)
        floors["aekit_minus_pca_db"] = {
            "bpp_range": [float(grid[0]), float(grid[-1])], "min_db": float(np.nanmin(gain)),
            "median_db": float(np.nanmedian(gain)), "floor": 1.0,
            "pass": bool(np.nanmin(gain) >= 1.0)}
    floors["speed_10k"] = {"seconds": slowest, "floor": 10.0, "pass": slowest < 10.0}

    results = {
        "dataset": "fashion-mnist", "test_rows": len(X_test), "validation_rows": len(X_val),
        "training_rows": len(X_fit), "epochs": epochs, "recipes": recipes,
        "train_seconds": train_seconds, "chosen_on_validation": {"aekit": chosen,
                                                                 "pca": chosen_pca},
        "aekit_test_chosen": aekit_test, "pca_test_chosen": pca_test, "all_test_curves": tests,
        "jpeg": jpeg, "webp": webp, "png": png, "timing": timing, "floors": floors,
        "loads": loads, "host": {"python": sys.version.split()[0], "torch": torch.__version__,
                                 "platform": platform.platform()},
        "seconds": time.perf_counter() - t_start,
    }
    for name, f in floors.items():
        print(name, json.dumps(f))
    if args.quick:
        return 0
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "compression.json").write_text(json.dumps(results, indent=1, default=float))
    (RESULTS / "compression.md").write_text(markdown(results))
    plot(results, RESULTS / "compression.png")
    print(f"wrote {RESULTS}/compression.(json|md|png) in {results['seconds']:.0f} s")
    return 0


def markdown(r: dict) -> str:
    f = r["floors"]
    lines = [
        "# Compression: aekit vs PCA, JPEG, WebP and PNG on Fashion-MNIST",
        "",
        f"`benchmarks/compression.py`: {r['test_rows']} test images (28x28 grayscale), "
        f"models trained on {r['training_rows']} training images for {r['epochs']} epochs "
        "(or the epochs in a model's name); "
        f"operating points chosen on {r['validation_rows']} held-out training images. "
        "Bits per pixel (bpp) from real bytes; PSNR from the mean squared error over all "
        "test pixels (peak 1). Machine: 2 shared CPU cores; load averages "
        + ", ".join(f"{k}: {v['load_1min']:.1f}" for k, v in r["loads"].items())
        + " (1-minute).",
        "",
        "## Floors",
        "",
        "| floor | measured | pass |",
        "|---|---|---|",
    ]
    j = f["aekit_vs_jpeg_whole_file"]
    if "max_ratio" in j:
        lines.append(f"| aekit whole-stream bytes <= 0.5x JPEG whole-file bytes at equal PSNR "
                     f"({j['psnr_range'][0]:.1f}-{j['psnr_range'][1]:.1f} dB) | max ratio "
                     f"{j['max_ratio']:.3f} (median {j['median_ratio']:.3f}) | "
                     f"{'PASS' if j['pass'] else 'FAIL'} |")
    else:
        lines.append(f"| aekit vs JPEG | {j.get('note')} | FAIL |")
    p = f.get("aekit_minus_pca_db")
    if p:
        lines.append(f"| aekit >= PCA + 1 dB at equal bpp ({p['bpp_range'][0]:.3f}-"
                     f"{p['bpp_range'][1]:.3f} bpp) | min {p['min_db']:.2f} dB (median "
                     f"{p['median_db']:.2f}) | {'PASS' if p['pass'] else 'FAIL'} |")
    s = f["speed_10k"]
    lines.append(f"| compress + decompress 10k test images < 10 s | {s['seconds']:.2f} s "
                 f"(slowest chosen model) | {'PASS' if s['pass'] else 'FAIL'} |")
    jp = f.get("aekit_vs_jpeg_payload (not a floor)")
    lines += [
        "",
        "Which comparison is fair for which use: a 28x28 JPEG spends most of its ~"
        f"{np.mean([x['bpp'] for x in r['jpeg']]) * 784 / 8:.0f} bytes on headers "
        "(quantisation and Huffman tables, JFIF), so **whole files** are the fair comparison "
        "for storing or sending images one by one as standalone files; **payload without "
        "headers** is the fair one for a system that stores many images with shared tables "
        "(as aekit's one stream shares its 30-byte header and, above all, its decoder: the "
        "model weights, about a megabyte, are not counted, which is fair only when the "
        "decoder is already on both sides). "
        + (f"Against JPEG payload alone aekit's stream is {jp['median_ratio']:.2f}x the "
           f"bytes at equal PSNR (median; max {jp['max_ratio']:.2f}x)." if jp else ""),
        "",
        "## aekit operating points (chosen on validation, measured on test)",
        "",
        "| model | quality | bpp (one stream) | bpp (a stream per image) | PSNR dB |",
        "|---|---|---|---|---|",
    ]
    for p in r["aekit_test_chosen"]:
        lines.append(f"| {p['model']} | {p['quality']} | {p['bpp']:.4f} | "
                     f"{p['per_image_bpp']:.4f} | {p['psnr']:.2f} |")
    lines += ["", "## PCA through the same quantiser and coder (chosen on validation)", "",
              "| model | quality | bpp | PSNR dB |", "|---|---|---|---|"]
    for p in r["pca_test_chosen"]:
        lines.append(f"| {p['model']} | {p['quality']} | {p['bpp']:.4f} | {p['psnr']:.2f} |")
    lines += ["", "## JPEG and WebP (Pillow, one grayscale file per image)", "",
              "| codec | quality | bpp whole file | bpp payload | PSNR dB |",
              "|---|---|---|---|---|"]
    for codec in ("jpeg", "webp"):
        for p in r[codec]:
            lines.append(f"| {codec.upper()} | {p['quality']} | {p['bpp']:.3f} | "
                         f"{p['payload_bpp']:.3f} | {p['psnr']:.2f} |")
    lines += ["", f"PNG (lossless, optimize=True): {r['png']['bpp']:.3f} bpp.", "",
              "## Every aekit model on the test set", "",
              "| model | trained s | quality | bpp | PSNR dB |", "|---|---|---|---|---|"]
    for name, pts in r["all_test_curves"].items():
        for p in pts:
            lines.append(f"| {name} | {r['train_seconds'].get(name, 0):.0f} | {p['quality']} | "
                         f"{p['bpp']:.4f} | {p['psnr']:.2f} |")
    lines += ["", "## Speed (10k test images, 2 shared cores)", "",
              "| model | quality | compress s | decompress s | total s |", "|---|---|---|---|---|"]
    for name, t in r["timing"].items():
        lines.append(f"| {name} | {t['quality']} | {t['compress_s']:.2f} | "
                     f"{t['decompress_s']:.2f} | {t['total_s']:.2f} |")
    lines += ["", f"Whole benchmark: {r['seconds']:.0f} s.", ""]
    return "\n".join(lines)


def plot(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5.5))
    labelled = set()  # one legend entry per kind of model curve, not one per model
    for name, pts in r["all_test_curves"].items():
        if name.startswith("aekit"):
            kind = "rate-trained" if "rate" in name else "plain"
            ax.plot([p["bpp"] for p in pts], [p["psnr"] for p in pts], lw=0.8, alpha=0.45,
                    ls="--" if kind == "rate-trained" else "-",
                    label=None if kind in labelled else f"one aekit model, {kind} (each quality)")
            labelled.add(kind)
    for key, label, marker in (("aekit_test_chosen", "aekit (chosen on validation)", "o"),
                               ("pca_test_chosen", "PCA, same coder", "s")):
        pts = sorted(r[key], key=lambda p: p["bpp"])
        ax.plot([p["bpp"] for p in pts], [p["psnr"] for p in pts], marker=marker, ls="-",
                lw=2, label=label)
    for codec, marker in (("jpeg", "^"), ("webp", "v")):
        pts = r[codec]
        line, = ax.plot([p["bpp"] for p in pts], [p["psnr"] for p in pts], marker=marker,
                        ls="-", label=f"{codec.upper()} whole files")
        ax.plot([p["payload_bpp"] for p in pts], [p["psnr"] for p in pts], marker=marker,
                mfc="none", ls=":", color=line.get_color(), label=f"{codec.upper()} payload only")
    ax.axvline(r["png"]["bpp"], color="k", ls="-.", lw=1, label="PNG lossless")
    ax.set_xscale("log")
    ax.set_xlabel("bits per pixel (log scale, real bytes)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"Fashion-MNIST test images ({r['test_rows']}): rate vs distortion")
    ax.grid(True, which="both", alpha=0.3)
    # outside the axes: inside, it hid the JPEG and WebP curves
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    raise SystemExit(main())
