"""The ``aekit train`` estimator flags as plain data, so that building the parser imports
neither torch nor scikit-learn (``aekit --help`` and ``--version`` start at once).

``flags.json`` beside this file is generated from the one parameter table
(:mod:`aekit.estimators.params`, which imports both): each keyword's name, its form on the
command line and its ``--help`` text, in the table's order, plus the model names.
tests/test_cli_startup.py checks that the file equals what the table gives now; after an
edit of the table, regenerate it with ``python -m aekit.cli.flag_table``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

FLAGS_FILE = Path(__file__).with_name("flags.json")


def generate() -> dict:
    """The snapshot, from the live parameter table (imports torch and scikit-learn)."""
    from aekit.estimators.params import MODELS, PARAMS, cli_help

    return {"models": dict(MODELS),
            "flags": [{"name": p.name, "kind": p.kind, "help": cli_help(p)} for p in PARAMS]}


@functools.lru_cache(maxsize=None)
def load() -> dict:
    """The committed snapshot (json only)."""
    return json.loads(FLAGS_FILE.read_text(encoding="utf-8"))


def write() -> None:
    FLAGS_FILE.write_text(json.dumps(generate(), indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    write()
    print(f"wrote {FLAGS_FILE}")
