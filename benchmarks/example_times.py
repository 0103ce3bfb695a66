"""How long the likelihood examples take as a user runs them (issue 31: each <= 25 min on
this 2-core CPU): ``aekit train --config examples/FILE --out DIR --no-report``, timed
whole (data loading, training, the metrics aekit train prints), one after the other, with
the machine's load average before and after each run beside the time (run it on a quiet
machine: a busy one measures the neighbour).

    python benchmarks/example_times.py [--only vae_binarized.toml]

Results: results/example_times.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
EXAMPLES = ("vae_binarized.toml", "iwae_binarized.toml")
BUDGET_S = 25 * 60


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=EXAMPLES, action="append")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or EXAMPLES:
            out = Path(tmp) / name.split(".")[0]
            cmd = [sys.executable, "-m", "aekit", "train", "--config",
                   str(ROOT / "examples" / name), "--out", str(out), "--no-report"]
            load_before = os.getloadavg()[0]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            seconds = time.perf_counter() - t0
            if proc.returncode != 0:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
            metrics = json.loads((out / "metrics.json").read_text())["model"]
            rows.append({"example": name, "seconds": seconds, "budget_s": BUDGET_S,
                         "within_budget": seconds <= BUDGET_S,
                         "load_before": load_before, "load_after": os.getloadavg()[0],
                         "log_likelihood": metrics.get("log_likelihood"),
                         "iw_samples": metrics.get("iw_samples")})
            print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.platform()}, {os.cpu_count()} CPUs"
    (args.out / "example_times.json").write_text(json.dumps(
        {"machine": machine, "date": time.strftime("%Y-%m-%d"), "rows": rows}, indent=1)
        + "\n")
    lines = ["# The likelihood examples, timed as a user runs them", "",
             f"`aekit train --config examples/FILE --out DIR --no-report` on {machine}, "
             f"{time.strftime('%Y-%m-%d')}; the 1-minute load average before and after each "
             "run says how quiet the machine was.", "",
             "| example | wall s | budget s | within | load before / after | test log p(x), "
             "nats (k) |", "|---|---:|---:|---|---|---:|"]
    for r in rows:
        ll = "—" if r["log_likelihood"] is None else \
            f"{r['log_likelihood']:.2f} ({r['iw_samples']})"
        lines.append(f"| {r['example']} | {r['seconds']:.0f} | {r['budget_s']} | "
                     f"{'yes' if r['within_budget'] else 'NO'} | {r['load_before']:.2f} / "
                     f"{r['load_after']:.2f} | {ll} |")
    (args.out / "example_times.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
