"""Tiny models on digits shared by the applications/evaluation/plotting/report tests.

Cached per process so a test session trains each configuration once.
"""

from __future__ import annotations

import contextlib
import functools

import torch

from aekit.datasets import load
from aekit.losses import Objective
from aekit.models import ModelConfig, build_model
from aekit.training import TrainConfig, train


@functools.lru_cache(maxsize=None)
def digits():
    """(train, test) digits datasets: X (1442, 64) / (355, 64) in [0, 1], y labels."""
    return load("digits"), load("digits", split="test")


@functools.lru_cache(maxsize=None)
def trained(code_size: int = 2, variational: bool = False, epochs: int = 20, seed: int = 0,
            **objective):
    """A small dense (V)AE trained a few epochs on digits: (module, objective, history)."""
    train_ds, _ = digits()
    config = ModelConfig(64, hidden=(32,), code_size=code_size, variational=variational)
    model = build_model(config, seed=seed)
    obj = Objective(**objective)
    with one_thread():
        result = train(model, obj, train_ds.X,
                       config=TrainConfig(epochs=epochs, batch_size=64, lr=3e-3, seed=seed,
                                          validation_fraction=0.1))
    return model, obj, result.history


@contextlib.contextmanager
def one_thread():
    """Tiny models run fastest single-threaded, and a shared 2-core machine spins badly
    with more (torch intra-op and OpenMP threads); restores the previous settings."""
    from threadpoolctl import threadpool_limits

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(n)


def untrained(code_size: int = 3, variational: bool = False, n_features: int = 64, seed: int = 0):
    return build_model(ModelConfig(n_features, hidden=(16,), code_size=code_size,
                                   variational=variational), seed=seed)
