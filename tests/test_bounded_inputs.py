"""Issue 28, class 4: bounded resources from untrusted input. Limits are declared
(``compression.MAX_DECODED_BYTES``, the payload's information bound, ``MAX_CLASSES``) and
checked before anything is allocated, with one-line errors:

- a stream header forged to declare more rows (CRC recomputed, as anyone can) is refused
  when its payload cannot hold them or decoding would pass the limit, with a small peak of
  traced memory whatever it declares; seeded random header forgeries raise only DataError;
- ``aekit decompress`` checks a file's length against its header before reading the
  payload (a 3 GiB sparse file costs one header read);
- a valid 0-row stream round-trips;
- a mask label at or above MAX_CLASSES (255 is "void" in VOC-style sets) is refused before
  a network is built, by the estimator, the metrics and n_classes.
"""

from __future__ import annotations

import struct
import tracemalloc
import zlib

import numpy as np
import pytest

import aekit
from aekit.applications import compression as C
from aekit.cli import main
from aekit.errors import AekitError, ConfigError, DataError

MB = 1 << 20


@pytest.fixture(scope="module")
def model():
    from aekit.datasets import load

    X = load("digits").X[:200]
    est = aekit.StackedAutoencoder(n_components=8, hidden_layer_sizes=(32,), epochs=3,
                                   random_state=0).fit(X)
    return est, X


def forge(data: bytes, **fields) -> bytes:
    """``data`` with header fields replaced and the CRC recomputed (a valid checksum)."""
    names = ("magic", "version", "flags", "quality", "rows", "fingerprint", "size")
    values = dict(zip(names, C.HEADER.unpack_from(data)[:-1]))
    values.update(fields)
    head = C.HEADER.pack(*values.values(), 0)
    payload = data[C.HEADER.size:]
    crc = zlib.crc32(payload, zlib.crc32(head[:-4]))
    return head[:-4] + struct.pack("<I", crc) + payload


def peak_traced(fn) -> int:
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


# from just past what 10 rows' payload can hold to the header's largest value
DECLARED = [14 + 2, 100, 2 ** 16, 2 ** 20, 2 ** 24, 2 ** 28, 2 ** 32 - 1]


@pytest.mark.parametrize("rows", DECLARED)
def test_a_header_declaring_more_rows_is_refused_before_allocating(model, rows):
    est, X = model
    data = forge(C.compress(est, X[:10], 50), rows=rows)

    def decode():
        with pytest.raises(DataError, match=f"declares {rows} rows") as err:
            C.decompress(est, data)
        assert "\n" not in str(err.value)

    assert peak_traced(decode) < 8 * MB


def test_random_header_forgeries_raise_only_data_errors(model):
    est, X = model
    data = C.compress(est, X[:10], 50)
    rng = np.random.default_rng(0)
    for _ in range(200):
        field = rng.choice(["rows", "quality", "size", "version", "flags"])
        value = {"rows": int(rng.integers(0, 2 ** 32)),
                 "quality": float(rng.choice([0.0, -1.0, 1e-30, 100.5, np.nan, 37.0])),
                 "size": int(rng.integers(0, 2 ** 32)),
                 "version": int(rng.integers(0, 256)),
                 "flags": int(rng.integers(1, 256))}[field]
        forged = forge(data, **{field: value})
        try:
            out = C.decompress(est, forged)
        except DataError:
            continue
        assert len(out) <= 14  # what the payload can hold; never a huge decode


def test_a_zero_row_stream_round_trips(model):
    est, X = model
    data = C.compress(est, X[:0], 50)
    assert C.stream_info(data).rows == 0
    out = C.decompress(est, data)
    assert out.shape == (0, X.shape[1]) and out.dtype == np.float32


def test_decompress_checks_the_files_length_before_reading_it(model, tmp_path, capsys):
    est, X = model
    est.save(tmp_path / "m")
    good = C.compress(est, X[:10], 50)
    big = tmp_path / "big.aekz"
    with open(big, "wb") as f:  # a valid header, then 3 GiB of holes (sparse: no disk)
        f.write(good)
        f.truncate(3 << 30)
    junk = tmp_path / "junk.aekz"
    with open(junk, "wb") as f:  # not a stream at all, as large
        f.truncate(3 << 30)
    for stream, message in ((big, "longer than its header says"),
                            (junk, "not an aekit compressed stream")):
        out = tmp_path / "rows.npy"
        code = []
        peak = peak_traced(lambda: code.append(main(
            ["decompress", str(tmp_path / "m"), str(stream), "--out", str(out)])))
        err = capsys.readouterr().err.strip().splitlines()
        assert code == [2] and len(err) == 1 and message in err[0], err
        assert peak < 64 * MB and not out.exists()


LABELS = [255, 256, 1000, 100_000, 2 ** 31 - 1]


@pytest.mark.parametrize("label", LABELS)
def test_a_mask_label_past_the_class_limit_is_refused_before_building(label):
    from aekit.estimators.segmenter import MAX_CLASSES, ConvSegmenter
    from aekit.evaluation import segmentation_metrics

    X = np.random.default_rng(0).random((4, 1, 8, 8), dtype=np.float32)
    M = np.zeros((4, 8, 8), np.int64)
    M[2, 3, 4] = label
    est = ConvSegmenter(channels=(4,), epochs=1)
    with pytest.raises(DataError, match=f"row 2 .*label {label}") as err:
        peak_traced(lambda: est.fit(X, M))
    assert f"at most {MAX_CLASSES - 1}" in str(err.value)
    assert ("void" in str(err.value)) == (label == 255)
    assert not hasattr(est, "module_")
    with pytest.raises(DataError, match=f"label {label}"):
        segmentation_metrics(M, np.zeros_like(M))


@pytest.mark.parametrize("n_classes", [256, 100_001])
def test_n_classes_is_bounded(n_classes):
    from aekit.estimators.segmenter import ConvSegmenter

    X = np.random.default_rng(0).random((4, 1, 8, 8), dtype=np.float32)
    with pytest.raises((ConfigError, ValueError, AekitError), match="n_classes"):
        ConvSegmenter(channels=(4,), epochs=1, n_classes=n_classes).fit(
            X, np.zeros((4, 8, 8), np.int64))
