"""Compression with real bitstreams: rows -> codes -> quantised symbols -> range-coded bytes.

    >>> data = compress(model, X, quality=50)      # bytes, ready to write to a file
    >>> X_hat = decompress(model, data)            # needs only the bytes and the model

Codec (any fitted autoencoder; the entropy model is :mod:`aekit.fitted.entropy`):

1. z = encode(x) (a VAE's posterior mean).
2. Per-dimension uniform quantisation around the training median c_j with step D_j from
   ``quality`` (``EntropyModel.steps_for_quality``: quantisation noise quality/2 dB below
   the signal the codes carry, shared equally by the dimensions through the decoder's
   gains): i_j = floor((z_j - c_j) / D_j + 1/2), z_hat_j = c_j + i_j D_j.
3. Each dimension's symbols are range-coded (``constriction``'s queue range coder) under
   the discrete model P(i) = F_j(c_j + (i + 1/2) D_j) - F_j(c_j + (i - 1/2) D_j), F_j the
   CDF of the training codes; symbols outside the training range take an escape symbol
   and are then written raw (32 bits).
4. x_hat = decode(z_hat).

Stream layout (version 1, little-endian, 30-byte header)::

    magic "AEKZ" | version u8 | flags u8 (0) | quality f32 | rows u32 |
    model fingerprint 8 B | payload bytes u32 | CRC-32 u32 | payload (u32 words)

The fingerprint is the first 8 bytes of a SHA-256 over the network's configuration, its
weights and the entropy model, so a stream decoded with another model (or another entropy
model) is refused; the CRC-32 covers the header fields and the payload, so a corrupt or
truncated stream is refused before a symbol is decoded. ``decompress(compress(X))`` equals
``decode(quantise(X))`` bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zlib
from dataclasses import dataclass

import constriction
import numpy as np

from aekit.applications.adapter import as_fitted
from aekit.errors import ConfigError, DataError
from aekit.fitted.entropy import EntropyModel

MAGIC = b"AEKZ"
VERSION = 1
HEADER = struct.Struct("<4sBBfI8sII")  # see the module docstring
DEFAULT_QUALITY = 50.0
RAW_BASE = 1 << 31  # an escaped symbol i is written as i + 2^31 in two 16-bit halves
MAX_ROWS = (1 << 32) - 1
# Bounds on what a stream may make decompress allocate, checked before any allocation (a
# stream is untrusted input; its CRC can be recomputed by anyone): the decoded rows and
# symbols at most MAX_DECODED_BYTES, and no more rows than the payload can hold, since a
# range coder spends at least -log2 P(symbol) bits on each symbol (see _min_bits_per_row).
MAX_DECODED_BYTES = 1 << 31
CODER_PRECISION = 24  # constriction's default: probabilities in units of 2^-24

__all__ = ["DEFAULT_QUALITY", "HEADER", "MAGIC", "VERSION", "StreamInfo", "bits_per_pixel",
           "compress", "decompress", "fingerprint", "pixels_per_row", "psnr", "quantise",
           "stream_info"]


@dataclass(frozen=True)
class StreamInfo:
    """What a stream's header says (``stream_info``)."""

    version: int
    quality: float
    rows: int
    fingerprint: str  # hex
    payload_bytes: int
    total_bytes: int


# --- the quantiser ---------------------------------------------------------------------------
def _check_quality(quality) -> float:
    """``quality`` as the float32 value the header stores (both sides compute with it)."""
    if isinstance(quality, (bool, np.bool_)) or not isinstance(quality, (int, float, np.number)):
        raise ConfigError(f"quality must be a number in (0, 100], got {quality!r}")
    q = float(np.float32(quality))
    if not (np.isfinite(q) and 0 < q <= 100):
        raise ConfigError(f"quality must be a number in (0, 100], got {quality!r}")
    return q


def _entropy(fitted, X_fit) -> EntropyModel:
    if X_fit is not None:
        return EntropyModel.fit(fitted, fitted.encode(fitted.check_input(X_fit, "X_fit")))
    model = fitted.entropy_model()
    if model is None:
        raise ConfigError(
            "this model has no entropy model of its codes (it was saved before aekit could "
            "compress, or is a bare module): pass X_fit=<its training rows> (CLI: "
            "--fit-data) to fit one from them, and give the same rows to decompress; or "
            "fit it once with model.fitted_.fit_entropy(X_train) (FittedAutoencoder."
            "fit_entropy) and save the model again")
    return model


def _symbols(entropy: EntropyModel, Z: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """i = floor((z - c) / D + 1/2), (n, k) int64, within +-(2^31 - 1)."""
    with np.errstate(over="ignore", invalid="ignore"):
        s = np.floor((Z.astype(np.float64) - entropy.offsets) / steps + 0.5)
    return np.clip(s, -(RAW_BASE - 1), RAW_BASE - 1).astype(np.int64)


def _dequantise(entropy: EntropyModel, S: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """z_hat = c + i D, (n, k) float32 (the one formula both sides use)."""
    return (entropy.offsets + S.astype(np.float64) * steps).astype(np.float32)


def quantise(model, X, quality=DEFAULT_QUALITY, *, X_fit=None) -> np.ndarray:
    """The quantised codes z_hat (n, k) float32 that ``compress`` writes for X:
    ``decompress(compress(X))`` is ``decode(quantise(X))``, bit for bit."""
    fitted = as_fitted(model)
    q = _check_quality(quality)
    entropy = _entropy(fitted, X_fit)
    steps = entropy.steps_for_quality(q)
    return _dequantise(entropy, _symbols(entropy, fitted.encode(X), steps), steps)


# --- identity ----------------------------------------------------------------------------------
def fingerprint(model, *, X_fit=None) -> bytes:
    """8 bytes identifying the decoder a stream needs: SHA-256 over the network config, the
    weights (names, dtypes, shapes, bytes) and the entropy model's tensors."""
    fitted = as_fitted(model)
    return _fingerprint(fitted, _entropy(fitted, X_fit))


def _fingerprint(fitted, entropy: EntropyModel) -> bytes:
    h = hashlib.sha256()
    h.update(json.dumps(fitted.module.config.to_dict(), sort_keys=True).encode())
    h.update(json.dumps(fitted.record()["n_features"]).encode())
    tensors = {f"model/{k}": v for k, v in fitted.module.state_dict().items()}
    tensors.update(entropy.to_tensors())
    for name in sorted(tensors):
        a = tensors[name].detach().cpu().contiguous().numpy()
        h.update(f"{name}|{a.dtype.str}|{a.shape}".encode())
        h.update(a.tobytes())
    return h.digest()[:8]


def pixels_per_row(model) -> int:
    """Pixels in one row: H * W of the model's images (a colour pixel counts once), else
    the number of values per row."""
    layout = as_fitted(model).layout
    if layout.image_shape is not None and layout.pad == 0:
        return int(layout.image_shape[1] * layout.image_shape[2])
    return int(layout.n_features)


def bits_per_pixel(model, data: bytes) -> float:
    """8 * len(data) / (rows * pixels): every byte counted, header included."""
    info = stream_info(data)
    return 8.0 * len(data) / max(info.rows * pixels_per_row(model), 1)


def psnr(X, X_hat, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB over all values: 10 log10(peak^2 / MSE) (inf when
    identical); ``peak`` is the data's range (1 for images in [0, 1])."""
    X = np.asarray(X, np.float64).reshape(len(X), -1)
    X_hat = np.asarray(X_hat, np.float64).reshape(len(X_hat), -1)
    if X.shape != X_hat.shape:
        raise DataError(f"PSNR needs arrays of the same shape, got {X.shape} and "
                        f"{X_hat.shape}")
    mse = float(np.mean((X - X_hat) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(peak ** 2 / mse))


# --- coding ------------------------------------------------------------------------------------
def _decoded_bytes(n: int, k: int, n_features: int) -> int:
    """What decompress allocates for n rows: symbols (int64, k a row) and rows (float32)."""
    return n * (k * 8 + n_features * 4)


def _check_declared_rows(n, k, n_features, info, tables) -> None:
    """Refuse a header whose row count the payload cannot hold, or whose decoding would
    allocate more than MAX_DECODED_BYTES, before anything is allocated."""
    decoded = _decoded_bytes(n, k, n_features)
    if decoded > MAX_DECODED_BYTES:
        raise DataError(f"the stream declares {n} rows, {decoded / 2**30:.1f} GiB decoded; "
                        f"aekit decodes at most {MAX_DECODED_BYTES / 2**30:.0f} GiB from one "
                        "stream (compress large sets in parts)")
    held = 8 * info.payload_bytes / max(_min_bits_per_row(tables), 1e-12)
    if n > held + 1:
        raise DataError(f"the stream declares {n} rows, but its {info.payload_bytes}-byte "
                        f"payload can hold at most {int(held) + 1} under this model (a "
                        "forged or damaged header)")


def _min_bits_per_row(tables) -> float:
    """The fewest bits a range coder can spend on one row: sum over dimensions of
    -log2 of the most probable symbol's probability, as the coder quantises it (each of
    the alphabet's symbols keeps at least 2^-CODER_PRECISION, so the largest is at most
    1 - (alphabet - 1) 2^-CODER_PRECISION)."""
    bits = 0.0
    for p in tables:
        ceiling = 1.0 - (len(p) - 1) * 2.0 ** -CODER_PRECISION
        bits += -np.log2(min(float(np.max(p)) + len(p) * 2.0 ** -CODER_PRECISION, ceiling))
    return bits


def _tables(entropy: EntropyModel, steps, lo, hi) -> list:
    """Each code dimension's symbol probabilities (its escape symbol last)."""
    return [entropy.probabilities(j, steps[j], int(lo[j]), int(hi[j]))
            for j in range(entropy.code_size)]


def _models(tables):
    cat = constriction.stream.model.Categorical
    return [cat(p, perfect=False) for p in tables]


def encode_raw(encoder, values: np.ndarray) -> None:
    """Escaped integers, written after the coded symbols as 32 raw bits each: i + RAW_BASE
    in two 16-bit halves (the photo codec's streams escape the same way)."""
    if len(values):
        raw = (values.astype(np.int64) + RAW_BASE).astype(np.uint64)  # in [1, 2^32 - 1]
        uniform = constriction.stream.model.Uniform(1 << 16)
        encoder.encode((raw >> 16).astype(np.int32), uniform)
        encoder.encode((raw & 0xFFFF).astype(np.int32), uniform)


def fill_raw(decoder, values: np.ndarray, escaped: np.ndarray) -> None:
    """Read the integers ``encode_raw`` wrote into ``values`` where ``escaped`` (in the
    mask's C order)."""
    n = int(escaped.sum())
    if n:
        uniform = constriction.stream.model.Uniform(1 << 16)
        high = np.asarray(decoder.decode(uniform, n), np.int64)
        low = np.asarray(decoder.decode(uniform, n), np.int64)
        values[escaped] = ((high << 16) | low) - RAW_BASE


def compress(model, X, quality=DEFAULT_QUALITY, *, X_fit=None) -> bytes:
    """X (rows or images the model takes) -> the compressed stream (bytes).

    ``quality`` in (0, 100]: higher keeps more detail and costs more bits (every 10 points
    about 1.7 dB less quantisation noise in the codes; the model's own reconstruction
    error is a floor no quality removes). ``X_fit``: training rows to fit the entropy
    model from, for a model saved without one (decompress then needs the same rows)."""
    fitted = as_fitted(model)
    q = _check_quality(quality)
    entropy = _entropy(fitted, X_fit)
    Z = fitted.encode(X)  # validates X: shape, dtype, finite
    n, k = Z.shape
    if n > MAX_ROWS or _decoded_bytes(n, k, fitted.n_features) > MAX_DECODED_BYTES:
        raise DataError(f"X has {n} rows, more than one stream may hold (decompress decodes "
                        f"at most {MAX_DECODED_BYTES / 2**30:.0f} GiB): compress it in parts")
    steps = entropy.steps_for_quality(q)
    lo, hi = entropy.alphabet(steps)
    S = _symbols(entropy, Z, steps)  # (n, k)
    encoder = constriction.stream.queue.RangeEncoder()
    escaped = []
    if n:
        for j, m in enumerate(_models(_tables(entropy, steps, lo, hi))):
            idx = S[:, j] - lo[j]
            out = (idx < 0) | (idx > hi[j] - lo[j])
            idx[out] = hi[j] - lo[j] + 1  # the escape symbol
            encoder.encode(idx.astype(np.int32), m)
            escaped.append(S[out, j])
        encode_raw(encoder, np.concatenate(escaped))
    payload = encoder.get_compressed().astype("<u4").tobytes() if n else b""
    head = HEADER.pack(MAGIC, VERSION, 0, q, n, _fingerprint(fitted, entropy), len(payload), 0)
    crc = zlib.crc32(payload, zlib.crc32(head[:-4]))
    return head[:-4] + struct.pack("<I", crc) + payload


def stream_info(data) -> StreamInfo:
    """The header of a stream, checked (magic, version, length, checksum); raises
    :class:`~aekit.DataError` for anything that is not an intact aekit stream."""
    data = _as_bytes(data)
    if len(data) < HEADER.size:
        raise DataError(f"not an aekit compressed stream: {len(data)} bytes, shorter than its "
                        f"{HEADER.size}-byte header (truncated?)")
    magic, version, flags, q, n, fp, size, crc = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise DataError(f"not an aekit compressed stream (starts with {magic!r}, expected "
                        f"{MAGIC!r})")
    if version == 2:  # aekit.applications.photo
        raise DataError("this stream holds a photograph (format 2), not a model's rows: "
                        "decompress it without a model (aekit decompress STREAM --out "
                        "image.png, or aekit.decompress(data))")
    if version > 2:
        raise DataError(f"the stream has format version {version}, written by a newer aekit; "
                        f"this one reads version {VERSION}: upgrade aekit")
    if version < 1 or flags != 0:
        raise DataError(f"corrupt stream header (version {version}, flags {flags})")
    _check_length(len(data), HEADER.size + size)
    if zlib.crc32(data[HEADER.size:], zlib.crc32(data[:HEADER.size - 4])) != crc:
        raise DataError("the stream is corrupt: its CRC-32 checksum does not match (the bytes "
                        "changed after it was written)")
    if not (0 < q <= 100) or size % 4 or (n == 0) != (size == 0):
        raise DataError(f"corrupt stream header (quality {q}, {n} rows, {size} payload bytes)")
    return StreamInfo(version, float(q), int(n), fp.hex(), int(size), len(data))


def _check_length(actual: int, declared: int) -> None:
    """A stream's length against its header's (header + payload bytes)."""
    if actual != declared:
        what = "truncated" if actual < declared else "longer than its header says"
        raise DataError(f"the stream is {what}: {actual} bytes, its header says {declared}")


def read_stream(path) -> bytes:
    """A stream file's bytes, its length checked against the header's before the payload
    is read (a huge or sparse file that is not a stream costs one header read)."""
    from pathlib import Path

    path = Path(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(HEADER.size)
        if len(head) == HEADER.size and head[:4] == MAGIC and head[4] == VERSION:
            _check_length(size, HEADER.size + HEADER.unpack_from(head)[6])
        elif size > HEADER.size:
            return head  # stream_info names what is wrong from the header alone
        return head + f.read()


def _as_bytes(data) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, np.ndarray) and data.dtype == np.uint8:
        return data.tobytes()
    raise DataError(f"a compressed stream is bytes, got {type(data).__name__}")


def decompress(model, data, *, X_fit=None, codes: bool = False) -> np.ndarray:
    """The stream ``data`` -> reconstructed rows (n, D) float32 (``codes=True``: the
    quantised codes (n, k) instead). Raises :class:`~aekit.DataError` for a corrupt,
    truncated or foreign stream, or one written with another model; ``X_fit``: the rows
    ``compress`` was given (only for a model saved without an entropy model)."""
    fitted = as_fitted(model)
    info = stream_info(data)
    data = _as_bytes(data)
    entropy = _entropy(fitted, X_fit)
    mine = _fingerprint(fitted, entropy)
    if mine.hex() != info.fingerprint:
        raise DataError(
            f"the stream was written with another model (fingerprint {info.fingerprint}; "
            f"this model's is {mine.hex()}): decompress it with the model (and the entropy "
            "model / X_fit) that compressed it")
    n, k = info.rows, entropy.code_size
    steps = entropy.steps_for_quality(info.quality)
    if n == 0:
        Zhat = np.zeros((0, k), np.float32)
        return Zhat if codes else np.zeros((0, fitted.n_features), np.float32)
    lo, hi = entropy.alphabet(steps)
    tables = _tables(entropy, steps, lo, hi)  # one computation for the bound and the coder
    _check_declared_rows(n, k, fitted.n_features, info, tables)
    words = np.frombuffer(data, dtype="<u4", offset=HEADER.size).astype(np.uint32)
    S = np.empty((n, k), np.int64)
    try:
        decoder = constriction.stream.queue.RangeDecoder(words)
        escaped = np.empty((n, k), bool)
        for j, m in enumerate(_models(tables)):
            idx = np.asarray(decoder.decode(m, n), np.int64)
            escaped[:, j] = idx == hi[j] - lo[j] + 1
            S[:, j] = idx + lo[j]
        # column by column, as compress wrote them (S.T is a view: filled in place)
        fill_raw(decoder, S.T, escaped.T)
    except (ValueError, RuntimeError, OverflowError, AssertionError) as exc:  # a forged stream
        # with a valid CRC (constriction checks its words with assertions too)
        raise DataError(f"the stream's payload could not be decoded ({exc})") from None
    Zhat = _dequantise(entropy, S, steps)
    return Zhat if codes else fitted.decode(Zhat)
