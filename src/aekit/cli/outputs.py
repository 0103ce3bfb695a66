"""What the subcommands write: output paths checked before any work, files and folders written
atomically (a staged folder moved in at once, a lock per output folder), the run folder's
file names, and the status line of a phase that takes seconds."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from aekit.errors import ConfigError



SCALING_FILE = "scaling.json"  # beside config.resolved.json: the fitted scaling of the run


COLUMNS_FILE = "columns.json"  # a CSV run's feature names (its header), for rows written back


RESOLVED_CONFIG = "config.resolved.json"


MODEL_SUBDIR = "model"


@contextlib.contextmanager
def phase(command: str, what: str):
    """A phase of a command that may take seconds (metrics, the report with its t-SNE map,
    evaluation, saving with the code density): on a terminal one status line on stderr
    (``aekit train: writing the report ... 12.3 s``); otherwise, with -v, one log line when
    it ends. So no command sits silent for long (issue 27)."""
    import logging
    import time

    tty = sys.stderr.isatty()
    if tty:
        print(f"aekit {command}: {what} ...", end="", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    done = False
    try:
        yield
        done = True
    finally:
        seconds = time.perf_counter() - t0
        if tty:
            print(f" {seconds:.1f} s" if done else " stopped", file=sys.stderr, flush=True)
        logging.getLogger(f"aekit.cli.{command}").info("%s: %.1f s", what, seconds)


def to_json(obj) -> str:
    """JSON for resolved configs, histories and metrics: what model files encode
    (:func:`aekit.io.json_values.json_default`), and anything else (paths) as its text."""
    from aekit.io.json_values import json_default

    def default(o):
        try:
            return json_default(o)
        except TypeError:
            return str(o)

    return json.dumps(obj, indent=2, default=default)


def write_array(path, arr: np.ndarray, columns: list[str] | None = None) -> Path:
    """Write ``arr`` to a .npy or .csv path atomically (after the path was checked);
    ``columns``: a header line for a .csv (quoted as CSV quotes)."""
    import csv
    import io

    from aekit.io.atomic import atomic_path

    path = Path(path)
    header = ""
    if columns is not None and path.suffix.lower() == ".csv":
        line = io.StringIO()
        csv.writer(line, lineterminator="").writerow(columns)
        header = line.getvalue()
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, arr)
        else:
            np.savetxt(tmp, arr, delimiter=",", fmt="%.7g", header=header, comments="")
    return path


def add_force_arg(parser) -> None:
    parser.add_argument("--force", action="store_true",
                        help="replace output files that already exist (never an input of "
                             "the same command)")


def check_output_file(path, option: str = "--out", suffixes=None, *, force: bool = False,
                      inputs=()) -> Path:
    """A file to be written: not a folder, suffix allowed, parent exists or can be made and
    is writable; not one of ``inputs`` (the files this command reads), and not an existing
    file unless ``force``. Checked before any work so mistakes fail fast and nothing a user
    did not ask to replace is written over."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{option} {path}: is a folder; give a file name")
    if suffixes and path.suffix.lower() not in suffixes:
        raise ConfigError(f"{option} {path}: expected a file ending in {' or '.join(suffixes)}")
    for given in inputs:
        if given is not None and _same_file(path, Path(given)):
            raise ConfigError(f"{option} {path}: is an input of this command; write the "
                              "output to another file")
    if path.exists() and not force:
        raise ConfigError(f"{option} {path}: exists; pass --force to replace it")
    check_writable_parent(path, option)
    return path


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_output_dir(path, option: str = "--out", *, allow_nonempty: bool = False) -> Path:
    """A folder to be written: refuse a file; refuse a non-empty folder unless allowed."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path}: exists and is not a folder")
    if path.is_dir() and not allow_nonempty and any(path.iterdir()):
        raise ConfigError(f"{option} {path}: folder exists and is not empty; choose another "
                          f"{option}")
    check_writable_parent(path, option)
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: folder is not writable")
    return path


def check_writable_parent(path: Path, option: str) -> None:
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{option} {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: folder {parent} is not writable")


@contextlib.contextmanager
def staging_dir(final: Path):
    """A temporary folder beside ``final``; on success the caller moves results in, on any
    failure it is removed so no partial output stays behind. That includes Ctrl-C and
    SIGTERM, which :func:`aekit.cli.main` turns into exceptions."""
    from aekit.io.atomic import make_temp_dir, write_failed

    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp = make_temp_dir(final.parent, prefix=f".{final.name}.tmp-", suffix="")
    except OSError as exc:
        raise write_failed(final, exc) from None
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def move_into(src_dir: Path, dest: Path) -> None:
    """Move every entry of ``src_dir`` into folder ``dest`` (replacing same-named ones; a
    replaced folder keeps the files aekit did not write: :func:`aekit.io.atomic.carry_over`).
    What is moved gets the modes a plain ``mkdir``/``open`` gives under the umask, whatever
    modes the code that wrote it into the staging folder chose."""
    from aekit.io.atomic import (
        REPORT_MARKER,
        apply_default_modes,
        carry_over,
        read_manifest,
        swap_folder,
    )

    dest.mkdir(parents=True, exist_ok=True)
    for item in sorted(src_dir.iterdir()):
        apply_default_modes(item)
        target = dest / item.name
        if target.is_dir() and not target.is_symlink():
            # a folder aekit wrote before (RUN/model/, RUN/report/ on --resume): files
            # someone else added there are kept; aekit replaces only what it wrote
            carry_over(target, item, read_manifest(target / REPORT_MARKER))
            swap_folder(item, target)  # a failure puts the previous folder back
        else:
            os.replace(item, target)


LOCK_SUFFIX = ".aekit-lock"


def lock_file_of(folder) -> Path:
    """The lock file of an output folder: ``.NAME.aekit-lock`` beside it (not inside, so a
    folder that is replaced whole, like a report, keeps one lock, and a fresh folder stays
    empty for the checks)."""
    # realpath: a folder reached through a symlink is the same folder, so the same lock
    # (issue 28: two --resume runs, one through a symlink, mixed a run folder)
    folder = Path(os.path.realpath(os.path.abspath(folder)))
    return folder.parent / f".{folder.name or 'root'}{LOCK_SUFFIX}"


@contextlib.contextmanager
def output_folder_lock(folder, option: str = "--out"):
    """Hold an exclusive lock on output folder ``folder`` for the whole run: one writer per
    folder. A second aekit run on the same folder fails at once with a ConfigError naming
    it. The lock is ``fcntl.flock`` on :func:`lock_file_of`: the kernel releases it when the
    process ends, however it ends, so a killed run leaves no stale lock (at most the empty
    file, which the next run reuses). The file is removed when the lock is released.

    Under torchrun only rank 0 writes, so only rank 0 locks. Folders created for the lock
    file are removed again if they are still empty at the end (a failed fresh run leaves
    nothing).

    Long because taking, checking and releasing the lock (and removing the folders made for
    it) must sit in one try/finally: split, a failure between the parts could leave a lock."""
    import errno
    import fcntl

    from aekit.io.atomic import write_failed

    if os.environ.get("RANK", "0") not in ("", "0"):
        yield None
        return
    folder = Path(folder)
    check_writable_parent(folder, option)
    lock = lock_file_of(folder)
    created = []
    for parent in reversed([lock.parent, *lock.parent.parents]):
        if not parent.exists():
            try:
                parent.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                raise write_failed(folder, exc) from None
            created.append(parent)
    fd = None
    try:
        while fd is None:
            if lock.is_symlink():  # never follow a link aekit did not make: it may
                # point at a user's file, which the process id would overwrite
                raise ConfigError(f"{option} {folder}: the lock file {lock} is a symbolic "
                                  "link, not one aekit made; remove it and run again")
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW,
                             0o666)
            except OSError as exc:
                if exc.errno == errno.ELOOP:  # made a link between the check and the open
                    raise ConfigError(f"{option} {folder}: the lock file {lock} is a "
                                      "symbolic link; remove it and run again") from None
                raise write_failed(folder, exc) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                fd = None
                raise ConfigError(
                    f"{option} {folder}: another aekit run is writing this folder (it holds "
                    f"the lock {lock}); wait until it ends, or choose another {option}") from None
            # The run before us may have removed the file between our open and our lock:
            # then we locked an orphan, and must lock the file that is there now.
            try:
                current = os.stat(lock)
            except FileNotFoundError:
                current = None
            if current is None or not os.path.samestat(os.fstat(fd), current):
                os.close(fd)
                fd = None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield lock
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(lock)  # before the release: a run that waits re-checks the file
            os.close(fd)
        for parent in reversed(created):
            with contextlib.suppress(OSError):
                parent.rmdir()


def save_png(fig, path: Path) -> Path:
    """Render a figure to PNG bytes and write them atomically."""
    from aekit.io.atomic import write_bytes_atomic
    from aekit.plotting import figure_to_png

    write_bytes_atomic(path, figure_to_png(fig))
    return path


def format_table(header, rows) -> str:
    """Rows of strings as aligned text columns."""
    cells = [[str(c) for c in header], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)
