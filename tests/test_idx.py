"""The IDX reader and writer: byte layout, round trips, and every kind of damage."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aekit.datasets.idx import read_idx, write_idx
from aekit.errors import DataError

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def _named(path, problem: str) -> str:
    """A ``match=`` pattern: the message names ``path`` and states ``problem``."""
    return re.escape(str(path)) + ".*" + problem


def test_header_bytes_follow_the_spec(tmp_path):
    # MNIST's images start 0x00000803 then dims as big-endian uint32.
    path = write_idx(tmp_path / "a.idx", np.arange(6, dtype=np.uint8).reshape(1, 2, 3))
    assert path.read_bytes() == bytes.fromhex("00000803 00000001 00000002 00000003 000102030405")
    path = write_idx(tmp_path / "b.idx", np.array([1, 258], dtype=np.int16))
    assert path.read_bytes() == bytes.fromhex("00000b01 00000002 0001 0102")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 1, 3, 2)])
@pytest.mark.parametrize("suffix", [".idx", ".idx.gz"])
def test_round_trip(tmp_path, dtype, shape, suffix):
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else np.finfo(dtype)
    array = rng.uniform(info.min / 2, info.max / 2, shape).astype(dtype)

    back = read_idx(write_idx(tmp_path / f"a{suffix}", array))

    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert back.flags.writeable
    np.testing.assert_array_equal(back, array)


def test_gzip_is_detected_by_content_not_name(tmp_path):
    array = np.arange(12, dtype=np.int32).reshape(3, 4)
    path = write_idx(tmp_path / "no-suffix", array, compress=True)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(path), array)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(st.sampled_from(DTYPES), hnp.array_shapes(min_dims=1, max_dims=4, max_side=5)))
def test_round_trip_property(tmp_path_factory, array):
    path = tmp_path_factory.mktemp("idx") / "x.idx.gz"
    np.testing.assert_array_equal(read_idx(write_idx(path, array)), array)


@pytest.fixture
def good(tmp_path):
    """Raw IDX bytes of a (4, 3) int16 array."""
    return write_idx(
        tmp_path / "good.idx", np.arange(12, dtype=np.int16).reshape(4, 3)
    ).read_bytes()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (lambda b: b[:-1], r"truncated: dims \(4, 3\) of int16 need 24 data bytes, found 23"),
        (lambda b: b + b"\x00\x00", "has trailing bytes.*need 24 data bytes, found 26"),
        (lambda b: b"\x01" + b[1:], "not an IDX file: magic number 0x01000b02"),
        (lambda b: b[:2] + b"\x0a" + b[3:], "not an IDX file: magic number 0x00000a02"),
        (lambda b: b[:3] + b"\x00" + b[4:], "0 dimensions"),
        (lambda b: b[:6], r"truncated IDX header \(2 dims need 12 bytes\)"),
        (lambda b: b[:3], "not an IDX file"),
        (lambda b: b"", "empty file"),
    ],
    ids=["truncated", "trailing", "magic", "dtype-code", "ndim-0", "short-header", "tiny", "empty"],
)
def test_bad_raw_file(tmp_path, good, content, problem):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(content(good))
    with pytest.raises(DataError, match=_named(path, problem)):
        read_idx(path)


def test_truncated_gzip(tmp_path, good):
    path = tmp_path / "cut.idx.gz"
    path.write_bytes(gzip.compress(good)[:-12])  # stream ends before its trailer
    with pytest.raises(DataError, match=_named(path, "corrupt or truncated gzip")):
        read_idx(path)


def test_corrupt_gzip_crc(tmp_path, good):
    blob = bytearray(gzip.compress(good, mtime=0))
    blob[-8] ^= 0xFF  # the CRC-32 of the content
    path = tmp_path / "crc.idx.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError, match=_named(path, "corrupt or truncated gzip.*CRC")):
        read_idx(path)


def test_garbage_after_gzip_magic(tmp_path):
    path = tmp_path / "junk.gz"
    path.write_bytes(b"\x1f\x8b" + b"not really gzip" * 3)
    with pytest.raises(DataError, match=_named(path, "corrupt or truncated gzip")):
        read_idx(path)


def test_gzip_of_a_truncated_idx(tmp_path, good):
    path = tmp_path / "short.idx.gz"
    path.write_bytes(gzip.compress(good[:-2]))
    with pytest.raises(DataError, match=_named(path, "truncated.*found 22")):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=_named(tmp_path / "nope.gz", "file not found")):
        read_idx(tmp_path / "nope.gz")


def test_writer_refuses_dtypes_idx_cannot_hold(tmp_path):
    with pytest.raises(DataError, match="cannot store dtype int64"):
        write_idx(tmp_path / "x.idx", np.arange(3, dtype=np.int64))
    assert list(tmp_path.iterdir()) == []
