"""Training from a memory-mapped .npy streams batches instead of loading the file."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch

from aekit.io import mapped_pages
from aekit.io.rows import ArraySource, TensorSource, make_source
from aekit.losses import Objective
from aekit.models import ModelConfig, build_model
from aekit.training import TrainConfig, train

CONFIG = dict(epochs=2, batch_size=50, seed=3, validation_fraction=0.2, eval_batch_size=64)


@pytest.fixture
def npy(tmp_path):
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(400, 36), dtype=np.uint8)
    path = tmp_path / "big.npy"
    np.save(path, raw)
    return path, raw


def _model():
    return build_model(ModelConfig(36, hidden=(16,), code_size=4), seed=0)


def test_memmap_trains_like_the_array_in_memory_reading_one_batch_at_a_time(npy, monkeypatch):
    path, raw = npy
    takes, nbytes = [], []
    take, preadv = mapped_pages.RowReader.take, os.preadv
    monkeypatch.setattr(mapped_pages.RowReader, "take",
                        lambda self, rows: takes.append(len(rows)) or take(self, rows))
    monkeypatch.setattr(os, "preadv", lambda fd, bufs, off: nbytes.append(
        sum(len(b) for b in bufs)) or preadv(fd, bufs, off))
    scale = np.float32(1 / 255)
    src = make_source(np.load(path, mmap_mode="r"), scale=float(scale))
    assert isinstance(src, ArraySource)

    streamed, in_memory = _model(), _model()
    h1 = train(streamed, Objective(), src, config=TrainConfig(**CONFIG)).history
    h2 = train(in_memory, Objective(), raw.astype(np.float32) * scale,
               config=TrainConfig(**CONFIG)).history
    # Same rows in the same order: the same weights, bit for bit.
    for (k, a), b in zip(streamed.state_dict().items(), in_memory.state_dict().values()):
        assert torch.equal(a, b), k
    assert [r["val_loss"] for r in h1] == pytest.approx([r["val_loss"] for r in h2], rel=1e-6)
    # Never more rows at once than a batch (training) or an evaluation batch (validation),
    # every row read each epoch, and nothing read beyond the rows asked for.
    assert takes and max(takes) <= 64
    assert sum(takes) >= 2 * 400
    assert sum(nbytes) == sum(takes) * 36


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


def test_row_reader_reads_views_and_dtypes_like_the_memmap(tmp_path):
    rng = np.random.default_rng(2)
    for dtype in (np.uint8, ">u2", np.float32, np.float64):
        raw = (rng.random((70, 3, 5)) * 1000).astype(dtype)
        np.save(tmp_path / "a.npy", raw)
        mm = np.load(tmp_path / "a.npy", mmap_mode="r")
        for view in (mm, mm[9:], mm.reshape(70, -1)[33:61]):
            reader = mapped_pages.RowReader.for_array(view)
            assert reader is not None
            rows = np.array([0, 1, 2, 7, 8, 20, len(view) - 1])
            np.testing.assert_array_equal(reader.take(rows), np.asarray(view)[rows])
            np.testing.assert_array_equal(reader.take_range(3, 6), np.asarray(view)[3:6])
            with pytest.raises(IndexError):
                reader.take(np.array([len(view)]))
            reader.close()
        assert mapped_pages.RowReader.for_array(mm[:, 1]) is None  # not contiguous rows
        del mm
    copy_on_write = np.load(tmp_path / "a.npy", mmap_mode="c")
    assert mapped_pages.RowReader.for_array(copy_on_write) is None  # may differ from the file


def test_a_replaced_file_is_read_through_the_mapping_not_by_name(npy):
    path, raw = npy
    mm = np.load(path, mmap_mode="r")
    np.save(path.with_name("new.npy"), np.zeros_like(raw))
    os.replace(path.with_name("new.npy"), path)  # the name now points at other data
    assert mapped_pages.RowReader.for_array(mm) is None
    src = ArraySource(mm)
    np.testing.assert_array_equal(src.batch(torch.tensor([5, 2])).numpy(),
                                  raw[[5, 2]].astype(np.float32))


def _hwm_reset() -> int:
    """Reset this process's peak RSS (VmHWM) to its current RSS; return that in bytes."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status_bytes("VmRSS")


def _status_bytes(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_peak_rss_while_streaming_stays_far_below_the_file(tmp_path, monkeypatch):
    """Reading scattered rows through the mapping mapped most of the (page-cached) file in
    every batch: fault-around maps whole large folios, ~1.4 MB per fault on Linux 6.18.
    Streaming must keep the peak at about a batch, whatever the file's size."""
    from aekit.datasets import arrays, load

    try:
        _hwm_reset()
    except OSError:
        pytest.skip("/proc/self/clear_refs is not writable here")
    path = tmp_path / "x.npy"
    rows = 30_000
    np.save(path, np.random.default_rng(0).integers(0, 256, (rows, 784), dtype=np.uint8))
    file_bytes = path.stat().st_size  # 23.5 MB, in the page cache: just written
    model = build_model(ModelConfig(784, hidden=(16,), code_size=4), seed=0)
    config = TrainConfig(epochs=1, batch_size=256, validation_fraction=0.1,
                         eval_batch_size=256)
    train(model, Objective(), np.zeros((600, 784), np.float32), config=config)  # warm-up

    monkeypatch.setattr(arrays, "MMAP_BLOCK_BYTES", 2**20)
    before = _hwm_reset()
    ds = load(str(path), mmap=True)  # the range scan reads the whole file
    assert _status_bytes("VmHWM") - before < 4 * 2**20

    before = _hwm_reset()
    train(model, Objective(), ds, config=config)  # every row, in random order
    grew = _status_bytes("VmHWM") - before
    assert grew < file_bytes / 3, f"peak RSS grew {grew / 2**20:.1f} MB over one epoch"


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


def test_lazy_dataset_batch_reads_the_same_rows_for_every_kind_of_index(tmp_path):
    """Dataset.batch on a lazy .npy goes through pread; any numpy index gives X[index]."""
    from aekit.datasets import load

    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(50, 6), dtype=np.uint8)
    path = tmp_path / "rows.npy"
    np.save(path, raw)
    ds = load(path, mmap=True)
    assert ds.lazy
    expected = raw.astype(np.float32) / 255
    for index in (slice(None), slice(3, 40, 7), np.array([9, 2, 2, 49, 0]),
                  raw[:, 0] > 128, 7):
        np.testing.assert_allclose(ds.batch(index), expected[index], rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------------------
# Estimator.fit(ds) and aekit train --mmap stream a memory-mapped Dataset (issue 13)


def _estimator(kind: str):
    from aekit import ConvAutoencoder, StackedAutoencoder

    if kind == "conv":
        return ConvAutoencoder(channels=(4,), n_components=6, epochs=2, batch_size=40,
                               random_state=0)
    return StackedAutoencoder(hidden_layer_sizes=(16,), n_components=4, epochs=2,
                              batch_size=40, random_state=0)


def _same_weights(a, b):
    for (k, p), q in zip(a.module_.state_dict().items(), b.module_.state_dict().values()):
        assert torch.equal(p, q), k


@pytest.mark.parametrize("kind", ["stacked", "conv"])
@pytest.mark.parametrize("layout", ["lazy", "lazy-split", "memmap", "memmap-images"])
def test_fit_streams_a_mapped_input_to_the_weights_of_the_same_rows_in_memory(
        tmp_path, kind, layout, one_thread):
    from aekit.datasets import load

    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(200, 6, 6), dtype=np.uint8)
    np.save(tmp_path / "img.npy", raw)
    np.save(tmp_path / "unit.npy", (raw / 255).astype(np.float32))
    if layout.startswith("lazy"):
        split = "train" if layout == "lazy-split" else "all"
        X = load(tmp_path / "img.npy", mmap=True, split=split)
        rows = load(tmp_path / "img.npy", split=split).X.reshape(-1, 1, 6, 6)  # (n, C, H, W)
    elif layout == "memmap":
        X = np.load(tmp_path / "unit.npy", mmap_mode="r").reshape(200, 36)
        rows = np.array(X).reshape(-1, 1, 6, 6)
    else:
        X = np.load(tmp_path / "unit.npy", mmap_mode="r")  # (n, H, W)
        rows = np.array(X)
    if kind != "conv":
        rows = rows.reshape(len(rows), -1)
    streamed = _estimator(kind).fit(X)
    in_memory = _estimator(kind).fit(rows)
    _same_weights(streamed, in_memory)
    assert streamed.n_features_in_ == 36
    assert [r["loss"] for r in streamed.history_] == [r["loss"] for r in in_memory.history_]
    assert streamed.output_activation_ == in_memory.output_activation_ == "sigmoid"
    np.testing.assert_array_equal(streamed.transform(X), in_memory.transform(rows))
    if kind == "conv":
        assert streamed.image_shape_ == (1, 6, 6)


def test_fit_never_reads_the_whole_file(tmp_path, monkeypatch, one_thread):
    """Every read of a streamed fit is at most a batch or a block (the checks' scan, the
    collapse check's sample, the code density's sample): never the file."""
    from aekit.datasets import load
    from aekit.estimators import base, streamed
    from aekit.training import collapse

    np.save(tmp_path / "x.npy", np.random.default_rng(0).integers(0, 256, (3000, 16),
                                                                  dtype=np.uint8))
    monkeypatch.setattr(streamed, "BLOCK_ROWS", 500)
    monkeypatch.setattr(base, "BLOCK_ROWS", 500)
    monkeypatch.setattr(base, "DENSITY_ROWS", 400)
    monkeypatch.setattr(collapse, "CHECK_ROWS", 300)
    reads = []
    batch = ArraySource.batch
    monkeypatch.setattr(ArraySource, "batch",
                        lambda self, idx, out=None: reads.append(len(idx)) or batch(self, idx, out))
    monkeypatch.setattr(streamed.StreamedRows, "to_array",
                        lambda self: pytest.fail("fit read the whole file"))
    from aekit import StackedAutoencoder

    est = StackedAutoencoder(hidden_layer_sizes=(8,), n_components=3, epochs=1,
                             batch_size=100, random_state=0)
    est.fit(load(tmp_path / "x.npy", mmap=True))
    assert reads and max(reads) <= 500 and sum(reads) >= 3000
    assert est.sampler_ is not None


def test_streamed_fit_names_the_bad_row(tmp_path):
    from aekit import StackedAutoencoder
    from aekit.errors import DataError

    values = np.zeros((50, 4), np.float64)
    values[37, 2] = 1e39  # finite in float64, infinite in float32
    np.save(tmp_path / "x.npy", values)
    with pytest.raises(DataError, match=r"row 37 \(0-based\), column 3"):
        StackedAutoencoder(epochs=1).fit(np.load(tmp_path / "x.npy", mmap_mode="r"))


def test_standardised_lazy_dataset_gets_a_linear_output(tmp_path, one_thread):
    from aekit import StackedAutoencoder
    from aekit.datasets import load

    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(5, 3, (120, 5)))
    ds = load(tmp_path / "x.npy", mmap=True, scale="standard")
    est = StackedAutoencoder(hidden_layer_sizes=(8,), n_components=2, epochs=1).fit(ds)
    assert est.output_activation_ == "linear"


@pytest.mark.slow
def test_aekit_train_mmap_gives_the_run_of_the_file_in_memory(tmp_path, capsys, one_thread):
    """aekit train --mmap streams the file (the estimator gets the lazy Dataset), and its
    run folder holds the model, metrics and scaling of the same run made in memory."""
    import json

    from aekit import StackedAutoencoder, load
    from aekit.cli import main
    from aekit.datasets import Dataset

    rng = np.random.default_rng(1)
    np.save(tmp_path / "x.npy", rng.normal(10, 4, (600, 12)))
    seen = []
    fit = StackedAutoencoder.fit
    common = ["train", "--model", "stacked", "--data", str(tmp_path / "x.npy"), "--scale",
              "standard", "--hidden-layer-sizes", "16", "--n-components", "3", "--epochs",
              "2", "--random-state", "0", "--no-report"]
    try:
        StackedAutoencoder.fit = lambda self, X, *a, **k: seen.append(X) or fit(self, X, *a, **k)
        assert main([*common, "--mmap", "--out", str(tmp_path / "mapped")]) == 0
        assert main([*common, "--out", str(tmp_path / "loaded")]) == 0
    finally:
        StackedAutoencoder.fit = fit
    assert isinstance(seen[0], Dataset) and seen[0].lazy and len(seen[0]) == 480
    assert isinstance(seen[1], np.ndarray)
    a, b = load(tmp_path / "mapped" / "model"), load(tmp_path / "loaded" / "model")
    _same_weights(a, b)
    for name in ("metrics.json", "scaling.json"):
        ma = json.loads((tmp_path / "mapped" / name).read_text())
        mb = json.loads((tmp_path / "loaded" / name).read_text())
        if name == "metrics.json":
            ma.pop("train_seconds"), mb.pop("train_seconds")
        assert ma == mb, name
    assert "all 120 rows" in capsys.readouterr().out
