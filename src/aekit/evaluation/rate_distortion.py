"""Rate-distortion measures for image codecs: PSNR, MS-SSIM and the Bjøntegaard deltas.

- ``bd_rate(rate_a, psnr_a, rate_b, psnr_b)``: the average bit-rate difference of codec b
  against codec a at equal PSNR, in percent (negative: b needs fewer bits). Bjøntegaard
  (VCEG-M33, 2001) integrates log-rate as a function of PSNR over the PSNR range both curves
  cover. The interpolation is piecewise cubic (PCHIP), as in Bjøntegaard's later revision
  (VCEG-AL22, 2008) that the common test conditions of video coding use: it stays monotone
  where the original cubic least-squares fit can oscillate with more than four points.
- ``bd_psnr``: the average PSNR difference (dB) over the log-rate range both cover.
- ``equal_bytes``: an image through aekit's photo codec beside JPEG and WebP files of at most
  as many bytes (the side-by-side figure of the tour, the README and the benchmark).
- ``ms_ssim``: multi-scale SSIM (Wang, Simoncelli & Bovik 2003), 5 scales with their
  published weights, an 11-tap Gaussian window (sigma 1.5), per channel and averaged.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.ndimage import convolve1d

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def psnr_uint8(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR (dB, peak 255) between two 8-bit images of one shape."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def _curve(x, y):
    """Points sorted by x with repeated x merged (PCHIP needs strictly increasing x)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    order = np.argsort(x)
    x, y = x[order], y[order]
    keep = np.concatenate([[True], np.diff(x) > 1e-12])
    if keep.sum() < 2:
        raise ValueError("a rate-distortion curve needs at least two distinct points")
    return x[keep], y[keep]


def _mean_gap(xa, ya, xb, yb) -> float:
    """Mean of y_b - y_a over the x range both curves cover (each PCHIP-interpolated)."""
    xa, ya = _curve(xa, ya)
    xb, yb = _curve(xb, yb)
    lo, hi = max(xa[0], xb[0]), min(xa[-1], xb[-1])
    if hi <= lo:
        raise ValueError(f"the curves do not overlap (ranges {xa[0]:.3g}..{xa[-1]:.3g} and "
                         f"{xb[0]:.3g}..{xb[-1]:.3g})")
    ia = PchipInterpolator(xa, ya).integrate(lo, hi)
    ib = PchipInterpolator(xb, yb).integrate(lo, hi)
    return float((ib - ia) / (hi - lo))


def bd_rate(rate_a, psnr_a, rate_b, psnr_b) -> float:
    """Bjøntegaard delta rate of b against a, percent (negative: b saves bits)."""
    gap = _mean_gap(psnr_a, np.log(rate_a), psnr_b, np.log(rate_b))
    return float((np.exp(gap) - 1) * 100)


def bd_psnr(rate_a, psnr_a, rate_b, psnr_b) -> float:
    """Bjøntegaard delta PSNR of b against a, dB (positive: b is better)."""
    return _mean_gap(np.log(rate_a), psnr_a, np.log(rate_b), psnr_b)


def overlap(psnr_a, psnr_b) -> tuple[float, float]:
    """The PSNR range two curves both cover (where bd_rate integrates)."""
    return max(min(psnr_a), min(psnr_b)), min(max(psnr_a), max(psnr_b))


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2
    w = np.exp(-x ** 2 / (2 * sigma ** 2))
    return w / w.sum()


def _filter(img: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering (no padding), as the reference implementation does."""
    out = convolve1d(convolve1d(img, w, axis=0, mode="constant"), w, axis=1, mode="constant")
    r = len(w) // 2
    return out[r:-r, r:-r]


def _ssim_parts(x: np.ndarray, y: np.ndarray, peak: float) -> tuple[float, float]:
    """(mean SSIM, mean contrast-structure term) of two grey planes."""
    w = _gaussian_window()
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    mx, my = _filter(x, w), _filter(y, w)
    sxx = _filter(x * x, w) - mx * mx
    syy = _filter(y * y, w) - my * my
    sxy = _filter(x * y, w) - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    ssim = (2 * mx * my + c1) / (mx * mx + my * my + c1) * cs
    return float(ssim.mean()), float(cs.mean())


def ms_ssim(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """MS-SSIM of two images (H, W) or (H, W, C), averaged over channels; each side must be
    at least 11 * 2^4 = 176 pixels for the five scales (a ValueError otherwise)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images of different shapes {a.shape} and {b.shape}")
    if min(a.shape[:2]) < 11 * 2 ** (len(MS_SSIM_WEIGHTS) - 1):
        raise ValueError(f"MS-SSIM needs at least 176 pixels a side, got {a.shape[:2]}")
    planes = [(a, b)] if a.ndim == 2 else [(a[..., c], b[..., c]) for c in range(a.shape[2])]
    scores = []
    for x, y in planes:
        values = []
        for level in range(len(MS_SSIM_WEIGHTS)):
            ssim, cs = _ssim_parts(x, y, peak)
            values.append(max(ssim if level == len(MS_SSIM_WEIGHTS) - 1 else cs, 0.0))
            h, w = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2  # 2x2 average, then halve
            x = x[:h, :w].reshape(h // 2, 2, w // 2, 2).mean((1, 3))
            y = y[:h, :w].reshape(h // 2, 2, w // 2, 2).mean((1, 3))
        scores.append(float(np.prod(np.power(values, MS_SSIM_WEIGHTS))))
    return float(np.mean(scores))


def equal_bytes(image, quality=50, *, codec: str | None = None) -> list[dict]:
    """aekit's stream at ``quality`` beside JPEG and WebP files of at most as many bytes
    (each at the highest Pillow quality that fits; its lowest if none does): a list of
    {label, bytes, psnr, image} (the original first), for the side-by-side figure."""
    from aekit.applications import photo

    a = photo.as_image(image)
    data = photo.compress(a, quality, codec=codec)
    rows = [{"label": "original", "bytes": None, "psnr": float("inf"), "image": a},
            {"label": f"aekit q={quality:g}", "bytes": len(data), "psnr": 0.0,
             "image": photo.decompress(data, codec=codec)}]
    for fmt, name in (("JPEG", "JPEG"), ("WEBP", "WebP")):
        best = None
        lo, hi = (0 if fmt == "WEBP" else 1), 100
        while lo <= hi:  # bytes grow with quality: bisect for the largest that fits
            mid = (lo + hi) // 2
            file, decoded = photo.pillow_round_trip(a, fmt, mid)
            if len(file) <= len(data):
                best, lo = (mid, file, decoded), mid + 1
            else:
                hi = mid - 1
        if best is None:  # even the lowest quality takes more bytes: show that one
            lowest = 0 if fmt == "WEBP" else 1
            best = (lowest, *photo.pillow_round_trip(a, fmt, lowest))
        q, file, decoded = best
        rows.append({"label": f"{name} q={q}", "bytes": len(file), "psnr": 0.0,
                     "image": decoded})
    for row in rows[1:]:
        row["psnr"] = psnr_uint8(a, row["image"])
    return rows
