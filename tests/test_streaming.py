"""Training from a memory-mapped .npy streams batches instead of loading the file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aekit.losses import Objective
from aekit.models import ModelConfig, build_model
from aekit.training import TrainConfig, train
from aekit.training.data import ArraySource, TensorSource, make_source

CONFIG = dict(epochs=2, batch_size=50, seed=3, validation_fraction=0.2, eval_batch_size=64)


class CountingMemmap(np.memmap):
    """A memmap that records how many rows each read asks for."""

    reads: list

    def __getitem__(self, key):
        if isinstance(key, np.ndarray):
            type(self).reads.append(len(key))
        return super().__getitem__(key)


@pytest.fixture
def npy(tmp_path):
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(400, 36), dtype=np.uint8)
    path = tmp_path / "big.npy"
    np.save(path, raw)
    return path, raw


def _model():
    return build_model(ModelConfig(36, hidden=(16,), code_size=4), seed=0)


def test_memmap_trains_like_the_array_in_memory_reading_one_batch_at_a_time(npy):
    path, raw = npy
    mm = np.load(path, mmap_mode="r").view(CountingMemmap)
    CountingMemmap.reads = []
    scale = np.float32(1 / 255)
    src = make_source(mm, scale=float(scale))
    assert isinstance(src, ArraySource)

    streamed, in_memory = _model(), _model()
    h1 = train(streamed, Objective(), src, config=TrainConfig(**CONFIG)).history
    h2 = train(in_memory, Objective(), raw.astype(np.float32) * scale,
               config=TrainConfig(**CONFIG)).history
    # Same rows in the same order: the same weights, bit for bit.
    for (k, a), b in zip(streamed.state_dict().items(), in_memory.state_dict().values()):
        assert torch.equal(a, b), k
    assert [r["val_loss"] for r in h1] == pytest.approx([r["val_loss"] for r in h2], rel=1e-6)
    # Never more rows at once than a batch (training) or an evaluation batch (validation).
    assert CountingMemmap.reads and max(CountingMemmap.reads) <= 64
    assert sum(CountingMemmap.reads) >= 2 * 400  # every row read each epoch


def test_batches_keep_the_permutation_order(npy):
    path, raw = npy
    src = ArraySource(np.load(path, mmap_mode="r"), scale=0.5)
    idx = torch.tensor([7, 3, 399, 0, 3])
    expected = torch.from_numpy(raw[[7, 3, 399, 0, 3]].astype(np.float32) * 0.5)
    assert torch.equal(src.batch(idx), expected)


def test_lazy_dataset_streams_with_its_own_scaling(npy):
    from aekit.datasets import load

    path, _ = npy
    ds = load(str(path), mmap=True)
    assert ds.lazy
    src = make_source(ds)
    assert isinstance(src, ArraySource) and src.n == 400 and src.n_features == 36
    idx = torch.tensor([5, 1, 250])
    np.testing.assert_array_equal(src.batch(idx).numpy(), ds.batch(np.array([5, 1, 250])))
    model = _model()
    history = train(model, Objective(), ds, config=TrainConfig(epochs=1, batch_size=64)).history
    assert np.isfinite(history[-1]["loss"])


def test_in_memory_arrays_become_one_tensor():
    X = np.random.default_rng(1).random((20, 5)).astype(np.float64)
    src = make_source(X)
    assert isinstance(src, TensorSource) and src.X.dtype == torch.float32
    assert src.X.is_contiguous() and src.X.shape == (20, 5)


@pytest.mark.slow
def test_speed_benchmark_quick_mode_writes_its_table(tmp_path):
    """``benchmarks/speed.py --quick`` runs every recipe end to end on tiny data."""
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "speed.py"
    spec = importlib.util.spec_from_file_location("aekit_bench_speed", path)
    speed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(speed)
    assert speed.main(["--quick", "--no-keras", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "speed-quick.json").read_text())
    for key in ("dense/b32/aekit", "dense/b32/torch", "dense/b32/sklearn", "dense/b256/aekit",
                "conv/b32/aekit", "conv/b32/torch"):
        row = result["table"][key]
        assert row["status"] == "ok", key
        assert row["s_per_epoch"] > 0 and np.isfinite(row["test_mse"]), key
    assert result["matmul_peak"]["gflops"] > 0
    assert "| dense b32 | aekit |" in (tmp_path / "speed-quick.md").read_text()
