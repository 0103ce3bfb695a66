"""Crash and resume through the real CLI process.

``aekit train`` runs in a subprocess; once it has checkpointed an epoch it is killed mid-epoch
(SIGKILL: no chance to clean up) or interrupted (SIGINT, Ctrl-C). Then ``--resume`` finishes
the run. Checked: the checkpoint left behind is loadable, at most the running epoch is lost,
SIGINT exits 130 with one line, and the resumed run's final weights are bit-identical to an
uninterrupted run's (CPU, same seed).

Batch size 1 on all 1797 digits makes an epoch last about 0.15 s (1797 steps), so a signal lands
mid-epoch; 30 epochs leave seconds of slack between "the checkpoint of epoch k appeared" and the
end of the run, so the signal cannot arrive after training has finished (with 4 short epochs the
closed-form step once finished the whole run first on a loaded CI machine).
The three runs (reference, SIGKILL, SIGINT) go in parallel to keep the wall time down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from aekit.cli import build_parser
from aekit.training import load_checkpoint

EPOCHS = 30
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif("train" not in build_parser()._subparsers._group_actions[0].choices,
                       reason="aekit train not built yet"),
]


def _cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "aekit", "train", "--model", "stacked", "--data", "digits",
            "--epochs", str(EPOCHS), "--batch-size", "1",
            "--hidden-layer-sizes", "32",
            "--n-components", "4", "--random-state", "0", "--no-report", "--out", str(out),
            *extra]


ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _start(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(_cmd(out, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV)


def _checkpointed_epoch(out: Path) -> int:
    path = out / "checkpoints" / "checkpoint.safetensors"
    return load_checkpoint(path)["epoch"] if path.is_file() else 0


def _wait_for_epoch(proc: subprocess.Popen, out: Path, epoch: int, timeout: float = 240) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = _checkpointed_epoch(out)
        if done >= epoch:
            return done
        assert proc.poll() is None, f"training ended early: {proc.communicate()}"
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"no checkpoint of epoch {epoch} within {timeout} s")


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(out / "model" / "model.safetensors")


def _assert_bit_identical(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), f"tensor {k} differs"




def test_sigkill_and_sigint_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path):
    ref_out, kill_out, int_out = tmp_path / "ref", tmp_path / "killed", tmp_path / "interrupted"
    reference = _start(ref_out)
    killed, interrupted = _start(kill_out), _start(int_out)
    try:
        # SIGKILL right after epoch 1's checkpoint appears: epoch 2 is under way.
        seen = _wait_for_epoch(killed, kill_out, 1)
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=60)
        assert killed.returncode == -signal.SIGKILL
        left = _checkpointed_epoch(kill_out)  # loadable, not half-written
        assert seen <= left < EPOCHS, "at most the running epoch is lost"
        assert not (kill_out / "model").exists()

        # SIGINT (Ctrl-C) after epoch 2's checkpoint: a clean exit with one line.
        seen = _wait_for_epoch(interrupted, int_out, 2)
        interrupted.send_signal(signal.SIGINT)
        _, err = interrupted.communicate(timeout=120)
        assert interrupted.returncode == 130, err
        assert "Traceback" not in err
        done = _checkpointed_epoch(int_out)
        assert seen <= done < EPOCHS
        assert err.strip().splitlines()[-1] == (
            f"aekit train: interrupted after epoch {done}; the checkpoint is in "
            f"{int_out / 'checkpoints'}: rerun the same command with --resume to continue")

        _, ref_err = reference.communicate(timeout=300)
        assert reference.returncode == 0, ref_err
    finally:
        for proc in (reference, killed, interrupted):
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    expected = _weights(ref_out)
    resumes = {out: _start(out, "--resume") for out in (kill_out, int_out)}  # in parallel
    for out, proc in resumes.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        _assert_bit_identical(_weights(out), expected)
        assert load_checkpoint(out / "checkpoints")["epoch"] == EPOCHS
        # The same losses epoch by epoch (only the timings differ).
        assert _losses(out) == _losses(ref_out) and len(_losses(out)) == EPOCHS


def _losses(out: Path) -> list[dict]:
    history = json.loads((out / "history.json").read_text())
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]
