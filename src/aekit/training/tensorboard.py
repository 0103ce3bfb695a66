"""Training logs for TensorBoard: a callback on the training loop (``log_dir=`` /
``aekit train --log-dir DIR``; needs ``pip install 'aekit[tensorboard]'``).

Per epoch (the step is the epoch number, 1-based) it writes, with
``torch.utils.tensorboard.SummaryWriter``:

- ``train/<term>``: every loss term of the epoch's record (``loss``, ``recon``, ``kl``,
  ``sparsity``, ...), the same numbers as ``history_`` (stored as float32, TensorBoard's
  scalar type);
- ``validation/<term>``: the ``val_<term>`` entries, when there is validation data;
- ``learning_rate`` and ``epoch_seconds``;
- ``reconstructions``: an image grid of up to ``N_IMAGES`` fixed rows (the first held-out
  rows, else the first training rows), inputs in the top row and their reconstructions
  below (VAE: the decoder mean at z = mu; an unpooling decoder uses the row's own indices).

It only reads the model (under ``torch.no_grad``, in eval mode, mode restored) and draws no
random numbers, so training gives the same weights and history with or without it
(tests/test_tensorboard.py). Only rank 0 writes under torchrun. A resumed run continues the
same log: events from epochs after the checkpoint are dropped (``purge_step``).

The log is an optional sink: a write that fails once training runs (a full disk, the folder
removed) logs one warning and stops the log, never the run (issue 28, class 1). The writer's
background thread then ends without printing a traceback.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import threading

import numpy as np
import torch

from aekit.errors import ConfigError
from aekit.training import distributed
from aekit.training.callbacks import Callback

log = logging.getLogger(__name__)

N_IMAGES = 8
STRIP_HEIGHT = 4  # a row that is no image is drawn as a strip this many pixels high
GAP = 1  # pixels between tiles (drawn white)


def require_tensorboard() -> None:
    """ConfigError naming the extra when the tensorboard package is missing."""
    if importlib.util.find_spec("tensorboard") is None:
        raise ConfigError("log_dir needs the tensorboard package: pip install "
                          "'aekit[tensorboard]'")


def check_log_dir(log_dir) -> str:
    """``log_dir`` as text: a path that is not a file (it is made when training starts);
    the package must be there (checked before any training)."""
    if not isinstance(log_dir, (str, os.PathLike)) or isinstance(log_dir, bytes):
        raise ConfigError(f"log_dir must be a folder path (text), got {log_dir!r}")
    text = os.fspath(log_dir)
    if not text:
        raise ConfigError("log_dir must be a folder path, got ''")
    if os.path.exists(text) and not os.path.isdir(text):
        raise ConfigError(f"log_dir {text}: exists and is not a folder")
    require_tensorboard()
    return text


def tag_of(key: str) -> str | None:
    """The TensorBoard tag of a history key (None: not logged)."""
    if key in ("epoch", "threads", "shards"):  # fixed for the run
        return None
    if key == "lr":
        return "learning_rate"
    if key == "seconds":
        return "epoch_seconds"
    if key.startswith("val_"):
        return "validation/" + key[len("val_"):]
    return "train/" + key


def _tile_shape(n_values: int, image_shape) -> tuple[int, int, int]:
    """(C, H, W) one row is drawn as: the network's image shape; a square for a perfect
    square; else a strip STRIP_HEIGHT pixels high."""
    if image_shape is not None:
        return tuple(int(s) for s in image_shape)
    side = math.isqrt(n_values)
    if side * side == n_values:
        return (1, side, side)
    return (1, 1, n_values)


def _as_tiles(rows: np.ndarray, shape) -> np.ndarray:
    """(n, C*H*W) -> (n, C', H', W') with C' in (1, 3): other channel counts are stacked
    vertically as grey images; strips are repeated STRIP_HEIGHT times."""
    c, h, w = shape
    tiles = rows.reshape(len(rows), c, h, w)
    if c not in (1, 3):
        tiles = tiles.reshape(len(rows), 1, c * h, w)
    if h == 1 and c == 1:
        tiles = np.repeat(tiles, STRIP_HEIGHT, axis=2)
    return tiles


def image_grid(inputs: np.ndarray, outputs: np.ndarray, image_shape=None) -> np.ndarray:
    """Inputs over their reconstructions, (C, H, W) float32 in [0, 1] (CHW, for
    ``SummaryWriter.add_image``). Values map to [0, 1] through one affine map shared by
    both rows: [min(0, lowest), max(1, highest)] -> [0, 1], the identity for data in
    [0, 1]. Wide strips are laid out as two columns instead of two rows."""
    lo = min(0.0, float(inputs.min()), float(outputs.min()))
    hi = max(1.0, float(inputs.max()), float(outputs.max()))
    shape = _tile_shape(inputs.shape[1], image_shape)
    a = _as_tiles((inputs - lo) / (hi - lo), shape)
    b = _as_tiles((outputs - lo) / (hi - lo), shape)
    n, c, h, w = a.shape
    by_rows = w <= 4 * h  # images: 2 rows x n columns; long strips: n rows x 2 columns
    rows, cols = (2, n) if by_rows else (n, 2)
    grid = np.ones((c, rows * (h + GAP) - GAP, cols * (w + GAP) - GAP), dtype=np.float32)
    for i in range(n):
        for j, tile in enumerate((a[i], b[i])):
            r, col = (j, i) if by_rows else (i, j)
            grid[:, r * (h + GAP):r * (h + GAP) + h, col * (w + GAP):col * (w + GAP) + w] = tile
    return grid


@torch.no_grad()
def reconstruct_rows(model, x: torch.Tensor) -> torch.Tensor:
    """The deterministic reconstruction of network rows x (B, F): decode(code) with the
    encoder's pooling context (a VAE's code is mu); eval mode, the caller's mode restored."""
    was_training = model.training
    model.eval()
    try:
        return model.reconstruct(x)
    finally:
        model.train(was_training)


def can_reconstruct(model) -> bool:
    """An aekit autoencoder (the classifier's head phases train other modules)."""
    return all(hasattr(model, a) for a in ("reconstruct", "decode", "config"))


class TensorBoard(Callback):
    """Writes each epoch's record and a reconstruction grid to ``log_dir`` (see the module
    docstring). ``source``: the rows the grid shows (its first N_IMAGES)."""

    def __init__(self, log_dir, source=None, n_images: int = N_IMAGES):
        self.log_dir = check_log_dir(log_dir)
        self.source, self.n_images = source, n_images
        self.writer, self.rows = None, None

    def on_train_begin(self, trainer):
        if distributed.rank() != 0:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # torch's writer imports tensorboard itself
            require_tensorboard()
            raise
        start = int(getattr(trainer, "start_epoch", 0))
        _quiet_writer_threads()
        try:  # a resumed run rewrites the epochs after its checkpoint: drop their old events
            self.writer = SummaryWriter(self.log_dir, purge_step=start + 1 if start else None)
        except Exception as exc:  # noqa: BLE001 - the log is optional (module docstring)
            self.writer = None
            _warn(self.log_dir, exc, "")
            return
        self.rows = None
        if self.source is not None and can_reconstruct(trainer.model) and self.source.n:
            idx = torch.arange(min(self.n_images, self.source.n))
            rows = self.source.batch(idx)
            self.rows = rows[0] if isinstance(rows, tuple) else rows

    def on_epoch_recorded(self, trainer, record):
        if self.writer is None:
            return
        step = int(record["epoch"])
        grid = None
        if self.rows is not None:
            model = trainer.model
            x = self.rows.to(next(model.parameters()).device)
            out = reconstruct_rows(model, x)
            if out.shape == x.shape:  # a reconstruction (not, say, per-pixel class logits)
                grid = image_grid(x.float().cpu().numpy(), out.float().cpu().numpy(),
                                  model.config.image_shape)
        try:
            for key, value in record.items():
                tag = tag_of(key)
                if tag is not None and isinstance(value, (int, float)):
                    self.writer.add_scalar(tag, float(value), step)
            if grid is not None:
                self.writer.add_image("reconstructions", grid, step, dataformats="CHW")
            self.writer.flush()  # on disk each epoch: a run that stops keeps its log
        except Exception as exc:  # noqa: BLE001 - any failure of the sink, see the docstring
            self._stop_log(exc, step)

    def on_train_end(self, trainer):
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception as exc:  # noqa: BLE001 - see the module docstring
                self._stop_log(exc, None)
            self.writer = None

    def _stop_log(self, exc: BaseException, epoch) -> None:
        """One warning; the writer is dropped (closing it may fail the same way)."""
        writer, self.writer = self.writer, None
        _warn(self.log_dir, exc, f" at epoch {epoch}" if epoch is not None else "")
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - already reported above
            pass


def _warn(log_dir, exc, when: str) -> None:
    log.warning("TensorBoard log %s: writing failed%s (%s); the log stops there, training "
                "goes on", log_dir, when, exc)


def _quiet_writer_threads() -> None:
    """A failed write ends tensorboard's writer thread by re-raising, which prints a thread
    traceback; the main thread sees the same exception at its next write (and warns once),
    so the thread's copy is not printed. Other threads' exceptions reach the previous hook."""
    global _previous_hook
    if _previous_hook is not None:
        return
    from tensorboard.summary.writer.event_file_writer import _AsyncWriterThread

    _previous_hook = threading.excepthook

    def hook(args):
        if not isinstance(args.thread, _AsyncWriterThread):
            _previous_hook(args)

    threading.excepthook = hook


_previous_hook = None
