"""The photo codec (issue 32): images of any size, grey or colour, to range-coded streams
with the pretrained learned transform codec (:mod:`aekit.models.photo_codec`).

    >>> data = aekit.compress(image, quality=60)   # image: (H, W) or (H, W, 3) uint8
    >>> image_hat = aekit.decompress(data)         # the same shape, uint8

Codec, per tile of at most TILE x TILE pixels (memory stays bounded for any image size):

1. The tile, in [0, 1], padded by edge replication to a multiple of 64; a grey image is
   coded as three equal planes and decoded back to one.
2. y = g_a(x) * gain(quality); z = h_a(y); z_hat = round(z), each channel range-coded
   under the bottleneck's learned density (integers outside its table: an escape symbol,
   then 32 raw bits).
3. (mu, sigma) = h_s(z_hat), sigma snapped to the scale table; symbols round(y - mu),
   grouped by scale level and range-coded under the discretised Gaussian of that level
   (the density the codec was trained with); y_hat = mu + symbols.
4. x_hat = g_s(y_hat / gain), cropped, rounded to 8 bits.

``quality`` 1..100 moves continuously through the codec's rate levels (gain vectors
interpolated geometrically). Stream layout (version 2, little-endian)::

    magic "AEKZ" | version u8 (2) | flags u8 (0) | quality f32 | height u32 | width u32 |
    channels u8 | tile u16 | codec fingerprint 8 B | payload bytes u32 | CRC-32 u32 |
    per tile: its payload bytes u32, then its words

Version 1 streams (aekit.applications.compression: a fitted model's dense codes) are
unchanged; ``aekit decompress`` tells them apart by this byte.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import constriction
import numpy as np
import torch

from aekit.applications.compression import MAGIC, _check_length, encode_raw, fill_raw
from aekit.errors import ConfigError, DataError, ModelFileError
from aekit.models.photo_codec import (STRIDE_Z, PhotoCodec, PhotoCodecConfig, pad_to_stride,
                                      scale_table, snap_scales)

VERSION = 2
HEADER = struct.Struct("<4sBBfIIBH8sII")
DEFAULT_QUALITY = 50  # as the dense codec's (and the CLI's --quality)
TILE = 1024  # pixels per tile side (a multiple of STRIDE_Z): ~0.4 GB of activations at most
MAX_PIXELS = 400_000_000  # larger images are refused before they are decoded
TAIL = 12.0  # a scale level's table covers mu +- TAIL sigma; the rest is escaped
Z_RANGE = 64  # the bottleneck's table covers -Z_RANGE..Z_RANGE

# The photographs (scikit-learn's and scikit-image's bundled images: offline, in every
# install with those packages). TEST_IMAGES are never trained on or used to choose
# anything: benchmarks/photo_codec.py measures on them. motorcycle_right.png, the other half
# of motorcycle_left's stereo pair, is in neither list (a near copy of a training photo).
TRAIN_IMAGES = ("sklearn:china.jpg", "sklearn:flower.jpg", "skimage:motorcycle_left.png",
                "skimage:rocket.jpg", "skimage:hubble_deep_field.jpg", "skimage:retina.jpg",
                "skimage:ihc.png", "skimage:brick.png", "skimage:grass.png",
                "skimage:gravel.png", "skimage:moon.png", "skimage:coins.png",
                "skimage:cell.png", "skimage:clock_motion.png", "skimage:page.png",
                "skimage:text.png")
TEST_IMAGES = ("skimage:astronaut.png", "skimage:coffee.png", "skimage:chelsea.png",
               "skimage:camera.png")

__all__ = ["DEFAULT_QUALITY", "TEST_IMAGES", "TRAIN_IMAGES", "compress", "decompress",
           "load_codec", "load_named_photo", "photo_stream_info"]


def named_photo_path(name: str) -> Path:
    """The file of a bundled photograph named 'sklearn:FILE' or 'skimage:FILE'."""
    package, _, file = name.partition(":")
    if package == "sklearn":
        import sklearn.datasets

        return Path(sklearn.datasets.__file__).parent / "images" / file
    if package == "skimage":
        try:
            import skimage.data
        except ImportError:
            raise ConfigError("the scikit-image sample photographs need scikit-image: "
                              "pip install 'aekit[photo]'") from None
        return Path(skimage.data.__file__).parent / file
    raise ConfigError(f"no bundled photograph {name!r} (names are sklearn:FILE or skimage:FILE)")


def load_named_photo(name: str) -> np.ndarray:
    """A bundled photograph as float32 (3, H, W) in [0, 1] (a grey one as three planes)."""
    image = read_image(named_photo_path(name))
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image.transpose(2, 0, 1), np.float32) / 255


def read_image(path) -> np.ndarray:
    """A PNG/JPEG/... file as uint8 (H, W) (grey) or (H, W, 3). Palette images become RGB;
    16-bit images keep their top 8 bits; an alpha channel that is fully opaque is dropped
    and any other is refused (the codec has no transparency); too large a file is refused
    before its pixels are decoded."""
    from PIL import Image

    path = Path(path)
    # Pillow's own bomb guard is replaced by this codec's bound, checked below from the
    # header before any pixel is decoded.
    bomb_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise DataError(f"{path}: {w}x{h} is {w * h / 1e6:.0f} megapixels, more than "
                                f"the {MAX_PIXELS / 1e6:.0f} the photo codec takes")
            return _as_uint8(im, path)
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: not a readable image ({exc})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = bomb_limit


def _as_uint8(im, path) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey: keep the top 8 bits
        a = np.asarray(im, np.uint32)
        top = 65535 if im.mode.startswith("I;16") or a.max() > 255 else 255
        return (a * 255 // top).astype(np.uint8) if top != 255 else a.astype(np.uint8)
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("RGBA", "LA", "PA"):
        alpha = np.asarray(im.getchannel("A"))
        if alpha.min() < 255:
            raise DataError(f"{path}: the image has transparent pixels; the photo codec has no "
                            "alpha channel (flatten it onto a background first)")
        im = im.convert("RGB" if im.mode == "RGBA" else "L")
    if im.mode == "1":
        im = im.convert("L")
    if im.mode not in ("L", "RGB"):
        im = im.convert("RGB")
    a = np.asarray(im)
    if a.dtype != np.uint8:
        raise DataError(f"{path}: unsupported pixel type {a.dtype} (mode {im.mode})")
    return a


def png_bytes(image: np.ndarray) -> bytes:
    """An image (uint8 (H, W) or (H, W, 3)) as the bytes of a PNG file (lossless)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


# --- the pretrained codec ---------------------------------------------------------------
def codec_dir() -> Path:
    """The folder of the pretrained photo codec inside the installed package."""
    return Path(str(resources.files("aekit"))) / "pretrained" / "codecs" / "photo"


def save_codec(model: PhotoCodec, folder, provenance: dict) -> None:
    """config.json + model.safetensors + provenance.json (written atomically; the
    provenance records the weights' SHA-256, which loading checks)."""
    from safetensors.torch import save

    from aekit.io.atomic import write_bytes_atomic

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = save({k: v.detach().contiguous() for k, v in model.state_dict().items()})
    provenance = {**provenance, "sha256": hashlib.sha256(weights).hexdigest()}
    write_bytes_atomic(folder / "model.safetensors", weights)
    write_bytes_atomic(folder / "config.json",
                       json.dumps(model.config.to_dict(), indent=2).encode())
    write_bytes_atomic(folder / "provenance.json", json.dumps(provenance, indent=2).encode())


@lru_cache(maxsize=4)
def load_codec(folder: str | None = None) -> "Codec":
    """The photo codec saved in ``folder`` (default: the pretrained one), ready to code."""
    from safetensors.torch import load_file

    path = Path(folder) if folder is not None else codec_dir()
    try:
        config = PhotoCodecConfig.from_dict(json.loads((path / "config.json").read_text()))
        recorded = json.loads((path / "provenance.json").read_text())["sha256"]
        if hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest() != recorded:
            raise ModelFileError(f"the photo codec's weights in {path} do not match the SHA-256 "
                                 "its provenance.json records (changed or damaged)")
        model = PhotoCodec(config)
        model.load_state_dict({k: v.float()
                               for k, v in load_file(str(path / "model.safetensors")).items()})
    except FileNotFoundError:
        raise ModelFileError(f"no photo codec in {path} (config.json, model.safetensors and "
                             "provenance.json); "
                             "train one with scripts/train_photo_codec.py") from None
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ModelFileError(f"the photo codec in {path} could not be read ({exc})") from None
    return Codec(model.eval())


# --- coding ------------------------------------------------------------------------------
def _check_quality(quality) -> float:
    if isinstance(quality, bool) or not isinstance(quality, (int, float, np.integer,
                                                             np.floating)):
        raise ConfigError(f"quality must be a number from 1 to 100, got {quality!r}")
    q = float(quality)
    if not 1 <= q <= 100:
        raise ConfigError(f"quality must be from 1 to 100, got {quality!r}")
    return q


def _categorical(p: np.ndarray):
    """constriction's model for probabilities p (the escape symbol's last)."""
    return constriction.stream.model.Categorical(np.asarray(p, np.float64), perfect=False)


def _with_escape(p: np.ndarray) -> np.ndarray:
    """p over a range of integers, with the mass outside it as one more symbol (at least
    2^-20, so an escape always stays codable)."""
    p = np.clip(np.asarray(p, np.float64), 0, None)
    return np.append(p, max(1.0 - p.sum(), 2.0 ** -20))


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    return ndtr(x)


class Codec:
    """A photo codec ready to code: its network and the coding tables derived from its
    densities (the bottleneck's per-channel table, one discretised Gaussian per scale
    level)."""

    def __init__(self, model: PhotoCodec):
        self.model = model
        self.levels = len(model.config.lambdas)
        with torch.no_grad():
            pz = model.bottleneck.pmf_table(-Z_RANGE, Z_RANGE).double().numpy()
        self.z_models = [_categorical(_with_escape(p)) for p in pz]
        self.y_ranges = []
        self.y_models = []
        for sigma in scale_table().double().numpy():
            r = int(math.ceil(TAIL * sigma))
            k = np.arange(-r, r + 1, dtype=np.float64)
            p = _normal_cdf((k + 0.5) / sigma) - _normal_cdf((k - 0.5) / sigma)
            self.y_ranges.append(r)
            self.y_models.append(_categorical(_with_escape(p)))
        digest = hashlib.sha256(json.dumps(model.config.to_dict(), sort_keys=True).encode())
        for name, tensor in sorted(model.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().float().contiguous().numpy().tobytes())
        self.fingerprint = digest.digest()[:8]

    def level(self, quality: float) -> torch.Tensor:
        """The continuous rate level of ``quality`` (1 -> 0, 100 -> the top level)."""
        return torch.tensor([(quality - 1) / 99 * (self.levels - 1)], dtype=torch.float32)

    def _entropy_parameters(self, z_hat, y_shape):
        # One thread: the scale levels must come out the same in the encoder and the
        # decoder, whatever thread count each runs with (a level that differs corrupts the
        # rest of the tile).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            means, scales = self.model.entropy_parameters(z_hat, y_shape)
        finally:
            torch.set_num_threads(threads)
        return means, snap_scales(scales).numpy()

    @torch.no_grad()
    def encode_tile(self, x: np.ndarray, quality: float) -> bytes:
        """One tile, float32 (3, h, w) in [0, 1], to its range-coded words."""
        t = pad_to_stride(torch.from_numpy(x)[None], STRIDE_Z)
        gain, _ = self.model.gains(self.level(quality))
        y = self.model.g_a(t) * gain
        z_hat = torch.round(self.model.h_a(y))
        encoder = constriction.stream.queue.RangeEncoder()
        self._encode_z(encoder, z_hat[0].numpy().astype(np.int64))
        means, index = self._entropy_parameters(z_hat, y.shape)
        symbols = torch.round(y - means)[0].numpy().astype(np.int64)
        self._encode_y(encoder, symbols, index[0])
        return encoder.get_compressed().astype("<u4").tobytes()

    def _encode_z(self, encoder, z: np.ndarray) -> None:
        raw = []
        for c, m in enumerate(self.z_models):
            s = z[c].ravel() + Z_RANGE
            out = (s < 0) | (s > 2 * Z_RANGE)
            raw.append(z[c].ravel()[out])
            s[out] = 2 * Z_RANGE + 1
            encoder.encode(s.astype(np.int32), m)
        encode_raw(encoder, np.concatenate(raw))

    def _encode_y(self, encoder, symbols: np.ndarray, index: np.ndarray) -> None:
        escaped = np.zeros(symbols.shape, bool)
        for j, (r, m) in enumerate(zip(self.y_ranges, self.y_models)):
            mask = index == j
            if not mask.any():
                continue
            s = symbols[mask] + r
            out = (s < 0) | (s > 2 * r)
            escaped[mask] = out
            s[out] = 2 * r + 1
            encoder.encode(s.astype(np.int32), m)
        # In the order decode_tile fills them: C order over the whole latent, not grouped by
        # scale level (grouped, escapes under two or more levels decoded into each other's
        # places, on the first codec a few times per photograph, on the widened one at
        # quality >= 70 throughout).
        encode_raw(encoder, symbols[escaped])

    @torch.no_grad()
    def decode_tile(self, words: np.ndarray, h: int, w: int, quality: float) -> np.ndarray:
        """A tile's words -> float32 (3, h, w) in [0, 1]."""
        hp, wp = h + (-h) % STRIDE_Z, w + (-w) % STRIDE_Z
        cz = len(self.z_models)
        hz, wz = hp // STRIDE_Z, wp // STRIDE_Z
        decoder = constriction.stream.queue.RangeDecoder(words)
        z = np.empty((cz, hz * wz), np.int64)
        escaped = []
        for c, m in enumerate(self.z_models):
            z[c] = np.asarray(decoder.decode(m, hz * wz), np.int64) - Z_RANGE
            escaped.append(z[c] == Z_RANGE + 1)
        fill_raw(decoder, z, np.stack(escaped))
        z_hat = torch.from_numpy(z.reshape(1, cz, hz, wz).astype(np.float32))
        cy, hy, wy = self.model.config.latent_channels, hp // 16, wp // 16
        means, index = self._entropy_parameters(z_hat, (1, cy, hy, wy))
        index = index[0]
        symbols = np.zeros((cy, hy, wy), np.int64)
        out = np.zeros((cy, hy, wy), bool)
        for j, (r, m) in enumerate(zip(self.y_ranges, self.y_models)):
            mask = index == j
            count = int(mask.sum())
            if not count:
                continue
            s = np.asarray(decoder.decode(m, count), np.int64)
            out[mask] = s == 2 * r + 1
            symbols[mask] = s - r
        fill_raw(decoder, symbols, out)
        _, inverse = self.model.gains(self.level(quality))
        y_hat = means + torch.from_numpy(symbols.astype(np.float32))[None]
        x_hat = self.model.g_s(y_hat * inverse)
        return x_hat[0, :, :h, :w].clamp(0, 1).numpy()


@dataclass(frozen=True)
class PhotoStreamInfo:
    version: int
    quality: float
    height: int
    width: int
    channels: int
    tile: int
    fingerprint: str
    payload_bytes: int
    total_bytes: int


def _tiles(height: int, width: int, tile: int):
    """(top, left, h, w) of each tile, in raster order."""
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            yield top, left, min(tile, height - top), min(tile, width - left)


def as_image(image) -> np.ndarray:
    """An image array checked: uint8 (H, W) or (H, W, 1 or 3); a float array in [0, 1] is
    taken as intensities (rounded to 8 bits)."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise DataError(f"an image is (H, W) grey or (H, W, 3) colour, got shape {a.shape}")
    if a.shape[0] * a.shape[1] == 0:
        raise DataError(f"the image has no pixels (shape {a.shape}): nothing to compress")
    if a.shape[0] * a.shape[1] > MAX_PIXELS:
        raise DataError(f"the image has {a.shape[0] * a.shape[1] / 1e6:.0f} megapixels, more "
                        f"than the {MAX_PIXELS / 1e6:.0f} the photo codec takes")
    if a.dtype == np.uint8:
        return a
    if a.dtype.kind == "f":
        if not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
            raise DataError("a float image must hold finite values in [0, 1]")
        return np.round(a * 255).astype(np.uint8)
    raise DataError(f"an image is uint8 (0..255) or float in [0, 1], got {a.dtype}")


def compress(image, quality=DEFAULT_QUALITY, *, codec: str | None = None) -> bytes:
    """An image -> a photo stream (bytes). ``image``: uint8 (H, W) or (H, W, 3), or float
    in [0, 1]; ``quality`` 1..100 (higher: more bytes, less distortion); ``codec``: a codec
    folder (default: the pretrained photo codec)."""
    q = _check_quality(quality)
    a = as_image(image)
    c = load_codec(codec)
    height, width = a.shape[:2]
    channels = 1 if a.ndim == 2 else 3
    planes = np.repeat(a[None], 3, 0) if channels == 1 else a.transpose(2, 0, 1)
    parts = []
    for top, left, h, w in _tiles(height, width, TILE):
        x = np.ascontiguousarray(planes[:, top:top + h, left:left + w], np.float32) / 255
        words = c.encode_tile(x, q)
        parts.append(struct.pack("<I", len(words)) + words)
    payload = b"".join(parts)
    head = HEADER.pack(MAGIC, VERSION, 0, q, height, width, channels, TILE, c.fingerprint,
                       len(payload), 0)
    crc = zlib.crc32(payload, zlib.crc32(head[:-4]))
    return head[:-4] + struct.pack("<I", crc) + payload


def photo_stream_info(data) -> PhotoStreamInfo:
    """The header of a photo stream, checked (magic, version, length, CRC, sizes); a
    :class:`~aekit.DataError` for anything else."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DataError(f"a compressed stream is bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) >= 5 and data[:4] == MAGIC:  # the format first: it names the right tool
        if data[4] == 1:
            raise DataError("this stream holds a model's rows (format 1), not a photo: "
                            "decompress it with the model (aekit decompress RUN STREAM)")
        if data[4] > VERSION:
            raise DataError(f"the stream has format version {data[4]}, written by a newer "
                            f"aekit; this one reads up to version {VERSION}: upgrade aekit")
    if len(data) < HEADER.size:
        raise DataError(f"not an aekit photo stream: {len(data)} bytes, shorter than its "
                        f"{HEADER.size}-byte header (truncated?)")
    magic, version, flags, q, height, width, channels, tile, fp, size, crc = \
        HEADER.unpack_from(data)
    if magic != MAGIC:
        raise DataError(f"not an aekit compressed stream (starts with {magic!r}, expected "
                        f"{MAGIC!r})")
    if version != VERSION or flags != 0:
        raise DataError(f"corrupt stream header (version {version}, flags {flags})")
    _check_length(len(data), HEADER.size + size)
    if zlib.crc32(data[HEADER.size:], zlib.crc32(data[:HEADER.size - 4])) != crc:
        raise DataError("the stream is corrupt: its CRC-32 checksum does not match (the bytes "
                        "changed after it was written)")
    if (not 1 <= q <= 100 or channels not in (1, 3) or tile == 0 or tile % STRIDE_Z
            or height * width == 0 or height * width > MAX_PIXELS):
        raise DataError(f"corrupt stream header (quality {q}, {height}x{width}x{channels}, "
                        f"tile {tile})")
    return PhotoStreamInfo(version, float(q), int(height), int(width), int(channels),
                           int(tile), fp.hex(), int(size), len(data))


def decompress(data, *, codec: str | None = None) -> np.ndarray:
    """A photo stream -> the image, uint8 (H, W) or (H, W, 3) as it was compressed."""
    info = photo_stream_info(data)
    data = bytes(data)
    c = load_codec(codec)
    if c.fingerprint.hex() != info.fingerprint:
        raise DataError(f"the stream was written by another photo codec (fingerprint "
                        f"{info.fingerprint}; this one's is {c.fingerprint.hex()})")
    out = np.empty((3, info.height, info.width), np.uint8)
    at = HEADER.size
    try:
        for top, left, h, w in _tiles(info.height, info.width, info.tile):
            if at + 4 > len(data):
                raise DataError("the stream's payload ends before its last tile")
            (n,) = struct.unpack_from("<I", data, at)
            at += 4
            if n % 4 or at + n > len(data):
                raise DataError("corrupt tile length in the stream's payload")
            words = np.frombuffer(data, "<u4", n // 4, at).astype(np.uint32)
            at += n
            x = c.decode_tile(words, h, w, info.quality)
            out[:, top:top + h, left:left + w] = np.round(x * 255).astype(np.uint8)
    except (ValueError, RuntimeError, OverflowError, AssertionError) as exc:
        raise DataError(f"the stream's payload could not be decoded ({exc})") from None
    if at != len(data):
        raise DataError("the stream has bytes after its last tile")
    if info.channels == 1:
        return np.round(out.astype(np.float32).mean(0)).astype(np.uint8)
    return np.ascontiguousarray(out.transpose(1, 2, 0))


# --- against JPEG and WebP at equal bytes ------------------------------------------------
def pillow_round_trip(image: np.ndarray, fmt: str, quality: int) -> tuple[bytes, np.ndarray]:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    options = {"optimize": True} if fmt == "JPEG" else {"method": 6}
    Image.fromarray(image).save(buffer, format=fmt, quality=quality, **options)
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as im:
        decoded = np.asarray(im.convert("L" if image.ndim == 2 else "RGB"))
    return data, decoded
