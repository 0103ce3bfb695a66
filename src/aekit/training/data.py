"""Where training batches come from.

Data stays one tensor, indexed with a permutation per epoch: no per-sample Dataset or
DataLoader overhead. Arrays that are memory-mapped (``np.memmap`` or ``np.load(...,
mmap_mode='r')``) are streamed: each batch reads only its rows (in sorted order, so reads
are mostly sequential), so peak memory does not grow with the file.
"""

from __future__ import annotations

import numpy as np
import torch

from aekit.errors import DataError


class TensorSource:
    """Rows of an in-memory float tensor (already on the training device)."""

    def __init__(self, X: torch.Tensor):
        self.X = X
        self.n = X.shape[0]
        self.n_features = X.shape[1]

    def batch(self, idx: torch.Tensor) -> torch.Tensor:
        return self.X.index_select(0, idx)


class ArraySource:
    """Rows of a numpy array that may be a memory map, scaled by ``scale`` per batch."""

    def __init__(self, X: np.ndarray, scale: float = 1.0, device="cpu"):
        self.X = X
        self.n = X.shape[0]
        self.n_features = int(np.prod(X.shape[1:]))
        self.scale = scale
        self.device = torch.device(device)

    def batch(self, idx: torch.Tensor) -> torch.Tensor:
        rows = np.sort(idx.cpu().numpy())  # sequential reads from the memory map
        chunk = np.asarray(self.X[rows], dtype=np.float32).reshape(len(rows), -1)
        if self.scale != 1.0:
            chunk *= self.scale
        # Rows come back sorted; re-order to the permutation so batches stay random.
        order = np.argsort(np.argsort(idx.cpu().numpy()))
        return torch.from_numpy(chunk[order]).to(self.device)


def is_memmap(X) -> bool:
    return isinstance(X, np.memmap) or (
        isinstance(X, np.ndarray) and isinstance(X.base, np.memmap)
    )


def make_source(X, device="cpu", scale: float = 1.0):
    """A batch source for X: tensors and in-memory arrays become one float32 tensor on
    ``device``; memory-mapped arrays are streamed."""
    if hasattr(X, "batch") and hasattr(X, "n"):  # already a source
        return X
    if is_memmap(X):
        if X.ndim < 2 or X.shape[0] == 0:
            raise DataError(f"training data must have shape (n_samples, n_features), got {X.shape}")
        return ArraySource(X, scale=scale, device=device)
    t = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X)
    if t.ndim != 2 or t.shape[0] == 0:
        raise DataError(f"training data must have shape (n_samples, n_features), got {tuple(t.shape)}")
    t = t.to(device=device, dtype=torch.float32)
    if scale != 1.0:
        t = t * scale
    return TensorSource(t.contiguous())
