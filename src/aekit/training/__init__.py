"""One training loop for every model, checkpoints, and greedy layer-wise training."""

from aekit.training.checkpoint import load_checkpoint, save_checkpoint
from aekit.training.greedy import greedy_layerwise
from aekit.training.trainer import (
    OPTIMIZERS,
    SCHEDULES,
    TrainConfig,
    TrainResult,
    evaluate,
    train,
)

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "greedy_layerwise",
    "load_checkpoint",
    "save_checkpoint",
    "train",
]
