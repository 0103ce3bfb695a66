"""The code entropy model: what :mod:`aekit.applications.compression` needs to turn codes
into bits, fitted once on training codes and stored with the model.

Per code dimension j it holds

- ``quantiles`` (k, Q): Q evenly spaced quantiles of the training codes. Their piecewise-
  linear interpolation is a CDF F_j, from which the discrete model of the quantised codes
  is derived for whatever step the compressor uses (P(i) = F_j(c_j + (i + 1/2) D_j) -
  F_j(c_j + (i - 1/2) D_j)): one stored model serves every quality.
- ``offsets`` (k,): the median c_j, the centre of the quantiser (quantising around the
  median, not 0, as CompressAI's EntropyBottleneck does: a code that never moves costs no
  bits and keeps its value).
- ``gains`` (k,): the decoder's sensitivity g_j = mean over pixels and training codes of
  (d x / d z_j)^2 (central differences). High-rate theory: uniform quantisation with step
  D_j adds noise of variance D_j^2 / 12 to z_j, hence about g_j D_j^2 / 12 per pixel to the
  output; for a given total noise the bits are fewest when every dimension adds the same
  (D_j^2 g_j equal; Gersho & Gray 1992, ch. 8 - the classic bit allocation).
- ``signal``: sum_j g_j var(z_j), the per-pixel output variance the codes carry; the
  quality maps to a noise level relative to it (see :func:`steps_for_quality`).

Everything is float64 numpy, computed the same way by the compressor and the decompressor
from the same stored numbers, so both derive bit-identical probability tables.
"""

from __future__ import annotations

import numpy as np
import torch

from aekit.errors import ConfigError, DataError, ModelFileError

N_QUANTILES = 257
PREFIX = "entropy/"
MAX_GAIN_ROWS = 4096  # decoded rows spent estimating the gains (about 2 k m <= this)
MIN_GAIN = 1e-12  # relative to the largest gain: a dead dimension gets a huge step
PRIOR_ROWS = 4096  # codes drawn from a VAE prior when no entropy model was fitted
MAX_ALPHABET = 1 << 16  # symbols per dimension the range coder is asked to handle
ESCAPE_P = 1e-4  # probability kept for values outside the alphabet (coded raw)


class EntropyModel:
    """Per-dimension statistics of the training codes (see the module docstring)."""

    def __init__(self, quantiles: np.ndarray, offsets: np.ndarray, gains: np.ndarray,
                 signal: float):
        self.quantiles = np.asarray(quantiles, np.float64)  # (k, Q), rows non-decreasing
        self.offsets = np.asarray(offsets, np.float64)  # (k,)
        self.gains = np.asarray(gains, np.float64)  # (k,)
        self.signal = float(signal)

    @property
    def code_size(self) -> int:
        return len(self.offsets)

    @classmethod
    def fit(cls, fitted, codes: np.ndarray) -> "EntropyModel":
        """Fit on the training codes (n, k) of ``fitted`` (a FittedAutoencoder, whose
        decoder gives the gains)."""
        codes = np.asarray(codes, np.float64)
        if codes.ndim != 2 or len(codes) < 1 or codes.shape[1] != fitted.code_size:
            raise DataError(f"the entropy model needs training codes of shape (n, "
                            f"{fitted.code_size}), n >= 1; got {codes.shape}")
        if not np.isfinite(codes).all() or np.abs(codes).max() > np.finfo(np.float32).max:
            raise DataError("the training codes hold NaN, infinite or beyond-float32 values: "
                            "no entropy model can be fitted")
        probs = np.linspace(0.0, 1.0, N_QUANTILES)
        quantiles = np.quantile(codes, probs, axis=0).T.copy()  # (k, Q)
        offsets = np.median(codes, axis=0)
        gains = _gains(fitted, codes)
        signal = float((gains * codes.var(axis=0)).sum())
        return cls(quantiles, offsets, gains, signal)

    @classmethod
    def from_prior(cls, fitted) -> "EntropyModel":
        """For a VAE without a fitted one: codes drawn from its prior (N(0, I), or its
        VampPrior) with a fixed seed (the same on every call, so compressor and decompressor agree)."""
        if fitted.module.prior.kind != "standard":  # a VampPrior: its own draws
            codes = fitted.density.sample(PRIOR_ROWS, np.random.RandomState(20170101))
            return cls.fit(fitted, codes)
        rng = np.random.default_rng(20170101)
        codes = rng.standard_normal((PRIOR_ROWS, fitted.code_size)).astype(np.float32)
        return cls.fit(fitted, codes)

    # --- quantiser -----------------------------------------------------------------------
    def steps_for_quality(self, quality: float) -> np.ndarray:
        """Per-dimension steps D_j (k,) for ``quality`` in (0, 100]: the quantisation noise
        (high-rate estimate, sum_j g_j D_j^2 / 12 per pixel) is quality / 2 dB below the
        signal the codes carry, split equally over the dimensions (D_j^2 g_j equal)."""
        k = self.code_size
        noise = max(self.signal, 1e-30) * 10.0 ** (-float(quality) / 20.0)  # per pixel
        g = np.maximum(self.gains, MIN_GAIN * max(float(self.gains.max()), 1e-300))
        g = np.where(g > 0, g, 1.0)  # an all-zero decoder: any step is as good
        return np.sqrt(12.0 * noise / (k * g))

    def alphabet(self, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) (k,) int64: the symbols i of each dimension that get their own
        probability, covering the training range plus one step either side; others are
        escaped. Raises ConfigError when a dimension would need more than MAX_ALPHABET."""
        lo = np.floor((self.quantiles[:, 0] - self.offsets) / steps + 0.5) - 1
        hi = np.floor((self.quantiles[:, -1] - self.offsets) / steps + 0.5) + 1
        size = hi - lo + 1
        if (size > MAX_ALPHABET - 1).any():
            j = int(np.argmax(size))
            raise ConfigError(f"the quality is too high for this model: code dimension {j} "
                              f"would need {int(size[j])} symbols (the coder takes at most "
                              f"{MAX_ALPHABET - 1}); lower the quality")
        return lo.astype(np.int64), hi.astype(np.int64)

    def probabilities(self, j: int, step: float, lo: int, hi: int) -> np.ndarray:
        """P(symbol) for dimension j, (hi - lo + 2,) float64: symbols lo..hi from the CDF
        at the bin edges c_j + (i -/+ 1/2) step, then the escape symbol (everything
        outside, plus ESCAPE_P so it is never impossible)."""
        i = np.arange(lo, hi + 2, dtype=np.float64)  # hi - lo + 2 edges
        edges = self.offsets[j] + (i - 0.5) * step
        cdf = np.interp(edges, self.quantiles[j], np.linspace(0.0, 1.0, N_QUANTILES))
        p = np.diff(cdf)
        escape = 1.0 - (cdf[-1] - cdf[0])
        return np.concatenate([p, [escape + ESCAPE_P]])

    # --- files ---------------------------------------------------------------------------
    def to_tensors(self) -> dict[str, torch.Tensor]:
        return {f"{PREFIX}quantiles": torch.from_numpy(self.quantiles.copy()),
                f"{PREFIX}offsets": torch.from_numpy(self.offsets.copy()),
                f"{PREFIX}gains": torch.from_numpy(self.gains.copy()),
                f"{PREFIX}signal": torch.tensor([self.signal], dtype=torch.float64)}

    @classmethod
    def from_tensors(cls, tensors: dict, k: int) -> "EntropyModel | None":
        """Rebuild from ``entropy/...`` tensors (None when there are none: folders saved
        before compression existed), checking names, shapes and values."""
        stored = {key[len(PREFIX):]: tensors[key] for key in tensors if key.startswith(PREFIX)}
        if not stored:
            return None
        wrong = sorted(n for n, t in stored.items() if t.dtype != torch.float64)
        if wrong:  # aekit writes float64: an integer or float32 tensor was put there
            raise ModelFileError(f"entropy-model tensors {wrong} are not float64")
        p = {name: t.numpy() for name, t in stored.items()}
        shapes = {"quantiles": (k, N_QUANTILES), "offsets": (k,), "gains": (k,), "signal": (1,)}
        if set(p) != set(shapes) or any(p[n].shape != s for n, s in shapes.items()):
            raise ModelFileError(f"entropy-model tensors {sorted(p)} do not fit a {k}-d code "
                                 f"(expected {shapes})")
        if not all(np.isfinite(v).all() for v in p.values()) or (p["gains"] < 0).any() \
                or (np.diff(p["quantiles"], axis=1) < 0).any() or p["signal"][0] < 0:
            raise ModelFileError("entropy-model tensors hold non-finite, negative or "
                                 "unsorted values")
        model = cls(p["quantiles"], p["offsets"], p["gains"], p["signal"][0])
        try:  # a fitted model codes every quality: its widest alphabet is ~1000s of symbols
            model.alphabet(model.steps_for_quality(100.0))
        except ConfigError:
            raise ModelFileError("entropy-model tensors are inconsistent: their quantiles "
                                 "span more quantisation steps than the coder takes even at "
                                 "quality 100 (a damaged file, not a quality setting)") from None
        return model


def _gains(fitted, codes: np.ndarray) -> np.ndarray:
    """g_j = mean over rows and output values of (d x / d z_j)^2, by central differences
    (x(z + h e_j) - x(z - h e_j)) / 2h on up to m evenly spaced training codes, h a tenth of
    the dimension's spread (a small absolute value for a constant dimension)."""
    n, k = codes.shape
    m = max(1, min(n, MAX_GAIN_ROWS // (2 * k)))
    Z = codes[np.linspace(0, n - 1, m).astype(np.int64)]  # (m, k)
    spread = codes.std(axis=0)
    h = np.where(spread > 0, 0.1 * spread, 1e-3 * max(float(np.abs(codes).max()), 1.0))
    eye = np.eye(k) * h  # (k, k)
    plus = (Z[None, :, :] + eye[:, None, :]).reshape(k * m, k)
    minus = (Z[None, :, :] - eye[:, None, :]).reshape(k * m, k)
    with np.errstate(over="ignore", invalid="ignore"):
        diff = (fitted.decode(plus).astype(np.float64) - fitted.decode(minus).astype(np.float64))
        d = diff.reshape(k, m, -1) / (2 * h)[:, None, None]
        g = (d ** 2).mean(axis=(1, 2))
    return np.where(np.isfinite(g), g, 0.0)
