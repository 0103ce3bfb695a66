"""``aekit pretrained [NAME] [--out DIR]``: the models shipped inside the package.

Without NAME: one line per model (name, kind, data, code size, test MSE beside PCA's,
size). With NAME: its provenance record (the exact command that trained it, the commit,
its test metrics). With ``--out DIR``: a copy of its model folder, which every other
subcommand (encode, decode, generate, interpolate, evaluate, report) takes as MODEL_DIR.
"""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pretrained",
        help="list the pretrained models shipped with aekit, or copy one out",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("name", nargs="?", metavar="NAME",
                        help="a pretrained model (see the list without NAME)")
    parser.add_argument("--out", metavar="DIR",
                        help="copy NAME's model folder here (a new or empty folder)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(func=run)


def _size(folder) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aekit import pretrained
    from aekit.cli import outputs
    from aekit.errors import ConfigError

    if args.name is None:
        if args.out is not None:
            raise ConfigError("--out needs a NAME: which pretrained model to copy")
        records = [{**pretrained.info(n), "bytes": _size(pretrained.path(n))}
                   for n in pretrained.list()]
        if args.json:
            print(json.dumps(records, indent=2))
            return 0
        rows = []
        for r in records:
            kind = r["command"].split("--model ", 1)[1].split()[0]
            m, p = r["test_metrics"], r["pca_test_metrics"]
            rows.append([r["name"], kind, r["data"]["name"], m["code_size"],
                         f"{m['mse']:.4g}", f"{p['mse']:.4g}", f"{r['bytes'] / 2**10:.0f} KiB"])
        print(outputs.format_table(["NAME", "MODEL", "DATA", "CODE", "TEST MSE", "PCA MSE",
                                   "SIZE"], rows))
        print("details: aekit pretrained NAME; a copy to use as MODEL_DIR: aekit pretrained "
              "NAME --out DIR; in Python: aekit.pretrained.load(NAME)")
        return 0

    source = pretrained.path(args.name)  # ConfigError naming the choices
    record = pretrained.info(args.name)
    if args.out is not None:
        pretrained.verify(args.name)  # a changed file is never copied out under the name
        out = outputs.check_output_dir(Path(args.out))
        with outputs.output_folder_lock(out), outputs.staging_dir(out) as tmp:
            for f in sorted(source.iterdir()):
                if f.is_file():
                    (tmp / f.name).write_bytes(f.read_bytes())
            outputs.move_into(tmp, out)
        print(f"wrote {out}/: the model folder of {args.name} (aekit.load({str(out)!r}) or "
              "MODEL_DIR of any subcommand)")
        return 0
    if args.json:
        print(json.dumps({**record, "folder": str(source)}, indent=2))
        return 0
    m, p = record["test_metrics"], record["pca_test_metrics"]
    print(f"{record['name']}: {record['description']}")
    print(f"trained by:  {record['command']}")
    print(f"commit:      {record['commit']}"
          + (" (with uncommitted changes)" if record.get("source_changes_uncommitted") else ""))
    print(f"training:    {record['epochs_trained']} epochs in {record['train_seconds']:.0f} s "
          f"({record['machine']}, {record['trained_at']})")
    print(f"test metrics on the {record['evaluated_on']} ({record['eval_rows']} rows):")
    keys = [k for k in m if k not in ("name",)]
    print(outputs.format_table(["metric", "model", p.get("name", "PCA")],
                              [[k, _fmt(m[k]), _fmt(p.get(k))] for k in keys]))
    print(f"folder:      {source}")
    return 0


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.5g}"
    return str(value)
