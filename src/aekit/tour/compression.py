"""Compression: is an autoencoder "not as good as JPEG for images"? Real bytes on both
sides: aekit's range-coded streams (:mod:`aekit.applications.compression`) against JPEG
files written by Pillow, in domain and on images unlike the training data.

The image-codec helpers here (:func:`image_codec`, :func:`jpeg_payload`,
:func:`webp_payload`) are also what ``benchmarks/compression.py`` measures with.
"""

from __future__ import annotations

import io
import struct

import numpy as np

from aekit.applications import compression as C
from aekit.errors import ConfigError
from aekit.plotting import mosaic_figure
from aekit.plotting.base import new_figure

TOUR_QUALITIES = (3, 8, 15, 25, 40, 60)
JPEG_QUALITIES = (1, 5, 10, 25, 50, 75, 90)


def jpeg_payload(data: bytes) -> int:
    """Bytes of a JPEG file's entropy-coded scan (after the SOS segment, before EOI): the
    file without its markers, quantisation and Huffman tables."""
    i = 2
    while i + 4 <= len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker == 0xDA:
            return len(data) - (i + 2 + length) - 2
        i += 2 + length
    raise ConfigError("not a baseline JPEG file (no start-of-scan marker)")


def webp_payload(data: bytes) -> int:
    """Bytes of a WebP file's VP8/VP8L chunks' data (RIFF and chunk headers left out)."""
    i, total = 12, 0
    while i + 8 <= len(data):
        tag, size = data[i:i + 4], struct.unpack("<I", data[i + 4:i + 8])[0]
        if tag in (b"VP8 ", b"VP8L"):
            total += size
        i += 8 + size + (size & 1)
    return total


def image_codec(X, image_shape, fmt: str, **options) -> dict:
    """Each row (values in [0, 1]) saved as its own 8-bit grayscale file by Pillow
    (``fmt`` 'JPEG', 'WEBP' or 'PNG') and read back: bits per pixel of the whole files and
    of their payload, PSNR (peak 1, over all values), and the decoded rows."""
    from PIL import Image

    c, h, w = image_shape
    if c != 1:
        raise ConfigError(f"image_codec compares grayscale images, got {c} channels")
    X = np.asarray(X, np.float32).reshape(len(X), -1)
    pixels = (np.clip(X[:, :h * w], 0, 1) * 255).round().astype(np.uint8).reshape(-1, h, w)
    whole = payload = 0
    out = np.empty(pixels.shape, np.float32)
    for i, p in enumerate(pixels):
        buf = io.BytesIO()
        Image.fromarray(p, "L").save(buf, fmt, **options)
        data = buf.getvalue()
        whole += len(data)
        payload += {"JPEG": jpeg_payload, "WEBP": webp_payload}.get(fmt, len)(data)
        out[i] = np.asarray(Image.open(io.BytesIO(data)).convert("L"), np.float32) / 255
    n = len(X) * h * w
    out = out.reshape(len(X), -1)
    return {"bpp": 8 * whole / n, "payload_bpp": 8 * payload / n, "psnr": C.psnr(X, out),
            "rows": out}


def aekit_codec(model, X, quality) -> dict:
    """One aekit stream for all rows: bits per pixel (every byte), PSNR, decoded rows."""
    data = C.compress(model, X, quality=quality)
    out = C.decompress(model, data)
    return {"bpp": C.bits_per_pixel(model, data), "psnr": C.psnr(X, np.clip(out, 0, 1)),
            "rows": out, "bytes": len(data)}


def bpp_at(points, psnr: float) -> float:
    """log bpp interpolated linearly in PSNR along a curve; NaN outside it."""
    pts = sorted(points, key=lambda p: p["psnr"])
    x = [p["psnr"] for p in pts]
    if not x[0] <= psnr <= x[-1]:
        return float("nan")
    return float(np.exp(np.interp(psnr, x, np.log([p["bpp"] for p in pts]))))


def _rd_figure(curves: dict):
    fig = new_figure(6.5, 4.2)
    ax = fig.add_subplot()
    for label, (pts, style) in curves.items():
        pts = sorted(pts, key=lambda p: p["bpp"])
        ax.plot([p["bpp"] for p in pts], [p["psnr"] for p in pts], style, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("bits per pixel (real bytes, log scale)")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def compression(report, ctx):
    """Rate-distortion of the tour's stacked autoencoder against JPEG, in domain and on
    out-of-domain images (inverted test images, uniform noise).

    Long because it is one section of the tour read top to bottom: the narrative, the
    measurements and the figures in the order the page shows them."""
    shape = ctx.image_shape
    model = ctx.stacked()
    X = ctx.X_test
    qualities = TOUR_QUALITIES[::2] if ctx.quick else TOUR_QUALITIES
    ours = [{"quality": q, **aekit_codec(model, X, q)} for q in qualities]
    jpeg = [{"quality": q, **image_codec(X, shape, "JPEG", quality=q)} for q in JPEG_QUALITIES]
    jpeg_payload_pts = [{"psnr": p["psnr"], "bpp": p["payload_bpp"]} for p in jpeg]
    # equal PSNR: the best aekit point that JPEG's curve reaches
    ratios = [(p, p["bpp"] / bpp_at(jpeg, p["psnr"]),
               p["bpp"] / bpp_at(jpeg_payload_pts, p["psnr"])) for p in ours]
    ratios = [r for r in ratios if np.isfinite(r[1])]

    # out of domain: the same model, the same quality, on images unlike its training data
    q_mid = qualities[len(qualities) // 2]
    rng = np.random.default_rng(ctx.seed)
    odd = {"test images (in domain)": X,
           "inverted test images (1 - x)": 1.0 - X,
           "uniform noise": rng.random(X.shape).astype(np.float32)}
    ood = []
    for name, Xo in odd.items():
        a = aekit_codec(model, Xo, q_mid)
        j = image_codec(Xo, shape, "JPEG", quality=1)
        ood.append((name, a, j))

    ctx.results["compression"] = {
        "aekit": [{k: v for k, v in p.items() if k != "rows"} for p in ours],
        "jpeg": [{k: v for k, v in p.items() if k != "rows"} for p in jpeg],
        "equal_psnr_ratio_whole_file": [(p["quality"], r) for p, r, _ in ratios],
        "equal_psnr_ratio_payload": [(p["quality"], r) for p, _, r in ratios],
        "out_of_domain": {name: {"aekit_bpp": a["bpp"], "aekit_psnr": a["psnr"],
                                 "jpeg1_bpp": j["bpp"], "jpeg1_psnr": j["psnr"]}
                          for name, a, j in ood},
    }
    best = max(ours, key=lambda p: p["psnr"])
    if ratios:
        p, r_whole, r_pay = max(ratios, key=lambda t: t[0]["psnr"])
        versus = (f"At the highest PSNR both reach ({p['psnr']:.1f} dB, aekit quality "
                  f"{p['quality']}), aekit's stream takes {r_whole:.2f}x the bytes of JPEG "
                  f"whole files and {r_pay:.2f}x JPEG's payload without headers (equal PSNR, "
                  "interpolated on JPEG's curve).")
    else:
        lowest = min(p["psnr"] for p in jpeg)
        versus = (f"The curves do not meet: aekit's best PSNR is {best['psnr']:.1f} dB, "
                  f"below JPEG's lowest ({lowest:.1f} dB at quality 1), where aekit spends "
                  f"{best['bpp']:.3f} bits per pixel against JPEG's "
                  f"{min(p['bpp'] for p in jpeg):.2f}.")
    (_, a_in, j_in), (_, a_inv, j_inv), (_, a_noise, j_noise) = ood
    section = report.section(
        "Compression: real bitstreams against JPEG",
        claim="Autoencoders can compress data (the code is a short description of the "
              "input), but they are not as good as JPEG for images, and they only work on "
              "data like their training data.",
        measured=f"{len(X)} test images, bytes counted from real files. {versus} The "
                 f"autoencoder's ceiling is its own reconstruction: its best PSNR here is "
                 f"{best['psnr']:.1f} dB at {best['bpp']:.3f} bpp, while JPEG goes on to "
                 f"{max(p['psnr'] for p in jpeg):.1f} dB at quality {JPEG_QUALITIES[-1]}. "
                 f"Out of domain, the same model at quality {q_mid} gives "
                 f"{a_inv['psnr']:.1f} dB on inverted images and {a_noise['psnr']:.1f} dB on "
                 f"noise (in domain {a_in['psnr']:.1f} dB), while JPEG at its lowest "
                 f"quality keeps {j_inv['psnr']:.1f} and {j_noise['psnr']:.1f} dB: "
                 + ("the autoencoder loses there, as expected." if
                    a_inv["psnr"] < j_inv["psnr"] and a_noise["psnr"] < j_noise["psnr"]
                    else "this run did not show the expected loss on both."),
        checks={"JPEG needs fewer bytes at equal PSNR (or aekit never reaches JPEG's "
                "curve)": all(r > 1 for _, r, _ in ratios) if ratios else
                best["psnr"] < min(p["psnr"] for p in jpeg),
                "out of domain the autoencoder loses to JPEG at its lowest quality":
                a_inv["psnr"] < j_inv["psnr"] and a_noise["psnr"] < j_noise["psnr"]})
    section.figure(_rd_figure({
        "aekit (one stream)": (ours, "o-"), "JPEG whole files": (jpeg, "^-"),
        "JPEG payload only": (jpeg_payload_pts, "v:")}),
        "rate vs distortion on the test images (JPEG: one file per image)")
    section.table(["images", "aekit bpp", "aekit PSNR dB", "JPEG q=1 bpp", "JPEG q=1 PSNR dB"],
                  [[name, f"{a['bpp']:.3f}", f"{a['psnr']:.2f}", f"{j['bpp']:.2f}",
                    f"{j['psnr']:.2f}"] for name, a, j in ood],
                  caption=f"the same model at quality {q_mid}, in and out of domain")
    n = min(8, len(X))
    rows, labels = [], []
    for name, a, j in ood[1:]:
        rows += [odd[name][:n], a["rows"][:n], j["rows"][:n]]
        labels += [name.split(" (")[0][:18], "aekit", "JPEG q=1"]
    section.figure(mosaic_figure(rows, shape, row_labels=labels),
                   "out of domain: originals, aekit's decompressed images, JPEG at quality 1")
    return section


TOUR_PHOTO_QUALITIES = (10, 35, 60, 85, 100)


def tour_photograph() -> tuple[str, np.ndarray, bool]:
    """(name, image, held out): scikit-image's astronaut, which the photo codec never saw,
    or, without scikit-image, scikit-learn's china.jpg (a training photograph: said so)."""
    from aekit.applications import photo

    for name in ("skimage:astronaut.png", "sklearn:china.jpg"):
        try:
            path = photo.named_photo_path(name)
        except ConfigError:
            continue
        return name, photo.read_image(path), name in photo.TEST_IMAGES
    raise ConfigError("no bundled photograph found")  # sklearn's are always installed


def photo_codec(report, ctx):
    """The pretrained photo codec (a learned transform codec: GDN transforms, a scale
    hyperprior, gain units for the quality knob) against JPEG and WebP on a photograph:
    the image at equal bytes with zoomed crops, and the Bjontegaard deltas."""
    from aekit.applications import photo
    from aekit.evaluation.rate_distortion import bd_psnr, bd_rate, equal_bytes, psnr_uint8
    from aekit.plotting import plot_equal_bytes

    name, image, held_out = tour_photograph()
    if ctx.quick:
        image = image[:256, :256]
    panels = equal_bytes(image, photo.DEFAULT_QUALITY)
    ours, jpeg, webp = [], [], []
    for q in TOUR_PHOTO_QUALITIES:
        data = photo.compress(image, q)
        ours.append((8 * len(data) / image[..., 0].size, psnr_uint8(image, photo.decompress(data))))
    for q in (5, 15, 30, 50, 70, 85, 95):
        for fmt, points in (("JPEG", jpeg), ("WEBP", webp)):
            data, decoded = photo.pillow_round_trip(image, fmt, q)
            points.append((8 * len(data) / image[..., 0].size, psnr_uint8(image, decoded)))

    def deltas(other):
        try:
            return (bd_rate(*zip(*other), *zip(*ours)), bd_psnr(*zip(*other), *zip(*ours)))
        except ValueError:
            return (float("nan"), float("nan"))

    (r_jpeg, p_jpeg), (r_webp, p_webp) = deltas(jpeg), deltas(webp)
    a, j, w = panels[1], panels[2], panels[3]
    ctx.results["photo_codec"] = {"photograph": name, "held_out": held_out,
                                  "aekit": ours, "jpeg": jpeg, "webp": webp,
                                  "bd_rate_vs_jpeg": r_jpeg, "bd_rate_vs_webp": r_webp,
                                  "bd_psnr_vs_jpeg": p_jpeg, "bd_psnr_vs_webp": p_webp}
    where = "held out from its training" if held_out else \
        "one of its training photographs (install scikit-image for a held-out one)"
    section = report.section(
        "The photo codec: learned transform coding against JPEG and WebP",
        claim="A convolutional autoencoder trained for rate and distortion together, with an "
              "entropy model it learns alongside (Ballé et al. 2018), is an image codec: one "
              "stream for a photograph of any size, and a quality knob that trades bytes for "
              "distortion. Trained long enough on enough photographs, such codecs beat JPEG "
              "and WebP; the measurement below says where this one stands.",
        measured=f"{name.split(':')[1]} ({image.shape[1]}x{image.shape[0]}, {where}). At "
                 f"{a['bytes']:,} bytes aekit reaches {a['psnr']:.2f} dB, JPEG "
                 f"{j['psnr']:.2f} dB ({j['bytes']:,} bytes) and WebP {w['psnr']:.2f} dB "
                 f"({w['bytes']:,} bytes). Over the qualities, aekit's BD-rate is "
                 f"{r_jpeg:+.1f}% against JPEG and {r_webp:+.1f}% against WebP (negative: "
                 f"fewer bytes at equal PSNR); BD-PSNR {p_jpeg:+.2f} and {p_webp:+.2f} dB. "
                 f"Its quality knob spans {ours[0][0]:.2f}-{ours[-1][0]:.2f} bits per pixel "
                 f"and {ours[0][1]:.1f}-{ours[-1][1]:.1f} dB here.",
        checks={"the quality knob trades bytes for PSNR (both rise with quality)":
                all(b1 > b0 and p1 > p0 for (b0, p0), (b1, p1) in zip(ours, ours[1:])),
                "JPEG and WebP fit in aekit's bytes (the comparison is at equal bytes)":
                j["bytes"] <= a["bytes"] and w["bytes"] <= a["bytes"]})
    section.figure(plot_equal_bytes(panels),
                   "equal bytes: the original, aekit, JPEG and WebP (each at the highest quality "
                   "whose file fits aekit's bytes); below, the yellow square enlarged")
    return section
