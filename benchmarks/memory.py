"""Peak memory when training from a memory-mapped .npy file that grows 10x.

    python benchmarks/memory.py            # 60k-row and 600k-row files (0.05 / 0.5 GB uint8)
    python benchmarks/memory.py --quick    # small files, seconds

Each case runs in its own process and trains the lecture's dense AE (784-100-30-100-784)
for one epoch from ``aekit.datasets.load(path, mmap=True)`` (streamed: rows are read and
scaled one batch at a time), and, for contrast, from the same file loaded into memory
(``load(path)``). The files hold Fashion-MNIST training images tiled to the wanted number
of rows. Peak RSS (``ru_maxrss``) counts file pages mapped by the process too, so the
streaming path also has to hand them back (see ``ArraySource``). Results:
results/memory.json and results/memory.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def rss_now_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make_file(path: Path, rows: int) -> None:
    """A uint8 (rows, 784) .npy of Fashion-MNIST images, written block by block."""
    from aekit.datasets import load

    base = np.round(load("fashion-mnist", split="train").X * 255).astype(np.uint8)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(rows, 784))
    for start in range(0, rows, len(base)):
        n = min(len(base), rows - start)
        out[start:start + n] = base[:n]
    out.flush()
    del out


def worker(path: str, mode: str, batch_size: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    from aekit.datasets import load
    from aekit.losses import Objective
    from aekit.models import ModelConfig, build_model
    from aekit.training import TrainConfig, train

    baseline = rss_now_mb()  # after imports, before data
    t = time.perf_counter()
    ds = load(path, mmap=(mode == "mmap"))
    model = build_model(ModelConfig(784, hidden=(100,), code_size=30), seed=0)
    history = train(model, Objective(), ds,
                    config=TrainConfig(epochs=1, batch_size=batch_size)).history
    return {"baseline_rss_mb": baseline,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "seconds": time.perf_counter() - t, "loss": history[-1]["loss"],
            "rows": len(ds), "file_mb": os.path.getsize(path) / 2**20}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rows", type=int, default=60_000, help="rows of the small file")
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker, args.batch_size, args.threads)))
        return 0
    rows = 6000 if args.quick else args.rows
    results = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("AEKIT_BENCH_TMP")) as tmp:
        for factor in (1, 10):
            path = Path(tmp) / f"x{factor}.npy"
            make_file(path, rows * factor)
            for mode in ("mmap", "in-memory"):
                proc = subprocess.run([sys.executable, __file__, "--worker", str(path), mode,
                                       "--batch-size", str(args.batch_size),
                                       "--threads", str(args.threads)],
                                      capture_output=True, text=True, check=True)
                row = json.loads(proc.stdout.strip().splitlines()[-1])
                results.append({"factor": factor, "mode": mode, **row})
            path.unlink()
    by = {(r["factor"], r["mode"]): r for r in results}

    def growth(mode):
        return (by[(10, mode)]["peak_rss_mb"] - by[(10, mode)]["baseline_rss_mb"]) / max(
            1e-9, by[(1, mode)]["peak_rss_mb"] - by[(1, mode)]["baseline_rss_mb"])

    summary = {"quick": args.quick, "rows_small": rows, "batch_size": args.batch_size,
               "results": results,
               "mmap_peak_ratio_10x": by[(10, "mmap")]["peak_rss_mb"] / by[(1, "mmap")]["peak_rss_mb"],
               "in_memory_peak_ratio_10x": by[(10, "in-memory")]["peak_rss_mb"]
               / by[(1, "in-memory")]["peak_rss_mb"],
               "mmap_growth_over_baseline_10x": growth("mmap"),
               "in_memory_growth_over_baseline_10x": growth("in-memory")}
    args.out.mkdir(parents=True, exist_ok=True)
    name = "memory-quick" if args.quick else "memory"
    (args.out / f"{name}.json").write_text(json.dumps(summary, indent=2))
    lines = ["# Peak memory, training from a .npy that grows 10x", "",
             "One epoch of the dense AE, batch %d; peak RSS of the training process "
             "(baseline = RSS after imports, before data)." % args.batch_size, "",
             "| file rows | file MB | data path | baseline MB | peak RSS MB | s |",
             "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['rows']} | {r['file_mb']:.0f} | {r['mode']} | "
                     f"{r['baseline_rss_mb']:.0f} | {r['peak_rss_mb']:.0f} | {r['seconds']:.1f} |")
    lines += ["", f"Peak RSS at 10x / at 1x: streamed (mmap) {summary['mmap_peak_ratio_10x']:.2f}, "
              f"in memory {summary['in_memory_peak_ratio_10x']:.2f}."]
    (args.out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
