"""Training speed on a CUDA GPU: the speed benchmark's workloads, data resident on the device.

    python benchmarks/gpu.py              # on a CUDA machine: ~3-5 min, writes results/gpu.*
    python benchmarks/gpu.py --dry-run    # the same logic on the CPU, tiny sizes, seconds

Workloads (Fashion-MNIST, 60k train / 10k test, pixels in [0, 1]), each trained by aekit's
Trainer on ``device='cuda'``:
- dense b256 and dense b32: the lecture's 784-100-30-100-784 AE, Adam 1e-3, 5 epochs;
- conv b32: the lecture's conv AE (16-32-64, transposed-conv decoder), Adam 1e-3, 5 epochs,
  all 60k rows;
- deep: 784-1000-500-250-30 with a linear code and the documented deep recipe
  (benchmarks/speed.py ``DEEP_RECIPE``), PCA(30) beside it.
Each runs in fp32 and under ``torch.autocast(dtype=torch.bfloat16)``; bf16 is the one to use
for a workload when its test MSE is within 2% of fp32's (the table says which).

The training rows are one tensor on the device (the trainer indexes it with an on-device
permutation: no host-to-device copy per step). Host syncs: the loop keeps the epoch's
loss sums on the device and reads them once per epoch; its divergence guard reads the loss
once every 50 steps. The script counts the synchronising calls of one epoch with
``torch.cuda.set_sync_debug_mode`` and reports them per step (the claim: well below 1).
Seconds per epoch: the trainer's epoch clock, which ends after that epoch's sync (so it
covers the GPU's work), median over the epochs after the first.
Results: results/gpu.json and results/gpu.md (``--dry-run``: results/gpu-dry-run.*).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
from speed import DEEP_HIDDEN, DEEP_RECIPE, load_fashion_mnist  # noqa: E402

TOLERANCE = 0.02  # bf16 is used where its test MSE is within 2% of fp32's
PRECISIONS = ("fp32", "bf16")


def workloads(dry_run: bool) -> list[dict]:
    """name, model config kwargs, TrainConfig kwargs (or an estimator recipe), rows."""
    epochs = 2 if dry_run else 5
    deep_hidden = (64, 32, 16) if dry_run else DEEP_HIDDEN
    deep_recipe = dict(DEEP_RECIPE, epochs=2) if dry_run else dict(DEEP_RECIPE)
    conv = {"architecture": "conv", "hidden": (16, 32, 64), "code_size": None,
            "image_shape": (1, 28, 28)}
    return [
        {"name": "dense b256", "model": {"hidden": (100,), "code_size": 30},
         "train": {"batch_size": 256, "lr": 1e-3, "epochs": epochs}},
        {"name": "dense b32", "model": {"hidden": (100,), "code_size": 30},
         "train": {"batch_size": 32, "lr": 1e-3, "epochs": epochs}},
        {"name": "conv b32", "model": conv,
         "train": {"batch_size": 32, "lr": 1e-3, "epochs": epochs}},
        {"name": "deep (documented recipe)", "deep": True, "hidden": deep_hidden,
         "recipe": deep_recipe},
    ]


def build(work: dict, seed: int):
    """(module, objective, TrainConfig kwargs) for one workload."""
    from aekit.estimators import StackedAutoencoder
    from aekit.losses import Objective
    from aekit.models import ModelConfig, build_model

    if work.get("deep"):  # the estimator's own translation of the recipe's keywords
        est = StackedAutoencoder(30, hidden_layer_sizes=work["hidden"],
                                 code_activation="linear", **work["recipe"])
        config = est._train_config(est.epochs, seed).to_dict()
        module = build_model(est._model_config(est._layout(784, None)), seed=seed)
        return module, est._objective(), config
    module = build_model(ModelConfig(784, **work["model"]), seed=seed)
    return module, Objective(), dict(work["train"], seed=seed)


def count_syncs(torch, trainer, X, steps_hint: int) -> float | None:
    """Synchronising calls per step over one more epoch (CUDA only)."""
    if X.device.type != "cuda":
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            trainer.fit(X, until=trainer.epoch + 1)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchroniz" in str(w.message).lower()]
    return len(syncs) / max(steps_hint, 1)


def run_one(torch, work, precision, Xtr, Xte, device, seed=0) -> dict:
    from aekit.training import TrainConfig, Trainer, evaluate

    module, objective, config = build(work, seed)
    # autograd everywhere: on a GPU it is what runs anyway, and the dry run on the CPU then
    # exercises the same step (the CPU's closed-form dense step ignores autocast).
    config = TrainConfig(**{**config, "device": device, "restore_best": False,
                            "engine": "autograd"})
    trainer = Trainer(module, objective, config)
    dtype = torch.bfloat16
    autocast = torch.autocast(device_type=torch.device(device).type, dtype=dtype,
                              enabled=precision == "bf16")
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    with autocast:
        result = trainer.fit(Xtr)
    wall = time.perf_counter() - t0
    seconds = [h["seconds"] for h in result.history]
    mse = float(evaluate(module, objective, Xte)["mse"])  # fp32, outside autocast
    syncs = None
    if device.startswith("cuda"):
        with autocast:
            syncs = count_syncs(torch, trainer, Xtr, trainer.steps_per_epoch)
    steady = seconds[1:] if len(seconds) > 1 else seconds
    s_epoch = statistics.median(steady)
    return {"workload": work["name"], "precision": precision, "epochs": len(seconds),
            "s_per_epoch": s_epoch, "first_epoch_s": seconds[0], "wall_s": wall,
            "samples_per_s": len(Xtr) / s_epoch, "test_mse": mse,
            "syncs_per_step": syncs,
            "peak_memory_mb": (torch.cuda.max_memory_allocated() / 2**20
                               if device.startswith("cuda") else None)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true",
                    help="run the logic on the CPU with tiny sizes (no GPU needed)")
    ap.add_argument("--device", default=None, help="default: cuda (cpu with --dry-run)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--rows", type=int, default=None, help="training rows (default all)")
    args = ap.parse_args(argv)

    import torch

    device = args.device or ("cpu" if args.dry_run else "cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        print("benchmarks/gpu.py: no CUDA device here (torch.cuda.is_available() is False); "
              "run it on a CUDA machine, or check the logic with --dry-run", file=sys.stderr)
        return 2
    t_start = time.perf_counter()
    n_train, n_test = (128, 64) if args.dry_run else (args.rows, None)
    Xtr_np, Xte_np = load_fashion_mnist(n_train, n_test)
    # Resident on the device for the whole run: the trainer indexes it in place.
    Xtr = torch.from_numpy(Xtr_np).to(device)
    Xte = torch.from_numpy(Xte_np).to(device)
    rows = []
    for work in workloads(args.dry_run):
        for precision in PRECISIONS:
            row = run_one(torch, work, precision, Xtr, Xte, device)
            rows.append(row)
            print(f"{row['workload']:>26} {precision}: {row['s_per_epoch']:.3f} s/epoch, "
                  f"test MSE {row['test_mse']:.5f}", flush=True)
        fp32, bf16 = rows[-2], rows[-1]
        bf16["vs_fp32"] = bf16["test_mse"] / fp32["test_mse"] - 1
        bf16["use"] = bf16["vs_fp32"] <= TOLERANCE
        fp32["use"] = not bf16["use"]
        if work.get("deep"):
            from sklearn.decomposition import PCA

            pca = PCA(30, random_state=0).fit(Xtr_np)
            pca_mse = float(np.mean((pca.inverse_transform(pca.transform(Xte_np)) - Xte_np) ** 2))
            for row in (fp32, bf16):
                row["pca_mse"], row["vs_pca"] = pca_mse, row["test_mse"] / pca_mse
    result = {"device": (torch.cuda.get_device_name(device) if device.startswith("cuda")
                         else platform.processor() or "cpu"),
              "torch": torch.__version__, "dry_run": args.dry_run, "n_train": len(Xtr_np),
              "n_test": len(Xte_np), "rows": rows, "tolerance": TOLERANCE,
              "benchmark_wall_s": time.perf_counter() - t_start}
    name = "gpu-dry-run" if args.dry_run else "gpu"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2))
    text = markdown(result)
    (args.out / f"{name}.md").write_text(text)
    print(text)
    return 0


def markdown(r) -> str:
    lines = [f"# Training speed on {'the CPU (dry run: tiny sizes, logic only)' if r['dry_run'] else 'a GPU'}",
             "", f"Device: {r['device']}, torch {r['torch']}; {r['n_train']} training / "
             f"{r['n_test']} test rows resident on the device. s/epoch: median after the "
             "first epoch; bf16: torch.autocast(bfloat16), used where its test MSE is within "
             f"{100 * r['tolerance']:.0f}% of fp32's; syncs/step: synchronising host calls per "
             "step over one epoch (CUDA only).", "",
             "| workload | precision | s/epoch | first epoch s | samples/s | test MSE | vs fp32 "
             "| use | syncs/step | peak MB |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        vs = f"{100 * row['vs_fp32']:+.1f}%" if "vs_fp32" in row else ""
        syncs = "" if row["syncs_per_step"] is None else f"{row['syncs_per_step']:.3f}"
        peak = "" if row["peak_memory_mb"] is None else f"{row['peak_memory_mb']:.0f}"
        lines.append(f"| {row['workload']} | {row['precision']} | {row['s_per_epoch']:.3f} | "
                     f"{row['first_epoch_s']:.3f} | {row['samples_per_s']:.0f} | "
                     f"{row['test_mse']:.5f} | {vs} | {'yes' if row['use'] else ''} | "
                     f"{syncs} | {peak} |")
    deep = [row for row in r["rows"] if "vs_pca" in row]
    if deep:
        lines += ["", "Deep model vs PCA(30) on the same rows: " + ", ".join(
            f"{row['precision']} {row['vs_pca']:.3f}x (PCA {row['pca_mse']:.5f})" for row in deep)
            + "."]
    lines += ["", f"Benchmark wall time: {r['benchmark_wall_s']:.0f} s."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
