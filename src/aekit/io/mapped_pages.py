"""Read rows of a read-only memory-mapped array without growing the process's RSS.

Pages of a file mapping count in a process's RSS once touched, until they are unmapped.
Reading a few scattered rows through the mapping touches far more than those rows: each
page fault also maps neighbouring pages already in the page cache (fault-around, whole
large folios on recent kernels), so one batch of scattered rows of a page-cached file
mapped a large part of the file, and the peak grew with the file (benchmarks/memory.py
measures one batch's peak: hundreds of MB at 600k rows on Linux 6.18/ext4).

:class:`RowReader` therefore reads rows with ``pread`` from the memmap's own file: the
bytes land in an ordinary buffer of the batch's size, and the page cache that serves the
reads is the kernel's, not counted in this process's RSS. Arrays it cannot read that way
(no file name, not C-contiguous, not ``mode='r'``, the file was replaced) are read through
the mapping, and :func:`release` hands the touched pages back with ``MADV_DONTNEED``
(for a read-only file mapping that only unmaps them; the data stays in the page cache).
"""

from __future__ import annotations

import mmap
import os
import weakref

import numpy as np

from aekit.errors import DataError


def _memmap_base(X):
    """The array in X's ``.base`` chain that owns an ``mmap.mmap`` (X itself if so), else None."""
    for _ in range(16):
        if X is None:
            return None
        if isinstance(getattr(X, "_mmap", None), mmap.mmap):
            return X
        X = getattr(X, "base", None)
    return None


def find_mapping(X):
    """The ``mmap.mmap`` behind a (view of a) read-only numpy memmap, else None."""
    base = _memmap_base(X)
    if base is None or getattr(base, "mode", None) != "r" or not hasattr(base._mmap, "madvise"):
        return None
    return base._mmap


def release(mapping) -> None:
    """Drop the process's resident pages of ``mapping`` (from :func:`find_mapping`)."""
    if mapping is not None:
        mapping.madvise(mmap.MADV_DONTNEED)


class RowReader:
    """Rows of a C-contiguous read-only memmap ``X`` (n, ...) read with ``pread``.

    Build with :meth:`for_array`, which returns None when X cannot be read this way.
    """

    def __init__(self, X: np.ndarray, fd: int, name, position: int):
        self.fd, self.name, self.position = fd, name, position  # position: X[0]'s byte offset
        self._close = weakref.finalize(self, os.close, fd)
        self.dtype, self.row_shape = X.dtype, X.shape[1:]
        self.row_bytes = X.itemsize * int(np.prod(X.shape[1:], dtype=np.int64))
        self.n = X.shape[0]

    @classmethod
    def for_array(cls, X) -> RowReader | None:
        base = _memmap_base(X)
        if (base is None or getattr(base, "mode", None) != "r" or not X.flags.c_contiguous
                or X.ndim < 1 or not hasattr(os, "preadv")):
            return None
        filename = getattr(base, "filename", None)
        if filename is None:
            return None
        m = base._mmap
        start = base.offset - base.offset % mmap.ALLOCATIONGRANULARITY  # where the map begins
        view = np.frombuffer(m, dtype=np.uint8)  # only to learn the mapping's address
        map_address = view.__array_interface__["data"][0]
        del view
        x_address = X.__array_interface__["data"][0]
        try:
            fd = os.open(filename, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return None
        if not _same_file(fd, map_address):  # replaced since it was mapped: use the map
            os.close(fd)
            return None
        return cls(X, fd, filename, start + (x_address - map_address))

    def take(self, rows: np.ndarray) -> np.ndarray:
        """``X[rows]`` for row indices sorted ascending (1-D int array, in range)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), *self.row_shape), dtype=self.dtype)
        if len(rows) == 0:
            return out
        if rows[0] < 0 or rows[-1] >= self.n:
            raise IndexError(f"row indices must lie in [0, {self.n}), got {rows[0]}..{rows[-1]}")
        buf = memoryview(out.reshape(-1).view(np.uint8))
        # One read per run of consecutive rows: a contiguous range is a single call.
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        firsts = np.concatenate(([0], breaks)).tolist()
        ends = np.concatenate((breaks, [len(rows)])).tolist()
        starts = rows[firsts].tolist()
        rb = self.row_bytes
        for a, b, row in zip(firsts, ends, starts, strict=True):
            self._read_into(buf[a * rb:b * rb], self.position + row * rb)
        return out

    def take_range(self, start: int, stop: int) -> np.ndarray:
        """``X[start:stop]`` (0 <= start <= stop <= n) in one read."""
        if not 0 <= start <= stop <= self.n:
            raise IndexError(f"rows {start}:{stop} are not within [0, {self.n}]")
        out = np.empty((stop - start, *self.row_shape), dtype=self.dtype)
        self._read_into(memoryview(out.reshape(-1).view(np.uint8)),
                        self.position + start * self.row_bytes)
        return out

    def _read_into(self, buf: memoryview, offset: int) -> None:
        while len(buf):
            got = os.preadv(self.fd, [buf], offset)
            if got <= 0:
                raise DataError(f"{self.name}: file ended early (truncated while in use?)")
            buf, offset = buf[got:], offset + got

    def close(self) -> None:
        self._close()


def _same_file(fd: int, address: int) -> bool:
    """Whether the mapping at ``address`` maps the open file ``fd``: the inode in
    /proc/self/maps (True where /proc is not available). Device numbers are not compared: on btrfs and
    overlayfs ``fstat`` and the maps can name different devices for one file. A mapped
    file that was replaced keeps its inode alive, so the new file cannot have it."""
    st = os.fstat(fd)
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split()
                lo, hi = (int(v, 16) for v in fields[0].split("-"))
                if lo <= address < hi:
                    return int(fields[4]) == st.st_ino
    except (OSError, ValueError, IndexError):
        return True
    return False
