"""scikit-learn's ``check_estimator`` on each estimator's default constructor (issue 27:
all five in <= 5 min together on this machine, zero failures), each in a fresh process,
quiet and optionally beside busy processes.

    python benchmarks/sklearn_checks.py            # quiet, writes results/sklearn_checks.*
    python benchmarks/sklearn_checks.py --busy 2   # beside two `yes > /dev/null`

Per estimator: wall seconds of the whole check run, the number of fits it made, the seconds
inside fit, and the slowest fit shapes. The one declared expected failure is the classifier's
``check_classifiers_classes`` (-1 marks unlabelled rows; tests/test_sklearn_checks.py).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ESTIMATORS = ("LinearAutoencoder", "StackedAutoencoder", "ConvAutoencoder",
              "VariationalAutoencoder", "AutoencoderClassifier")
FLOOR_S = 300.0

CHILD = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
from sklearn.utils.estimator_checks import check_estimator
import aekit
name = sys.argv[1]
Est = getattr(aekit, name)
fits, real_fit = [], Est.fit
def fit(self, X, y=None, **kw):
    t = time.perf_counter()
    out = real_fit(self, X, y, **kw)
    fits.append((str(getattr(X, "shape", "?")), time.perf_counter() - t))
    return out
Est.fit = fit
expected = ({"check_classifiers_classes": "-1 means unlabelled"}
            if name == "AutoencoderClassifier" else None)
t = time.perf_counter()
results = check_estimator(Est(), expected_failed_checks=expected, on_fail=None)
wall = time.perf_counter() - t
failed = [r["check_name"] for r in results if r["status"] == "failed"]
by_shape = {}
for shape, s in fits:
    by_shape[shape] = by_shape.get(shape, 0.0) + s
print(json.dumps({"wall_s": wall, "fits": len(fits), "fit_s": sum(s for _, s in fits),
                  "failed": failed, "checks": len(results),
                  "slowest_shapes": sorted(by_shape.items(), key=lambda kv: -kv[1])[:3]}))
"""


def run(busy: int) -> dict:
    spinners = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(busy)]
    try:
        rows = {}
        for name in ESTIMATORS:
            proc = subprocess.run([sys.executable, "-c", CHILD, name], capture_output=True,
                                  text=True, check=True)
            rows[name] = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{name}: {rows[name]['wall_s']:.1f} s, {rows[name]['fits']} fits, "
                  f"failed {rows[name]['failed']}", flush=True)
        return rows
    finally:
        for p in spinners:
            p.kill()
            p.wait()


def render(result: dict) -> str:
    import torch

    lines = ["# scikit-learn's check_estimator on the default constructors", "",
             f"Machine: {platform.platform()}, {result['cpus']} CPUs, torch "
             f"{torch.__version__}; {result['busy']} busy processes beside it. Each estimator "
             "in a fresh process (imports included in no figure: wall is the check run).",
             "", "| estimator | checks | failed | fits | in fit s | wall s | slowest fit shapes "
             "(total s) |", "|---|---|---|---|---|---|---|"]
    for name, r in result["rows"].items():
        shapes = ", ".join(f"{s} {t:.1f}" for s, t in r["slowest_shapes"])
        lines.append(f"| {name} | {r['checks']} | {len(r['failed'])} | {r['fits']} | "
                     f"{r['fit_s']:.1f} | {r['wall_s']:.1f} | {shapes} |")
    total = result["total_s"]
    lines += ["", f"Together: {total:.0f} s against the floor of {FLOOR_S:.0f} s "
              f"({'holds' if total <= FLOOR_S else 'NOT met'}).", ""]
    return "\n".join(lines)


def main() -> None:
    import os

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--busy", type=int, default=0, help="busy processes beside the checks")
    args = ap.parse_args()
    t = time.perf_counter()
    rows = run(args.busy)
    result = {"busy": args.busy, "cpus": os.cpu_count(), "rows": rows,
              "total_s": sum(r["wall_s"] for r in rows.values()),
              "benchmark_s": time.perf_counter() - t}
    suffix = "" if args.busy == 0 else f"-busy{args.busy}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"sklearn_checks{suffix}.json").write_text(json.dumps(result, indent=2) + "\n")
    text = render(result)
    (RESULTS / f"sklearn_checks{suffix}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
