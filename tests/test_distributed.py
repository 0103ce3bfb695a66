"""Data-parallel training (DDP, gloo on CPU) against a single process at the same global batch.

The test launches this very file under ``python -m torch.distributed.run`` with two
processes on 127.0.0.1; each rank trains, writes its final weights, then resumes an
interrupted run. The parent process compares the ranks with each other and with a
single-process run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from aekit.losses import Objective
from aekit.models import ModelConfig, build_model
from aekit.training import TrainConfig, train
from aekit.training.distributed import rank_slice

CONFIG = dict(epochs=3, batch_size=64, lr=3e-3, seed=0, validation_fraction=0.1)


def _data() -> np.ndarray:
    from sklearn.datasets import load_digits

    return (load_digits().data / 16.0).astype(np.float32)  # (1797, 64): last batch uneven


def _model():
    return build_model(ModelConfig(64, hidden=(32,), code_size=8), seed=0)


def _worker(out: Path) -> None:
    """Runs on every rank under torchrun."""
    from safetensors.torch import save_file

    from aekit.training import distributed

    X = _data()
    model = _model()
    result = train(model, Objective(), X, config=TrainConfig(**CONFIG),
                   checkpoint_dir=out / "full")
    r = distributed.rank()
    assert distributed.is_distributed() and distributed.world_size() == 2
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(out / f"rank{r}.safetensors"))
    (out / f"history{r}.json").write_text(json.dumps(result.history))
    # Interrupted after 2 epochs, then resumed to 3: must equal the uninterrupted run.
    short = dict(CONFIG, epochs=2)
    train(_model(), Objective(), X, config=TrainConfig(**short), checkpoint_dir=out / "cut")
    resumed = _model()
    train(resumed, Objective(), X, config=TrainConfig(**CONFIG), checkpoint_dir=out / "cut",
          resume=True)
    save_file({k: v.contiguous() for k, v in resumed.state_dict().items()},
              str(out / f"resumed{r}.safetensors"))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rank_slices_cover_the_batch_once():
    for n in (1, 5, 64, 65):
        for world in (1, 2, 3, 8):
            bounds = [rank_slice(n, r, world) for r in range(world)]
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
            sizes = [hi - lo for lo, hi in bounds]
            assert max(sizes) - min(sizes) <= 1


@pytest.mark.slow
def test_two_processes_match_one_process(tmp_path):
    from safetensors.torch import load_file

    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(sys.path))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}",
           __file__, str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    w0 = load_file(str(tmp_path / "rank0.safetensors"))
    w1 = load_file(str(tmp_path / "rank1.safetensors"))
    for k in w0:  # DDP keeps the replicas identical, bit for bit
        assert torch.equal(w0[k], w1[k]), k
    def metrics(history):
        return [{k: v for k, v in rec.items() if k != "seconds"} for rec in history]

    h0 = json.loads((tmp_path / "history0.json").read_text())
    assert metrics(h0) == metrics(json.loads((tmp_path / "history1.json").read_text()))

    # Only rank 0 wrote a checkpoint, and it is a single file.
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == ["checkpoint.safetensors"]

    # One process, same global batch and seed: same trajectory up to float summation order.
    single = _model()
    h = train(single, Objective(), _data(), config=TrainConfig(**CONFIG)).history
    for k, v in single.state_dict().items():
        torch.testing.assert_close(w0[k], v, rtol=1e-4, atol=2e-5, msg=k)
    for a, b in zip(h0, h):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)

    # Resume under DDP ends where the uninterrupted DDP run ends.
    r0 = load_file(str(tmp_path / "resumed0.safetensors"))
    for k in w0:
        torch.testing.assert_close(r0[k], w0[k], rtol=0, atol=0, msg=k)


if __name__ == "__main__":  # the torchrun worker
    _worker(Path(sys.argv[1]))
