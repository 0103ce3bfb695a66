"""The ``aekit`` command line.

Each subcommand lives in its own module that exposes ``register(subparsers)``; the parser it
adds sets ``func`` to a ``run(args) -> int``. ``main`` turns every deliberate aekit error (and
the common OS errors a user can cause) into one line on stderr and a non-zero exit code:
no traceback for user mistakes. Nothing runs at import time.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from aekit.errors import AekitError

# Subcommand modules, in the order `aekit --help` lists them. A module that is missing
# (a subcommand not built yet) is skipped rather than breaking the whole CLI.
SUBCOMMANDS = (
    "demo",
    "train",
    "evaluate",
    "encode",
    "decode",
    "generate",
    "interpolate",
    "report",
    "tour",
    "datasets",
)

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors ("aekit train: error: ...", exit 2); subparsers
    inherit the class."""

    def error(self, message):
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from aekit import __version__

    parser = _Parser(
        prog="aekit",
        description="Train, evaluate and explore autoencoders; write HTML reports.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"aekit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"aekit.cli.{name}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name == f"aekit.cli.{name}_cmd":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except AekitError as exc:
        print(f"aekit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # missing/unwritable paths, read-only file system, disk full
        print(f"aekit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"aekit {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
