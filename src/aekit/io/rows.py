"""Row sources: where training batches (and a lazy dataset's rows) come from.

Below both :mod:`aekit.datasets` and :mod:`aekit.training` (it imports nothing of aekit
but :mod:`aekit.errors` and :mod:`aekit.io.mapped_pages`), so a lazy
:class:`aekit.datasets.Dataset` reads its rows with the same code the trainer uses.

Data stays one tensor, indexed with a permutation per epoch: no per-sample Dataset or
DataLoader overhead. Arrays that are memory-mapped (``np.memmap`` or ``np.load(...,
mmap_mode='r')``) are streamed: each batch reads only its rows (in sorted order, so reads
are mostly sequential), so peak memory does not grow with the file. A lazy
:class:`aekit.datasets.Dataset` (``load(path, mmap=True)``) streams the same way, with its
per-batch ``offset``/``scale``; ``benchmarks/memory.py`` measures peak RSS as the file grows.
"""

from __future__ import annotations

import numpy as np
import torch

from aekit.errors import DataError
from aekit.io import mapped_pages


class TensorSource:
    """Rows of an in-memory float tensor (already on the training device)."""

    def __init__(self, X: torch.Tensor):
        self.X = X
        self.n = X.shape[0]
        self.n_features = X.shape[1]

    def batch(self, idx: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Rows ``idx``; into ``out`` (rows x features) when given: a reused buffer spares
        the page faults of a fresh large allocation every step."""
        if out is None:
            return self.X.index_select(0, idx)
        return torch.index_select(self.X, 0, idx, out=out)


class ArraySource:
    """Rows of a numpy array that may be a memory map, as float32 ``(X - offset) * scale``
    (clipped to [0, 1] when ``clip``), converted one batch at a time. ``offset``/``scale``
    may be (n_features,) arrays (per-feature scaling, computed in float64 and rounded once,
    as :class:`aekit.datasets.scaling.Scaler` does in memory). ``rows``: the row numbers of
    X this source holds (a split of a file), or None for all; ``pad``: zeros appended to
    each row (a conv network's padded grid)."""

    def __init__(self, X: np.ndarray, scale=1.0, device="cpu", offset=0.0,
                 clip: bool = False, rows: np.ndarray | None = None, pad: int = 0):
        self.X = X
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        self.n = X.shape[0] if rows is None else len(self.rows)
        self.pad = int(pad)
        self.n_features = int(np.prod(X.shape[1:])) + self.pad
        self.per_feature = np.ndim(offset) > 0 or np.ndim(scale) > 0
        if self.per_feature:
            offset = np.asarray(offset, dtype=np.float64)
            scale = np.asarray(scale, dtype=np.float64)
        self.scale, self.offset, self.clip = scale, offset, clip
        self.device = torch.device(device)
        # Rows are read with pread from the memmap's file (RSS stays at a batch, see
        # aekit.io.mapped_pages); else through the mapping, handing its pages back.
        self._reader = mapped_pages.RowReader.for_array(X)
        self._mapping = None if self._reader is not None else mapped_pages.find_mapping(X)
        self._bytes_since_release = 0

    def batch(self, idx: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        if out is not None:
            return out.copy_(self.batch(idx))
        idx = idx.cpu().numpy()
        if self.rows is not None:
            idx = self.rows[idx]
        order = np.argsort(idx, kind="stable")
        rows = idx[order]  # ascending: sequential reads from the memory map
        raw = self._reader.take(rows) if self._reader is not None else self.X[rows]
        if self.per_feature:  # float64, one rounding: the in-memory numbers exactly
            chunk = ((np.asarray(raw, dtype=np.float64).reshape(len(rows), -1) - self.offset)
                     * self.scale).astype(np.float32)
        else:
            chunk = np.asarray(raw, dtype=np.float32).reshape(len(rows), -1)
            if self.offset != 0.0:
                chunk -= np.float32(self.offset)
            if self.scale != 1.0:
                chunk *= np.float32(self.scale)
        if self.clip:
            np.clip(chunk, 0.0, 1.0, out=chunk)
        out = np.zeros((len(rows), chunk.shape[1] + self.pad), dtype=np.float32)
        out[order, :chunk.shape[1]] = chunk  # back to the permutation's order (random batches)
        if self._mapping is not None:
            # A page fault maps pages around each row read (read-around), so scattered
            # rows touch far more of the mapping than their own bytes.
            self._release_pages(len(rows) * max(self.X.strides[0], FAULT_AROUND))
        return torch.from_numpy(out).to(self.device)

    def _release_pages(self, nbytes: int) -> None:
        """Every RELEASE_BYTES read, hand back the file pages mapped so far, so RSS does
        not grow to the file's size over an epoch (see :mod:`aekit.io.mapped_pages`)."""
        self._bytes_since_release += nbytes
        if self._mapping is not None and self._bytes_since_release >= RELEASE_BYTES:
            mapped_pages.release(self._mapping)
            self._bytes_since_release = 0


RELEASE_BYTES = 64 * 2**20
FAULT_AROUND = 2 * 2**20  # measured: a fault can map ~100-200 KiB (read-around); be safe


def is_memmap(X) -> bool:
    return isinstance(X, np.memmap) or (
        isinstance(X, np.ndarray) and isinstance(X.base, np.memmap)
    )


class LabelledSource:
    """Rows of another source with their labels: ``batch(idx)`` is ``(rows, labels)``.
    Supervised objectives (the classifier's head and fine-tuning) read both; the training
    loop only indexes."""

    def __init__(self, source, labels: torch.Tensor):
        if len(labels) != source.n:
            raise DataError(f"{len(labels)} labels for {source.n} rows")
        self.source, self.labels = source, labels
        self.n, self.n_features = source.n, source.n_features

    def batch(self, idx, out=None):
        return self.source.batch(idx), self.labels[idx.to(self.labels.device)]


class SemiSupervisedSource:
    """All rows, each batch paired with labelled rows: ``batch(idx)`` is ``(x[idx],
    x_l[j], y_l[j])`` with ``j = idx mod n_labelled``. An epoch is one pass over every row
    (the unlabelled part of the few-label objectives; labelled rows count there too, as in
    Rasmus et al. 2015), and each batch carries as many labelled rows as it has rows: the
    few labelled rows are revisited many times an epoch. ``j`` follows from the shuffled
    ``idx`` alone, so the loop's one generator still fixes every batch (exact resume)."""

    def __init__(self, source, labelled, labels: torch.Tensor):
        if len(labels) != labelled.n or labelled.n == 0:
            raise DataError(f"{len(labels)} labels for {labelled.n} labelled rows")
        self.source, self.labelled, self.labels = source, labelled, labels
        self.n, self.n_features = source.n, source.n_features

    def batch(self, idx, out=None):
        j = idx % self.labelled.n
        return (self.source.batch(idx), self.labelled.batch(j),
                self.labels[j.to(self.labels.device)])


def fingerprint(source, chunk: int = 4096) -> str:
    """SHA-256 of a source's rows as float32 (with their labels, for a LabelledSource) and
    its shape, read ``chunk`` rows at a time: which data a checkpoint was trained on."""
    import hashlib

    h = hashlib.sha256(f"{source.n}x{source.n_features}".encode())
    for start in range(0, source.n, chunk):
        rows = source.batch(torch.arange(start, min(start + chunk, source.n)))
        for part in rows if isinstance(rows, tuple) else (rows,):
            h.update(part.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def make_source(X, device="cpu", scale: float = 1.0):
    """A batch source for X: tensors and in-memory arrays become one float32 tensor on
    ``device``; memory-mapped arrays are streamed."""
    if hasattr(X, "batch") and hasattr(X, "n"):  # already a source
        return X
    if hasattr(X, "lazy") and hasattr(X, "X") and hasattr(X, "batch"):  # aekit Dataset
        if X.lazy:  # streamed: rows scaled per batch exactly as Dataset.batch does
            return ArraySource(X.X, scale=X.scale, offset=X.offset, clip=X.clip,
                               rows=X.rows, device=device)
        X = X.X
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
