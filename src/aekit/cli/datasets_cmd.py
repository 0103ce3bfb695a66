"""``aekit datasets``: list the named datasets and where their files are."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "datasets",
        help="list the named datasets and where their files are",
        description=(
            "List the named datasets, their splits, and where their files were found "
            "($AEKIT_DATA, the cache, /usr/share/datasets) or would be downloaded from. "
            "Downloads nothing."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--data-dir", help="folder searched first (default: $AEKIT_DATA)")
    parser.add_argument(
        "--cache-dir", help="download cache (default: $AEKIT_CACHE, else the OS cache folder)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aekit.datasets import available
    from aekit.errors import ConfigError

    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        raise ConfigError(f"--data-dir {args.data_dir}: no such folder")
    if args.cache_dir is not None and Path(args.cache_dir).exists() \
            and not Path(args.cache_dir).is_dir():
        raise ConfigError(f"--cache-dir {args.cache_dir}: exists and is not a folder")

    records = available(data_dir=args.data_dir, cache_dir=args.cache_dir)
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=2))
        return 0
    rows = [("NAME", "TRAIN", "TEST", "SHAPE", "LOCATION")]
    for r in records:
        shape = "x".join(str(d) for d in r.image_shape)
        n_train, n_test = str(r.n_samples["train"]), str(r.n_samples["test"])
        rows.append((r.name, n_train, n_test, shape, r.location))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        padded = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        print("  ".join([*padded, row[-1]]))
    return 0
