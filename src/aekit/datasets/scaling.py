"""How a file's values become the float32 features a model sees: the ``scale=`` rules.

Rules (``load(path, scale=...)``, ``aekit train --scale ...``):

* ``"auto"`` (default): integer data 0..1 is kept (binary), 0..255 is divided by 255; float
  data must already lie in [0, 1]. Nothing is fitted.
* ``"none"``: values must already lie in [0, 1]; kept as they are.
* a number d > 0: v / d, which must land in [0, 1] (e.g. 16 for 4-bit data).
* ``"minmax"``: **per feature** (column), (v - min_j) / (max_j - min_j), as scikit-learn's
  ``MinMaxScaler``; a constant column becomes zeros. Tabular data whose columns have
  different units (a wine CSV: alcohol ~13, proline ~750) needs this: one range for the
  whole array would squeeze every small-valued column into a sliver near 0.
* ``"minmax-global"``: one range over the whole array, (v - min) / (max - min), so images
  keep their relative brightness (one pixel is not stretched apart from the others).
* ``"standard"``: per feature, (v - mean_j) / std_j (population std, as
  ``StandardScaler``; a constant column is only centred). Values are no longer in [0, 1]:
  the estimators' default ``output_activation='auto'`` then picks a linear output.

Fitted rules (minmax, minmax-global, standard) learn their parameters from the **training
rows** of the file: the rows of split "train" (so the "test" split, every 5th row of each
class, never influences them, and both splits of one file are scaled alike), or every row
when ``split="all"``. The fitted :class:`Scaler` is kept as ``Dataset.scaler``; passing it as
``scale=`` applies the same parameters to other data (``aekit train`` records it in the run
folder as ``scaling.json``, and ``aekit evaluate/encode/report`` on that run apply it). Rows
the scaler was not fitted on may leave [0, 1] under minmax: they are not clipped (an
out-of-range row is information, e.g. for anomaly scores).

Per-feature rules compute ``(v - offset_j) * factor_j`` in float64 and round once to
float32, in memory and when a memory-mapped file is streamed batch by batch, so both give
the same numbers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from aekit.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

# What ``scale=`` accepts: a rule name, a positive number to divide by, or a fitted Scaler.
RULES = ("auto", "none", "minmax", "minmax-global", "standard")
FITTED_RULES = ("minmax", "minmax-global", "standard")
PER_FEATURE_RULES = ("minmax", "standard")
CHUNK_ROWS = 8192  # float64 work buffer of the per-feature transform, in rows


def hint(image: bool = False) -> str:
    """What to pass when the values do not fit the rule (the CLI words it as --scale)."""
    if image:
        return "rescale with scale='minmax-global' (one range for all pixels) or scale=<divisor>"
    return ("rescale with scale='minmax' or scale='standard' (per feature), or "
            "scale=<divisor>")


def check_rule(scale, option: str = "scale") -> None:
    """Refuse an unknown ``scale=`` value (ConfigError naming ``option``) before any work."""
    if isinstance(scale, Scaler) or scale is None:
        return
    if isinstance(scale, str):
        if scale in RULES:
            return
        try:
            float(scale)
        except ValueError:
            raise ConfigError(f"{option}={scale!r} is not one of {', '.join(RULES)} or a "
                              "positive number") from None
    divisor(scale, option)


def divisor(scale, option: str = "scale") -> float:
    if isinstance(scale, bool):
        raise ConfigError(f"{option}={scale!r} is not one of {', '.join(RULES)} or a number")
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise ConfigError(f"{option}={scale!r} is not one of {', '.join(RULES)} or a "
                          "number") from None
    if not np.isfinite(value) or value <= 0:
        raise ConfigError(f"{option}={scale!r} must be a positive number")
    return value


@dataclass(frozen=True)
class Scaler:
    """features = (values - offset) * factor, per feature when ``offset``/``factor`` are
    (n_features,) arrays, else one float for all.

    rule: the ``scale=`` rule it came from ("minmax", "standard", "minmax-global", "auto",
        "none" or "divide"). fitted_rows: how many rows the parameters were computed on
        (0 for rules that fit nothing). clip: clip results to [0, 1] (the global rules, whose
        float32 arithmetic may step an ulp outside).
    """

    rule: str
    offset: float | np.ndarray = 0.0
    factor: float | np.ndarray = 1.0
    fitted_rows: int = 0
    clip: bool = False

    @property
    def per_feature(self) -> bool:
        return np.ndim(self.offset) == 1

    @property
    def fitted(self) -> bool:
        return self.rule in FITTED_RULES

    @property
    def identity(self) -> bool:
        return not self.per_feature and self.offset == 0.0 and self.factor == 1.0

    def check_features(self, n_features: int, where: str) -> None:
        if self.per_feature and len(self.offset) != n_features:
            raise DataError(f"{where}: {n_features} features, but the scaling (fitted on "
                            f"{self.fitted_rows} rows) has {len(self.offset)}")

    def apply(self, values: np.ndarray, where: str = "the data") -> np.ndarray:
        """(n, d) values -> float32 features (a new array). A value that leaves float32's
        range on the way (beyond ~3.4e38, or nonzero below its smallest normal number
        ~1.2e-38, which float32 flushes to 0) is a DataError naming its row and column,
        never an inf, NaN or silent 0 (docs/reliability.md)."""
        if self.per_feature:
            out = np.empty(values.shape, dtype=np.float32)
            for i in range(0, len(values), CHUNK_ROWS):  # float64 buffer of CHUNK_ROWS rows
                with np.errstate(over="ignore", invalid="ignore"):
                    part = (values[i:i + CHUNK_ROWS].astype(np.float64) - self.offset) \
                        * self.factor
                _check_float32(part, values, i, where, self)
                out[i:i + CHUNK_ROWS] = part
            return out
        with np.errstate(over="ignore", invalid="ignore"):
            out = values.astype(np.float32)
        if values.dtype.kind == "f" and values.dtype.itemsize > 4:
            _check_float32(values, values, 0, where, None)  # the cast itself
        if not self.identity:
            with np.errstate(over="ignore", invalid="ignore"):
                out -= np.float32(self.offset)
                out *= np.float32(self.factor)
            if not np.isfinite(out).all():
                _check_float32(out, values, 0, where, self)
        if self.clip:
            np.clip(out, 0.0, 1.0, out=out)
        return out

    def inverse(self, features: np.ndarray) -> np.ndarray:
        """Features back in the file's units, float64 (e.g. to read a reconstruction)."""
        return np.asarray(features, dtype=np.float64) / self.factor + self.offset

    def to_dict(self) -> dict:
        def plain(v):
            return [float(x) for x in v] if np.ndim(v) else float(v)

        return {"rule": self.rule, "offset": plain(self.offset), "factor": plain(self.factor),
                "fitted_rows": int(self.fitted_rows), "clip": bool(self.clip)}

    @classmethod
    def from_dict(cls, d: dict, where: str = "scaling") -> "Scaler":
        """Inverse of ``to_dict``; a malformed record is a DataError naming ``where``."""
        try:
            rule, offset, factor = d["rule"], d["offset"], d["factor"]
            offset = np.asarray(offset, dtype=np.float64)
            factor = np.asarray(factor, dtype=np.float64)
            ok = (rule in (*RULES, "divide") and offset.shape == factor.shape
                  and offset.ndim <= 1 and np.isfinite(offset).all()
                  and np.isfinite(factor).all() and (factor != 0).all())
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise DataError(f"{where}: not a valid scaling record")
        as_value = (lambda a: a) if offset.ndim else float
        return cls(rule, as_value(offset), as_value(factor), int(d.get("fitted_rows", 0)),
                   bool(d.get("clip", False)))

    def describe(self) -> str:
        """One line for logs and reports."""
        if self.rule in PER_FEATURE_RULES:
            return (f"{self.rule} per feature, fitted on {self.fitted_rows} rows "
                    f"({len(self.offset)} features)")
        if self.rule == "minmax-global":
            return f"minmax over all values, fitted on {self.fitted_rows} rows"
        if self.identity:
            return f"{self.rule}: values used as they are"
        return f"{self.rule}: (v - {self.offset:g}) * {self.factor:g}"


def _check_float32(part: np.ndarray, values: np.ndarray, start: int, where: str,
                   scaler) -> None:
    """DataError for the first value of ``part`` (rows start.. of ``values``) that is not
    finite in float32 or that float32 would flush to 0."""
    tiny, big = np.finfo(np.float32).tiny, np.finfo(np.float32).max
    with np.errstate(invalid="ignore"):
        mag = np.abs(part.reshape(len(part), -1))
        bad = ~(mag <= big) | ((mag > 0) & (mag < tiny))
    if not bad.any():
        return
    row, col = (int(v) for v in np.argwhere(bad)[0])
    value = values.reshape(len(values), -1)[start + row, col]
    how = "" if scaler is None else f" after scaling ({scaler.describe()})"
    hint = ("a value below float32's smallest normal number (1.2e-38) would become 0"
            if mag[row, col] < tiny else "a value beyond float32's range (3.4e38)")
    fix = ("change the data's units (divide by a power of ten)" if scaler is not None
           and scaler.fitted else "rescale the data (scale='standard' or 'minmax', --scale "
           "on the command line) or change its units")
    raise DataError(f"{where}: row {start + row} (0-based), column {col + 1}: {float(value)!r} "
                    f"leaves float32's range{how}: {hint}; {fix}")


class Stats:
    """Running per-feature min, max, mean and variance over blocks of rows (float64), so a
    memory-mapped file is scanned once in bounded memory. Variance by Chan et al.'s
    pairwise update (numerically stable for large means)."""

    def __init__(self, d: int):
        self.n = 0
        self.lo = np.full(d, np.inf)
        self.hi = np.full(d, -np.inf)
        self.mean = np.zeros(d)
        self.m2 = np.zeros(d)

    def add(self, block: np.ndarray) -> None:
        if len(block) == 0:
            return
        b = block.reshape(len(block), -1).astype(np.float64)
        np.minimum(self.lo, b.min(axis=0), out=self.lo)
        np.maximum(self.hi, b.max(axis=0), out=self.hi)
        with np.errstate(over="ignore", invalid="ignore"):  # values near 1e308: fit_rule
            n_b, mean_b = len(b), b.mean(axis=0)  # refuses the non-finite result
            m2_b = ((b - mean_b) ** 2).sum(axis=0)
            n = self.n + n_b
            delta = mean_b - self.mean
            self.mean = self.mean + delta * (n_b / n)
            self.m2 = self.m2 + m2_b + delta ** 2 * (self.n * n_b / n)
        self.n = n


def fit_rule(rule: str, stats: Stats, where: str) -> Scaler:
    """The fitted Scaler of ``rule`` (minmax, minmax-global, standard) from ``stats``."""
    if stats.n == 0:
        raise DataError(f"{where}: no rows to fit scale={rule!r} on")
    with np.errstate(over="ignore", invalid="ignore"):
        bad = ~(np.isfinite(stats.hi - stats.lo) & np.isfinite(stats.m2))
    if bad.any():
        col = int(np.argmax(bad))
        raise DataError(f"{where}: column {col + 1}: values from {stats.lo[col]:.3g} to "
                        f"{stats.hi[col]:.3g} are too large to scale (their range or variance "
                        "overflows float64); change the data's units (divide by a power of ten)")
    if rule == "minmax-global":
        lo, hi = float(stats.lo.min()), float(stats.hi.max())
        if hi == lo:
            logger.warning("%s: all values equal %g; min-max scaling gives zeros", where, lo)
            return Scaler(rule, lo, 1.0, stats.n, clip=True)
        return Scaler(rule, lo, 1.0 / (hi - lo), stats.n, clip=True)
    if rule == "minmax":
        span = stats.hi - stats.lo
        constant = span == 0
        if constant.any():
            logger.warning("%s: %d constant column(s) (first: column %d); min-max scaling "
                           "gives zeros there", where, constant.sum(), np.argmax(constant) + 1)
        return Scaler(rule, stats.lo.copy(), 1.0 / np.where(constant, 1.0, span), stats.n)
    if rule == "standard":
        std = np.sqrt(stats.m2 / stats.n)
        constant = ~(std > 0)
        return Scaler(rule, stats.mean.copy(), 1.0 / np.where(constant, 1.0, std), stats.n)
    raise ConfigError(f"scale={rule!r} is not a fitted rule")


def rule_scaler(lo: float, hi: float, integral: bool, scale, where: str,
                image: bool = False) -> Scaler:
    """The Scaler of a rule that fits nothing ("auto", "none", a divisor) for values in
    [lo, hi]; DataError when they do not fit the rule."""
    if scale == "auto" and integral:
        if lo < 0:
            raise DataError(f"{where}: integer values go down to {lo:g} (negative); "
                            f"{hint(image)}")
        if hi <= 1:
            return Scaler("auto")
        if hi <= 255:
            return Scaler("auto", 0.0, 1.0 / 255.0, clip=True)
        raise DataError(f"{where}: integer values go up to {hi:g}, above 255; {hint(image)}")
    if scale not in ("auto", "none", None):
        d = divisor(scale)
        if lo < 0 or hi / d > 1:
            raise DataError(f"{where}: values in [{lo:g}, {hi:g}] divided by {d:g} leave "
                            f"[0, 1]; {hint(image)}")
        return Scaler("divide", 0.0, 1.0 / d, clip=True)
    if lo < 0 or hi > 1:
        raise DataError(f"{where}: values in [{lo:g}, {hi:g}] are outside [0, 1]; "
                        f"{hint(image)}")
    return Scaler("auto" if scale == "auto" else "none")
