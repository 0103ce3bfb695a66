"""Read and write IDX files, the format MNIST and Fashion-MNIST ship in.

Format (LeCun et al., http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"):

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 ubyte, 0x09 sbyte, 0x0B short (2 B), 0x0C int (4 B),
                0x0D float (4 B), 0x0E double (8 B)
    byte  3     number of dimensions, ndim
    then        ndim sizes, each a big-endian uint32
    then        the elements, big-endian, row-major (last index fastest)

So MNIST's training images start with magic 0x00000803 and dims 60000, 28, 28. Files
may be gzip-compressed (``.gz``, detected by content, not by name). Every length is
checked exactly: a short or over-long file is an error, never silently padded or cut.
"""

from __future__ import annotations

import gzip
import math
import os
import tempfile
import zlib
from pathlib import Path

import numpy as np

from aekit.errors import DataError

# IDX element type code -> big-endian numpy dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_DEFLATE_RATIO = 1032


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in IDX file ``path`` (raw or gzip), native byte order.

    Shape is the file's dims; dtype one of uint8, int8, int16, int32, float32, float64.
    Raises DataError naming the file for a missing/empty/truncated/corrupt file, a bad
    magic number, or a data length that does not match the dims.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if gzipped else raw
        # Upper bound on the payload the file can hold, so a lying header cannot make us
        # allocate more: the raw size, or deflate's maximum expansion (about 1032:1).
        size = os.fstat(raw.fileno()).st_size
        max_bytes = size * _MAX_DEFLATE_RATIO if gzipped else size
        try:
            return _read_stream(stream, path, max_bytes)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            # gzip checks its CRC-32 and length trailer at the end, so damage is caught.
            raise DataError(f"{path}: corrupt or truncated gzip data ({exc})") from None


def _read_stream(f, path: Path, max_bytes: int) -> np.ndarray:
    magic = _read_up_to(f, 4)
    if not magic:
        raise DataError(f"{path}: empty file")
    dtype, ndim = _parse_magic(magic, path)
    dims_bytes = _read_up_to(f, 4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise DataError(f"{path}: truncated IDX header ({ndim} dims need {4 + 4 * ndim} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(dims_bytes, dtype=">u4"))
    expected = math.prod(dims) * dtype.itemsize  # Python ints: no overflow
    if expected > max_bytes:
        raise DataError(
            f"{path}: IDX file truncated: dims {dims} of {dtype.name} need {expected} data "
            f"bytes, more than the file can hold ({max_bytes})"
        )
    # Read straight into the array's own buffer: no second copy of a 47 MB payload.
    buffer = bytearray(expected)
    found = _read_into(f, buffer)
    if found == expected:
        found += _count_rest(f)
    if found != expected:
        problem = "truncated" if found < expected else "has trailing bytes"
        raise DataError(
            f"{path}: IDX file {problem}: dims {dims} of {dtype.name} need {expected} data "
            f"bytes, found {found}"
        )
    array = np.frombuffer(buffer, dtype=dtype).reshape(dims)
    if not dtype.isnative:
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array


def _parse_magic(magic: bytes, path: Path) -> tuple[np.dtype, int]:
    """(element dtype, ndim) from the 4 magic bytes."""
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_DTYPES:
        raise DataError(
            f"{path}: not an IDX file: magic number 0x{magic.hex()} (expected 0x0000, a type "
            f"code ({', '.join(f'0x{c:02X}' for c in IDX_DTYPES)}) and the number of dims)"
        )
    if magic[3] == 0:
        raise DataError(f"{path}: IDX header says 0 dimensions")
    return IDX_DTYPES[magic[2]], magic[3]


def _read_up_to(f, n: int) -> bytes:
    buffer = bytearray(n)
    return bytes(buffer[: _read_into(f, buffer)])


def _read_into(f, buffer: bytearray) -> int:
    """Fill ``buffer`` from ``f`` until full or end of file; bytes read."""
    view, filled = memoryview(buffer), 0
    while filled < len(buffer):
        n = f.readinto(view[filled:])
        if not n:
            break
        filled += n
    return filled


def _count_rest(f) -> int:
    """Bytes left in ``f`` (reading them is also what makes gzip verify its CRC)."""
    total = 0
    while chunk := f.read(1 << 20):
        total += len(chunk)
    return total


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` to ``path`` as IDX; gzip when ``compress`` (default: name ends .gz).

    The dtype must be one IDX can hold (uint8, int8, int16, int32, float32, float64);
    the write is atomic (temp file + rename), so a reader never sees half a file.
    """
    path = Path(path)
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        names = ", ".join(str(d.newbyteorder("=")) for d in IDX_DTYPES.values())
        raise DataError(f"{path}: IDX cannot store dtype {array.dtype} (supported: {names})")
    if not 1 <= array.ndim <= 255:
        raise DataError(f"{path}: IDX needs 1 to 255 dimensions, got {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)  # mtime=0: same array, same bytes
    _atomic_write(path, payload)
    return path


def _atomic_write(path: Path, payload: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
