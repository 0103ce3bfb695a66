"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Temporary files and folders are created with the modes a plain ``open()``/``mkdir()`` gives
(0o666/0o777 less the umask), not the 0o600/0o700 of ``tempfile.mkstemp``/``mkdtemp``, so
what aekit moves into place can be read by whoever the umask lets read it. A failed write
(a full disk, safetensors' own ``SafetensorError``) is raised as an ``OSError`` that names
the file asked for, never a temporary one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
import sys
from pathlib import Path

_OS_ERROR = re.compile(r"os error (\d+)")


def make_temp_file(directory, prefix: str = ".", suffix: str = ".tmp") -> Path:
    """A new empty file in ``directory`` with a unique name, mode 0o666 less the umask."""
    for _ in range(100):
        path = Path(directory) / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return path
    raise FileExistsError(errno.EEXIST, f"no free temporary name in {directory}")


def make_temp_dir(directory, prefix: str = ".", suffix: str = ".tmp") -> Path:
    """A new empty folder in ``directory`` with a unique name, mode 0o777 less the umask."""
    for _ in range(100):
        path = Path(directory) / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            os.mkdir(path, 0o777)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(errno.EEXIST, f"no free temporary name in {directory}")


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (``/proc``)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: read it by setting it, and put it back at once
    os.umask(mask)
    return mask


def apply_default_modes(path) -> None:
    """Give ``path`` and everything below it the modes a plain ``mkdir()``/``open()`` gives
    under the current umask (folders 0o777, files 0o666, less the umask). For trees aekit
    built in a staging folder, where a library may have set its own modes."""
    mask = current_umask()
    path = Path(path)
    todo = [path]
    while todo:
        p = todo.pop()
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            continue
        if stat.S_ISDIR(st.st_mode):
            os.chmod(p, 0o777 & ~mask)
            todo.extend(p.iterdir())
        else:
            os.chmod(p, 0o666 & ~mask)


def is_write_fault(exc: BaseException) -> bool:
    """An ``OSError`` or safetensors' ``SafetensorError`` (its type for a full disk too)."""
    if isinstance(exc, OSError):
        return True
    st = sys.modules.get("safetensors")  # not imported: it cannot have raised
    cls = getattr(st, "SafetensorError", None)
    return cls is not None and isinstance(exc, cls)


def fault_reason(exc: BaseException) -> tuple[int, str]:
    """(errno, reason) of a write fault: ``(28, 'No space left on device')``. A
    SafetensorError carries the OS error as text ("... (os error 28)")."""
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno, os.strerror(exc.errno)
    found = _OS_ERROR.search(str(exc))
    if found:
        code = int(found.group(1))
        return code, os.strerror(code)
    return errno.EIO, str(exc) or type(exc).__name__


def write_failed(path, exc: BaseException, hint: str = "") -> OSError:
    """The error to raise for a failed write of ``path``: an ``OSError`` (the subclass its
    errno maps to) whose message names ``path`` and the reason, plus ``hint``."""
    code, reason = fault_reason(exc)
    return OSError(code, f"cannot write {path}: {reason}{hint}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    On any exception the temporary file is removed and ``path`` is left untouched; a write
    fault (``OSError``, ``SafetensorError``) is raised as an ``OSError`` naming ``path``. The
    file is fsynced before the rename so a crash cannot leave a renamed but empty file. The
    new file has the mode of the file it replaces, else 0o666 less the umask (what a plain
    ``open()`` gives).
    """
    path = Path(path)
    try:
        tmp = make_temp_file(path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        mode = stat.S_IMODE(os.stat(tmp).st_mode)
    except OSError as exc:  # name the file the caller asked for, not the temporary one
        raise write_failed(path, exc) from None
    try:
        yield tmp
        os.chmod(tmp, mode)  # a writer may have made the file anew with its own mode
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, Exception) and is_write_fault(exc):
            raise write_failed(path, exc) from None
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


# --- replacing a folder aekit wrote, keeping what it did not write ------------------------------
REPORT_MARKER = ".aekit-report"  # in every report folder; lists the files the report wrote
MANIFEST_HEADER = "files written by aekit (replaced on a rewrite; anything else is kept):"


def swap_folder(new, path) -> None:
    """Replace folder ``path`` by folder ``new`` (a sibling: one file system). The old
    folder is renamed aside first, the new one renamed in, and the old one removed only
    after; if the rename in fails, the old one is put back. So some complete folder is at
    ``path`` at every moment, and a failure leaves the previous one (``new`` is the
    caller's to remove). Model folders, report folders and ``train --resume``'s outputs
    are all replaced this way."""
    path, new = Path(path), Path(new)
    old = None
    if path.exists():
        old = make_temp_dir(path.parent, prefix=f".{path.name}.", suffix=".old")
        os.rmdir(old)
        os.replace(path, old)
    try:
        os.replace(new, path)
    except BaseException:
        if old is not None:
            os.replace(old, path)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_manifest(path, folder, first_line: str) -> None:
    """``path`` (inside ``folder``): ``first_line``, the manifest header, then every file
    under ``folder`` relative to it, one per line (the files aekit wrote there)."""
    folder = Path(folder)
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if not p.is_dir() or p.is_symlink())
    names.append(Path(path).relative_to(folder).as_posix())
    Path(path).write_text("\n".join([first_line, MANIFEST_HEADER, *sorted(set(names))]) + "\n",
                          encoding="utf-8")


def read_manifest(path) -> set[str]:
    """The relative paths a manifest written by :func:`write_manifest` lists (empty for a
    missing file or one written before manifests existed)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return set()
    if MANIFEST_HEADER not in lines:
        return set()
    return {line for line in lines[lines.index(MANIFEST_HEADER) + 1:] if line}


def carry_over(old, new, ours: set[str] = frozenset()) -> list[str]:
    """Before folder ``new`` replaces folder ``old``: copy into ``new`` every file (or
    symlink, as a link: never followed) of ``old`` that ``new`` does not have and that is
    not in ``ours`` (what aekit wrote into ``old``, from its manifest), so that replacing a
    folder aekit wrote never deletes what someone else put there (issue 28). Copies, not
    moves: until the swap succeeds ``old`` stays whole. Returns the relative paths kept."""
    import shutil

    old, new = Path(old), Path(new)
    kept = []
    for root, dirs, files in os.walk(old):  # os.walk does not follow symlinked folders
        here = Path(root)
        links = [d for d in dirs if (here / d).is_symlink()]
        for name in sorted(files + links):
            src = here / name
            rel = src.relative_to(old).as_posix()
            dst = new / rel
            if rel in ours or dst.exists() or dst.is_symlink():
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_symlink():
                os.symlink(os.readlink(src), dst)
            else:
                shutil.copy2(src, dst, follow_symlinks=False)
            kept.append(rel)
    return kept
