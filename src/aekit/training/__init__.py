"""The one training loop for every model.

- ``trainer.py``: :class:`Trainer` (the loop; optimizer, scheduler and RNG kept across
  calls), :func:`train` (one run), :class:`TrainConfig`, :func:`evaluate`;
- ``steps.py``: how a batch becomes gradients (autograd, closed-form dense, DDP);
- ``callbacks.py``: warm-up, validation, divergence guard, best weights, early stopping, the
  schedule, checkpoints, progress and logging, as callbacks on the loop's events;
- ``greedy.py``: greedy layer-wise training, a schedule of runs with a checkpoint per phase;
- ``checkpoint.py``, ``dense_step.py``, ``distributed.py``: their parts.
"""

from aekit.training.callbacks import Callback
from aekit.training.checkpoint import load_checkpoint, save_checkpoint
from aekit.training.evaluate import evaluate
from aekit.training.greedy import greedy_layerwise
from aekit.training.trainer import (
    OPTIMIZERS,
    SCHEDULES,
    TrainConfig,
    Trainer,
    TrainResult,
    train,
)

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "Callback",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "evaluate",
    "greedy_layerwise",
    "load_checkpoint",
    "save_checkpoint",
    "train",
]
