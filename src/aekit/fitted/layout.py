"""How a user's rows map onto the network's input: the one place that knows it.

A user gives flat rows (n, D), images (n, H, W) or (n, C, H, W). The network sees flat rows
of ``module_features`` values: conv networks lay each row out as an image of
``image_shape`` (C, H, W), row-major, zero-padded at the end when D is not a product of the
shape (a 50-value row on an 8x8 grid gets 14 zeros). Outputs are cropped back to D.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from aekit.errors import ConfigError, DataError


@dataclasses.dataclass(frozen=True)
class InputLayout:
    """n_features: values per user row (D). image_shape: (C, H, W) the network lays a row
    out on, or None (dense). pad: zeros appended to reach C*H*W (0 unless a flat row had
    to be laid out on a larger square)."""

    n_features: int
    image_shape: tuple[int, int, int] | None = None
    pad: int = 0

    def __post_init__(self):
        if self.image_shape is not None:
            object.__setattr__(self, "image_shape", tuple(int(s) for s in self.image_shape))
            if math.prod(self.image_shape) != self.n_features + self.pad:
                raise ConfigError(f"image_shape {self.image_shape} does not hold "
                                  f"{self.n_features} values + {self.pad} padding")

    @property
    def module_features(self) -> int:
        return self.n_features + self.pad

    @classmethod
    def of_module(cls, module) -> "InputLayout":
        """The layout a bare module implies: its own width, its own image shape, no pad."""
        c = module.config
        shape = tuple(c.image_shape) if c.image_shape is not None else None
        return cls(int(c.n_features), shape, 0)

    @classmethod
    def infer(cls, n_features: int, given=None, seen=None, n_pools: int = 0) -> "InputLayout":
        """The layout for training: ``given`` image_shape (H, W) / (C, H, W) if set, else
        the shape of image-shaped input ``seen``, else (for networks that pool) the
        smallest square that survives every 2x2 pooling, zero-padded; dense networks
        without a shape need none."""
        if given is not None:
            given = tuple(int(s) for s in ((1, *given) if len(given) == 2 else given))
            if math.prod(given) != n_features:
                raise DataError(f"image_shape {given} has {math.prod(given)} values but X "
                                f"has {n_features} features per row")
            if seen is not None and tuple(seen) != given:
                raise DataError(f"X holds images of shape {tuple(seen)} but image_shape is "
                                f"{given}")
            return cls(n_features, given, 0)
        if seen is not None:
            return cls(n_features, tuple(seen), 0)
        if n_pools == 0:
            return cls(n_features, None, 0)
        side = max(math.ceil(math.sqrt(n_features)), 2 ** n_pools)
        return cls(n_features, (1, side, side), side * side - n_features)

    def display_shape(self) -> tuple[int, int, int]:
        """(C, H, W) to show one user row as an image: the layout's own shape (a padded
        row is shown on the grid the network lays it on, padding black), else a square
        single-channel image when D is a perfect square."""
        if self.image_shape is not None:
            return self.image_shape
        side = math.isqrt(self.n_features)
        if side * side == self.n_features:
            return (1, side, side)
        raise ConfigError(f"cannot show {self.n_features} features as an image: pass "
                          "image_shape=(C, H, W)")

    # --- user rows <-> network rows ----------------------------------------------------
    def flat(self, X, name: str = "X") -> np.ndarray:
        """Any accepted layout -> finite float32 (n, D). (D,) is one row; (n, H, W) and
        (n, C, H, W) must match ``image_shape`` (or, without one, hold D values)."""
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise DataError(f"{name} must hold numbers, got dtype {X.dtype}")
        if X.ndim == 1:
            X = X[None, :]
        elif X.ndim in (3, 4):
            shape = (1, *X.shape[1:]) if X.ndim == 3 else tuple(X.shape[1:])
            if self.image_shape is not None and self.pad == 0 and shape != self.image_shape:
                raise DataError(f"{name} holds images of shape {shape}, but the model was "
                                f"fitted on images of shape {self.image_shape}")
            X = X.reshape(len(X), -1)
        if X.ndim != 2:
            raise DataError(f"{name} must be (n_samples, n_features) or images (n, H, W) / "
                            f"(n, C, H, W), got shape {X.shape}")
        if X.shape[1] != self.n_features:
            raise DataError(f"{name} has {X.shape[1]} features but the model expects "
                            f"{self.n_features}")
        with np.errstate(over="ignore"):
            X = np.ascontiguousarray(X, dtype=np.float32)
        if not np.isfinite(X).all():
            raise DataError(f"{name} contains NaN or infinite values (or values beyond "
                            "float32's range)")
        return X

    def to_module(self, X: np.ndarray) -> torch.Tensor:
        """(n, D) float32 -> (n, module_features) tensor (zero-padded)."""
        t = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        return torch.nn.functional.pad(t, (0, self.pad)) if self.pad else t

    def crop(self, out: torch.Tensor) -> torch.Tensor:
        """(n, module_features) -> (n, D): the padding cropped off."""
        return out[:, : self.n_features] if self.pad else out
