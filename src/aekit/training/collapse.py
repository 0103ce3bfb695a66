"""A collapsed model is an error, not a result: the check that ends a run whose loss stayed
finite (so the divergence guard never fired) but whose network is of no use.

:class:`CollapseCheck` is a callback: the caller measures the network before training
(:meth:`CollapseCheck.measure`, on up to CHECK_ROWS training rows, in the caller's own
units through its ``reconstruct``) and adds the check to the run; at the end of training,
after the best weights are back, it compares. Both failures require that training moved
the weights farther than MOVED times their norm before training: the mark of steps far
too large (a tiny network whose ReLUs die at a normal learning rate moves its weights by a
few percent, and is left alone):

- collapsed: the network gives (nearly) the same output for every training row (its
  outputs vary by less than FLAT of the data's variance, and SHRUNK of what they did before
  training), and that output is either more than MEAN_WORSE times worse than predicting
  each feature's mean, or the data has structure a model with this code size learns (PCA
  with as many components as the code reconstructs it with under STRUCTURE of its error on
  the same columns shuffled; on random data a constant output is about the best there is);
- no progress: its reconstruction error on the training rows is worse than predicting each
  feature's mean, and either no better than before training or, with the weights moved more
  than FAR times their size, over MEAN_WORSE times the mean's.

Both come from a learning rate far too large (dead ReLUs, saturated sigmoids, weights grown
without bound). The error carries no history, so ``aekit train`` keeps no model folder.
"""

from __future__ import annotations

import numpy as np
import torch

from aekit.errors import TrainingError
from aekit.training.callbacks import Callback

CHECK_ROWS = 1024  # training rows the check reconstructs (evenly spaced; 2048 cost 0.1 s
# of a 3-epoch Fashion-MNIST fit, issue 27)
MOVED = 1.0  # the weights moved farther than this times their norm before training
FLAT = 1e-6  # outputs varying less than this fraction of the data's variance: constant
SHRUNK = 1e-3  # ... and less than this fraction of the untrained network's: collapsed
MEAN_WORSE = 1.5  # a constant output this many times worse than the mean: collapsed
FAR = 100.0  # weights moved farther than this: only steps of absurd size do that (an
# undertrained tiny net at lr 5e-3 moves about 1x and can sit 1.8x above the mean's error)
STRUCTURE = 0.8  # PCA error below this fraction of its error on shuffled columns


def check_rows(X):
    """Up to CHECK_ROWS evenly spaced rows of X (an array, or rows read from a file)."""
    if len(X) > CHECK_ROWS or not isinstance(X, np.ndarray):
        X = X[np.linspace(0, len(X) - 1, min(len(X), CHECK_ROWS)).astype(np.int64)]
    return np.asarray(X)


def pca_errors(X: np.ndarray, k: int, shuffles: int = 5) -> tuple[float, float]:
    """Per-value MSE of reconstructing X (n, D) from its top k principal components, and
    the mean of the same over ``shuffles`` copies of X with each column shuffled on its own
    (same marginals, no structure across columns; seeded, so the result is fixed)."""
    X = np.asarray(X, dtype=np.float64)
    scale = max(float(np.abs(X).max()), 1e-150)  # computed on X / scale: no overflow

    def error(A):
        A = (A - A.mean(axis=0)) / scale
        s = np.linalg.svd(A, compute_uv=False)
        return float((s[k:] ** 2).sum() / A.size) * scale ** 2

    rng = np.random.default_rng(0)
    null = np.mean([error(np.column_stack([rng.permutation(c) for c in X.T]))
                    for _ in range(shuffles)])
    return error(X), float(null)


class CollapseCheck(Callback):
    """Raise a :class:`TrainingError` at the end of training when the network collapsed or
    made no progress (the module docstring says when). ``rows``: the training rows it
    measures (:func:`check_rows`); ``reconstruct(rows)`` / ``encode(rows)``: the network's
    outputs and codes in the caller's units; ``learning_rate``: named in the advice."""

    def __init__(self, rows, reconstruct, encode, module, learning_rate=None):
        self.rows, self.reconstruct, self.encode = rows, reconstruct, encode
        self.module, self.learning_rate = module, learning_rate
        self.before = self.measure(weights=True)

    def measure(self, weights: bool = False) -> dict:
        """The reconstruction error (MSE) and the outputs' variance across rows (summed
        over features), in float64; with ``weights``, a copy of the weights."""
        X = self.rows
        R = self.reconstruct(X).astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            state = {"mse": float(np.mean((R - X) ** 2)), "spread": float(R.var(axis=0).sum()),
                     "data": float(X.astype(np.float64).var(axis=0).sum())}
        if weights:
            state["weights"] = [p.detach().to("cpu", torch.float64, copy=True)
                                for p in self.module.parameters()]
        return state

    def moved(self) -> float:
        """How far training moved the weights, relative to their norm before training."""
        before = self.before["weights"]
        now = [p.detach().to("cpu", torch.float64) for p in self.module.parameters()]
        if len(now) != len(before):
            return 0.0
        step = sum(float(((a - b) ** 2).sum()) for a, b in zip(now, before))
        size = sum(float((b ** 2).sum()) for b in before)
        return float(np.sqrt(step / size)) if size > 0 else float("inf")

    def on_train_end(self, trainer) -> None:
        self.check()

    def check(self) -> None:
        before, after = self.before, self.measure()
        lr = self.learning_rate
        fix = (f"The learning rate is probably too large (learning_rate={lr:g}): lower it "
               "(e.g. to 1e-3) or set grad_clip." if isinstance(lr, (int, float)) else
               "Lower the learning rate or set grad_clip.")
        if not np.isfinite([after["mse"], after["spread"]]).all() \
                and np.isfinite([before["mse"], before["spread"]]).all():
            raise TrainingError("training blew up: the network's outputs on the training rows "
                                f"overflow float32, though every weight is finite. {fix}")
        moved = self.moved()
        if not moved > MOVED:
            return
        rows, data = self.rows, after["data"]
        mean_mse = data / rows.shape[1]  # predicting each feature's mean
        if len(rows) > 1 and data > 0 and after["spread"] <= FLAT * data \
                and after["spread"] <= SHRUNK * before["spread"]:
            codes = self.encode(rows).astype(np.float64)
            k = codes.shape[1]
            pca, null = pca_errors(rows, k)
            if after["mse"] > MEAN_WORSE * mean_mse or pca < STRUCTURE * null:
                raise TrainingError(
                    "training collapsed: the network gives the same output for every "
                    f"training row (variance of its outputs across rows {after['spread']:.3g},"
                    f" of the data {data:.3g}, summed over features; largest standard "
                    f"deviation of a code unit {float(codes.std(axis=0).max()):.3g}), so it "
                    f"learned nothing from the data: reconstruction error MSE "
                    f"{after['mse']:.4g}, against {mean_mse:.4g} for predicting each "
                    f"feature's mean and {pca:.4g} for PCA with {k} components; training "
                    f"moved the weights {moved:.3g} times their initial size. {fix}")
        # (worse than before; or, after absurd steps, far worse than the mean though a hair
        # better than before: at lr 1e9 an untrained sigmoid net's 0.5 is 2-3x the mean's)
        if after["mse"] > mean_mse and (after["mse"] >= before["mse"] or (
                moved > FAR and after["mse"] > MEAN_WORSE * mean_mse)):
            raise TrainingError(
                "training made no progress: the reconstruction error on the training rows "
                f"is MSE {after['mse']:.4g}, against {before['mse']:.4g} before training "
                f"and {mean_mse:.4g} for predicting each feature's mean, although training "
                f"moved the weights {moved:.3g} times their initial size. {fix}")
