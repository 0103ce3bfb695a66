"""Rate-distortion benchmark of the photo codec (issue 32) against the standard codecs.

On the held-out photographs (aekit.applications.photo.TEST_IMAGES: never trained on or used
to choose anything), per image and averaged:

- aekit's photo codec at qualities 1..100: bits per pixel of the whole stream (its 40-byte
  header included) and of the payload alone;
- JPEG (libjpeg-turbo, 4:2:0, optimised Huffman), WebP (libwebp, method 6), JPEG 2000
  (OpenJPEG, rate-controlled) and AVIF (libaom) through Pillow, and JPEG XL (libjxl) through
  imagecodecs when it is installed; whole files;
- PCA as a block transform coder: 8x8 colour blocks onto the 192 principal axes of the
  training photographs' blocks, uniform quantisation, lzma on the symbols (whole bytes);
- PSNR (RGB, peak 255) and MS-SSIM; Bjøntegaard BD-rate and BD-PSNR of aekit against each
  codec (per image, over the PSNR / log-rate range both cover, then averaged);
- encode and decode seconds per megapixel; a 768x512 photograph encoded and decoded (the
  <= 2 s floor), twice, with the bytes compared.

    .venv/bin/python benchmarks/photo_codec.py           # writes benchmarks/results/photo_codec.*
    .venv/bin/python benchmarks/photo_codec.py --quick   # fewer points, not written
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aekit.applications import photo
from aekit.evaluation.rate_distortion import bd_psnr, bd_rate, ms_ssim, overlap, psnr_uint8

RESULTS = Path(__file__).parent / "results"
AEKIT_Q = (1, 8, 16, 25, 35, 45, 55, 65, 75, 85, 93, 100)
JPEG_Q = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
WEBP_Q = (0, 5, 15, 30, 45, 60, 75, 85, 95, 100)
AVIF_Q = (10, 25, 40, 55, 70, 80, 90, 95)
JXL_D = (12.0, 8.0, 5.0, 3.0, 2.0, 1.5, 1.0, 0.6, 0.3)
J2K_RATIO = (200, 120, 80, 50, 30, 20, 12, 8, 5, 3)
PCA_STEP = (96, 64, 40, 24, 16, 10, 6, 4)


def pillow_codec(fmt: str, options):
    def run(image: np.ndarray, setting):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format=fmt, **options(setting))
        data = buffer.getvalue()
        decoded = np.asarray(Image.open(io.BytesIO(data)).convert(
            "L" if image.ndim == 2 else "RGB"))
        return data, decoded
    return run


def jxl_codec():
    try:
        import imagecodecs
    except ImportError:
        return None
    if not imagecodecs.JPEGXL.available:
        return None

    def run(image, distance):
        data = imagecodecs.jpegxl_encode(image, distance=distance, effort=7)
        return bytes(data), np.asarray(imagecodecs.jpegxl_decode(data))
    return run


class BlockPCA:
    """PCA as a transform coder: 8x8 blocks (x3 channels) projected on the principal axes of
    the training photographs' blocks, quantised with one step, lzma-coded."""

    B = 8

    def __init__(self, photos):
        blocks = np.concatenate([self.blocks(np.round(p.transpose(1, 2, 0) * 255))
                                 for p in photos])
        self.mean = blocks.mean(0)
        _, _, vt = np.linalg.svd(blocks - self.mean, full_matrices=False)
        self.axes = vt  # orthonormal: the inverse is the transpose

    def blocks(self, image):
        image = image if image.ndim == 3 else image[..., None].repeat(3, 2)
        h, w = image.shape[0] // self.B * self.B, image.shape[1] // self.B * self.B
        b = image[:h, :w].reshape(h // self.B, self.B, w // self.B, self.B, 3)
        return b.transpose(0, 2, 1, 3, 4).reshape(-1, self.B * self.B * 3).astype(np.float64)

    def __call__(self, image, step):
        # The codec covers the 8-pixel-aligned part; the benchmark crops the reference to it.
        h, w = image.shape[0] // self.B * self.B, image.shape[1] // self.B * self.B
        symbols = np.round((self.blocks(image) - self.mean) @ self.axes.T / step)
        data = lzma.compress(symbols.astype(np.int16).T.tobytes(), preset=9)
        rec = (symbols * step) @ self.axes + self.mean
        rec = rec.reshape(h // self.B, w // self.B, self.B, self.B, 3).transpose(0, 2, 1, 3, 4)
        rec = np.clip(np.round(rec.reshape(h, w, 3)), 0, 255).astype(np.uint8)
        return data, (rec if image.ndim == 3 else rec[..., 0])


def aekit_codec(image, quality):
    data = photo.compress(image, quality)
    return data, photo.decompress(data)


def measure(codec, settings, image, header=0):
    points = []
    for s in settings:
        t0 = time.perf_counter()
        data, decoded = codec(image, s)
        seconds = time.perf_counter() - t0
        ref = image[:decoded.shape[0], :decoded.shape[1]]
        pixels = image.shape[0] * image.shape[1]
        points.append({"setting": s, "bytes": len(data), "bpp": 8 * len(data) / pixels,
                       "payload_bpp": 8 * (len(data) - header) / pixels,
                       "psnr": psnr_uint8(ref, decoded), "ms_ssim": ms_ssim(ref, decoded),
                       "seconds": seconds})
    return points


def timing_768x512():
    """The floor's case: a 768x512 photograph (motorcycle_left, resized: timing only)."""
    image = photo.read_image(photo.named_photo_path("skimage:motorcycle_left.png"))
    image = np.asarray(Image.fromarray(image).resize((768, 512), Image.LANCZOS))
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        data = photo.compress(image, photo.DEFAULT_QUALITY)
        t1 = time.perf_counter()
        photo.decompress(data)
        runs.append((t1 - t0, time.perf_counter() - t1, data))
    best = min(runs, key=lambda r: r[0] + r[1])
    return {"encode_s": best[0], "decode_s": best[1], "total_s": best[0] + best[1],
            "identical_bytes": all(r[2] == runs[0][2] for r in runs), "runs": len(runs)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    codecs = {
        "aekit": (aekit_codec, AEKIT_Q, photo.HEADER.size),
        "JPEG": (pillow_codec("JPEG", lambda q: {"quality": q, "optimize": True}), JPEG_Q, 0),
        "WebP": (pillow_codec("WEBP", lambda q: {"quality": q, "method": 6}), WEBP_Q, 0),
        "JPEG 2000": (pillow_codec("JPEG2000", lambda r: {"quality_mode": "rates",
                                                          "quality_layers": [r]}),
                      J2K_RATIO, 0),
        "AVIF": (pillow_codec("AVIF", lambda q: {"quality": q, "speed": 6}), AVIF_Q, 0),
    }
    jxl = jxl_codec()
    if jxl is not None:
        codecs["JPEG XL"] = (jxl, JXL_D, 0)
    codecs["PCA 8x8"] = (BlockPCA([photo.load_named_photo(n) for n in photo.TRAIN_IMAGES]),
                         PCA_STEP, 0)
    if args.quick:
        codecs = {k: (c, s[::3], h) for k, (c, s, h) in codecs.items()}
    results = {}
    for name in photo.TEST_IMAGES:
        image = photo.read_image(photo.named_photo_path(name))
        results[name] = {}
        for codec_name, (codec, settings, header) in codecs.items():
            results[name][codec_name] = measure(codec, settings, image, header)
            best = results[name][codec_name][-1]
            print(f"{name} {codec_name}: top {best['bpp']:.2f} bpp {best['psnr']:.2f} dB",
                  flush=True)
    summary = summarise(results, list(codecs))
    timing = timing_768x512()
    print(json.dumps(timing))
    if args.quick:
        print(json.dumps(summary, indent=1))
        return 0
    write(results, summary, timing, list(codecs))
    return 0


def summarise(results, codec_names):
    """BD-rate / BD-PSNR of aekit against each codec, per image and mean."""
    out = {}
    for other in codec_names:
        if other == "aekit":
            continue
        per = {}
        for name, by_codec in results.items():
            a, b = by_codec[other], by_codec["aekit"]
            ra, pa = [p["bpp"] for p in a], [p["psnr"] for p in a]
            rb, pb = [p["bpp"] for p in b], [p["psnr"] for p in b]
            try:
                per[name] = {"bd_rate": bd_rate(ra, pa, rb, pb), "bd_psnr": bd_psnr(ra, pa, rb, pb),
                             "psnr_range": overlap(pa, pb)}
            except ValueError as exc:
                per[name] = {"error": str(exc)}
        ok = [v for v in per.values() if "bd_rate" in v]
        out[other] = {"per_image": per,
                      "mean_bd_rate": float(np.mean([v["bd_rate"] for v in ok])) if ok else None,
                      "mean_bd_psnr": float(np.mean([v["bd_psnr"] for v in ok])) if ok else None}
    return out


def write(results, summary, timing, codec_names):
    RESULTS.mkdir(exist_ok=True)
    top = {name: by["aekit"][-1] for name, by in results.items()}
    low = {name: by["aekit"][0] for name, by in results.items()}
    mp = {name: photo.read_image(photo.named_photo_path(name)).shape[:2]
          for name in results}
    enc = [p["seconds"] / (mp[n][0] * mp[n][1] / 1e6) for n, by in results.items()
           for p in by["aekit"]]
    lines = ["# Photo codec: rate-distortion on held-out photographs", "",
             f"Test photographs (never trained on): {', '.join(results)}. Training photographs: "
             f"{', '.join(photo.TRAIN_IMAGES)}. {platform.processor() or platform.machine()}, "
             f"torch {torch.__version__}, 2 threads.", "",
             "## BD-rate of aekit against each codec (negative: aekit needs fewer bytes at "
             "equal PSNR)", "",
             "| codec | " + " | ".join(n.split(':')[1] for n in results) + " | mean BD-rate "
             "| mean BD-PSNR |", "|---|" + "---|" * (len(results) + 2)]
    for other, s in summary.items():
        cells = []
        for name in results:
            v = s["per_image"][name]
            cells.append(f"{v['bd_rate']:+.1f}% ({v['psnr_range'][0]:.1f}-"
                         f"{v['psnr_range'][1]:.1f} dB)" if "bd_rate" in v else "no overlap")
        mr = "-" if s["mean_bd_rate"] is None else f"{s['mean_bd_rate']:+.1f}%"
        mpn = "-" if s["mean_bd_psnr"] is None else f"{s['mean_bd_psnr']:+.2f} dB"
        lines.append(f"| {other} | " + " | ".join(cells) + f" | {mr} | {mpn} |")
    lines += ["", "## aekit's range", "",
              "| photograph | quality 1: bpp / PSNR | quality 100: bpp / PSNR / MS-SSIM |",
              "|---|---|---|"]
    for name in results:
        lines.append(f"| {name} | {low[name]['bpp']:.3f} / {low[name]['psnr']:.2f} dB | "
                     f"{top[name]['bpp']:.3f} / {top[name]['psnr']:.2f} dB / "
                     f"{top[name]['ms_ssim']:.4f} |")
    lines += ["", "## Speed", "",
              f"- 768x512 photograph, quality {photo.DEFAULT_QUALITY}: encode "
              f"{timing['encode_s']:.2f} s + decode {timing['decode_s']:.2f} s = "
              f"{timing['total_s']:.2f} s (best of {timing['runs']}); identical bytes on every "
              f"run: {timing['identical_bytes']}.",
              f"- encode + decode per megapixel over the test points: median "
              f"{np.median(enc):.2f} s.", "",
              "## Every point", "", "| photograph | codec | setting | bpp (file) | bpp "
              "(payload) | PSNR | MS-SSIM |", "|---|---|---|---|---|---|---|"]
    for name, by in results.items():
        for codec_name in codec_names:
            for p in by[codec_name]:
                lines.append(f"| {name.split(':')[1]} | {codec_name} | {p['setting']} | "
                             f"{p['bpp']:.3f} | {p['payload_bpp']:.3f} | {p['psnr']:.2f} | "
                             f"{p['ms_ssim']:.4f} |")
    (RESULTS / "photo_codec.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "photo_codec.json").write_text(json.dumps(
        {"results": results, "summary": summary, "timing": timing}, indent=1, default=float))
    figure(results, codec_names)
    side_by_side()
    print("\n".join(lines[:20]))


def side_by_side(name="skimage:astronaut.png", quality=photo.DEFAULT_QUALITY):
    """The README's picture: a held-out photograph at equal bytes (aekit, JPEG, WebP)."""
    from aekit.evaluation.rate_distortion import equal_bytes
    from aekit.plotting import plot_equal_bytes

    image = photo.read_image(photo.named_photo_path(name))
    fig = plot_equal_bytes(equal_bytes(image, quality), crop=(200, 230), zoom_size=112)
    fig.savefig(RESULTS / "photo_codec_equal_bytes.png", dpi=90)


def figure(results, codec_names):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.8))
    for ax, (name, by) in zip(np.atleast_1d(axes), results.items()):
        for codec_name in codec_names:
            pts = sorted(by[codec_name], key=lambda p: p["bpp"])
            ax.plot([p["bpp"] for p in pts], [p["psnr"] for p in pts], marker=".",
                    label=codec_name, lw=2.2 if codec_name == "aekit" else 1.2)
        ax.set_xscale("log")
        ax.set_title(name.split(":")[1])
        ax.set_xlabel("bits per pixel (whole file)")
        ax.set_ylabel("PSNR (dB)")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / "photo_codec.png", dpi=110)


if __name__ == "__main__":
    sys.exit(main())
