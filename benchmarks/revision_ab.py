"""Is this working tree slower than an earlier revision? Side by side in one run.

    python benchmarks/revision_ab.py --base db1c3d4          # ~3 minutes on 2 cores

The speed benchmark compares aekit with other libraries, whose speed also moves from one
machine to the next (scikit-learn's MLPRegressor ran 3.8x faster on one host than another),
so a ratio that changed between two runs does not say whether aekit changed. This script
checks out ``--base`` into a temporary git worktree and runs ``benchmarks/speed.py``'s own
aekit worker from both trees, interleaved (the order alternates per repeat), on the same
workloads: seconds per epoch (steady state, after epoch 1), one thread.
Results: results/revision_ab.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORKLOADS = [{"model": "dense", "batch_size": 32}, {"model": "dense", "batch_size": 256},
             {"model": "conv", "batch_size": 32, "n_train": 6000, "n_test": 2000}]


def run_worker(tree: Path, spec: dict) -> float:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(tree / "src"))
    proc = subprocess.run([sys.executable, str(tree / "benchmarks" / "speed.py"), "--worker",
                           json.dumps(spec)], capture_output=True, text=True, env=env,
                          check=True)
    seconds = json.loads(proc.stdout.strip().splitlines()[-1])["epoch_seconds"]
    return statistics.mean(seconds[1:] if len(seconds) > 1 else seconds)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="git revision to compare against")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    base_rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.base],
                              capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach",
                        str(base), base_rev], check=True)
        try:
            trees = {"base": base, "working tree": ROOT}
            times: dict = {}
            for rep in range(args.repeats):
                for w in WORKLOADS:
                    order = list(trees) if rep % 2 == 0 else list(reversed(trees))
                    for name in order:
                        spec = {"threads": 1, "n_train": None, "n_test": None,
                                "recipe": "aekit", "lr": 1e-3, "epochs": args.epochs,
                                "seed": rep, **w}
                        key = f"{w['model']} b{w['batch_size']}"
                        times.setdefault(key, {}).setdefault(name, []).append(
                            run_worker(trees[name], spec))
                        print(key, name, f"{times[key][name][-1]:.3f} s/epoch", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(base)], check=False)
    rows = {k: {n: statistics.median(v) for n, v in d.items()} | {"runs": d}
            for k, d in times.items()}
    result = {"base": base_rev, "machine": platform.platform(), "repeats": args.repeats,
              "epochs": args.epochs, "workloads": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "revision_ab.json").write_text(json.dumps(result, indent=2))
    lines = [f"# Working tree vs {base_rev}, side by side", "",
             f"Machine: {result['machine']}; one thread; medians of {args.repeats} interleaved "
             f"runs of {args.epochs} epochs (s/epoch after epoch 1; train + validation pass).",
             "", "| workload | base s/epoch | working tree s/epoch | ratio |", "|---|---|---|---|"]
    for key, r in rows.items():
        lines.append(f"| {key} | {r['base']:.3f} | {r['working tree']:.3f} "
                     f"| {r['working tree'] / r['base']:.2f} |")
    (args.out / "revision_ab.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
