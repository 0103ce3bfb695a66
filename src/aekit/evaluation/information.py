"""Entropy and Kullback-Leibler divergence of discrete distributions, in bits or nats.

    H(p)      = -sum_i p_i log p_i                   (Shannon 1948; 0 log 0 = 0)
    KL(p||q)  =  sum_i p_i (log p_i - log q_i)       (>= 0, = 0 iff p == q; not symmetric)

``base=2`` gives bits, ``base=math.e`` nats. Inputs are non-negative weights (counts are
fine): each is normalised to sum to 1 first.
"""

from __future__ import annotations

import math

import numpy as np

from aekit.errors import DataError


def _distribution(p, name: str) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or len(p) == 0:
        raise DataError(f"{name} must be a non-empty 1-D array of probabilities, got shape "
                        f"{p.shape}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise DataError(f"{name} must hold finite, non-negative values")
    total = p.sum()
    if total <= 0:
        raise DataError(f"{name} sums to 0")
    return p / total


def _log(base) -> float:
    if not (isinstance(base, (int, float)) and base > 0 and base != 1):
        raise DataError(f"base must be a positive number other than 1, got {base!r}")
    return math.log(base)


def entropy(p, base: float = 2) -> float:
    """Shannon entropy of the distribution ``p`` (k,), in units of log ``base``."""
    p = _distribution(p, "p")
    nz = p[p > 0]
    return float(-(nz * np.log(nz)).sum() / _log(base))


def kl_divergence(p, q, base: float = 2) -> float:
    """KL(p || q) in units of log ``base``; ``inf`` when q is 0 where p is not."""
    p, q = _distribution(p, "p"), _distribution(q, "q")
    if p.shape != q.shape:
        raise DataError(f"p and q must have the same length, got {len(p)} and {len(q)}")
    lb = _log(base)
    support = p > 0
    if (q[support] == 0).any():
        return math.inf
    return float((p[support] * (np.log(p[support]) - np.log(q[support]))).sum() / lb)


def cross_entropy(p, q, base: float = 2) -> float:
    """H(p, q) = H(p) + KL(p || q), in units of log ``base``."""
    return entropy(p, base) + kl_divergence(p, q, base)
