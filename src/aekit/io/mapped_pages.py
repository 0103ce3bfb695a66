"""Hand back the pages of a read-only memory map that this process has touched.

Pages of a file mapping count in a process's RSS once read, until the kernel needs the
memory, so one pass over a large ``.npy`` memmap makes RSS grow to the file's size even
though nothing is copied. ``madvise(MADV_DONTNEED)`` on a read-only (``mode='r'``) file
mapping only unmaps them: the data stays in the page cache and is faulted back on the next
read. Used by the lazy dataset scan and the streaming batch source.
"""

from __future__ import annotations

import mmap


def find_mapping(X):
    """The ``mmap.mmap`` behind a (view of a) read-only numpy memmap, else None."""
    for _ in range(16):
        if X is None:
            return None
        m = getattr(X, "_mmap", None)
        if isinstance(m, mmap.mmap):
            ok = hasattr(m, "madvise") and getattr(X, "mode", None) == "r"
            return m if ok else None
        X = getattr(X, "base", None)
    return None


def release(mapping) -> None:
    """Drop the process's resident pages of ``mapping`` (from :func:`find_mapping`)."""
    if mapping is not None:
        mapping.madvise(mmap.MADV_DONTNEED)
