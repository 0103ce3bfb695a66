"""``aekit tour --data {digits,fashion-mnist,mnist} --out DIR [--quick]``: rerun every
experiment of the lecture material on one dataset and write one HTML report (DIR/index.html
+ figures/, results.json). Each section says what the lecture claims, what this run measured
and how long it took."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from aekit.cli import argtypes, outputs


# The tour's data sets (aekit.tour.TOUR_DATASETS, which run_tour checks; named here so that
# building the parser imports no torch; tests/test_cli_startup.py keeps the two equal).
TOUR_DATASETS = ("digits", "fashion-mnist", "mnist")


def register(sub) -> None:
    p = sub.add_parser("tour", help="reproduce the lectures' experiments in one report",
                       description=__doc__,
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default="digits", metavar="NAME",
                   help=f"one of {', '.join(TOUR_DATASETS)}")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="report folder")
    p.add_argument("--quick", action="store_true",
                   help="tiny budgets (seconds per section) to check that everything runs")
    p.add_argument("--only", nargs="+", metavar="WORD", default=None,
                   help="run only the sections whose title contains one of these words")
    p.add_argument("--seed", type=argtypes.seed_arg(), default=0,
                   help="random seed of every experiment")
    p.add_argument("--threads", type=argtypes.IntArg(0, 1024), default=1, metavar="N",
                   help="torch CPU threads (the tour's networks are small: one thread "
                   "avoids oversubscription on a busy machine; 0 keeps torch's default)")
    p.set_defaults(func=run)


def run(args) -> int:
    """One writer per report folder: the run holds the folder's lock throughout."""
    with outputs.output_folder_lock(args.out):
        return _run(args)


def _run(args) -> int:
    import torch

    from aekit.errors import ConfigError
    from aekit.report import MARKER

    if args.data not in TOUR_DATASETS:
        raise ConfigError(f"--data {args.data}: the tour runs on {', '.join(TOUR_DATASETS)}")
    if args.threads < 0:
        raise ConfigError(f"--threads must be >= 0, got {args.threads}")
    if args.only:
        from aekit.tour import experiments

        titles = [title for title, _ in experiments()]
        unmatched = [w for w in args.only if not any(w.lower() in t.lower() for t in titles)]
        if unmatched:
            raise ConfigError(f"--only {' '.join(unmatched)}: no section title contains it; "
                              f"the sections are: {'; '.join(titles)}")
    out = Path(args.out)
    outputs.check_output_dir(out, allow_nonempty=(out / MARKER).exists())
    threads_before = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _tour(args, out)
    finally:  # the caller's count back (main() may run in a longer-lived process)
        torch.set_num_threads(threads_before)


def _tour(args, out) -> int:
    from aekit.tour import run_tour

    t0 = time.perf_counter()

    def progress(msg):
        print(f"[{time.perf_counter() - t0:6.1f} s] {msg}", file=sys.stderr, flush=True)

    report = run_tour(args.data, quick=args.quick, seed=args.seed, only=args.only,
                      progress=progress)
    page = report.save(out)
    from aekit.io.atomic import apply_default_modes, write_text_atomic

    write_text_atomic(out / "results.json", outputs.to_json(report.results))
    apply_default_modes(out)  # the modes a plain mkdir/open gives under the umask
    total = report.results["timings"]["total"]
    n = len(report.results["timings"]) - 1  # every section timed, and the total
    print(f"tour on {args.data}: {n} experiments in {total:.1f} s; "
          f"wrote {page} and {out / 'results.json'}")
    return 0
