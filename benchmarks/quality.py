"""Quality benchmark: aekit's model family on real Fashion-MNIST, with PCA beside it.

Trains each model on the 60k training images, measures test MSE per pixel on the 10k test
images next to scikit-learn PCA's at the same code size, checks the floors of issue 3 and
prints PASS/FAIL per floor. Writes ``benchmarks/results/quality.json`` and ``quality.md``.

    python benchmarks/quality.py                 # full run (CPU: tens of minutes)
    python benchmarks/quality.py --quick         # smoke test: small subset, 1-2 epochs
    python benchmarks/quality.py --only linear   # rerun one group; other groups' results kept

Nothing is cached between runs: every number comes from training in this process. With
``--only``, rows of the groups that ran replace their old rows in the JSON; the rest stay.
Groups: linear, stacked, deep, tied, greedy, denoising, sparse, vae (tied, greedy and
sparse compare against ``stacked``, which is then trained too).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import gzip
import json
import math
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from aekit.losses import Objective
from aekit.models import kl_to_standard_normal
from aekit.models import ModelConfig, build_model
from aekit.training import TrainConfig, greedy_layerwise, train

RESULTS = Path(__file__).resolve().parent / "results"
GROUPS = ("linear", "stacked", "deep", "tied", "greedy", "denoising", "sparse", "vae")
DEPENDS = {"tied": ("stacked",), "greedy": ("stacked",), "sparse": ("stacked",)}
PCA_MSE_ISSUE = {2: 0.0461, 10: 0.0244, 30: 0.0156}  # the issue's reference numbers
IMAGE = (1, 28, 28)
SEED = 0


# --- data ---------------------------------------------------------------------------------
def _read_idx_gz(path: Path) -> np.ndarray:
    """Minimal IDX reader (fallback when aekit.datasets is unavailable)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion(split: str) -> np.ndarray:
    """(n, 784) float32 in [0, 1]."""
    try:
        from aekit.datasets import load
    except ImportError:
        load = None
    if load is not None:
        return np.asarray(load("fashion-mnist", split=split).X, dtype=np.float32)
    prefix = "train" if split == "train" else "t10k"
    images = _read_idx_gz(Path("/usr/share/datasets/fashion-mnist") / f"{prefix}-images-idx3-ubyte.gz")
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


# --- measurements -------------------------------------------------------------------------
@torch.no_grad()
def reconstruct(model, X: np.ndarray, batch: int = 2000, codes: bool = False):
    """Deterministic reconstructions (VAEs decode the posterior mean) and codes."""
    model.eval()
    recon, code = [], []
    for i in range(0, len(X), batch):
        x = torch.as_tensor(X[i:i + batch])
        out = model(x)
        z = out["mu"] if model.variational else out["code"]
        recon.append(model.decode(z) if model.variational else out["recon"])
        code.append(z)
    r = torch.cat(recon).numpy()
    return (r, torch.cat(code).numpy()) if codes else r


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float64) - b) ** 2))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for values in [0, 1] (peak 1), over the whole set."""
    return 10.0 * math.log10(1.0 / mse(a, b))


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@dataclass
class Bench:
    Xtr: np.ndarray
    Xte: np.ndarray
    quick: bool
    rows: list = field(default_factory=list)
    floors: list = field(default_factory=list)
    memo: dict = field(default_factory=dict)
    pca: object = None

    def epochs(self, full: int, quick: int = 1) -> int:
        return quick if self.quick else full

    # PCA: one fit with the largest k; PCA(k) is its first k components (exact SVD).
    def pca_fit(self):
        if self.pca is None:
            from sklearn.decomposition import PCA

            self.pca = PCA(n_components=30, svd_solver="covariance_eigh").fit(self.Xtr)
        return self.pca

    def pca_mse(self, k: int) -> float:
        p = self.pca_fit()
        c = p.components_[:k]  # (k, D)
        # PCA reconstruction: x_hat = mean + (x - mean) V_k V_k^T
        recon = (self.Xte - p.mean_) @ c.T @ c + p.mean_
        return mse(recon, self.Xte)

    def fit(self, group: str, name: str, mcfg: ModelConfig, objective: Objective,
            tcfg: TrainConfig, greedy_epochs: int | None = None, seed: int = SEED):
        model = build_model(mcfg, seed=seed)
        tcfg = dataclasses.replace(tcfg, seed=seed)
        t0 = time.perf_counter()
        if greedy_epochs is None:
            history = train(model, objective, self.Xtr, config=tcfg).history
            epochs = len(history)
        else:
            res = greedy_layerwise(model, objective, self.Xtr, config=tcfg,
                                   pretrain_epochs=greedy_epochs)
            history = res["fine_tune"].history
            epochs = f"{len(res['layers'])}x{greedy_epochs} + {len(history)}"
        seconds = time.perf_counter() - t0
        recon, code = reconstruct(model, self.Xte, codes=True)
        k = model.code_size
        row = {"group": group, "name": name, "code_size": k, "params": n_params(model),
               "epochs": epochs, "seconds": round(seconds, 1), "test_mse": mse(recon, self.Xte),
               "pca_mse": self.pca_mse(k) if k <= 30 else None,
               "train_loss": history[-1]["loss"] if history else None}
        self.rows.append(row)
        print(f"  {name}: test MSE {row['test_mse']:.5f} (PCA {row['pca_mse'] or float('nan'):.5f}),"
              f" {row['params']} params, {epochs} epochs, {seconds:.0f} s", flush=True)
        return model, row, code

    def floor(self, group: str, name: str, value: float, op: str, threshold: float,
              note: str = "") -> bool:
        ok = bool(value <= threshold) if op == "<=" else bool(value < threshold) \
            if op == "<" else bool(value >= threshold)
        self.floors.append({"group": group, "floor": name, "value": value, "op": op,
                            "threshold": threshold, "passed": ok, "note": note})
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}: {value:.5g} {op} {threshold:.5g} {note}",
              flush=True)
        return ok


# --- the benchmarks -----------------------------------------------------------------------
def dense(hidden, code, **kw) -> ModelConfig:
    return ModelConfig(n_features=784, hidden=tuple(hidden), code_size=code, **kw)


def run_linear(b: Bench):
    """Linear AE == PCA: same error, same subspace (Baldi & Hornik 1989). The decoder
    W_dec (D, k) spans the principal subspace; biases absorb the mean."""
    from scipy.linalg import subspace_angles

    for k in (2, 10, 30):
        cfg = dense((), k, activation="linear", output_activation="linear")
        # Adam's default 1e-3 crawls along the flat directions near the optimum; a larger
        # lr annealed to zero by a cosine schedule converges to PCA's subspace.
        # k = 30 needs the most steps: PCA's 30th and 31st variances differ by only 6 %.
        tcfg = TrainConfig(epochs=b.epochs(30 if k == 30 else 20, 1), batch_size=256,
                           lr=5e-3, lr_schedule="cosine", seed=SEED)
        model, row, _ = b.fit("linear", f"linear k={k}", cfg, Objective(), tcfg)
        w_dec = model.decoder.layers[0].weight.detach().numpy()  # (D, k)
        angle = float(np.degrees(subspace_angles(w_dec, b.pca_fit().components_[:k].T).max()))
        row["max_principal_angle_deg"] = angle
        b.floor("linear", f"linear k={k}: MSE / PCA MSE", row["test_mse"] / row["pca_mse"],
                "<=", 1.01, f"(PCA {row['pca_mse']:.4f}; issue quotes {PCA_MSE_ISSUE[k]})")
        b.floor("linear", f"linear k={k}: largest principal angle (deg)", angle, "<", 10.0)


def stacked_reference(b: Bench):
    """784-100-30-100-784, relu hidden layer, linear code, sigmoid output: the reference
    model that tied, greedy and sparse compare with."""
    if "stacked" not in b.memo:
        cfg = dense((100,), 30, activation="relu", code_activation="linear",
                    output_activation="sigmoid")
        model, row, code = b.fit("stacked", "stacked 784-100-30-100-784", cfg, Objective(),
                                 stacked_train_config(b))
        row["mean_abs_code"] = float(np.mean(np.abs(code)))
        b.memo["stacked"] = (cfg, model, row, code)
        b.floor("stacked", "stacked: test MSE < PCA(30)", row["test_mse"], "<", row["pca_mse"])
    return b.memo["stacked"]


def stacked_train_config(b: Bench, **kw) -> TrainConfig:
    return TrainConfig(**{"epochs": b.epochs(15, 1), "batch_size": 128, "lr": 3e-3,
                          "lr_schedule": "cosine", "seed": SEED, **kw})


def run_stacked(b: Bench):
    stacked_reference(b)


def run_deep(b: Bench):
    cfg = dense((256, 128), 30, activation="relu", code_activation="linear",
                output_activation="sigmoid")
    tcfg = TrainConfig(epochs=b.epochs(20, 1), batch_size=128, lr=3e-3, lr_schedule="cosine",
                       seed=SEED)
    _, row, _ = b.fit("deep", "deep dense 784-256-128-30", cfg, Objective(), tcfg)
    b.floor("deep", "deep: test MSE <= 0.6 x PCA(30)", row["test_mse"], "<=",
            0.6 * row["pca_mse"])


# The tied/untied MSE ratio moves by +-2% with the seed (measured 1.025-1.061 over seeds 0-2;
# float-rounding differences alone moved seed 0 from 1.049 to 1.052): the floor compares
# means over three seeds, each seed's ratio reported.
TIED_SEEDS = (SEED, SEED + 1, SEED + 2)


def run_tied(b: Bench):
    cfg, _, ref, _ = stacked_reference(b)
    seeds = TIED_SEEDS[:1] if b.quick else TIED_SEEDS
    untied = [ref["test_mse"]] + [
        b.fit("tied", f"stacked 784-100-30-100-784, seed {s}", cfg, Objective(),
              stacked_train_config(b), seed=s)[1]["test_mse"] for s in seeds[1:]]
    tied = []
    for s in seeds:
        _, row, _ = b.fit("tied", f"tied 784-100-30 (decoder W = encoder W^T), seed {s}",
                          ModelConfig(**{**cfg.to_dict(), "tied": True}), Objective(),
                          stacked_train_config(b), seed=s)
        tied.append(row["test_mse"])
    ratio = row["params"] / ref["params"]
    row["params_ratio_to_untied"] = ratio
    b.floor("tied", "tied: params / untied params", ratio, "<=", 0.55, "(about half)")
    per_seed = ", ".join(f"{t / u:.4f}" for t, u in zip(tied, untied))
    b.floor("tied", "tied: test MSE / untied test MSE", float(np.mean(tied) / np.mean(untied)),
            "<=", 1.05, f"(mean over seeds {list(seeds)}; per seed {per_seed})")


def run_greedy(b: Bench):
    cfg, _, ref, _ = stacked_reference(b)
    _, row, _ = b.fit("greedy", "greedy layer-wise 784-100-30 + fine-tune", cfg, Objective(),
                      stacked_train_config(b), greedy_epochs=b.epochs(5, 1))
    b.floor("greedy", "greedy+fine-tune: test MSE / end-to-end test MSE",
            row["test_mse"] / ref["test_mse"], "<=", 1.05)


def run_denoising(b: Bench):
    sigma = 0.3
    cfg = dense((256,), 128, activation="relu", output_activation="sigmoid")
    obj = Objective(noise="gaussian", noise_level=sigma)
    model, row, _ = b.fit("denoising", f"denoising 784-256-128 (gaussian sigma={sigma})", cfg,
                          obj, stacked_train_config(b))
    g = np.random.default_rng(SEED)
    noisy = np.clip(b.Xte + sigma * g.standard_normal(b.Xte.shape, dtype=np.float32), 0, 1)
    noisy_psnr, out_psnr = psnr(noisy, b.Xte), psnr(reconstruct(model, noisy), b.Xte)
    row.update(noisy_psnr_db=noisy_psnr, denoised_psnr_db=out_psnr)
    b.floor("denoising", "denoising: PSNR gain (dB) on sigma=0.3 test noise",
            out_psnr - noisy_psnr, ">=", 6.0, f"(noisy {noisy_psnr:.2f} dB -> {out_psnr:.2f} dB)")


def run_sparse(b: Bench):
    cfg, _, ref, ref_code = stacked_reference(b)
    obj = Objective(sparsity="l1", sparsity_weight=1e-4)
    _, row, code = b.fit("sparse", "sparse 784-100-30 (L1 on the codes)", cfg, obj,
                         stacked_train_config(b))
    # Activation of a linear code unit = its magnitude |z_j|, the quantity L1 penalises.
    act, ref_act = float(np.mean(np.abs(code))), float(np.mean(np.abs(ref_code)))
    row.update(mean_abs_code=act, reference_mean_abs_code=ref_act,
               fraction_codes_below_0_01=float(np.mean(np.abs(code) < 0.01)),
               reference_fraction_codes_below_0_01=float(np.mean(np.abs(ref_code) < 0.01)))
    b.floor("sparse", "sparse: mean code activation / unpenalised", act / ref_act, "<=", 1 / 3)
    b.floor("sparse", "sparse: test MSE / unpenalised test MSE",
            row["test_mse"] / ref["test_mse"], "<=", 1.15)


def run_vae(b: Bench):
    from aekit.training import evaluate

    for k in (2, 16):
        cfg = dense((256,), k, activation="relu", output_activation="sigmoid",
                    variational=True)
        obj = Objective(likelihood="bernoulli")
        tcfg = TrainConfig(epochs=b.epochs(12, 1), batch_size=128, lr=2e-3,
                           lr_schedule="cosine", seed=SEED)
        model, row, _ = b.fit("vae", f"VAE latent {k} (Bernoulli)", cfg, obj, tcfg)
        terms = evaluate(model, obj, b.Xte)  # nats per test image
        with torch.no_grad():
            mu, logvar = model.encode_distribution(torch.as_tensor(b.Xte))
            kl_dim = kl_to_standard_normal(mu, logvar).mean(dim=0).numpy()  # (k,)
            activity = mu.var(dim=0).numpy()  # Cov_x(E_q[z_j]): Burda et al. 2016
        used = activity > 0.01
        row.update(test_recon_nats=terms["recon"], test_kl_nats=terms["kl"],
                   test_elbo_nats=-(terms["recon"] + terms["kl"]),
                   kl_per_dim=[round(float(v), 4) for v in kl_dim],
                   active_units=int(used.sum()), kl_active_dims_gt_0_01=int((kl_dim > 0.01).sum()))
        print(f"  ELBO {row['test_elbo_nats']:.1f} = -(recon {terms['recon']:.1f} + KL "
              f"{terms['kl']:.2f}) nats; KL per dim {row['kl_per_dim']}", flush=True)
        b.floor("vae", f"VAE k={k}: active units (Var mu > 0.01)", int(used.sum()), ">=", 1)
        min_kl = float(kl_dim[used].min()) if used.any() else 0.0
        b.floor("vae", f"VAE k={k}: min KL (nats) over used dims", min_kl, ">=", 0.01)


RUNNERS = {"linear": run_linear, "stacked": run_stacked, "deep": run_deep, "tied": run_tied,
           "greedy": run_greedy, "denoising": run_denoising, "sparse": run_sparse,
           "vae": run_vae}


# --- reporting ------------------------------------------------------------------------------
def markdown(report: dict) -> str:
    lines = ["# Quality benchmark (Fashion-MNIST)", "",
             f"Generated by `benchmarks/quality.py` on {report['meta']['date']} "
             f"({report['meta']['n_train']} train / {report['meta']['n_test']} test images"
             f"{', QUICK' if report['meta']['quick'] else ''}; torch "
             f"{report['meta']['torch']}, {report['meta']['threads']} threads).", "",
             "| model | code | params | epochs | seconds | test MSE/pixel | PCA MSE (same k) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in report["models"]:
        pca = f"{r['pca_mse']:.5f}" if r.get("pca_mse") is not None else "-"
        lines.append(f"| {r['name']} | {r['code_size']} | {r['params']:,} | {r['epochs']} | "
                     f"{r['seconds']} | {r['test_mse']:.5f} | {pca} |")
    lines += ["", "| floor | value | target | result |", "|---|---:|---:|---|"]
    for f in report["floors"]:
        lines.append(f"| {f['floor']} {f['note']} | {f['value']:.5g} | {f['op']} "
                     f"{f['threshold']:.4g} | {'PASS' if f['passed'] else '**FAIL**'} |")
    extras = [r for r in report["models"] if r["group"] in ("vae", "sparse", "denoising")]
    if extras:
        lines += ["", "Details:", ""]
        for r in extras:
            keep = {k: v for k, v in r.items() if k not in
                    ("group", "name", "code_size", "params", "epochs", "seconds", "test_mse",
                     "pca_mse", "train_loss")}
            lines.append(f"- {r['name']}: " + ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in keep.items()))
    return "\n".join(lines) + "\n"


def merge(path: Path, report: dict, ran: set) -> dict:
    """Keep the old rows of groups that did not run (for ``--only``)."""
    if not path.is_file():
        return report
    try:
        old = json.loads(path.read_text())
    except json.JSONDecodeError:
        return report
    if old.get("meta", {}).get("quick") != report["meta"]["quick"]:
        return report
    order = {g: i for i, g in enumerate(GROUPS)}
    for key in ("models", "floors"):
        kept = [r for r in old.get(key, []) if r["group"] not in ran]
        report[key] = sorted(kept + report[key], key=lambda r: order.get(r["group"], 99))
    report["meta"]["groups_run_last"] = sorted(ran)
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 1000 train / 200 test images, 1 epoch")
    p.add_argument("--only", action="append", choices=GROUPS,
                   help="run only this group (repeatable); default: all")
    p.add_argument("--out", type=Path, default=RESULTS,
                   help="folder for quality.json and quality.md (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    Xtr, Xte = load_fashion("train"), load_fashion("test")
    if args.quick:
        Xtr, Xte = Xtr[:1000], Xte[:200]
    bench = Bench(Xtr, Xte, args.quick)
    wanted = args.only or list(GROUPS)
    done: set = set()
    t0 = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    for group in GROUPS:
        if group in wanted:
            print(f"== {group}", flush=True)
            RUNNERS[group](bench)
            done |= {group, *DEPENDS.get(group, ())}
            report = write_report(args, bench, done, t0)  # after each group: partial runs count
    failed = [f["floor"] for f in bench.floors if not f["passed"]]
    print(f"\n{len(bench.floors) - len(failed)}/{len(bench.floors)} floors passed"
          f"{' (quick mode: floors are not expected to pass)' if args.quick else ''}")
    print(markdown(report))
    return 0 if (args.quick or not failed) else 1


def write_report(args, bench: Bench, ran: set, t0: float) -> dict:
    report = {
        "meta": {"date": _dt.datetime.now().isoformat(timespec="seconds"), "quick": args.quick,
                 "n_train": len(bench.Xtr), "n_test": len(bench.Xte), "torch": torch.__version__,
                 "threads": torch.get_num_threads(), "python": platform.python_version(),
                 "seconds_total": round(time.perf_counter() - t0, 1)},
        "models": list(bench.rows), "floors": list(bench.floors),
    }
    report = merge(args.out / "quality.json", report, ran)
    (args.out / "quality.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "quality.md").write_text(markdown(report))
    return report


if __name__ == "__main__":
    sys.exit(main())
