"""Peak memory when training from a memory-mapped .npy file that grows 10x.

    python benchmarks/memory.py            # 60k-row and 600k-row files (0.05 / 0.5 GB uint8)
    python benchmarks/memory.py --quick    # small files, seconds

Each case runs in its own process and trains the lecture's dense AE (784-100-30-100-784)
for one epoch from ``aekit.datasets.load(path, mmap=True)`` (streamed: rows are read and
scaled one batch at a time) through the three entry points a user has:

- "mmap": the training loop, ``aekit.training.train(model, objective, ds)``;
- "estimator-fit": ``StackedAutoencoder(...).fit(ds)`` (checks, range scan, training, the
  collapse check's sample and the code density's sample, all streamed);
- "aekit-train": ``aekit train --data FILE --mmap --no-report`` run in the worker process
  (its own load, the test split's metrics on at most 10,000 rows, the model folder);

and, for contrast, from the same file loaded into memory (``load(path)``) and streamed the
way aekit did before it read rows with ``pread`` ("mmap, via mapping": fancy-indexing the
memmap, touched pages handed back after every batch). The files hold Fashion-MNIST training images tiled to the wanted number of rows,
written by a separate process, and are in the page cache when training starts.

Peak RSS is the worker's own ``VmHWM`` (/proc/self/status). Not ``ru_maxrss``: on Linux a
child's ``ru_maxrss`` keeps the peak of the process it was forked from across exec
(``subprocess`` vforks the parent), so it reported this script's own peak (loading
Fashion-MNIST, writing the file) rather than the training's. File pages mapped by the
worker count in its RSS (``RssFile``), so reading through the mapping shows up here.
Results: results/memory.json and results/memory.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def status_mb() -> dict:
    """VmRSS, VmHWM (peak), RssAnon and RssFile of this process, in MB."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(line.split()[1]) / 1024
    return out


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


def one_batch_peak_mb(ds, batch_size: int) -> float:
    """How far RSS peaks above its level while one batch of random rows is read: the
    transient of a single read, measured by resetting VmHWM (/proc/self/clear_refs)."""
    import torch

    from aekit.io.rows import make_source

    source = make_source(ds)
    idx = torch.randperm(source.n, generator=torch.Generator().manual_seed(0))[:batch_size]
    source.batch(idx[:2])  # first-call allocations are not the read's
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # VmHWM := VmRSS
    before = status_mb()["VmRSS"]
    source.batch(idx)
    return status_mb()["VmHWM"] - before


def worker(path: str, mode: str, batch_size: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    from aekit.datasets import load
    from aekit.io import mapped_pages
    from aekit.losses import Objective
    from aekit.models import ModelConfig, build_model
    from aekit.training import TrainConfig, train

    from aekit import StackedAutoencoder
    from aekit.cli import main as cli_main

    if mode == "mmap-via-mapping":  # the pre-pread path: no RowReader, read the mapping
        mapped_pages.RowReader.for_array = classmethod(lambda cls, X: None)
    baseline = status_mb()  # after imports, before data
    t = time.perf_counter()
    if mode == "aekit-train":  # the whole command, in this process
        with tempfile.TemporaryDirectory(dir=os.environ.get("AEKIT_BENCH_TMP")) as tmp:
            code = cli_main(["train", "--model", "stacked", "--data", path, "--mmap",
                             "--hidden-layer-sizes", "100", "--n-components", "30",
                             "--epochs", "1", "--batch-size", str(batch_size),
                             "--random-state", "0", "--no-report", "--n-threads", str(threads),
                             "--out", str(Path(tmp) / "run")])
            if code != 0:
                raise SystemExit(f"aekit train exited with {code}")
            history = json.loads((Path(tmp) / "run" / "history.json").read_text())
        after_load, batch_peak = None, None  # one command: no separate load to measure
        rows = len(np.load(path, mmap_mode="r"))
    else:
        ds = load(path, mmap=mode not in ("in-memory",))
        after_load = status_mb()
        batch_peak = one_batch_peak_mb(ds, batch_size)
        if mode == "estimator-fit":
            est = StackedAutoencoder(hidden_layer_sizes=(100,), n_components=30, epochs=1,
                                     batch_size=batch_size, random_state=0).fit(ds)
            history = est.history_
        else:
            model = build_model(ModelConfig(784, hidden=(100,), code_size=30), seed=0)
            history = train(model, Objective(), ds,
                            config=TrainConfig(epochs=1, batch_size=batch_size)).history
        rows = len(ds)
    seconds = time.perf_counter() - t
    end = status_mb()
    loaded = end["VmHWM"] if after_load is None else after_load["VmHWM"]
    return {"baseline_rss_mb": baseline["VmRSS"],
            "peak_after_load_mb": None if after_load is None else loaded,
            "peak_rss_mb": max(loaded, end["VmHWM"]),
            "one_batch_peak_mb": batch_peak, "end_rss_mb": end["VmRSS"],
            "end_rss_file_mb": end["RssFile"], "end_rss_anon_mb": end["RssAnon"],
            "seconds": seconds, "loss": history[-1]["loss"],
            "rows": rows, "file_mb": os.path.getsize(path) / 2**20}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rows", type=int, default=60_000, help="rows of the small file")
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--make-file", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker, args.batch_size, args.threads)))
        return 0
    if args.make_file:
        make_file(Path(args.make_file[0]), int(args.make_file[1]))
        return 0
    rows = 6000 if args.quick else args.rows
    modes = ("mmap", "estimator-fit", "aekit-train", "mmap-via-mapping", "in-memory")
    results = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("AEKIT_BENCH_TMP")) as tmp:
        for factor in (1, 10):
            path = Path(tmp) / f"x{factor}.npy"
            # In its own process, so this one stays small (its peak is no one's business).
            subprocess.run([sys.executable, __file__, "--make-file", str(path),
                            str(rows * factor)], check=True)
            for mode in modes:
                proc = subprocess.run([sys.executable, __file__, "--worker", str(path), mode,
                                       "--batch-size", str(args.batch_size),
                                       "--threads", str(args.threads)],
                                      capture_output=True, text=True, check=True)
                row = json.loads(proc.stdout.strip().splitlines()[-1])
                results.append({"factor": factor, "mode": mode, **row})
            path.unlink()
    by = {(r["factor"], r["mode"]): r for r in results}

    def ratio(mode, key="peak_rss_mb"):
        return by[(10, mode)][key] / by[(1, mode)][key]

    def growth(mode):
        return (by[(10, mode)]["peak_rss_mb"] - by[(10, mode)]["baseline_rss_mb"]) / max(
            1e-9, by[(1, mode)]["peak_rss_mb"] - by[(1, mode)]["baseline_rss_mb"])

    summary = {"quick": args.quick, "rows_small": rows, "batch_size": args.batch_size,
               "threads": args.threads, "peak_measure": "VmHWM of the worker",
               "results": results,
               **{f"{m}_peak_ratio_10x": ratio(m) for m in modes},
               **{f"{m}_growth_over_baseline_10x": growth(m) for m in modes}}
    args.out.mkdir(parents=True, exist_ok=True)
    name = "memory-quick" if args.quick else "memory"
    (args.out / f"{name}.json").write_text(json.dumps(summary, indent=2))
    lines = ["# Peak memory, training from a .npy that grows 10x", "",
             f"One epoch of the dense AE, batch {args.batch_size}, {args.threads} thread(s). "
             "Peak = the training process's own VmHWM; baseline = RSS after imports, "
             "before data; 'after load' = peak once the data is loaded (for mmap: the "
             "range scan); one batch = how far RSS peaks while one batch of random rows is read; "
             "end RssFile = file pages mapped when the epoch ends.", "",
             "| file rows | file MB | data path | baseline MB | peak after load MB | "
             "one batch MB | peak RSS MB | end RSS MB | end RssFile MB | s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['rows']} | {r['file_mb']:.0f} | {r['mode']} | "
                     f"{r['baseline_rss_mb']:.0f} | "
                     + ("- | - | " if r["one_batch_peak_mb"] is None else
                        f"{r['peak_after_load_mb']:.0f} | {r['one_batch_peak_mb']:.1f} | ") +
                     f"{r['peak_rss_mb']:.0f} | {r['end_rss_mb']:.0f} | "
                     f"{r['end_rss_file_mb']:.0f} | {r['seconds']:.1f} |")
    lines += ["", "Peak RSS at 10x / at 1x: " + ", ".join(
        f"{m} {ratio(m):.2f} (growth over baseline {growth(m):.2f})" for m in modes) + ".",
        "", "mmap reads each batch's rows with pread from the file (aekit.io.mapped_pages."
        "RowReader), so only a batch is resident. mmap-via-mapping is how aekit read them "
        "before: fancy-indexing the memmap faults in whole large folios of the cached file "
        "around every row, so one batch of scattered rows maps a large part of the file "
        "before its pages are handed back ('one batch'); that transient, and so the peak, "
        "grows with the file (its size depends on how the "
        "file's pages entered the page cache). Times are wall seconds on a shared 2-core "
        "machine, load included."]
    (args.out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
