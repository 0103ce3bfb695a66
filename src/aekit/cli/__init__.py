"""The ``aekit`` command line.

Each subcommand lives in its own module that exposes ``register(subparsers)``; the parser it
adds sets ``func`` to a ``run(args) -> int``. ``main`` turns every deliberate aekit error (and
the common OS errors a user can cause, a full disk included) into one line on stderr and a
non-zero exit code: no traceback for user mistakes. While a command runs, SIGTERM is raised
in it as :class:`Terminated` (exit 143), as Ctrl-C raises KeyboardInterrupt (exit 130), so
its cleanup runs; the previous handler is restored on return. Nothing runs at import time.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
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
    "segment",
    "compress",
    "decompress",
    "export",
    "pretrained",
    "report",
    "tour",
    "datasets",
)

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143, the shell's status for a SIGTERM'd process


class Terminated(BaseException):
    """SIGTERM arrived (``docker stop``, SLURM, systemd, ``kill``). ``main`` raises it in
    the running command, like Ctrl-C's KeyboardInterrupt, so ``finally`` blocks remove
    staging folders and release locks; not an ``Exception``, so nothing swallows it."""


def _on_sigterm(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup
    raise Terminated()


def _install_sigterm_handler():
    """Turn SIGTERM into :class:`Terminated`; returns the handler to restore (or None where
    handlers cannot be set: not the main thread)."""
    try:
        return (signal.signal(signal.SIGTERM, _on_sigterm),)
    except (ValueError, OSError):
        return None


def _write_fault_text(exc: BaseException) -> str | None:
    """The message of a write fault that reached ``main`` unconverted (safetensors' own
    ``SafetensorError`` for a full disk), else None."""
    from aekit.io.atomic import fault_reason, is_write_fault

    if not is_write_fault(exc):
        return None
    code, reason = fault_reason(exc)
    return f"[Errno {code}] {reason} ({exc})" if str(exc) != reason else reason


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
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"aekit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
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
    for subparser in sub.choices.values():
        # No prefix matching: `--lr 0.1` must not become `--lr-schedule 0.1`.
        subparser.allow_abbrev = False
        # -v after the subcommand means what it means before it (SUPPRESS: absent unless
        # given, so `aekit -v train` keeps the top-level value).
        subparser.add_argument("-v", dest="verbose", action="store_true",
                               default=argparse.SUPPRESS, help=VERBOSE_HELP)
    return parser


VERBOSE_HELP = ("log progress details (and show the training progress bar); the same before "
                "or after the subcommand")


def is_verbose(args) -> bool:
    """-v before or after the subcommand, or train's --verbose (the estimator's progress
    bar): all mean "tell me more"."""
    return bool(getattr(args, "verbose", False)) or getattr(args, "param_verbose", None) is True


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if is_verbose(args) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    previous = _install_sigterm_handler()
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
    except Terminated:
        print(f"aekit {args.command}: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except Exception as exc:  # safetensors' SafetensorError (full disk) not converted
        text = _write_fault_text(exc)
        if text is None:
            raise
        print(f"aekit {args.command}: error: {text}", file=sys.stderr)
        return EXIT_USER_ERROR
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous[0] if previous[0] is not None
                          else signal.SIG_DFL)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
